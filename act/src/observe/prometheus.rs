//! [`PrometheusConfig`] and [`Prometheus`]: a workload's demand, latency, errors and CPU from the
//! Prometheus HTTP API (`/api/v1/query`), written into its state's `signals`.
//!
//! Each signal is one instant PromQL query whose answer has one series per workload, labelled
//! `namespace` and `workload` (and, optionally, `workload_type`: `deployment`, `statefulset` or
//! `daemonset`, as kube-prometheus names them). Demand is asked three times: at the read, a minute and
//! five minutes before it. A series is matched to a workload the Kubernetes API listed, never the other
//! way round: a metric cannot make a workload appear, and a series that does not match one is ignored.
//!
//! The default queries read the usual series, each only from the scrape job that writes it (so that a
//! pod exporting look-alike series under another job is not read): ingress-nginx's request counter and
//! latency histogram (a job whose name contains `ingress-nginx`, as the ingress-nginx chart's
//! ServiceMonitor names it unless its `fullnameOverride` is set; labelled by the backend `service`, taken
//! to be named like its workload), cAdvisor's `container_cpu_usage_seconds_total` (job `kubelet`, path
//! `/metrics/cadvisor`), and kube-state-metrics' CPU requests (job `kube-state-metrics`) joined to their
//! workloads by the recording rule `medic:pod_workload` (deploy/prometheus/medic-rules.yaml); the last
//! two are kube-prometheus's job names. Every query can be replaced, or turned off with an empty string.

use super::resolve::BoundedResolver;
use schemas::WorkloadSignals;
use schemas::config::Problems;
use schemas::observe::ClusterSnapshot;
use schemas::span::Span;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::io::Read;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The most bytes one answer may have; a larger one is refused (a query that returns per-pod series by
/// mistake on a large cluster).
const MAX_ANSWER_BYTES: u64 = 16 << 20;

/// Where and what the observer asks Prometheus (`[observe.prometheus]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusConfig {
    /// Base URL of the HTTP API, e.g. `http://prometheus.monitoring:9090` (`/api/v1/query` is
    /// appended).
    pub url: String,
    /// A file holding a bearer token sent with every query (only over `https://`); read at each read of
    /// the cluster, so a rotated token is taken up. Default: none.
    #[serde(default)]
    pub bearer_token_file: Option<PathBuf>,
    /// PEM certificates of the authorities an `https://` Prometheus is trusted by (a cluster's own CA,
    /// say) instead of the public ones. Default: the public web roots.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// How long one query may take. All of a read's queries together also stop at the observer's read
    /// timeout. Default: `5s`.
    #[serde(default = "default_timeout")]
    pub timeout: Span,
    /// The PromQL of each signal.
    #[serde(default)]
    pub queries: SignalQueries,
}

/// The PromQL of each signal; an empty string leaves the signal out. Each answer must have one series
/// per workload, labelled `namespace` and `workload` (optionally `workload_type`), in the signal's unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignalQueries {
    /// Requests per second (also asked one and five minutes back).
    #[serde(default = "default_demand")]
    pub demand_rps: String,
    /// 95th percentile latency, milliseconds.
    #[serde(default = "default_p95")]
    pub p95_ms: String,
    /// Failed share of requests, 0 to 1.
    #[serde(default = "default_errors")]
    pub error_ratio: String,
    /// CPU used over CPU requested by the workload's pods.
    #[serde(default = "default_cpu")]
    pub cpu_utilisation: String,
}

fn default_timeout() -> Span {
    Span::secs(5)
}

/// The rate over 2 minutes of ingress-nginx's `series` (its own scrape job only, plus `matchers`), with
/// the backend `service` as `workload`.
fn nginx_rate(series: &str, matchers: &str) -> String {
    format!(
        "label_replace(rate({series}{{job=~\".*ingress-nginx.*\"{matchers}}}[2m]), \"workload\", \"$1\", \
         \"service\", \"(.+)\")"
    )
}

/// ingress-nginx's requests per second per backend service.
fn nginx_requests(matchers: &str) -> String {
    format!(
        "sum by (namespace, workload) ({})",
        nginx_rate("nginx_ingress_controller_requests", matchers)
    )
}

fn default_demand() -> String {
    nginx_requests("")
}

