//! Real-format Kubernetes logs from a run of the twin: [`TwinEvent`]s rendered as the kubelet's CRI
//! container log files and as core/v1 Event objects, worded as the real components word them (kubelet,
//! scheduler, node and deployment controllers, node-problem-detector, a Spring Boot service), so the real
//! ingest and diagnose stages can read them.
//!
//! ```text
//!  TwinEvent ─┬─► container lines  /var/log/pods/<ns>_<pod>_<uid>/<container>/<restarts>.log
//!             │                    `<RFC3339Nano> <stdout|stderr> F <Spring Boot log line>`
//!             └─► Events           {"kind":"Event","reason":"BackOff","count":3,…} (repeats aggregated)
//! ```

use super::events::{EventKind, EvictReason, TwinEvent};
use super::spec::ClusterSpec;
use schemas::id::stable_hash;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Logs rendered from a run of the twin.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RenderedLogs {
    /// CRI container log lines in time order, each with the kubelet file it would be written to:
    /// `/var/log/pods/<namespace>_<pod>_<uid>/<container>/<restart count>.log` (the uid is a stable
    /// uuid-shaped hash of namespace and pod; the container is named after its deployment).
    pub container_lines: Vec<ContainerLine>,
    /// core/v1 Event objects in time order; a repeat of an event (same object, reason and message) is
    /// the same Event again with its `count` and `lastTimestamp` advanced, as the API server shows it.
    pub events: Vec<Value>,
}

/// One CRI container log line and the kubelet log file it belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerLine {
    /// Kubelet log file path (the node agent's Kafka message key).
    pub path: String,
    /// `<RFC3339Nano time> <stdout|stderr> F <message>`.
    pub line: String,
}

impl RenderedLogs {
    /// Writes each container log file under `dir` (mirroring its absolute path) and the Events to
    /// `dir/events.jsonl`, one JSON object a line.
    ///
    /// # Errors
    /// When a directory or file cannot be written.
    pub fn write_to(&self, dir: &Path) -> std::io::Result<()> {
        let mut files: BTreeMap<&str, String> = BTreeMap::new();
        for line in &self.container_lines {
            let text = files.entry(&line.path).or_default();
            text.push_str(&line.line);
            text.push('\n');
        }
        for (path, text) in files {
            let file = dir.join(path.trim_start_matches('/'));
            if let Some(parent) = file.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(file, text)?;
        }
        let events: String = self.events.iter().map(|e| format!("{e}\n")).collect();
        std::fs::write(dir.join("events.jsonl"), events)
    }
}

/// Renders `events` of a twin running `cluster`, whose simulated second 0 is `start_unix_secs`.
#[must_use]
pub fn render(events: &[TwinEvent], cluster: &ClusterSpec, start_unix_secs: i64) -> RenderedLogs {
    let mut renderer = Renderer {
        cluster,
        lines: Vec::new(),
        events: Vec::new(),
        seen: HashMap::new(),
        pods: BTreeMap::new(),
        restarts: HashMap::new(),
        nodes: vec![NodeFlags::default(); cluster.nodes.len()],
        replica_sets: HashMap::new(),
    };
    for event in events {
        let t = start_unix_secs.saturating_mul(1_000_000_000) + nanos(event.at_secs);
        renderer.event(t, &event.kind);
    }
    renderer.lines.sort_by_key(|(t, _)| *t);
    renderer.events.sort_by_key(|(t, _)| *t);
    RenderedLogs {
        container_lines: renderer.lines.into_iter().map(|(_, l)| l).collect(),
        events: renderer.events.into_iter().map(|(_, e)| e).collect(),
    }
}

#[allow(
    clippy::cast_possible_truncation,
    reason = "simulated times are far below 292 years"
)]
fn nanos(secs: f64) -> i64 {
    (secs * 1e9).round() as i64
}

/// What the scheduler knows about a node (from earlier node events).
#[derive(Debug, Clone, Copy, Default)]
struct NodeFlags {
    not_ready: bool,
    cordoned: bool,
    disk_pressure: bool,
}

