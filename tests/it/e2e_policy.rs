//! The cluster's state and the learned policy in the pipeline, through a real broker: `medic run --stage
//! observe` writing a real Deployment's state from the test API server; and `medic run --stage decide
//! --stage act` with `decide.policy = "models/policy-ppo"` in shadow and in act mode, fed a twin hour's
//! workload states (its observer) and diagnoses (its diagnosis channel), killed with SIGKILL halfway and
//! restarted; and the policy's scale-out of a saturated Deployment, observed from the API server and from a
//! real Prometheus scraping its (test-played) ingress and exporters through the default queries (with a
//! shorter rate window) and recording rule, signed,
//! applied by the actuator to the API server, verified (its pods Ready, played by KWOK's simulated kubelets) and
//! observed again.

use decide::lab::twin::{ClusterSpec, OBSERVER_TWIN, Scenario, Trace, Twin, TwinOptions, snapshot};
use rdkafka::Message;
use schemas::{Action, Decision, RemediationCommand, WireRecord, WorkloadState};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use testkit::cluster;
use testkit::kafka::{brokers, latest_checkpoint, observer, produce_all, read_until, run_pipeline};
use testkit::process::{spawn_medic_with, terminate, wait_ready};
use testkit::scratch::{free_port, run_id};

/// Twin time 0, in seconds since the epoch.
const START: i64 = 1_700_000_000;

/// Keyed payloads, as [`produce_all`] takes them.
type Keyed = Vec<(String, Vec<u8>)>;

/// Per twin step, the workload states its observer writes and the diagnoses of its diagnosis channel.
fn twin_hour() -> Vec<(Keyed, Keyed)> {
    let cluster = ClusterSpec::default();
    let scenario: Scenario = toml::from_str(
        "[[fault]]\nkind = \"bad_rollout\"\nat = \"10m\"\ndeployment = \"catalog\"\n\n\
         [[fault]]\nkind = \"traffic_spike\"\nat = \"25m\"\ndeployment = \"frontend\"\n\n\
         [[fault]]\nkind = \"node_failure\"\nat = \"40m\"\nnode = \"node-2\"\n",
    )
    .expect("scenario");
    let plan = scenario.plan(&cluster, 1, 3_600.0).expect("plan");
    let mut twin = Twin::new(
        cluster.clone(),
        Trace::diurnal(1).scaled_to_peak(600.0),
        plan,
        3_600.0,
        TwinOptions::default(),
    );
    let observe = act::observe::ObserveConfig::default();
    let keyed = |record: &dyn ErasedWire| (record.key_text(), record.payload());
    let mut steps = Vec::new();
    while !twin.done() {
        twin.step(&[]);
        let states =
            act::observe::workload_states(&snapshot(&twin, START), &observe, OBSERVER_TWIN)
                .iter()
                .map(|s| keyed(s))
                .collect();
        let diagnoses = twin
            .views()
            .iter()
            .filter_map(|view| {
                let signal = view.signal?;
                let spec = &cluster.deployments[view.deployment];
                let mut d = schemas::fixtures::diagnosis(
                    &format!("{}-{}", spec.name, view.at_secs as i64),
                    &schemas::Target::deployment(&spec.namespace, &spec.name),
                    signal.fault,
                    START + view.at_secs as i64,
                );
                d.confidence = signal.confidence;
                Some(keyed(&d))
            })
            .collect();
        steps.push((states, diagnoses));
    }
    steps
}

/// A record's key and encoding, whatever its type.
trait ErasedWire {
    fn key_text(&self) -> String;
    fn payload(&self) -> Vec<u8>;
}

impl<R: WireRecord> ErasedWire for R {
    fn key_text(&self) -> String {
        self.key().unwrap_or_default()
    }
    fn payload(&self) -> Vec<u8> {
        schemas::encode_record(self).expect("encodes")
    }
}