fn default_p95() -> String {
    format!(
        "1000 * histogram_quantile(0.95, sum by (namespace, workload, le) ({}))",
        nginx_rate(
            "nginx_ingress_controller_request_duration_seconds_bucket",
            ""
        )
    )
}

fn default_errors() -> String {
    // Workloads that served no 5xx answer 0, not nothing.
    let all = nginx_requests("");
    format!(
        "({failed} or {all} * 0) / {all}",
        failed = nginx_requests(", status=~\"5..\"")
    )
}

fn default_cpu() -> String {
    // topk: one workload per pod, even where two series claim the pod (group_left would fail).
    let per_pod = "* on (namespace, pod) group_left (workload, workload_type) topk by (namespace, pod) \
                   (1, medic:pod_workload)";
    format!(
        "sum by (namespace, workload, workload_type) (rate(container_cpu_usage_seconds_total{{job=\"kubelet\", \
         metrics_path=\"/metrics/cadvisor\", container!=\"\", container!=\"POD\"}}[2m]) {per_pod}) / sum by \
         (namespace, workload, workload_type) (kube_pod_container_resource_requests{{job=\"kube-state-metrics\", \
         resource=\"cpu\"}} {per_pod})"
    )
}

impl Default for SignalQueries {
    fn default() -> Self {
        Self {
            demand_rps: default_demand(),
            p95_ms: default_p95(),
            error_ratio: default_errors(),
            cpu_utilisation: default_cpu(),
        }
    }
}

impl PrometheusConfig {
    /// Records every problem under `observe.prometheus.<key>`.
    pub(crate) fn check(&self, problems: &mut Problems) {
        let https = self.url.starts_with("https://");
        let authority = self
            .url
            .split_once("://")
            .map_or("", |(_, rest)| rest.split('/').next().unwrap_or_default());
        problems.require(
            (https || self.url.starts_with("http://")) && !authority.is_empty(),
            "prometheus.url",
            || "is not an http:// or https:// URL",
        );
        // Credentials in the URL would appear in every error message.
        problems.require(
            !authority.contains('@'),
            "prometheus.url",
            || "must not hold credentials: use bearer_token_file",
        );
        problems.require(
            https || self.bearer_token_file.is_none(),
            "prometheus.bearer_token_file",
            || "is sent only over https:// (the url is http://)",
        );
        problems.require(
            https || self.ca_file.is_none(),
            "prometheus.ca_file",
            || "applies only to an https:// url",
        );
        problems.require(
            self.timeout.as_millis() >= 100 && self.timeout <= Span::secs(30),
            "prometheus.timeout",
            || "must be between 100ms and 30s",
        );
    }
}

/// The six questions of one read: a signal, and how far before the read it is asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Signal {
    Demand,
    Demand1m,
    Demand5m,
    P95,
    Errors,
    Cpu,
}

impl Signal {
    const ALL: [Signal; 6] = [
        Signal::Demand,
        Signal::Demand1m,
        Signal::Demand5m,
        Signal::P95,
        Signal::Errors,
        Signal::Cpu,
    ];

    fn query(self, queries: &SignalQueries) -> &str {
        match self {
            Signal::Demand | Signal::Demand1m | Signal::Demand5m => &queries.demand_rps,
            Signal::P95 => &queries.p95_ms,
            Signal::Errors => &queries.error_ratio,
            Signal::Cpu => &queries.cpu_utilisation,
        }
    }

    fn seconds_back(self) -> i64 {
        match self {
            Signal::Demand1m => 60,
            Signal::Demand5m => 300,
            _ => 0,
        }
    }

    /// Writes `value` where it belongs, if it is one the signal can have: finite and not negative; an
    /// error ratio above 1 (series scraped a moment apart) is taken as 1.
    fn set(self, signals: &mut WorkloadSignals, value: f64) -> bool {
        if !value.is_finite() || value < 0.0 {
            return false;
        }
        let slot = match self {
            Signal::Demand => &mut signals.demand_rps,
            Signal::Demand1m => &mut signals.demand_rps_1m,
            Signal::Demand5m => &mut signals.demand_rps_5m,
            Signal::P95 => &mut signals.p95_ms,
            Signal::Errors => &mut signals.error_ratio,
            Signal::Cpu => &mut signals.cpu_utilisation,
        };
        *slot = Some(if self == Signal::Errors {
            value.min(1.0)
        } else {
            value
        });
        true
    }
}

