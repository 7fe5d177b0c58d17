//! A property of the whole decision path (ingest → enrich → diagnose → decide, the real stages in process):
//! whatever one tenant's pods print and whatever Events it writes, in any order and number, every decision
//! stays in that tenant's namespace and none cordons or drains a node.
//!
//! The tenant's records carry their trusted identity as each channel does — the kubelet log path in the
//! message key, a log agent's nested `kubernetes` metadata, an Event's own namespace (the API server puts
//! a namespaced Event's involved object in that namespace; a Node has none) — and hostile content:
//! fault phrases, other namespaces' and nodes' names, flat `kubernetes.*` keys as Fluent Bit's
//! `Merge_Log` leaves them, Event- and envelope-shaped JSON, pods named like another workload's.

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use schemas::{Action, Decision, Emitter, RecordKind, SourceRecord, Stage};

const TENANT: &str = "tenant-a";
/// 2026-03-14T09:00:00Z.
const START_SECS: i64 = 1_773_478_800;

/// What a tenant's pod can print: phrases the models read as faults, and names that are not its own.
const PHRASES: &[&str] = &[
    "java.lang.OutOfMemoryError: Java heap space",
    "Back-off restarting failed container app in pod coredns-5d78c9869d-x2x7q_kube-system(0d2f)",
    "write /var/lib/data: no space left on device",
    "node worker-1 status is now: NodeNotReady",
    "Kubelet stopped posting node status on node control-plane-0",
    "0/3 nodes are available: 3 Insufficient memory",
    "dial tcp 10.0.0.7:5432: connect: connection refused",
    "Readiness probe failed: HTTP probe failed with statuscode: 503",
    "Memory cgroup out of memory: Killed process 4242 (java)",
    "Evicted: The node had condition: [DiskPressure]",
    "namespace=kube-system deployment=coredns pod=coredns-5d78c9869d-x2x7q node=control-plane-0",
    "upstream timed out (110: Connection timed out) while reading response header from upstream",
];
/// Names a hostile record may claim.
const NAMES: &[&str] = &[
    "kube-system",
    "payments",
    "coredns",
    "postgres",
    "control-plane-0",
    "worker-1",
    "StatefulSet/postgres",
    "Deployment/coredns",
    "Node/worker-1",
];
/// The tenant's own pods, one named like a Deployment's pod and one like another namespace's.
const PODS: &[&str] = &[
    "web-5d567cc74c-abcde",
    "checkout-6b8f7d9c4d-7xk2p",
    "coredns-5d78c9869d-x2x7q",
    "postgres-0",
    "job-runner-28931840-kx7vq",
    "bare",
];
const EVENT_REASONS: &[&str] = &[
    "OOMKilling",
    "NodeNotReady",
    "BackOff",
    "FailedScheduling",
    "Evicted",
    "EvictionThresholdMet",
    "Unhealthy",
    "Killing",
];

/// One hostile input, before it is given a time.
#[derive(Debug, Clone)]
enum Hostile {
    /// A container line keyed by the tenant pod's kubelet log path; its text, plain or JSON.
    PodLine { pod: usize, text: Text },
    /// A log agent's record (Fluent Bit) with the tenant's metadata nested and hostile flat keys merged in.
    AgentRecord {
        pod: usize,
        phrase: usize,
        claims: Vec<(usize, usize)>,
    },
    /// An Event the tenant wrote in its namespace, about one of its objects or about a Node.
    Event {
        kind: usize,
        name: usize,
        reason: usize,
        phrase: usize,
        host: usize,
    },
}

/// What a pod prints.
#[derive(Debug, Clone)]
enum Text {
    Plain(usize, usize),
    /// JSON with flat `kubernetes.*` claims and a nested `kubernetes` object of other names.
    Json(usize, Vec<(usize, usize)>),
    /// An Event as JSON, printed by the pod.
    EventJson(usize, usize),
}

const CLAIM_KEYS: &[&str] = &[
    "kubernetes.pod_namespace",
    "kubernetes.namespace_name",
    "kubernetes.pod_owner",
    "kubernetes.pod_name",
    "kubernetes.host",
    "kubernetes.node_name",
    "namespace",
    "k8s.namespace.name",
];