/// Produces `steps` four (two minutes) at a time, states then diagnoses, so that decide reads them about
/// in order (it reads the two topics independently: a diagnosis read before a state of its workload at
/// most `decide.state_max_age` older is not shadowed).
async fn produce_steps(brokers: &str, state: &str, diagnoses: &str, steps: &[(Keyed, Keyed)]) {
    for chunk in steps.chunks(4) {
        let states: Keyed = chunk.iter().flat_map(|s| s.0.clone()).collect();
        let diagnosed: Keyed = chunk.iter().flat_map(|s| s.1.clone()).collect();
        produce_all(brokers, state, &states).await;
        produce_all(brokers, diagnoses, &diagnosed).await;
    }
}

/// A run id of `prefix` (its topics and groups) and a fresh directory of that name for its files.
fn run_dir(prefix: &str) -> (String, std::path::PathBuf) {
    let run_id = run_id(prefix);
    let dir = std::env::temp_dir().join(&run_id);
    std::fs::create_dir_all(&dir).expect("dir");
    (run_id, dir)
}

/// Everything read back, by topic, as payloads.
#[derive(Default)]
struct Read {
    by_topic: BTreeMap<String, Vec<Vec<u8>>>,
}

impl Read {
    /// Keeps `m`'s payload under its topic (what [`read_until`] is given to record).
    fn record(&mut self, m: &rdkafka::message::BorrowedMessage<'_>) {
        self.by_topic
            .entry(m.topic().to_owned())
            .or_default()
            .push(m.payload().unwrap_or_default().to_vec());
    }

    fn decoded<R: WireRecord>(&self, topic: &str) -> Vec<R> {
        self.by_topic
            .get(topic)
            .into_iter()
            .flatten()
            .map(|p| schemas::decode_record(p).expect("decodes"))
            .collect()
    }
}

/// What decide and act made of the twin hour: every copy read of their outputs.
struct HourRun {
    diagnosed: usize,
    decisions: Vec<Decision>,
    shadows: Vec<Decision>,
    commands: Vec<RemediationCommand>,
}