/// What one read of the signals did, for the stage's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SignalsRead {
    /// Queries that failed (unreachable, refused, malformed answer, out of time).
    pub failed: u64,
    /// Signal values written into a workload's state.
    pub filled: u64,
    /// Values left out: not finite, negative, or one of several series for the same workload.
    pub rejected: u64,
}

/// A Prometheus HTTP API client for the observer.
pub struct Prometheus {
    config: PrometheusConfig,
    endpoint: String,
    agent: ureq::Agent,
}

impl Prometheus {
    /// A client for `config` (no request is made).
    ///
    /// # Errors
    /// When `ca_file` cannot be read or holds no certificate.
    pub fn new(config: &PrometheusConfig) -> Result<Self, String> {
        // The query's timeout bounds its name lookup too (the system resolver has no timeout).
        let mut agent = ureq::AgentBuilder::new()
            .timeout(config.timeout.as_duration())
            .resolver(BoundedResolver::new(config.timeout.as_duration()));
        if let Some(ca_file) = &config.ca_file {
            agent = agent.tls_config(tls_trusting(ca_file)?);
        }
        Ok(Self {
            endpoint: format!("{}/api/v1/query", config.url.trim_end_matches('/')),
            agent: agent.build(),
            config: config.clone(),
        })
    }

    /// The signals asked: those whose query is not empty.
    fn asked(&self) -> impl Iterator<Item = (Signal, &str)> {
        Signal::ALL
            .into_iter()
            .map(|signal| (signal, signal.query(&self.config.queries)))
            .filter(|(_, query)| !query.trim().is_empty())
    }

    /// Asks every configured query at the snapshot's time and writes the answers into its workloads'
    /// signals; stops asking once `budget` is spent (the rest count as failed). A failed query leaves
    /// its signal out and is logged; the others are still asked.
    pub fn fill(&self, snapshot: &mut ClusterSnapshot, budget: Duration) -> SignalsRead {
        let deadline = Instant::now() + budget;
        let mut read = SignalsRead::default();
        let token = match self.token() {
            Ok(token) => token,
            Err(error) => {
                tracing::warn!(error = %error, "cannot read the Prometheus token; no signals this read");
                read.failed = self.asked().count() as u64;
                return read;
            }
        };
        for (signal, query) in self.asked() {
            let at_ns = snapshot
                .at_ns
                .saturating_sub(signal.seconds_back() * 1_000_000_000);
            let answer = deadline
                .checked_duration_since(Instant::now())
                .filter(|left| !left.is_zero())
                .ok_or_else(|| "out of time for this read".to_owned())
                .and_then(|left| self.ask(query, at_ns, token.as_deref(), left));
            match answer {
                Ok(series) => match_series(snapshot, &series, signal, &mut read),
                Err(error) => {
                    tracing::warn!(signal = ?signal, error = %error, "a Prometheus query failed");
                    read.failed += 1;
                }
            }
        }
        read
    }

    /// The bearer token, checked to be one a header can carry: an error never quotes it.
    fn token(&self) -> Result<Option<String>, String> {
        let Some(path) = &self.config.bearer_token_file else {
            return Ok(None);
        };
        let token =
            std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let token = token.trim();
        if token.is_empty() || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(format!(
                "{}: the token is empty or has characters other than visible ASCII",
                path.display()
            ));
        }
        Ok(Some(token.to_owned()))
    }

    /// One instant query at `at_ns`.
    fn ask(
        &self,
        query: &str,
        at_ns: i64,
        token: Option<&str>,
        time_left: Duration,
    ) -> Result<Vec<Series>, String> {
        // Seconds with millisecond precision, as the API takes them.
        #[allow(clippy::cast_precision_loss)]
        let at = format!("{:.3}", at_ns as f64 / 1e9);
        let limit = time_left
            .min(self.config.timeout.as_duration())
            .max(Duration::from_millis(1));
        // Prometheus stops evaluating when the client has given up too.
        let mut request = self
            .agent
            .get(&self.endpoint)
            .query("query", query)
            .query("time", &at)
            .query("timeout", &format!("{}ms", limit.as_millis()))
            .timeout(limit);
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        let response = match request.call() {
            Ok(response) => response,
            // The API explains a refused query (bad PromQL, timeout) in the body.
            Err(ureq::Error::Status(code, response)) => {
                let why = read_body(response)
                    .ok()
                    .and_then(|body| parse_answer(&body).err())
                    .unwrap_or_default();
                return Err(format!("HTTP {code} {why}"));
            }
            Err(error) => return Err(error.to_string()),
        };
        parse_answer(&read_body(response)?)
    }
}