/// The object an Event is about: a pod (deployment, name), a node, a deployment.
#[derive(Clone, Copy)]
enum Obj<'a> {
    Pod(usize, &'a str),
    Node(usize),
    Deployment(usize),
}

/// An aggregated Event: its name, first time and count so far.
type Seen = (String, String, u64);

struct Renderer<'a> {
    cluster: &'a ClusterSpec,
    lines: Vec<(i64, ContainerLine)>,
    events: Vec<(i64, Value)>,
    /// (object, reason, message) → the Event so far.
    seen: HashMap<(String, String, String), Seen>,
    /// Live pods: name → (deployment, node).
    pods: BTreeMap<String, (usize, usize)>,
    restarts: HashMap<String, u32>,
    nodes: Vec<NodeFlags>,
    /// Per deployment: the first ReplicaSet (pod template) seen and the latest.
    replica_sets: HashMap<usize, (String, String)>,
}

/// A uuid-shaped (version 4 layout) stable hash of `parts`.
fn uuid(parts: &[&str]) -> String {
    let (hi, lo) = (stable_hash(parts), stable_hash(&[&parts.join("/"), "uuid"]));
    let (a, b, c) = (hi >> 32, (hi >> 16) & 0xffff, hi & 0xfff);
    let (variant, e) = (0x8000 | ((lo >> 48) & 0x3fff), lo & 0xffff_ffff_ffff);
    format!("{a:08x}-{b:04x}-4{c:03x}-{variant:04x}-{e:012x}")
}

fn time(t: i64, format: &str) -> String {
    chrono::DateTime::from_timestamp_nanos(t)
        .format(format)
        .to_string()
}

/// A Spring Boot log line without its timestamp: level, PID 1, thread (its last 15 characters, as
/// logback's `%15.15t` cuts it), logger, message.
fn spring(level: &str, thread: &str, logger: &str, message: &str) -> String {
    let thread = &thread[thread.len().saturating_sub(15)..];
    format!("{level:>5} 1 --- [{thread:>15}] {logger:<40} : {message}")
}

/// `frontend-api` → `FrontendApi`.
fn class_name(deployment: &str) -> String {
    let capital = |w: &str| {
        w.chars()
            .take(1)
            .flat_map(char::to_uppercase)
            .collect::<String>()
    };
    let words = deployment.split(['-', '_', '.']);
    words
        .map(|w| capital(w) + w.get(1..).unwrap_or_default())
        .collect()
}

/// The deployment, pod and node an event names (`usize::MAX` and `""` where it names none).
fn subject(kind: &EventKind) -> (usize, &str, Option<usize>) {
    use EventKind as K;
    match kind {
        K::Scheduled {
            deployment,
            pod,
            node,
        }
        | K::Started {
            deployment,
            pod,
            node,
            ..
        }
        | K::StartFailed {
            deployment,
            pod,
            node,
            ..
        }
        | K::OomKilled {
            deployment,
            pod,
            node,
            ..
        }
        | K::Evicted {
            deployment,
            pod,
            node,
            ..
        } => (*deployment, pod, Some(*node)),
        K::FailedScheduling { deployment, pod }
        | K::MemoryHigh {
            deployment, pod, ..
        }
        | K::Killing { deployment, pod }
        | K::Requests {
            deployment, pod, ..
        } => (*deployment, pod, None),
        K::Scaled { deployment, .. } => (*deployment, "", None),
        K::NodeNotReady { node }
        | K::NodeReady { node }
        | K::NodeDiskPressure { node }
        | K::NodeCordoned { node } => (usize::MAX, "", Some(*node)),
    }
}

/// The type and reporting component of an Event, by reason.
fn reporter(reason: &str, obj: Obj<'_>) -> (&'static str, &'static str) {
    let warning = matches!(
        reason,
        "FailedScheduling" | "BackOff" | "Evicted" | "EvictionThresholdMet" | "OOMKilling"
    ) || (reason == "NodeNotReady" && matches!(obj, Obj::Pod(..)));
    let component = match reason {
        "Scheduled" | "FailedScheduling" => "default-scheduler",
        "OOMKilling" => "kernel-monitor",
        "TaintManagerEviction" => "taint-eviction-controller",
        "NodeNotReady" => "node-controller",
        "ScalingReplicaSet" => "deployment-controller",
        _ => "kubelet",
    };
    (if warning { "Warning" } else { "Normal" }, component)
}