/// Runs `medic run --stage decide --stage act` with the PPO policy in `mode` on the twin hour, killed
/// with SIGKILL halfway (after its arbiter's memory was checkpointed) and restarted.
async fn run_twin_hour(mode: &str) -> HourRun {
    let brokers = brokers();
    let (run_id, dir) = run_dir(&format!("policy-{mode}-"));
    let topic = |name: &str| format!("{run_id}.{name}");
    let port = free_port();
    let policy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/policy-ppo");
    let pipeline = dir.join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            "{head}[runner]\nbatch_linger = \"20ms\"\ntick_interval = \"200ms\"\n\
             checkpoint_interval = \"500ms\"\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [decide]\npolicy = \"{policy}\"\nmode = \"{mode}\"\n\n[[ingest.sources]]\nname = \"{run_id}\"\n",
            head = run_pipeline(&run_id, &brokers, 2),
            policy = policy.display()
        ),
    )
    .expect("pipeline");
    let steps = twin_hour();
    let diagnosed: usize = steps.iter().map(|s| s.1.len()).sum();
    let half = steps.len() / 2;
    let log = dir.join("medic.log");
    let start = || {
        let mut medic = spawn_medic_with(&pipeline, &["decide", "act"], &log, &[]);
        wait_ready(&mut medic, port);
        medic
    };

    let outputs = [
        topic("decisions"),
        topic("shadow_decisions"),
        topic("actions"),
    ];
    let reader = observer(
        &brokers,
        &format!("{run_id}-reader"),
        &outputs.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    let mut read = Read::default();
    let record = Read::record;
    let decided = |read: &Read, n: usize| {
        read.decoded::<Decision>(&topic("decisions"))
            .iter()
            .map(|d| &d.diagnosis_id)
            .collect::<BTreeSet<_>>()
            .len()
            >= n
    };
    let report = |read: &Read| {
        format!(
            "{:?}\n{}",
            read.by_topic
                .iter()
                .map(|(t, v)| (t, v.len()))
                .collect::<Vec<_>>(),
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    };

    // The first half, then SIGKILL once it is decided (and checkpointed at least once).
    let mut medic = start();
    produce_steps(
        &brokers,
        &topic("state"),
        &topic("diagnoses"),
        &steps[..half],
    )
    .await;
    let first: usize = steps[..half].iter().map(|s| s.1.len()).sum();
    read_until(
        &reader,
        &mut read,
        record,
        |r| decided(r, first),
        Duration::from_secs(1),
        Duration::from_secs(120),
        report,
    )
    .await;
    medic.kill();
    let checkpoint =
        latest_checkpoint(&brokers, &topic("checkpoints"), &format!("{run_id}-decide"))
            .expect("decide checkpointed");
    let memory: serde_json::Value = serde_json::from_slice(&checkpoint.state).expect("json");
    // The arbiter that reviewed the policy's choices — the shadow's own in shadow mode — is
    // checkpointed with the workloads it numbered.
    let arbiter = if mode == "shadow" {
        "shadow_arbiter"
    } else {
        "arbiter"
    };
    assert!(
        memory[arbiter]["workloads"]
            .as_array()
            .is_some_and(|w| !w.is_empty()),
        "the {arbiter}'s memory is checkpointed: {memory}"
    );

    // The rest, on a restarted process.
    let mut medic = start();
    produce_steps(
        &brokers,
        &topic("state"),
        &topic("diagnoses"),
        &steps[half..],
    )
    .await;
    read_until(
        &reader,
        &mut read,
        record,
        |r| decided(r, diagnosed),
        Duration::from_secs(2),
        Duration::from_secs(180),
        report,
    )
    .await;
    medic.stop();

    HourRun {
        diagnosed,
        decisions: read.decoded(&topic("decisions")),
        shadows: read.decoded(&topic("shadow_decisions")),
        commands: read.decoded(&topic("actions")),
    }
}

/// One decision id per diagnosis, the same on every copy (a diagnosis re-read after the kill keeps its
/// id, so its command would be refused as a replay), and every diagnosis decided.
fn assert_one_id_per_diagnosis(decisions: &[Decision], diagnosed: usize) {
    let mut per_diagnosis: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for d in decisions {
        per_diagnosis
            .entry(&d.diagnosis_id)
            .or_default()
            .insert(&d.decision_id);
    }
    assert_eq!(per_diagnosis.len(), diagnosed);
    assert!(per_diagnosis.values().all(|ids| ids.len() == 1));
}

/// The arbiter's rules held for every one of `proposed`, against the decisions `applied` (the acting
/// policy's: in act mode the same, in shadow mode the rules', which the shadow's arbiter is fed): no node
/// action on a workload's evidence, no disruptive action on a workload within the cooldown (5 min) of an
/// applied one, and none when 20 changes to it were applied in the hour before.
fn assert_arbitrated(proposed: &[&Decision], applied: &[&Decision]) {
    let disrupts = |d: &Decision| {
        matches!(
            d.action,
            Action::RestartPod | Action::RolloutRestart | Action::Rollback
        )
    };
    let before = |d: &Decision, window_ns: i64, on: &Decision| {
        d.target.name == on.target.name
            && d.decided_at_ns < on.decided_at_ns
            && on.decided_at_ns - d.decided_at_ns < window_ns
    };
    for p in proposed {
        assert!(
            !matches!(p.action, Action::CordonNode | Action::DrainNode),
            "{p:?}"
        );
        if disrupts(p) {
            let recent: Vec<&&Decision> = applied
                .iter()
                .filter(|a| disrupts(a) && before(a, 300_000_000_000, p))
                .collect();
            assert!(recent.is_empty(), "{p:?} within the cooldown of {recent:?}");
        }
        if p.action.acts() {
            let changes = applied
                .iter()
                .filter(|a| a.action.acts() && before(a, 3_600_000_000_000, p))
                .count();
            assert!(
                changes < 20,
                "{p:?} after {changes} changes within the hour"
            );
        }
    }
}

#[ignore = "needs the test broker: run scripts/test.sh, or scripts/kafka-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learned_policy_in_shadow_mode_changes_no_action_and_survives_a_kill() {
    let _machine = super::common::MACHINE.read().await;
    let run = run_twin_hour("shadow").await;
    // The rules act: every decision acted on is theirs.
    assert!(run.decisions.iter().all(|d| d.policy_id == "rules@1"));
    assert_one_id_per_diagnosis(&run.decisions, run.diagnosed);
    // The learned policy is only recorded: its decisions are its own, and none reaches the issuer.
    let shadowed: BTreeSet<&str> = run
        .shadows
        .iter()
        .map(|s| s.diagnosis_id.as_str())
        .collect();
    assert!(
        shadowed.len() * 10 >= run.diagnosed * 8,
        "{} diagnoses shadowed of {}",
        shadowed.len(),
        run.diagnosed
    );
    assert!(run.shadows.iter().all(|s| s.policy_id.starts_with("ppo@")));
    let shadow_ids: BTreeSet<&str> = run.shadows.iter().map(|s| s.decision_id.as_str()).collect();
    assert!(!run.commands.is_empty(), "the rules' actions were issued");
    for c in &run.commands {
        assert!(!shadow_ids.contains(c.provenance.decision_id.as_str()));
        assert_eq!(c.provenance.policy_id, "rules@1");
    }
    assert_arbitrated(&by_unique(&run.shadows), &by_unique(&run.decisions));
}