/// A TLS configuration trusting only the certificates of the PEM file `ca_file`.
fn tls_trusting(ca_file: &std::path::Path) -> Result<std::sync::Arc<rustls::ClientConfig>, String> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let certificates = CertificateDer::pem_file_iter(ca_file)
        .map_err(|e| format!("cannot read {}: {e}", ca_file.display()))?;
    for certificate in certificates {
        let certificate =
            certificate.map_err(|e| format!("{} is not PEM: {e}", ca_file.display()))?;
        roots
            .add(certificate)
            .map_err(|e| format!("{} holds a bad certificate: {e}", ca_file.display()))?;
    }
    if roots.is_empty() {
        return Err(format!("{} holds no certificate", ca_file.display()));
    }
    let config = rustls::ClientConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| format!("TLS: {e}"))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(std::sync::Arc::new(config))
}

fn read_body(response: ureq::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    response
        .into_reader()
        .take(MAX_ANSWER_BYTES + 1)
        .read_to_end(&mut body)
        .map_err(|e| format!("reading the answer: {e}"))?;
    if body.len() as u64 > MAX_ANSWER_BYTES {
        return Err(format!("the answer is over {MAX_ANSWER_BYTES} bytes"));
    }
    Ok(body)
}

/// One series of an instant vector: the workload it names and its value.
#[derive(Debug, Clone, PartialEq)]
struct Series {
    namespace: String,
    workload: String,
    /// `workload_type`, lower case, where the series has one.
    kind: Option<String>,
    value: f64,
}