fn text() -> impl Strategy<Value = Text> {
    let claims = prop::collection::vec((0..CLAIM_KEYS.len(), 0..NAMES.len()), 0..4);
    prop_oneof![
        (0..PHRASES.len(), 0..NAMES.len()).prop_map(|(p, n)| Text::Plain(p, n)),
        (0..PHRASES.len(), claims).prop_map(|(p, c)| Text::Json(p, c)),
        (0..PHRASES.len(), 0..NAMES.len()).prop_map(|(p, n)| Text::EventJson(p, n)),
    ]
}

fn hostile() -> impl Strategy<Value = Hostile> {
    let claims = prop::collection::vec((0..CLAIM_KEYS.len(), 0..NAMES.len()), 0..4);
    prop_oneof![
        3 => (0..PODS.len(), text()).prop_map(|(pod, text)| Hostile::PodLine { pod, text }),
        1 => (0..PODS.len(), 0..PHRASES.len(), claims)
            .prop_map(|(pod, phrase, claims)| Hostile::AgentRecord { pod, phrase, claims }),
        2 => (0..3_usize, 0..PODS.len(), 0..EVENT_REASONS.len(), 0..PHRASES.len(), 0..NAMES.len())
            .prop_map(|(kind, name, reason, phrase, host)| Hostile::Event {
                kind,
                name,
                reason,
                phrase,
                host,
            }),
    ]
}

fn rfc3339(secs: i64) -> String {
    chrono::DateTime::from_timestamp(secs, 0)
        .expect("a time")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn claims_json(claims: &[(usize, usize)]) -> serde_json::Map<String, serde_json::Value> {
    claims
        .iter()
        .map(|(k, n)| (CLAIM_KEYS[*k].to_owned(), NAMES[*n].into()))
        .collect()
}

/// The input record of `hostile` at `secs`: its key (if the channel has one) and payload.
fn render(hostile: &Hostile, secs: i64) -> (Option<String>, String) {
    let time = rfc3339(secs);
    match hostile {
        Hostile::PodLine { pod, text } => {
            let message = match text {
                Text::Plain(p, n) => format!("ERROR {} ({})", PHRASES[*p], NAMES[*n]),
                Text::Json(p, claims) => {
                    let mut object = claims_json(claims);
                    object.insert("level".into(), "error".into());
                    object.insert("msg".into(), PHRASES[*p].into());
                    object.insert(
                        "kubernetes".into(),
                        serde_json::json!({ "namespace_name": "kube-system", "pod_name": NAMES[1] }),
                    );
                    serde_json::Value::Object(object).to_string()
                }
                Text::EventJson(p, n) => event_json(
                    "kube-system",
                    "Node",
                    NAMES[*n],
                    "NodeNotReady",
                    PHRASES[*p],
                    NAMES[*n],
                    &time,
                ),
            };
            let path = format!(
                "/var/log/pods/{TENANT}_{}_5f1c9a8e-2b7d-4c3e-9a61-0d2f8b7a1c3e/app/0.log",
                PODS[*pod]
            );
            (Some(path), format!("{time} stdout F {message}"))
        }
        Hostile::AgentRecord {
            pod,
            phrase,
            claims,
        } => {
            let mut object = claims_json(claims);
            object.insert("log".into(), format!("ERROR {}", PHRASES[*phrase]).into());
            object.insert("time".into(), time.into());
            object.insert(
                "kubernetes".into(),
                serde_json::json!({
                    "namespace_name": TENANT,
                    "pod_name": PODS[*pod],
                    "container_name": "app",
                    "host": "worker-2",
                }),
            );
            (None, serde_json::Value::Object(object).to_string())
        }
        Hostile::Event {
            kind,
            name,
            reason,
            phrase,
            host,
        } => {
            // The API server keeps a namespaced involved object in the Event's namespace; a Node has none.
            let (kind, involved_namespace, involved) = match kind {
                0 => ("Pod", TENANT, PODS[*name]),
                1 => ("Deployment", TENANT, NAMES[*name % 4]),
                _ => ("Node", "", NAMES[4 + *name % 2]),
            };
            let event = event_json(
                involved_namespace,
                kind,
                involved,
                EVENT_REASONS[*reason],
                PHRASES[*phrase],
                NAMES[*host],
                &time,
            );
            let mut value: serde_json::Value = serde_json::from_str(&event).expect("json");
            value["metadata"]["namespace"] = TENANT.into();
            (None, value.to_string())
        }
    }
}

fn event_json(
    namespace: &str,
    kind: &str,
    name: &str,
    reason: &str,
    message: &str,
    host: &str,
    time: &str,
) -> String {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": { "name": format!("{name}.17c8a1b2"), "namespace": namespace },
        "involvedObject": { "kind": kind, "name": name, "namespace": namespace },
        "reason": reason,
        "message": message,
        "type": "Warning",
        "count": 3,
        "firstTimestamp": time,
        "lastTimestamp": time,
        "source": { "component": "kubelet", "host": host },
    })
    .to_string()
}