#[ignore = "needs the test broker: run scripts/test.sh, or scripts/kafka-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learned_policy_acting_passes_its_arbiter_and_survives_a_kill() {
    let _machine = super::common::MACHINE.read().await;
    let run = run_twin_hour("act").await;
    assert!(run.shadows.is_empty(), "no shadow when the policy acts");
    assert_one_id_per_diagnosis(&run.decisions, run.diagnosed);
    let learned: Vec<&Decision> = by_unique(&run.decisions)
        .into_iter()
        .filter(|d| d.policy_id.starts_with("ppo@"))
        .collect();
    assert!(
        learned.len() * 10 >= run.diagnosed * 8,
        "{} of {} decided by the learned policy (the rest: no fresh state yet)",
        learned.len(),
        run.diagnosed
    );
    assert_arbitrated(&learned, &by_unique(&run.decisions));
    // What it decided is what was issued, under its name.
    let by_id: BTreeMap<&str, &Decision> = run
        .decisions
        .iter()
        .map(|d| (d.decision_id.as_str(), d))
        .collect();
    assert!(
        run.commands
            .iter()
            .any(|c| c.provenance.policy_id.starts_with("ppo@"))
    );
    for c in &run.commands {
        let decision = by_id[c.provenance.decision_id.as_str()];
        assert_eq!(
            (c.action, &c.provenance.policy_id),
            (decision.action, &decision.policy_id)
        );
    }
}

/// One copy of each decision (by id).
fn by_unique(decisions: &[Decision]) -> Vec<&Decision> {
    let mut seen = BTreeSet::new();
    decisions
        .iter()
        .filter(|d| seen.insert(d.decision_id.clone()))
        .collect()
}

