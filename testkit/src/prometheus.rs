//! A real Prometheus server for tests (the binary `scripts/prometheus-up.sh` builds and caches), scraping
//! exporters the test plays: [`WorkloadExporter`] serves, for one workload, the series the observer's
//! default queries read — ingress-nginx's requests and latency histogram, cAdvisor's CPU counter and
//! kube-state-metrics' pod owners and CPU requests — each at its own path, scraped under the job names
//! kube-prometheus gives them.

use crate::http::Server;
use crate::scratch::{free_port, scratch_dir};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The Prometheus binary: `MEDIC_PROMETHEUS`, else where `scripts/prometheus-up.sh` caches it.
///
/// # Panics
/// When it does not exist (run `scripts/prometheus-up.sh`; `scripts/test.sh` does).
#[must_use]
pub fn binary() -> PathBuf {
    let path = std::env::var_os("MEDIC_PROMETHEUS").map_or_else(
        || {
            let output = Command::new(crate::repository().join("scripts/prometheus-up.sh"))
                .arg("--path")
                .output()
                .expect("scripts/prometheus-up.sh --path runs");
            PathBuf::from(String::from_utf8_lossy(&output.stdout).trim())
        },
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{} not found: build it with scripts/prometheus-up.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A workload's traffic and CPU as its cluster's exporters would show them, served on 127.0.0.1 in
/// Prometheus's text format, one exporter per path: ingress-nginx's at [`NGINX_PATH`], cAdvisor's at
/// [`CADVISOR_PATH`], kube-state-metrics' at [`KSM_PATH`]. The counters grow with wall time from the
/// exporter's start, so their rates are what was asked for.
pub struct WorkloadExporter {
    server: Server,
}

/// The path of the ingress controller's series.
pub const NGINX_PATH: &str = "/nginx";
/// The path of the kubelet's cAdvisor series (as the kubelet serves them).
pub const CADVISOR_PATH: &str = "/metrics/cadvisor";
/// The path of kube-state-metrics' series.
pub const KSM_PATH: &str = "/ksm";

/// What [`WorkloadExporter`] serves for its Deployment.
#[derive(Debug, Clone)]
pub struct WorkloadLoad {
    /// The Deployment's namespace.
    pub namespace: String,
    /// The Deployment's name (its ingress backend service has the same name).
    pub name: String,
    /// Its pods, as kube-state-metrics would list them (names only; any will do).
    pub pods: u32,
    /// Requests per second through its ingress, all answered 200, each taking between 0.5 and 1 s.
    pub rps: f64,
    /// CPU cores each pod uses; each requests one.
    pub cpu_per_pod: f64,
}

impl WorkloadExporter {
    /// Serves `load` until dropped.
    ///
    /// # Panics
    /// When no port can be bound.
    #[must_use]
    pub fn start(load: WorkloadLoad) -> Self {
        let started = Instant::now();
        let server = Server::start(move |head| {
            let path = head.split(' ').nth(1).unwrap_or_default();
            let body = exposition(&load, path, started.elapsed().as_secs_f64());
            (200, body.into_bytes())
        });
        Self { server }
    }

    /// Its port on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.server.port()
    }
}

/// The series of the exporter at `path`, `t` seconds after the start (each family's lines together,
/// as the text format asks).
fn exposition(load: &WorkloadLoad, path: &str, t: f64) -> String {
    let WorkloadLoad {
        namespace: ns,
        name,
        ..
    } = load;
    let replicaset = format!("{name}-5d8f7c9b6");
    let pods: Vec<String> = (0..load.pods)
        .map(|i| format!("namespace=\"{ns}\",pod=\"{replicaset}-{i}\""))
        .collect();
    let per_pod = |family: &str, labels: &str, value: f64| -> String {
        pods.iter()
            .map(|pod| format!("{family}{{{pod}{labels}}} {value}\n"))
            .collect()
    };
    match path {
        NGINX_PATH => {
            let requests = load.rps * t;
            let route = format!("namespace=\"{ns}\",ingress=\"{name}\",service=\"{name}\"");
            let bucket = "nginx_ingress_controller_request_duration_seconds_bucket";
            format!(
                "# TYPE nginx_ingress_controller_requests counter\n\
                 nginx_ingress_controller_requests{{{route},status=\"200\"}} {requests}\n\
                 # TYPE nginx_ingress_controller_request_duration_seconds histogram\n\
                 {bucket}{{{route},le=\"0.25\"}} 0\n\
                 {bucket}{{{route},le=\"0.5\"}} 0\n\
                 {bucket}{{{route},le=\"1\"}} {requests}\n\
                 {bucket}{{{route},le=\"+Inf\"}} {requests}\n\
                 nginx_ingress_controller_request_duration_seconds_sum{{{route}}} {sum}\n\
                 nginx_ingress_controller_request_duration_seconds_count{{{route}}} {requests}\n",
                sum = requests * 0.75,
            )
        }
        CADVISOR_PATH => format!(
            "# TYPE container_cpu_usage_seconds_total counter\n{}",
            per_pod(
                "container_cpu_usage_seconds_total",
                &format!(",container=\"{name}\""),
                load.cpu_per_pod * t
            )
        ),
        KSM_PATH => format!(
            "# TYPE kube_replicaset_owner gauge\n\
             kube_replicaset_owner{{namespace=\"{ns}\",replicaset=\"{replicaset}\",owner_kind=\"Deployment\",\
             owner_name=\"{name}\",owner_is_controller=\"true\"}} 1\n\
             # TYPE kube_pod_owner gauge\n{owners}\
             # TYPE kube_pod_container_resource_requests gauge\n{requests}",
            owners = per_pod(
                "kube_pod_owner",
                &format!(
                    ",owner_kind=\"ReplicaSet\",owner_name=\"{replicaset}\",owner_is_controller=\"true\""
                ),
                1.0
            ),
            requests = per_pod(
                "kube_pod_container_resource_requests",
                &format!(",container=\"{name}\",resource=\"cpu\",unit=\"core\""),
                1.0
            ),
        ),
        _ => String::new(),
    }
}

/// A Prometheus server on 127.0.0.1 with its own storage, scraping a [`WorkloadExporter`] every second
/// as kube-prometheus would (jobs `ingress-nginx-controller-metrics`, `kubelet` at `/metrics/cadvisor`
/// with its `metrics_path` label, `kube-state-metrics`) and evaluating medic's recording rules
/// (deploy/prometheus/medic-rules.yaml) every second. Killed, and its storage removed, when dropped.
pub struct PrometheusServer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl PrometheusServer {
    /// Starts it scraping the exporter on 127.0.0.1:`target` and waits until it is ready.
    ///
    /// # Panics
    /// When it does not start or is not ready within 60 s.
    #[must_use]
    pub fn scraping(target: u16) -> Self {
        let dir = scratch_dir("prometheus-");
        let rules = crate::repository().join("deploy/prometheus/medic-rules.yaml");
        let config = dir.join("prometheus.yml");
        let job = |name: &str, path: &str| {
            format!(
                "  - job_name: {name}\n    metrics_path: {path}\n    static_configs:\n      \
                 - targets: [\"127.0.0.1:{target}\"]\n    relabel_configs:\n      \
                 - source_labels: [__metrics_path__]\n        target_label: metrics_path\n"
            )
        };
        std::fs::write(
            &config,
            format!(
                "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
                 rule_files: [\"{rules}\"]\nscrape_configs:\n{nginx}{cadvisor}{ksm}",
                rules = rules.display(),
                nginx = job("ingress-nginx-controller-metrics", NGINX_PATH),
                cadvisor = job("kubelet", CADVISOR_PATH),
                ksm = job("kube-state-metrics", KSM_PATH),
            ),
        )
        .expect("prometheus.yml");
        let port = free_port();
        let log = std::fs::File::create(dir.join("prometheus.log")).expect("log");
        let child = Command::new(binary())
            .arg(format!("--config.file={}", config.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("prometheus starts");
        let mut server = Self {
            child,
            port,
            dir: dir.clone(),
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while crate::http::http_get(port, "/-/ready").is_none_or(|(status, _)| status != 200) {
            assert!(
                Instant::now() < deadline && server.child.try_wait().ok().flatten().is_none(),
                "prometheus did not become ready: {}",
                std::fs::read_to_string(dir.join("prometheus.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        server
    }

    /// Its base URL.
    #[must_use]
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for PrometheusServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