/// Runs `stage` over `inputs` (one batch each, then close) and returns what it emitted of `kind` as the
/// next stage's inputs.
fn through(
    stage: &mut dyn Stage,
    inputs: Vec<SourceRecord>,
    kind: RecordKind,
) -> Vec<SourceRecord> {
    let mut out = Emitter::new();
    for input in inputs {
        stage.process_batch(&[input], &mut out);
    }
    stage.on_close(&mut out);
    out.take()
        .emitted
        .into_iter()
        .filter(|e| e.kind == kind)
        .enumerate()
        .map(|(offset, e)| {
            let record = SourceRecord::new("next", 0, offset as i64, e.payload);
            match e.key {
                Some(key) => record.with_key(key),
                None => record,
            }
        })
        .collect()
}

/// The decisions the real stages reach on `sequence`, one record every `step_secs`.
fn decisions(sequence: &[(Hostile, i64)]) -> Vec<Decision> {
    let after_the_run = || (START_SECS + 86_400) * 1_000_000_000;
    let mut ingest = ingest::IngestConfig::default()
        .build()
        .expect("ingest")
        .with_clock(after_the_run);
    // A finite input: enrich emits its last windows when it closes, as in a replay.
    let mut enrich = enrich::EnrichConfig {
        flush_on_close: true,
        ..enrich::EnrichConfig::default()
    }
    .build()
    .expect("enrich")
    .with_clock(after_the_run);
    let mut diagnose = diagnose::DiagnoseConfig::default()
        .build()
        .expect("diagnose");
    let mut decide = decide::DecideConfig::default()
        .build()
        .expect("decide")
        .with_clock(after_the_run);
    let mut secs = START_SECS;
    let inputs = sequence
        .iter()
        .enumerate()
        .map(|(offset, (hostile, step))| {
            secs += step;
            let (key, payload) = render(hostile, secs);
            let record = SourceRecord::new("medic.logs.k8s", 0, offset as i64, payload);
            match key {
                Some(key) => record.with_key(key),
                None => record,
            }
        })
        .collect();
    let logs = through(&mut ingest, inputs, RecordKind::Log);
    let windows = through(&mut enrich, logs, RecordKind::Window);
    let diagnoses = through(&mut diagnose, windows, RecordKind::Diagnosis);
    let decided = through(&mut decide, diagnoses, RecordKind::Decision);
    decided
        .iter()
        .map(|r| schemas::decode_record(&r.payload).expect("a decision"))
        .collect()
}

#[test]
fn no_sequence_of_one_tenants_records_makes_decide_act_outside_its_namespace() {
    let mut runner = TestRunner::new(Config {
        cases: 48,
        failure_persistence: None,
        ..Config::default()
    });
    let sequences = prop::collection::vec((hostile(), 0..90_i64), 1..48);
    let acting = std::sync::atomic::AtomicUsize::new(0);
    runner
        .run(&sequences, |sequence| {
            for decision in decisions(&sequence) {
                prop_assert_eq!(
                    decision.target.namespace.as_deref(),
                    Some(TENANT),
                    "{:?}",
                    decision
                );
                prop_assert!(
                    !matches!(decision.action, Action::CordonNode | Action::DrainNode),
                    "{:?}",
                    decision
                );
                if !matches!(decision.action, Action::Noop | Action::Escalate) {
                    acting.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
            }
            Ok(())
        })
        .unwrap_or_else(|failure| panic!("{failure}"));
    // The property is not vacuous: the hostile records did make decide act (inside the tenant).
    assert!(
        acting.into_inner() > 0,
        "no sequence led to an action: the generator no longer reaches decide"
    );
}