#[derive(Deserialize)]
struct Answer {
    status: String,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    data: Option<AnswerData>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AnswerData {
    result_type: String,
    result: Vec<AnswerSeries>,
}

#[derive(Deserialize)]
struct AnswerSeries {
    metric: HashMap<String, String>,
    /// `[unix seconds, "value"]`.
    value: (f64, String),
}

/// The series of an instant-vector answer; those without `namespace` and `workload` labels are left
/// out. A value that is not a number (Prometheus writes `NaN`, `+Inf`) is kept as such, for
/// [`Signal::set`] to refuse.
fn parse_answer(body: &[u8]) -> Result<Vec<Series>, String> {
    let answer: Answer =
        serde_json::from_slice(body).map_err(|e| format!("not a Prometheus answer: {e}"))?;
    if answer.status != "success" {
        return Err(answer.error.unwrap_or(answer.status));
    }
    let data = answer.data.ok_or("an answer without data")?;
    if data.result_type != "vector" {
        return Err(format!(
            "the query gives a {}, not an instant vector",
            data.result_type
        ));
    }
    Ok(data
        .result
        .into_iter()
        .filter_map(|mut series| {
            Some(Series {
                namespace: series.metric.remove("namespace")?,
                workload: series.metric.remove("workload")?,
                kind: series
                    .metric
                    .remove("workload_type")
                    .map(|k| k.to_ascii_lowercase()),
                value: series.value.1.parse().unwrap_or(f64::NAN),
            })
        })
        .collect())
}

/// Writes each workload's value of `signal`: the one series of its namespace and name whose
/// `workload_type` is its kind, or else the one without a `workload_type`. Two series of its kind (or,
/// where none is of its kind, two without a kind) are ambiguous, and neither is taken.
fn match_series(
    snapshot: &mut ClusterSnapshot,
    series: &[Series],
    signal: Signal,
    read: &mut SignalsRead,
) {
    let mut by_name: HashMap<(&str, &str), Vec<&Series>> = HashMap::new();
    for one in series {
        by_name
            .entry((one.namespace.as_str(), one.workload.as_str()))
            .or_default()
            .push(one);
    }
    for workload in &mut snapshot.workloads {
        let Some(namespace) = workload.target.namespace.as_deref() else {
            continue;
        };
        let Some(candidates) = by_name.get(&(namespace, workload.target.name.as_str())) else {
            continue;
        };
        let kind = workload.target.kind.as_str().to_ascii_lowercase();
        let typed: Vec<&&Series> = candidates
            .iter()
            .filter(|s| s.kind.as_deref() == Some(kind.as_str()))
            .collect();
        let untyped: Vec<&&Series> = candidates.iter().filter(|s| s.kind.is_none()).collect();
        let chosen = match (typed.as_slice(), untyped.as_slice()) {
            ([one], _) | ([], [one]) => Some(one),
            ([], []) => None,
            _ => {
                read.rejected += 1;
                None
            }
        };
        if let Some(one) = chosen {
            if signal.set(&mut workload.signals, one.value) {
                read.filled += 1;
            } else {
                read.rejected += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::observe::ObservedWorkload;
    use schemas::{ObjectKind, Target};

    fn workload(target: Target) -> ObservedWorkload {
        ObservedWorkload {
            target,
            desired: 1,
            autoscaler: None,
            last_rollout: None,
            signals: WorkloadSignals::default(),
        }
    }

    /// An answer as Prometheus 3 writes it.
    fn answer(series: &[(&str, &str, Option<&str>, &str)]) -> Vec<u8> {
        let result: Vec<serde_json::Value> = series
            .iter()
            .map(|(ns, name, kind, value)| {
                let mut metric = serde_json::json!({ "namespace": ns, "workload": name });
                if let Some(kind) = kind {
                    metric["workload_type"] = (*kind).into();
                }
                serde_json::json!({ "metric": metric, "value": [1_764_979_200.123, value] })
            })
            .collect();
        serde_json::to_vec(&serde_json::json!({
            "status": "success",
            "data": { "resultType": "vector", "result": result }
        }))
        .expect("json")
    }

    #[test]
    fn series_are_matched_to_listed_workloads_only_and_by_kind() {
        let web = Target::deployment("shop", "web");
        let db = Target::object(ObjectKind::StatefulSet, Some("shop"), "web");
        let mut snapshot = ClusterSnapshot {
            at_ns: 1,
            workloads: vec![
                workload(web),
                workload(db),
                workload(Target::deployment("shop", "cart")),
            ],
            ..ClusterSnapshot::default()
        };
        let body = answer(&[
            ("shop", "web", Some("deployment"), "0.75"),
            ("shop", "web", Some("StatefulSet"), "0.25"),
            ("shop", "cart", None, "NaN"),
            ("shop", "ghost", None, "9"),
            ("other", "web", None, "9"),
        ]);
        let series = parse_answer(&body).expect("parses");
        let mut read = SignalsRead::default();
        match_series(&mut snapshot, &series, Signal::Cpu, &mut read);
        let cpu: Vec<Option<f64>> = snapshot
            .workloads
            .iter()
            .map(|w| w.signals.cpu_utilisation)
            .collect();
        assert_eq!(cpu, [Some(0.75), Some(0.25), None]);
        assert_eq!(
            read,
            SignalsRead {
                failed: 0,
                filled: 2,
                rejected: 1
            },
            "NaN (no traffic) is refused; series of unlisted workloads are ignored"
        );

        let twice = answer(&[("shop", "cart", None, "1"), ("shop", "cart", None, "2")]);
        let mut read = SignalsRead::default();
        match_series(
            &mut snapshot,
            &parse_answer(&twice).expect("parses"),
            Signal::Demand,
            &mut read,
        );
        assert_eq!(snapshot.workloads[2].signals.demand_rps, None);
        assert_eq!(read.rejected, 1, "two series for one workload: neither");
    }

    #[test]
    fn values_are_checked_per_signal() {
        let mut signals = WorkloadSignals::default();
        assert!(Signal::Errors.set(&mut signals, 1.02));
        assert_eq!(signals.error_ratio, Some(1.0), "a ratio stops at 1");
        assert!(!Signal::P95.set(&mut signals, -1.0));
        assert!(!Signal::Demand5m.set(&mut signals, f64::INFINITY));
        assert!(Signal::Demand5m.set(&mut signals, 12.5));
        assert_eq!(
            (signals.p95_ms, signals.demand_rps_5m, signals.demand_rps),
            (None, Some(12.5), None)
        );
    }

    #[test]
    fn refusals_and_other_shapes_are_errors() {
        let refused =
            br#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#;
        assert_eq!(
            parse_answer(refused).expect_err("refused"),
            "parse error at char 4"
        );
        let matrix = br#"{"status":"success","data":{"resultType":"matrix","result":[]}}"#;
        assert!(
            parse_answer(matrix)
                .expect_err("matrix")
                .contains("not an instant vector")
        );
        assert!(parse_answer(b"<html>").is_err());
        let unlabelled = br#"{"status":"success","data":{"resultType":"vector","result":[
            {"metric":{"namespace":"shop"},"value":[1,"3"]}]}}"#;
        assert!(parse_answer(unlabelled).expect("parses").is_empty());
    }

    /// A server on 127.0.0.1 answering the n-th request with `answer(n)` (status, body), and handing
    /// each request's head to the test before answering it.
    fn serve(
        answer: impl Fn(usize) -> (u16, Vec<u8>) + Send + 'static,
    ) -> (testkit::http::Server, std::sync::mpsc::Receiver<String>) {
        let (heads, received) = std::sync::mpsc::channel();
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let server = testkit::http::Server::start(move |head| {
            let _ = heads.send(head.to_owned());
            answer(asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst))
        });
        (server, received)
    }