#[ignore = "needs the test broker and Kubernetes API server: run scripts/test.sh, or scripts/kafka-up.sh and scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_writes_a_real_deployments_state_through_the_broker() {
    use k8s_openapi::api::apps::v1::Deployment;
    use kube::api::{Api, Patch, PatchParams};

    let _machine = super::common::MACHINE.read().await;
    let client = cluster::client().await;
    let (ns, node) = cluster::running_web(&client, "observed", 2).await;

    let brokers = brokers();
    let (run_id, dir) = run_dir("observe");
    let port = free_port();
    let pipeline = dir.join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            "{head}[runner]\ntick_interval = \"200ms\"\n\n[admin]\nlisten = \"127.0.0.1:{port}\"\n\n\
             [observe]\nsource = \"kubernetes\"\nkubeconfig = \"{kubeconfig}\"\nnamespaces = [\"{ns}\"]\n\
             interval = \"500ms\"\n\n[[ingest.sources]]\nname = \"{run_id}\"\n",
            head = run_pipeline(&run_id, &brokers, 2),
            kubeconfig = cluster::kubeconfig().display()
        ),
    )
    .expect("pipeline");
    let state_topic = format!("{run_id}.state");
    let reader = observer(&brokers, &format!("{run_id}-reader"), &[&state_topic]);
    let log = dir.join("observe.log");
    let mut medic = spawn_medic_with(&pipeline, &["observe"], &log, &[]);
    wait_ready(&mut medic, port);
    let mut states: Vec<WorkloadState> = Vec::new();
    let record = |states: &mut Vec<WorkloadState>, m: &rdkafka::message::BorrowedMessage<'_>| {
        states.push(schemas::decode_record(m.payload().unwrap_or_default()).expect("a state"));
    };
    let report = |states: &Vec<WorkloadState>| {
        format!(
            "{:?}\n{}",
            states.iter().map(|s| s.pods).collect::<Vec<_>>(),
            std::fs::read_to_string(&log).unwrap_or_default()
        )
    };
    let has = |states: &Vec<WorkloadState>, replicas: u32| {
        states.iter().any(|s| {
            s.target.name == "web" && s.pods.desired == replicas && s.pods.ready == replicas
        })
    };
    read_until(
        &reader,
        &mut states,
        record,
        |s| has(s, 2),
        Duration::from_millis(1_500),
        Duration::from_secs(60),
        report,
    )
    .await;
    let first = states.len();
    assert!(
        states
            .iter()
            .all(|s| s.target.namespace.as_deref() == Some(ns.as_str())),
        "only the observed namespace"
    );
    assert!(
        first <= 3,
        "an unchanged workload is written once, not every read: {first}"
    );
    // A change in the cluster is a new state.
    let scale = serde_json::json!({ "spec": { "replicas": 3 } });
    Api::<Deployment>::namespaced(client.clone(), &ns)
        .patch("web", &PatchParams::default(), &Patch::Merge(&scale))
        .await
        .expect("scale");
    read_until(
        &reader,
        &mut states,
        record,
        |s| has(s, 3),
        Duration::ZERO,
        Duration::from_secs(60),
        report,
    )
    .await;
    let web = states.last().expect("a state");
    assert_eq!(web.observer, "kubernetes@1");
    // On this process's nodes (other tests of the binary add theirs: the scheduler may use any).
    let ours = format!("medic-test-{}-", std::process::id());
    assert!(
        web.pods_per_node
            .iter()
            .all(|on| on.node.starts_with(&ours)),
        "{:?}",
        web.pods_per_node
    );
    assert!(terminate(&mut medic, Duration::from_secs(30)).success());
    cluster::delete_nodes(&client, &[node]).await;
}