const CONFIG_ERROR: &str = "Application run failed: java.lang.IllegalStateException: Failed to \
    load config: missing key DATABASE_URL";
const OOM_ERROR: &str = "Servlet.service() for servlet [dispatcherServlet] in context with path [] \
    threw exception [Handler dispatch failed: java.lang.OutOfMemoryError: Java heap space] with root \
    cause";
const DEPENDENCY_DOWN: &str = "503 dependency payments unavailable: upstream connect error or \
    disconnect/reset before headers. reset reason: connection failure";
const OVERLOAD: &str = "503 Service Unavailable: too many requests in flight";
const JAR: &str = "/app/app.jar started by app in /app";
const TOMCAT: &str = "o.s.b.w.embedded.tomcat.TomcatWebServer";
const SHUTDOWN: &str = "Commencing graceful shutdown. Waiting for active requests to complete";
const TAINT: &str = "node(s) had untolerated taint {node.kubernetes.io/";

impl Renderer<'_> {
    fn name(&self, d: usize) -> &str {
        self.cluster.deployments.get(d).map_or("app", |s| &s.name)
    }
    fn namespace(&self, d: usize) -> &str {
        self.cluster
            .deployments
            .get(d)
            .map_or("default", |s| &s.namespace)
    }
    fn node(&self, n: usize) -> String {
        self.cluster
            .nodes
            .get(n)
            .map_or_else(|| format!("node-{n}"), |s| s.name.clone())
    }
    fn pod_uid(&self, d: usize, pod: &str) -> String {
        uuid(&[self.namespace(d), pod])
    }

    /// One line of pod `pod`'s container log, `line` from [`spring`] (ERROR lines on stderr).
    fn app(&mut self, t: i64, d: usize, pod: &str, line: &str) {
        let (ns, container, uid) = (self.namespace(d), self.name(d), self.pod_uid(d, pod));
        let restarts = self.restarts.get(pod).copied().unwrap_or(0);
        let path = format!("/var/log/pods/{ns}_{pod}_{uid}/{container}/{restarts}.log");
        let stream = if line.starts_with("ERROR") {
            "stderr"
        } else {
            "stdout"
        };
        let cri = time(t, "%Y-%m-%dT%H:%M:%S%.9fZ");
        let line = format!(
            "{cri} {stream} F {} {line}",
            time(t, "%Y-%m-%dT%H:%M:%S%.3fZ")
        );
        self.lines.push((t, ContainerLine { path, line }));
    }

    /// Records one Event, or a repeat of an earlier one.
    fn emit(&mut self, t: i64, obj: Obj<'_>, reason: &str, message: String) {
        let (kind, component) = reporter(reason, obj);
        let (namespace, mut involved, host) = match obj {
            Obj::Pod(d, pod) => {
                let (ns, uid) = (self.namespace(d), self.pod_uid(d, pod));
                let object = json!({"kind": "Pod", "name": pod, "namespace": ns, "uid": uid});
                (ns.to_owned(), object, self.pods.get(pod).map(|p| p.1))
            }
            // Kubelet and node-problem-detector use the node name as the node's uid.
            Obj::Node(n) => {
                let name = self.node(n);
                let object = json!({"kind": "Node", "name": name, "uid": name});
                ("default".to_owned(), object, Some(n))
            }
            Obj::Deployment(d) => {
                let (ns, name) = (self.namespace(d), self.name(d));
                let uid = uuid(&[ns, name, "Deployment"]);
                let object =
                    json!({"kind": "Deployment", "name": name, "namespace": ns, "uid": uid});
                (ns.to_owned(), object, None)
            }
        };
        let deployment = matches!(obj, Obj::Deployment(_));
        involved["apiVersion"] = json!(if deployment { "apps/v1" } else { "v1" });
        let container = [
            "Pulling", "Pulled", "Created", "Started", "BackOff", "Killing",
        ];
        if let Obj::Pod(d, _) = obj
            && container.contains(&reason)
        {
            involved["fieldPath"] = json!(format!("spec.containers{{{}}}", self.name(d)));
        }
        let host = host.filter(|_| matches!(component, "kubelet" | "kernel-monitor"));
        let host = host.map(|n| self.node(n));
        let object = format!("{}/{namespace}/{}", involved["kind"], involved["name"]);
        let prefix = involved["name"].as_str().unwrap_or_default().to_owned();
        let stamp = time(t, "%Y-%m-%dT%H:%M:%SZ");
        // Named like the API server's Events: `<object>.<hex of the creation time in ns>`.
        let name = format!("{prefix}.{:x}", t + self.events.len() as i64);
        let key = (object, reason.to_owned(), message.clone());
        let seen = self.seen.entry(key).and_modify(|seen| seen.2 += 1);
        let (name, first, count) = seen.or_insert_with(|| (name, stamp.clone(), 1)).clone();
        let mut source = json!({"component": component});
        if let Some(host) = &host {
            source["host"] = json!(host);
        }
        let uid = uuid(&[&namespace, &name]);
        let event = json!({
            "apiVersion": "v1", "kind": "Event", "count": count, "eventTime": null, "type": kind,
            "metadata": {"name": name, "namespace": namespace, "uid": uid, "creationTimestamp": first},
            "involvedObject": involved, "reason": reason, "message": message, "source": source,
            "firstTimestamp": first, "lastTimestamp": stamp,
            "reportingComponent": component, "reportingInstance": host.unwrap_or_default(),
        });
        self.events.push((t, event));
    }

    /// `0/4 nodes are available: …`, from what the scheduler knows of the nodes.
    fn unschedulable(&self) -> String {
        let (mut fits, mut preemption) = (BTreeMap::new(), BTreeMap::new());
        for flags in &self.nodes {
            let fit = match flags {
                f if f.not_ready => format!("{TAINT}unreachable: }}"),
                f if f.cordoned => "node(s) were unschedulable".to_owned(),
                f if f.disk_pressure => format!("{TAINT}disk-pressure: }}"),
                _ => "Insufficient cpu".to_owned(),
            };
            let preempt = if fit.starts_with("Insufficient") {
                "No preemption victims found for incoming pod"
            } else {
                "Preemption is not helpful for scheduling"
            };
            *fits.entry(fit).or_insert(0) += 1;
            *preemption.entry(preempt.to_owned()).or_insert(0) += 1;
        }
        let list = |reasons: BTreeMap<String, usize>| {
            let mut parts: Vec<String> = reasons.iter().map(|(r, n)| format!("{n} {r}")).collect();
            parts.sort();
            parts.join(", ")
        };
        let (n, fits, preemption) = (self.nodes.len(), list(fits), list(preemption));
        format!(
            "0/{n} nodes are available: {fits}. preemption: 0/{n} nodes are available: {preemption}."
        )
    }

    fn event(&mut self, t: i64, kind: &EventKind) {
        use EventKind as K;
        let (d, pod, node) = subject(kind);
        let (obj, n) = (Obj::Pod(d, pod), node.unwrap_or(usize::MAX));
        let spec = self.cluster.deployments.get(d);
        let (pull_secs, mib) =
            spec.map_or((20.0, 512), |s| (s.image_pull_secs, s.memory_request_mib));
        let (name, ns) = (self.name(d).to_owned(), self.namespace(d).to_owned());
        let exec = 1 + stable_hash(&[pod, &t.to_string()]) % 10;
        let thread = format!("http-nio-8080-exec-{exec}");
        // The pod's container lines and Events, written after the match; then its restarts and removal.
        let (mut lines, mut events) = (Vec::new(), Vec::<(&str, String)>::new());
        let (mut restarts, mut gone) = (None, false);
        match kind {
            K::Scheduled { .. } | K::Started { .. } => {
                self.pods.insert(pod.to_owned(), (d, n));
            }
            _ => {}
        }
        match kind {
            K::Scheduled { .. } => {
                if let Some((rs, _)) = pod.rsplit_once('-') {
                    let sets = self.replica_sets.entry(d).or_default();
                    if sets.0.is_empty() {
                        rs.clone_into(&mut sets.0);
                    }
                    rs.clone_into(&mut sets.1);
                }
                let node = self.node(n);
                events.push((
                    "Scheduled",
                    format!("Successfully assigned {ns}/{pod} to {node}"),
                ));
            }
            K::FailedScheduling { .. } => events.push(("FailedScheduling", self.unschedulable())),
            K::Started { pulled, .. } => {
                let rs = pod.rsplit_once('-').map_or(pod, |(rs, _)| rs);
                let first = self
                    .replica_sets
                    .get(&d)
                    .is_none_or(|(first, _)| first == rs);
                let image = format!("registry.local/{name}:{}", if first { "v1" } else { "v2" });
                let pulled = if *pulled {
                    let pulling = format!("Pulling image \"{image}\"");
                    self.emit(t - nanos(pull_secs), obj, "Pulling", pulling);
                    let size = 180_000_000 + stable_hash(&[&image]) % 90_000_000;
                    let secs = format!("{pull_secs:.3}s");
                    format!(
                        "Successfully pulled image \"{image}\" in {secs} ({secs} including waiting). \
                         Image size: {size} bytes."
                    )
                } else {
                    format!("Container image \"{image}\" already present on machine")
                };
                events.push(("Pulled", pulled));
                events.push(("Created", format!("Created container {name}")));
                events.push(("Started", format!("Started container {name}")));
                let class = format!("{}Application", class_name(&name));
                let starting = format!("Starting {class} v1 using Java 21.0.5 with PID 1 ({JAR})");
                let logger = format!("c.s.{name}.{class}");
                lines.push(spring("INFO", "main", &logger, &starting));
                lines.push(spring(
                    "INFO",
                    "main",
                    TOMCAT,
                    "Tomcat initialized with port 8080 (http)",
                ));
            }
            K::StartFailed {
                restarts: after, ..
            }
            | K::OomKilled {
                restarts: after, ..
            } => {
                if matches!(kind, K::StartFailed { .. }) {
                    let logger = "o.s.boot.SpringApplication";
                    lines.push(spring("ERROR", "main", logger, CONFIG_ERROR));
                } else {
                    let logger = "o.a.c.c.C.[.[.[/].[dispatcherServlet]";
                    lines.push(spring("ERROR", &thread, logger, OOM_ERROR));
                    let pid = 2_000 + stable_hash(&[pod, &after.to_string()]) % 60_000;
                    let rss = u64::from(mib) * 1024;
                    let (vm, anon, tables) = (rss * 5 + 1_253_376, rss - 2_048, rss / 256);
                    let message = format!(
                        "Memory cgroup out of memory: Killed process {pid} (java) total-vm:{vm}kB, \
                         anon-rss:{anon}kB, file-rss:20716kB, shmem-rss:0kB, UID:1000 \
                         pgtables:{tables}kB oom_score_adj:-997"
                    );
                    self.emit(t, Obj::Node(n), "OOMKilling", message);
                }
                restarts = Some(*after);
                let uid = self.pod_uid(d, pod);
                let message =
                    format!("Back-off restarting failed container {name} in pod {pod}_{ns}({uid})");
                events.push(("BackOff", message));
            }
            K::MemoryHigh { fraction, .. } => {
                let (percent, used) = (fraction * 100.0, f64::from(mib) * fraction);
                let message = format!(
                    "Heap usage at {percent:.0}% of max ({used:.0} MiB of {mib} MiB), old gen not \
                     reclaimed after full GC"
                );
                let logger = format!("c.s.{name}.MemoryMonitor");
                lines.push(spring("WARN", "scheduling-1", &logger, &message));
            }
            K::Evicted {
                reason: EvictReason::NodeNotReady,
                ..
            } => {
                gone = true;
                events.push((
                    "TaintManagerEviction",
                    format!("Marking for deletion Pod {ns}/{pod}"),
                ));
            }
            K::Killing { .. } | K::Evicted { .. } => {
                if let K::Evicted {
                    reason: EvictReason::DiskPressure,
                    ..
                } = kind
                {
                    let available = 9_000_000 + stable_hash(&[pod]) % 1_000_000;
                    let used = 200_000 + stable_hash(&[pod, "used"]) % 800_000;
                    let message = format!(
                        "The node was low on resource: ephemeral-storage. Threshold quantity: 10Gi, \
                         available: {available}Ki. Container {name} was using {used}Ki, request is 0, has \
                         larger consumption of ephemeral-storage. "
                    );
                    events.push(("Evicted", message));
                }
                gone = true;
                let logger = "o.s.b.w.e.tomcat.GracefulShutdown";
                lines.push(spring(
                    "INFO",
                    "SpringApplicationShutdownHook",
                    logger,
                    SHUTDOWN,
                ));
                events.push(("Killing", format!("Stopping container {name}")));
            }
            K::NodeNotReady { .. } => {
                self.node_status(t, n, "NodeNotReady");
                let on_node = self.pods.iter().filter(|(_, p)| p.1 == n);
                let on_node: Vec<(String, usize)> =
                    on_node.map(|(pod, p)| (pod.clone(), p.0)).collect();
                for (pod, d) in on_node {
                    let message = "Node is not ready".to_owned();
                    self.emit(t, Obj::Pod(d, &pod), "NodeNotReady", message);
                }
            }
            K::NodeReady { .. } => self.node_status(t, n, "NodeReady"),
            K::NodeDiskPressure { .. } => {
                self.node_status(t, n, "NodeHasDiskPressure");
                let message = "Attempting to reclaim ephemeral-storage".to_owned();
                self.emit(t, Obj::Node(n), "EvictionThresholdMet", message);
            }
            K::NodeCordoned { .. } => self.node_status(t, n, "NodeNotSchedulable"),
            K::Scaled { from, to, .. } if from != to => {
                let rs = self.replica_sets.get(&d).map(|r| r.1.clone());
                let rs = rs.unwrap_or_else(|| format!("{name}-5d567cc74"));
                let direction = if to > from { "up" } else { "down" };
                let message = format!("Scaled {direction} replica set {rs} to {to}");
                self.emit(t, Obj::Deployment(d), "ScalingReplicaSet", message);
            }
            K::Scaled { .. } => {}
            K::Requests {
                ok,
                errors,
                p95_ms,
                dependency_down,
                ..
            } => {
                let logger = format!("c.s.{name}.web.AccessLogFilter");
                if *ok > 0 {
                    let access = format!("GET /api/{name} 200 {p95_ms:.0}ms ({ok} requests)");
                    lines.push(spring("INFO", &thread, &logger, &access));
                }
                if *errors > 0 {
                    let why = if *dependency_down {
                        DEPENDENCY_DOWN
                    } else {
                        OVERLOAD
                    };
                    let failed = format!("GET /api/{name} {why} ({errors} requests)");
                    lines.push(spring("ERROR", &thread, &logger, &failed));
                }
            }
        }
        for line in lines {
            self.app(t, d, pod, &line);
        }
        if let Some(restarts) = restarts {
            self.restarts.insert(pod.to_owned(), restarts);
        }
        for (reason, message) in events {
            self.emit(t, obj, reason, message);
        }
        if gone {
            self.pods.remove(pod);
        }
    }

    /// A node condition change, `Node <node> status is now: <status>`.
    fn node_status(&mut self, t: i64, n: usize, status: &str) {
        if let Some(flags) = self.nodes.get_mut(n) {
            match status {
                "NodeNotReady" => flags.not_ready = true,
                "NodeReady" => flags.not_ready = false,
                "NodeHasDiskPressure" => flags.disk_pressure = true,
                _ => flags.cordoned = true,
            }
        }
        let message = format!("Node {} status is now: {status}", self.node(n));
        self.emit(t, Obj::Node(n), status, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-03-14T00:00:00Z.
    const START: i64 = 1_773_446_400;
    const POD: &str = "catalog-5d567cc74-x2x7q";

    #[rustfmt::skip]
    fn sample() -> Vec<TwinEvent> {
        use EventKind as K;
        let pod = || POD.to_owned();
        [
            (0.0, K::Scaled { deployment: 1, from: 0, to: 4 }),
            (1.0, K::Scheduled { deployment: 1, pod: pod(), node: 2 }),
            (21.5, K::Started { deployment: 1, pod: pod(), node: 2, pulled: true }),
            (90.0, K::Requests { deployment: 1, pod: pod(), ok: 3_000, errors: 40, p95_ms: 120.0, dependency_down: true }),
            (100.0, K::MemoryHigh { deployment: 1, pod: pod(), fraction: 0.91 }),
            (120.0, K::OomKilled { deployment: 1, pod: pod(), node: 2, restarts: 1, backoff_secs: 10.0 }),
            (130.0, K::Started { deployment: 1, pod: pod(), node: 2, pulled: false }),
            (400.0, K::OomKilled { deployment: 1, pod: pod(), node: 2, restarts: 2, backoff_secs: 20.0 }),
            (500.0, K::NodeNotReady { node: 2 }),
            (510.0, K::FailedScheduling { deployment: 0, pod: "frontend-5d567cc74-b7d4k".to_owned() }),
            (800.0, K::Evicted { deployment: 1, pod: pod(), node: 2, reason: EvictReason::NodeNotReady }),
        ]
        .into_iter()
        .map(|(at_secs, kind)| TwinEvent { at_secs, kind })
        .collect()
    }

    fn by_reason<'a>(logs: &'a RenderedLogs, reason: &str) -> Vec<&'a Value> {
        logs.events
            .iter()
            .filter(|e| e["reason"] == reason)
            .collect()
    }

    #[test]
    fn container_lines_are_cri_lines_in_kubelet_pod_files() {
        let logs = render(&sample(), &ClusterSpec::default(), START);
        assert_eq!(logs.container_lines.len(), 9);
        for ContainerLine { path, line } in &logs.container_lines {
            let fields: Vec<&str> = line.splitn(4, ' ').collect();
            assert!(
                chrono::DateTime::parse_from_rfc3339(fields[0]).is_ok(),
                "{line}"
            );
            assert_eq!(
                fields[0].len(),
                "2026-03-14T00:00:00.000000000Z".len(),
                "{line}"
            );
            assert!(fields[1] == "stdout" || fields[1] == "stderr", "{line}");
            assert_eq!(fields[2], "F");
            assert_eq!(
                fields[1] == "stderr",
                fields[3].contains(" ERROR 1 --- "),
                "{line}"
            );
            let rest = path
                .strip_prefix("/var/log/pods/")
                .expect("kubelet pods layout");
            let parts: Vec<&str> = rest.split('/').collect();
            let dir: Vec<&str> = parts[0].splitn(3, '_').collect();
            assert_eq!(
                (dir[0], dir[1], dir[2]),
                ("shop", POD, uuid(&["shop", POD]).as_str())
            );
            assert_eq!((parts[1], dir[2].len()), ("catalog", 36));
            assert!(parts[2].ends_with(".log"));
        }
        // The first line is the container start, at start + 21.5 s; after the first OOM kill the
        // kubelet writes the restarted container's lines to 1.log.
        let first = &logs.container_lines[0];
        let start =
            "2026-03-14T00:00:21.500000000Z stdout F 2026-03-14T00:00:21.500Z  INFO 1 --- [";
        assert!(first.line.starts_with(start), "{}", first.line);
        assert!(first.path.ends_with("/catalog/0.log"));
        let restarted = logs
            .container_lines
            .iter()
            .filter(|l| l.path.ends_with("/1.log"));
        assert_eq!(
            restarted.count(),
            3,
            "the restart's two start lines and the second OOM"
        );
    }

    #[test]
    fn events_are_core_v1_events_worded_like_the_real_components() {
        let logs = render(&sample(), &ClusterSpec::default(), START);
        let fields = [
            "metadata",
            "involvedObject",
            "reason",
            "message",
            "source",
            "count",
            "type",
        ];
        for event in &logs.events {
            assert!(fields.iter().all(|f| !event[f].is_null()), "{event}");
            assert_eq!(
                (&event["apiVersion"], &event["kind"]),
                (&json!("v1"), &json!("Event"))
            );
            let object = event["involvedObject"]["name"].as_str().unwrap_or("?");
            let name = event["metadata"]["name"].as_str().unwrap_or_default();
            assert!(name.starts_with(&format!("{object}.")), "{name}");
        }
        let times: Vec<&str> = logs
            .events
            .iter()
            .filter_map(|e| e["lastTimestamp"].as_str())
            .collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "time order");
        assert_eq!(times.len(), logs.events.len());

        let oom = by_reason(&logs, "OOMKilling");
        assert_eq!((oom.len(), &oom[0]["type"]), (2, &json!("Warning")));
        assert_eq!(oom[0]["involvedObject"]["kind"], "Node");
        assert_eq!(
            oom[0]["source"],
            json!({"component": "kernel-monitor", "host": "node-3"})
        );
        let message = oom[0]["message"].as_str().unwrap_or_default();
        assert!(message.starts_with("Memory cgroup out of memory: Killed process "));
        // Repeated back-offs are one aggregated Event, as the API server keeps them.
        let back_off = by_reason(&logs, "BackOff");
        assert_eq!(back_off.len(), 2);
        assert_eq!(
            back_off[0]["metadata"]["name"],
            back_off[1]["metadata"]["name"]
        );
        assert_eq!(
            (&back_off[1]["count"], &back_off[0]["type"]),
            (&json!(2), &json!("Warning"))
        );
        assert_eq!(back_off[1]["firstTimestamp"], "2026-03-14T00:02:00Z");
        assert_eq!(back_off[1]["lastTimestamp"], "2026-03-14T00:06:40Z");
        assert_eq!(
            back_off[0]["involvedObject"]["fieldPath"],
            "spec.containers{catalog}"
        );
        let uid = uuid(&["shop", POD]);
        let expected =
            format!("Back-off restarting failed container catalog in pod {POD}_shop({uid})");
        assert_eq!(back_off[0]["message"], expected.as_str());

        let not_ready = by_reason(&logs, "NodeNotReady");
        assert_eq!(
            not_ready[0]["message"],
            "Node node-3 status is now: NodeNotReady"
        );
        assert_eq!(
            (
                &not_ready[0]["type"],
                &not_ready[0]["involvedObject"]["kind"]
            ),
            (&json!("Normal"), &json!("Node"))
        );
        assert_eq!(
            (&not_ready[1]["type"], &not_ready[1]["message"]),
            (&json!("Warning"), &json!("Node is not ready"))
        );
        let failed = "0/4 nodes are available: 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }, \
            3 Insufficient cpu. preemption: 0/4 nodes are available: 1 Preemption is not helpful for scheduling, \
            3 No preemption victims found for incoming pod.";
        assert_eq!(by_reason(&logs, "FailedScheduling")[0]["message"], failed);
        let scaled = "Scaled up replica set catalog-5d567cc74 to 4";
        assert_eq!(by_reason(&logs, "ScalingReplicaSet")[0]["message"], scaled);
        let pulled = by_reason(&logs, "Pulled")[0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(
            pulled
                .starts_with("Successfully pulled image \"registry.local/catalog:v1\" in 20.000s")
        );
        assert_eq!(
            by_reason(&logs, "Pulling")[0]["lastTimestamp"],
            "2026-03-14T00:00:01Z"
        );
        let eviction = format!("Marking for deletion Pod shop/{POD}");
        assert_eq!(
            by_reason(&logs, "TaintManagerEviction")[0]["message"],
            eviction.as_str()
        );
    }

    #[test]
    fn rendering_is_deterministic_and_writes_files() {
        let cluster = ClusterSpec::default();
        let logs = render(&sample(), &cluster, START);
        assert_eq!(logs, render(&sample(), &cluster, START));
        let dir = std::env::temp_dir().join(format!("medic-twin-logs-{}", std::process::id()));
        logs.write_to(&dir).expect("writes");
        let events = std::fs::read_to_string(dir.join("events.jsonl")).expect("events file");
        assert_eq!(events.lines().count(), logs.events.len());
        let first = &logs.container_lines[0];
        let file = dir.join(first.path.trim_start_matches('/'));
        let text = std::fs::read_to_string(file).expect("pod log file");
        assert_eq!(text.lines().next(), Some(first.line.as_str()));
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