    fn config_for(port: u16) -> PrometheusConfig {
        toml::from_str(&format!("url = \"http://127.0.0.1:{port}\"")).expect("parses")
    }

    #[test]
    fn each_signal_is_asked_at_its_time_and_answers_fill_the_snapshot() {
        let (server, heads) =
            serve(|n| (200, answer(&[("shop", "web", None, &format!("{}", n + 1))])));
        let port = server.port();
        let mut snapshot = ClusterSnapshot {
            at_ns: 1_764_979_200_500_000_000,
            workloads: vec![workload(Target::deployment("shop", "web"))],
            ..ClusterSnapshot::default()
        };
        let read = Prometheus::new(&config_for(port))
            .expect("a client")
            .fill(&mut snapshot, Duration::from_secs(10));
        assert_eq!((read.failed, read.filled), (0, 6));
        let signals = snapshot.workloads[0].signals;
        assert_eq!(
            (
                signals.demand_rps,
                signals.demand_rps_1m,
                signals.demand_rps_5m
            ),
            (Some(1.0), Some(2.0), Some(3.0))
        );
        assert_eq!(
            (signals.p95_ms, signals.error_ratio, signals.cpu_utilisation),
            (Some(4.0), Some(1.0), Some(6.0)),
            "an error ratio of 5 is taken as 1"
        );
        let heads: Vec<String> = heads.try_iter().collect();
        let times: Vec<&str> = heads
            .iter()
            .map(|head| {
                let line = head.lines().next().unwrap_or_default();
                let at = line.find("&time=").expect("a time") + "&time=".len();
                &line[at..at + line[at..].find('&').expect("more parameters")]
            })
            .collect();
        assert_eq!(
            times,
            [
                "1764979200.500",
                "1764979140.500",
                "1764978900.500",
                "1764979200.500",
                "1764979200.500",
                "1764979200.500"
            ],
            "demand now, a minute and five minutes back, then the others now"
        );
        assert!(
            heads
                .iter()
                .all(|h| h.contains("&timeout=") && !h.contains("Authorization")),
            "{heads:?}"
        );
    }

    #[test]
    fn refusals_bad_answers_and_oversized_ones_are_failures_that_say_why() {
        let (server, _heads) = serve(|n| match n {
            0 => (
                400,
                br#"{"status":"error","errorType":"bad_data","error":"parse error at char 4"}"#
                    .to_vec(),
            ),
            1 => (
                200,
                vec![b' '; usize::try_from(MAX_ANSWER_BYTES).expect("fits") + 1],
            ),
            _ => (503, b"<html>unavailable</html>".to_vec()),
        });
        let client = Prometheus::new(&config_for(server.port())).expect("a client");
        let ask = |query: &str| client.ask(query, 0, None, Duration::from_secs(5));
        assert_eq!(
            ask("up{").expect_err("refused"),
            "HTTP 400 parse error at char 4"
        );
        assert!(
            ask("up")
                .expect_err("too large")
                .contains("over 16777216 bytes")
        );
        assert!(ask("up").expect_err("unavailable").starts_with("HTTP 503"));
    }