#[ignore = "needs the test broker, the Kubernetes API server and Prometheus: run scripts/test.sh, or scripts/kafka-up.sh, scripts/k8s-up.sh and scripts/prometheus-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_learned_scale_out_is_applied_to_the_cluster_and_verified() {
    use act::KeyRing;
    use act::observe::{Prometheus, PrometheusConfig, SignalQueries};
    use schemas::{ActionOutcome, ActionResult};
    use testkit::prometheus::{PrometheusServer, WorkloadExporter, WorkloadLoad};

    let _machine = super::common::MACHINE.read().await;
    let client = cluster::client().await;
    let (ns, node) = cluster::running_web(&client, "learned", 2).await;
    // Its ingress and exporters as Prometheus scrapes them: three pods' worth of demand on two pods,
    // every request slower than the objective, the CPU nearly all used.
    let exporter = WorkloadExporter::start(WorkloadLoad {
        namespace: ns.clone(),
        name: "web".to_owned(),
        pods: 2,
        rps: 300.0,
        cpu_per_pod: 0.98,
    });
    let prometheus = PrometheusServer::scraping(exporter.port());
    // The default queries, their rate window shortened from 2 minutes to 10 s: rate() divides by the
    // whole window, and these series are seconds old.
    let defaults = SignalQueries::default();
    let short = |query: &str| query.replace("[2m]", "[10s]");
    let queries = SignalQueries {
        demand_rps: short(&defaults.demand_rps),
        p95_ms: short(&defaults.p95_ms),
        error_ratio: short(&defaults.error_ratio),
        cpu_utilisation: short(&defaults.cpu_utilisation),
    };
    let metrics = PrometheusConfig {
        url: prometheus.url(),
        bearer_token_file: None,
        ca_file: None,
        timeout: schemas::span::Span::secs(5),
        queries: queries.clone(),
    };
    let near = |value: Option<f64>, expected: f64| {
        value.is_some_and(|v| (v - expected).abs() <= 0.1 * expected)
    };
    // Until the queries (and the recording rule they use) answer for the workload, with full windows.
    {
        let client = Prometheus::new(&metrics).expect("a client");
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            let mut snapshot = schemas::observe::ClusterSnapshot {
                at_ns: chrono::Utc::now().timestamp_nanos_opt().expect("now"),
                workloads: vec![schemas::observe::ObservedWorkload {
                    target: schemas::Target::deployment(&ns, "web"),
                    desired: 2,
                    autoscaler: None,
                    last_rollout: None,
                    signals: schemas::WorkloadSignals::default(),
                }],
                ..Default::default()
            };
            let read = client.fill(&mut snapshot, Duration::from_secs(10));
            let signals = snapshot.workloads[0].signals;
            // The ingress's p95 (all requests between 0.5 and 1 s), no 5xx, 0.98 of a core per pod.
            if near(signals.demand_rps, 300.0)
                && near(signals.p95_ms, 975.0)
                && near(signals.cpu_utilisation, 0.98)
                && signals.error_ratio == Some(0.0)
            {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Prometheus never answered the queries as the series say: {read:?} {signals:?}"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    let brokers = brokers();
    let (run_id, dir) = run_dir("learned-scale-");
    let topic = |name: &str| format!("{run_id}.{name}");
    // The issuer signs with the private key; the actuator holds only its public half.
    let line = KeyRing::generate_line("learned");
    let private = dir.join("signing-keys");
    let public = dir.join("verify-keys");
    std::fs::write(&private, &line).expect("keys");
    let ring = KeyRing::parse(&line).expect("keys");
    std::fs::write(&public, ring.public_lines().expect("public")).expect("keys");
    let policy = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("models/policy-ppo");
    let pipeline = dir.join("pipeline.toml");
    std::fs::write(
        &pipeline,
        format!(
            "{head}[runner]\nbatch_linger = \"20ms\"\ntick_interval = \"200ms\"\n\n\
             [decide]\npolicy = \"{policy}\"\n\n\
             [observe]\nsource = \"kubernetes\"\nkubeconfig = \"{kubeconfig}\"\nnamespaces = [\"{ns}\"]\n\
             interval = \"500ms\"\n\n[observe.prometheus]\nurl = \"{url}\"\n\n\
             [observe.prometheus.queries]\ndemand_rps = '{demand}'\np95_ms = '{p95}'\n\
             error_ratio = '{errors}'\ncpu_utilisation = '{cpu}'\n\n\
             [act]\nmode = \"apply\"\njournal = \"{journal}\"\nkubeconfig = \"{kubeconfig}\"\n\
             verify_timeout = \"60s\"\nverify_interval = \"250ms\"\n\n\
             [act.safety]\nallowed_namespaces = [\"{ns}\"]\n\n[[ingest.sources]]\nname = \"{run_id}\"\n",
            head = run_pipeline(&run_id, &brokers, 1),
            policy = policy.display(),
            journal = dir.join("journal").display(),
            kubeconfig = cluster::kubeconfig().display(),
            url = prometheus.url(),
            demand = queries.demand_rps,
            p95 = queries.p95_ms,
            errors = queries.error_ratio,
            cpu = queries.cpu_utilisation,
        ),
    )
    .expect("pipeline");
    let start = |stages: &[&str], keys: &std::path::Path, name: &str| {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let keys = keys.display().to_string();
        let mut medic = spawn_medic_with(
            &pipeline,
            stages,
            &dir.join(format!("{name}.log")),
            &[
                ("MEDIC__ADMIN__LISTEN", listen.as_str()),
                ("MEDIC__ACT__KEYS_FILE", keys.as_str()),
            ],
        );
        wait_ready(&mut medic, port);
        (medic, port)
    };
    let (mut deciding, decide_port) = start(&["observe", "decide", "act"], &private, "decide");
    let (mut actuator, _) = start(&["actuator"], &public, "actuator");

    // The observer reads the Deployment from the API server and its signals from Prometheus; once
    // decide has read that state, a confident CPU-saturation diagnosis.
    let now_secs = chrono::Utc::now().timestamp();
    let diagnosis = schemas::fixtures::diagnosis(
        "saturated-1",
        &schemas::Target::deployment(&ns, "web"),
        schemas::FaultClass::CpuSaturation,
        now_secs,
    );
    // Decide reads its two topics independently: the diagnosis goes once decide has read a state.
    let read_state = || {
        testkit::scrape::Scrape::fetch(decide_port).is_some_and(|m| {
            m.sum(
                "medic_stage_events_total",
                &[("stage", "decide"), ("event", "decide.states")],
            ) >= 1.0
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !read_state() {
        assert!(
            std::time::Instant::now() < deadline,
            "decide never read the state"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    produce_all(
        &brokers,
        &topic("diagnoses"),
        &[(
            diagnosis.key().unwrap_or_default(),
            schemas::encode_record(&diagnosis).expect("encodes"),
        )],
    )
    .await;

    let (decisions, results) = (topic("decisions"), topic("results"));
    let reader = observer(
        &brokers,
        &format!("{run_id}-reader"),
        &[&decisions, &results],
    );
    let mut read = Read::default();
    read_until(
        &reader,
        &mut read,
        Read::record,
        // The two topics are read in no set order: the result may come before its decision.
        |read| {
            !read.decoded::<ActionResult>(&results).is_empty()
                && !read.decoded::<Decision>(&decisions).is_empty()
        },
        Duration::ZERO,
        Duration::from_secs(120),
        |read| {
            format!(
                "{:?}\n{}\n{}",
                read.decoded::<Decision>(&decisions),
                std::fs::read_to_string(dir.join("decide.log")).unwrap_or_default(),
                std::fs::read_to_string(dir.join("actuator.log")).unwrap_or_default()
            )
        },
    )
    .await;
    let decision = read.decoded::<Decision>(&decisions).remove(0);
    assert!(decision.policy_id.starts_with("ppo@"), "{decision:?}");
    let Action::Scale { delta } = decision.action else {
        panic!("the policy scales out a saturated workload: {decision:?}")
    };
    assert!(delta > 0 && 2 + delta <= 6, "within the bounds: {delta}");
    let result = read.decoded::<ActionResult>(&results).remove(0);
    assert_eq!(
        result.outcome,
        ActionOutcome::Verified,
        "{}",
        result.message
    );
    assert_eq!(cluster::replicas(&client, &ns, "web").await, 2 + delta);
    cluster::wait_available(&client, &ns, "web", 2 + delta).await;
    // What decide read, and what the observer saw after: the scaled Deployment, all its pods Ready.
    let state_reader = observer(&brokers, &format!("{run_id}-states"), &[&topic("state")]);
    let mut states: Vec<WorkloadState> = Vec::new();
    let scaled = u32::try_from(2 + delta).expect("replicas");
    read_until(
        &state_reader,
        &mut states,
        |states, m| {
            states.push(schemas::decode_record(m.payload().unwrap_or_default()).expect("a state"))
        },
        |states| {
            states
                .iter()
                .any(|s| s.pods.desired == scaled && s.pods.ready == scaled)
        },
        Duration::ZERO,
        Duration::from_secs(60),
        |states| format!("{states:?}"),
    )
    .await;
    let first = &states[0];
    assert_eq!(
        (
            first.observer.as_str(),
            first.pods.desired,
            first.pods.ready
        ),
        ("kubernetes@1", 2, 2)
    );
    assert!(
        near(first.signals.demand_rps, 300.0) && near(first.signals.p95_ms, 975.0),
        "the state the policy decided on carries Prometheus's signals: {:?}",
        first.signals
    );

    deciding.kill();
    actuator.kill();
    cluster::delete_nodes(&client, &[node]).await;
}