    #[test]
    fn a_token_is_checked_sent_only_over_https_and_never_quoted() {
        let dir =
            std::env::temp_dir().join(format!("medic-prometheus-token-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let token = dir.join("token");
        std::fs::write(&token, "s3cr3t-token\n").expect("token");
        let (server, heads) = serve(|_| (200, answer(&[])));
        let mut config = config_for(server.port());
        config.bearer_token_file = Some(token.clone());
        let client = Prometheus::new(&config).expect("a client");
        let read = client.token().expect("a token");
        client
            .ask("up", 0, read.as_deref(), Duration::from_secs(5))
            .expect("answered");
        let head = heads.recv().expect("a request");
        assert!(
            head.contains("Authorization: Bearer s3cr3t-token\r\n"),
            "{head}"
        );
        std::fs::write(&token, "s3cr3t\ntoken").expect("token");
        let error = client.token().expect_err("a newline inside");
        assert!(!error.contains("s3cr3t"), "{error}");
        let mut problems = Problems::new("observe");
        config.check(&mut problems);
        assert_eq!(
            problems.into_vec()[0].path,
            "observe.prometheus.bearer_token_file",
            "a token over http:// is refused"
        );
        std::fs::write(dir.join("ca.pem"), "not a certificate").expect("ca");
        config.url = "https://prometheus:9090".into();
        config.ca_file = Some(dir.join("ca.pem"));
        assert!(Prometheus::new(&config).is_err_and(|e| e.contains("no certificate")));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn an_unreachable_prometheus_fails_every_query_and_fills_nothing() {
        // A port nothing listens on: the queries fail fast, each is counted, the snapshot is untouched.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a port")
            .port();
        let config: PrometheusConfig =
            toml::from_str(&format!("url = \"http://127.0.0.1:{port}/\"")).expect("parses");
        let mut problems = Problems::new("observe");
        config.check(&mut problems);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(config.queries, SignalQueries::default());
        let mut snapshot = ClusterSnapshot {
            at_ns: 400_000_000_000,
            workloads: vec![workload(Target::deployment("shop", "web"))],
            ..ClusterSnapshot::default()
        };
        let before = snapshot.clone();
        let read = Prometheus::new(&config)
            .expect("a client")
            .fill(&mut snapshot, Duration::from_secs(5));
        assert_eq!(read.failed, 6);
        assert_eq!(snapshot, before);
    }

    #[test]
    fn the_documented_defaults_are_the_defaults() {
        let file = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../pipelines/default.toml"
        ))
        .expect("pipelines/default.toml");
        let section: String = file
            .lines()
            .skip_while(|line| *line != "# [observe.prometheus]")
            .take_while(|line| line.starts_with("# "))
            .map(|line| format!("{}\n", &line[2..]))
            .collect();
        let table: toml::Table = toml::from_str(&section).expect("the commented section");
        let documented: PrometheusConfig = table["observe"]["prometheus"]
            .clone()
            .try_into()
            .expect("a Prometheus source");
        assert_eq!(documented.queries, SignalQueries::default());
        assert_eq!(documented.timeout, default_timeout());
        let mut problems = Problems::new("observe");
        documented.check(&mut problems);
        assert!(problems.is_empty(), "the example is valid: {problems:?}");
    }

    #[test]
    fn bad_settings_are_reported() {
        let config: PrometheusConfig = toml::from_str(
            "url = \"prometheus:9090\"\ntimeout = \"1m\"\nca_file = \"ca.pem\"\n[queries]\np95_ms = \"\"",
        )
        .expect("parses");
        let mut problems = Problems::new("observe");
        config.check(&mut problems);
        assert_eq!(
            problems
                .into_vec()
                .iter()
                .map(|p| p.path.as_str())
                .collect::<Vec<_>>(),
            [
                "observe.prometheus.url",
                "observe.prometheus.ca_file",
                "observe.prometheus.timeout"
            ]
        );
        let with_credentials: PrometheusConfig =
            toml::from_str("url = \"https://admin:pw@prometheus:9090/\"").expect("parses");
        let mut problems = Problems::new("observe");
        with_credentials.check(&mut problems);
        assert_eq!(problems.into_vec().len(), 1, "credentials in the URL");
        assert_eq!(config.queries.p95_ms, "", "an empty query turns it off");
    }
}
