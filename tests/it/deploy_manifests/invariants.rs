//! The rules medic's manifests keep, checked on a rendering; every broken rule is reported.
//!
//! - one workload per stage, named `medic-<stage>`, running `medic run --pipeline
//!   /etc/medic/pipeline.toml --stage <stage>` with the pipeline mounted from a rendered ConfigMap that
//!   loads (with the container's environment) as a valid pipeline;
//! - liveness `/healthz` and readiness `/readyz` on the admin port (the pipeline's `admin.listen`),
//!   requests and limits for CPU and memory, limits not below requests;
//! - a headless Service and a PodDisruptionBudget selecting each workload's pods;
//! - every referenced ConfigMap, Secret, PersistentVolumeClaim and ServiceAccount is rendered, unless the
//!   reference is optional; each stage's Kafka credentials are its own (`medic-kafka-sasl-<stage>`,
//!   username `medic-<stage>`);
//! - one ScaledObject per consumer stage: targets the workload, group `medic-<stage>`, one trigger per
//!   input topic of the pipeline, the pipeline's brokers, idle consumers not allowed, at most
//!   `[kafka] partitions` replicas, credentials when the brokers need them;
//! - the actuator: one replica, `Recreate`, no ScaledObject, ServiceAccount `medic-actuator` bound to
//!   its ClusterRoles, the command keys and (in `apply` mode) the journal mounted, RoleBindings only in
//!   allowed namespaces, no key that can sign among its command keys; `act` mounts the command keys too;
//! - the observer: one replica, `Recreate`, no ScaledObject, ServiceAccount `medic-observer` bound to its
//!   read-only ClusterRole, `observe.source` not off;
//! - decide: one replica, `Recreate`, no ScaledObject (its arbiter's limits are the cluster's);
//! - diagnose with the transformer has `MEDIC_BASE_MODEL` pointing at a mounted volume;
//! - every pod is under NetworkPolicies limiting both ingress and egress, egress to listed ports only,
//!   and only the actuator and the observer may reach the API server's ports (443, 6443).

use super::keda::{KAFKA_AUTH_PARAMETERS, ScaledObject, TriggerAuthentication};
use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{Container, PodTemplateSpec, Probe};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use medic::config::{PipelineConfig, load_pipeline};
use medic::stages::StageName;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// The path every stage reads its pipeline from.
const PIPELINE_PATH: &str = "/etc/medic/pipeline.toml";

/// A Deployment or StatefulSet, reduced to what the rules look at.
struct Workload {
    kind: &'static str,
    name: String,
    namespace: String,
    replicas: Option<i32>,
    recreate: bool,
    service_name: Option<String>,
    template: PodTemplateSpec,
}

impl Workload {
    /// The labels its pods carry.
    fn pod_labels(&self) -> BTreeMap<String, String> {
        self.template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default()
    }
}

fn typed<T: DeserializeOwned>(objects: &[Value], kind: &str) -> Vec<T> {
    objects
        .iter()
        .filter(|o| o["kind"] == kind)
        .map(|o| serde_json::from_value(o.clone()).expect("typed (see the typed-check test)"))
        .collect()
}

fn workloads(objects: &[Value]) -> Vec<Workload> {
    let mut out = Vec::new();
    for d in typed::<Deployment>(objects, "Deployment") {
        let spec = d.spec;
        out.push(Workload {
            kind: "Deployment",
            name: d.metadata.name.expect("name"),
            namespace: d.metadata.namespace.unwrap_or_default(),
            replicas: spec.replicas,
            recreate: spec
                .strategy
                .and_then(|s| s.type_)
                .is_some_and(|t| t == "Recreate"),
            service_name: None,
            template: spec.template,
        });
    }
    for s in typed::<StatefulSet>(objects, "StatefulSet") {
        let spec = s.spec;
        out.push(Workload {
            kind: "StatefulSet",
            name: s.metadata.name.expect("name"),
            namespace: s.metadata.namespace.unwrap_or_default(),
            replicas: spec.replicas,
            recreate: false,
            service_name: spec.service_name,
            template: spec.template,
        });
    }
    out
}

/// Whether an object `kind`/`name` is rendered in `namespace` (or cluster-wide when `namespace` is None).
fn exists(objects: &[Value], kind: &str, namespace: Option<&str>, name: &str) -> bool {
    objects.iter().any(|o| {
        o["kind"] == kind
            && o["metadata"]["name"] == name
            && namespace.is_none_or(|ns| o["metadata"]["namespace"] == ns)
    })
}

/// A Kubernetes quantity as a number (enough of the grammar for requests and limits).
fn quantity(text: &str) -> Option<f64> {
    let suffixes = [
        ("Ki", 1024f64),
        ("Mi", 1024f64.powi(2)),
        ("Gi", 1024f64.powi(3)),
        ("Ti", 1024f64.powi(4)),
        ("k", 1e3),
        ("M", 1e6),
        ("G", 1e9),
        ("m", 1e-3),
    ];
    for (suffix, factor) in suffixes {
        if let Some(n) = text.strip_suffix(suffix) {
            return n.parse::<f64>().ok().map(|n| n * factor);
        }
    }
    text.parse().ok()
}

fn check_probe(probe: Option<&Probe>, path: &str, admin_port: u16, container: &Container) -> bool {
    let Some(get) = probe.and_then(|p| p.http_get.as_ref()) else {
        return false;
    };
    let port_ok =
        match &get.port {
            IntOrString::Int(p) => *p == i32::from(admin_port),
            IntOrString::String(name) => container.ports.iter().flatten().any(|p| {
                p.name.as_deref() == Some(name) && p.container_port == i32::from(admin_port)
            }),
        };
    get.path.as_deref() == Some(path) && port_ok
}

/// The pipeline a container reads: its ConfigMap's `pipeline.toml`, loaded with the container's
/// environment (Secret values stand in as `secret`, a pod name as `<workload>-0`).
fn pipeline_of(
    objects: &[Value],
    workload: &Workload,
    container: &Container,
) -> Result<PipelineConfig, String> {
    let pod = workload.template.spec.as_ref().ok_or("no pod spec")?;
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.mount_path == PIPELINE_PATH)
        .ok_or(format!("nothing mounted at {PIPELINE_PATH}"))?;
    let config_map = pod
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)
        .and_then(|v| v.config_map.as_ref())
        .map(|c| c.name.clone())
        .ok_or(format!("volume {} is not a ConfigMap", mount.name))?;
    let key = mount
        .sub_path
        .clone()
        .unwrap_or_else(|| "pipeline.toml".into());
    let text = objects
        .iter()
        .find(|o| {
            o["kind"] == "ConfigMap"
                && o["metadata"]["name"] == config_map.as_str()
                && o["metadata"]["namespace"] == workload.namespace.as_str()
        })
        .and_then(|o| o["data"][&key].as_str())
        .ok_or(format!(
            "ConfigMap {config_map} with key {key} is not rendered"
        ))?;
    let env: Vec<(String, String)> = container
        .env
        .iter()
        .flatten()
        .map(|e| {
            let value = match (&e.value, &e.value_from) {
                (Some(v), _) => v.clone(),
                (None, Some(from)) if from.field_ref.is_some() => format!("{}-0", workload.name),
                _ => "secret".to_owned(),
            };
            (e.name.clone(), value)
        })
        .collect();
    let file = std::env::temp_dir().join(format!(
        "medic-deploy-{}-{}-{}.toml",
        std::process::id(),
        workload.name,
        text.len()
    ));
    std::fs::write(&file, text).map_err(|e| e.to_string())?;
    let loaded = load_pipeline(Some(&file), env).map_err(|e| e.to_string());
    let _ = std::fs::remove_file(&file);
    loaded.map(|l| l.config)
}

/// Every rule `objects` (one rendering) breaks.
pub fn broken_rules(objects: &[Value]) -> Vec<String> {
    let mut problems = Vec::new();
    let workloads = workloads(objects);
    let scaled: Vec<ScaledObject> = typed(objects, "ScaledObject");
    let pdbs: Vec<PodDisruptionBudget> = typed(objects, "PodDisruptionBudget");
    let services: Vec<k8s_openapi::api::core::v1::Service> = typed(objects, "Service");
    let auths: Vec<TriggerAuthentication> = typed(objects, "TriggerAuthentication");
    let mut stages_seen = BTreeSet::new();

    for w in &workloads {
        let mut fail = |rule: String| problems.push(format!("{} {}: {rule}", w.kind, w.name));
        let Some(pod) = w.template.spec.as_ref() else {
            fail("no pod spec".into());
            continue;
        };
        let [container] = pod.containers.as_slice() else {
            fail("expected exactly one container".into());
            continue;
        };
        let command: Vec<&str> = container
            .command
            .iter()
            .flatten()
            .chain(container.args.iter().flatten())
            .map(String::as_str)
            .collect();
        let after = |flag: &str| {
            command
                .iter()
                .position(|a| *a == flag)
                .and_then(|i| command.get(i + 1).copied())
        };
        if command.first() != Some(&"medic") || !command.contains(&"run") {
            fail(format!("does not run `medic run`: {command:?}"));
        }
        if after("--pipeline") != Some(PIPELINE_PATH) {
            fail(format!("--pipeline is not {PIPELINE_PATH}: {command:?}"));
        }
        let stages: Vec<&str> = command
            .iter()
            .enumerate()
            .filter(|(_, a)| **a == "--stage")
            .filter_map(|(i, _)| command.get(i + 1).copied())
            .collect();
        let stage = match stages.as_slice() {
            [one] => match one.parse::<StageName>() {
                Ok(stage) => stage,
                Err(e) => {
                    fail(e.to_string());
                    continue;
                }
            },
            _ => {
                fail(format!("needs exactly one --stage: {command:?}"));
                continue;
            }
        };
        if !stages_seen.insert(stage) {
            fail(format!("a second workload runs stage {stage}"));
        }
        if w.name != format!("medic-{stage}") {
            fail(format!("is not named medic-{stage}"));
        }
        let config = match pipeline_of(objects, w, container) {
            Ok(config) => config,
            Err(e) => {
                fail(format!("its pipeline does not load: {e}"));
                continue;
            }
        };
        let admin_port = config.admin.listen.port();
        if !check_probe(
            container.liveness_probe.as_ref(),
            "/healthz",
            admin_port,
            container,
        ) {
            fail(format!(
                "no liveness probe GET /healthz on the admin port {admin_port}"
            ));
        }
        if !check_probe(
            container.readiness_probe.as_ref(),
            "/readyz",
            admin_port,
            container,
        ) {
            fail(format!(
                "no readiness probe GET /readyz on the admin port {admin_port}"
            ));
        }
        let resources = container.resources.clone().unwrap_or_default();
        for resource in ["cpu", "memory"] {
            let request = resources.requests.as_ref().and_then(|r| r.get(resource));
            let limit = resources.limits.as_ref().and_then(|r| r.get(resource));
            match (request, limit) {
                (Some(request), Some(limit)) => match (quantity(&request.0), quantity(&limit.0)) {
                    (Some(r), Some(l)) if l >= r => {}
                    _ => fail(format!(
                        "{resource} limit {} below request {}",
                        limit.0, request.0
                    )),
                },
                _ => fail(format!("{resource} needs a request and a limit")),
            }
        }

        // References resolve.
        let ns = Some(w.namespace.as_str());
        for volume in pod.volumes.iter().flatten() {
            if let Some(c) = &volume.config_map
                && !c.optional.unwrap_or(false)
                && !exists(objects, "ConfigMap", ns, &c.name)
            {
                fail(format!(
                    "volume {}: ConfigMap {} is not rendered",
                    volume.name, c.name
                ));
            }
            if let Some(s) = &volume.secret
                && !s.optional.unwrap_or(false)
                && !exists(
                    objects,
                    "Secret",
                    ns,
                    s.secret_name.as_deref().unwrap_or_default(),
                )
            {
                fail(format!(
                    "volume {}: Secret {:?} is not rendered",
                    volume.name, s.secret_name
                ));
            }
            if let Some(p) = &volume.persistent_volume_claim
                && !exists(objects, "PersistentVolumeClaim", ns, &p.claim_name)
            {
                fail(format!(
                    "volume {}: claim {} is not rendered",
                    volume.name, p.claim_name
                ));
            }
        }
        for env in container.env.iter().flatten() {
            if let Some(secret) = env
                .value_from
                .as_ref()
                .and_then(|f| f.secret_key_ref.as_ref())
                && !secret.optional.unwrap_or(false)
                && !exists(objects, "Secret", ns, &secret.name)
            {
                fail(format!(
                    "env {}: Secret {} is not rendered",
                    env.name, secret.name
                ));
            }
        }
        // Each stage authenticates to Kafka as its own principal (`medic kafka acls`), never a shared one.
        let own_credentials = format!("medic-kafka-sasl-{stage}");
        for env in container.env.iter().flatten() {
            let Some(secret) = env
                .value_from
                .as_ref()
                .and_then(|f| f.secret_key_ref.as_ref())
                .filter(|_| env.name.starts_with("MEDIC__KAFKA__PROPERTIES__SASL."))
            else {
                continue;
            };
            if !generated_from(&secret.name, &own_credentials) {
                fail(format!(
                    "env {}: Kafka credentials from Secret {}, not the stage's own {own_credentials}",
                    env.name, secret.name
                ));
            }
            let username = objects
                .iter()
                .find(|o| o["kind"] == "Secret" && o["metadata"]["name"] == secret.name.as_str())
                .and_then(|o| o["data"]["username"].as_str())
                .and_then(|u| BASE64.decode(u).ok());
            if let Some(username) = username
                && username != format!("medic-{stage}").as_bytes()
            {
                fail(format!(
                    "Secret {}: username {:?} is not the stage's principal medic-{stage}",
                    secret.name,
                    String::from_utf8_lossy(&username)
                ));
            }
        }
        let account = pod.service_account_name.as_deref().unwrap_or("default");
        if !exists(objects, "ServiceAccount", ns, account) {
            fail(format!("ServiceAccount {account} is not rendered"));
        }

        // Service and PodDisruptionBudget select the pods.
        let labels = w.pod_labels();
        let selects = |selector: &BTreeMap<String, String>| {
            !selector.is_empty() && selector.iter().all(|(k, v)| labels.get(k) == Some(v))
        };
        let service = services.iter().find(|s| {
            s.metadata.namespace == Some(w.namespace.clone())
                && s.spec
                    .as_ref()
                    .and_then(|s| s.selector.as_ref())
                    .is_some_and(&selects)
        });
        match service {
            None => fail("no Service selects its pods".into()),
            Some(s) => {
                if w.kind == "StatefulSet" && w.service_name != s.metadata.name {
                    fail(format!(
                        "serviceName {:?} is not its Service {:?}",
                        w.service_name, s.metadata.name
                    ));
                }
            }
        }
        if !pdbs.iter().any(|p| {
            p.metadata.namespace == Some(w.namespace.clone())
                && p.spec
                    .as_ref()
                    .and_then(|s| s.selector.as_ref())
                    .and_then(|s| s.match_labels.as_ref())
                    .is_some_and(&selects)
        }) {
            fail("no PodDisruptionBudget selects its pods".into());
        }

        // Scaling.
        let mine: Vec<&ScaledObject> = scaled
            .iter()
            .filter(|s| {
                s.metadata.namespace == Some(w.namespace.clone())
                    && s.spec.scale_target_ref.name == w.name
            })
            .collect();
        if let Some((own_account, roles)) = single_replica(stage) {
            if !mine.is_empty() {
                fail(format!(
                    "the {stage} must not be autoscaled (the actuator's limits are per process; the \
                     observer reads no topic; decide's arbiter holds the cluster's limits)"
                ));
            }
            if w.kind != "Deployment" || w.replicas != Some(1) || !w.recreate {
                fail(format!(
                    "the {stage} is one Deployment replica, updated by Recreate"
                ));
            }
            if account != own_account {
                fail(format!("runs as {account}, not {own_account}"));
            }
            let bound = typed::<ClusterRoleBinding>(objects, "ClusterRoleBinding")
                .into_iter()
                .chain(
                    typed::<RoleBinding>(objects, "RoleBinding")
                        .into_iter()
                        .map(|r| ClusterRoleBinding {
                            metadata: r.metadata,
                            role_ref: r.role_ref,
                            subjects: r.subjects,
                        }),
                )
                .filter(|b| {
                    b.subjects.iter().flatten().any(|s| {
                        s.kind == "ServiceAccount"
                            && s.name == own_account
                            && s.namespace.as_deref() == ns
                    })
                })
                .map(|b| b.role_ref.name)
                .collect::<BTreeSet<_>>();
            for role in roles {
                if !bound.contains(*role) {
                    fail(format!("{own_account} is not bound to {role}"));
                }
            }
            if stage == StageName::Observe
                && config.observe.source == act::observe::ObserveSource::Off
            {
                fail("observe.source is off: the observer would not start".into());
            }
            let allowed = &config.act.safety.allowed_namespaces;
            if stage == StageName::Actuator && !allowed.is_empty() {
                for binding in typed::<RoleBinding>(objects, "RoleBinding") {
                    let where_ = binding.metadata.namespace.unwrap_or_default();
                    if binding.role_ref.name == "medic-actuator-workloads"
                        && !allowed.contains(&where_)
                    {
                        fail(format!(
                            "RoleBinding in {where_}, outside act.safety.allowed_namespaces {allowed:?}"
                        ));
                    }
                }
            }
            if stage == StageName::Actuator && config.act.mode == act::ActuatorMode::Apply {
                match &config.act.journal {
                    None => fail("apply mode without act.journal".into()),
                    Some(journal) => {
                        if !mounted_under(container, journal) {
                            fail(format!(
                                "act.journal {} is not on a volume",
                                journal.display()
                            ));
                        }
                    }
                }
            }
        } else {
            match mine.as_slice() {
                [one] => {
                    problems.extend(
                        scaling_problems(objects, one, w, stage, &config, &auths)
                            .into_iter()
                            .map(|p| format!("ScaledObject {:?}: {p}", one.metadata.name)),
                    );
                }
                _ => fail(format!(
                    "needs exactly one ScaledObject, has {}",
                    mine.len()
                )),
            }
            if w.replicas.is_some() {
                problems.push(format!(
                    "{} {}: sets replicas, which its ScaledObject owns",
                    w.kind, w.name
                ));
            }
        }
        let mut fail = |rule: String| problems.push(format!("{} {}: {rule}", w.kind, w.name));
        if matches!(stage, StageName::Act | StageName::Actuator) {
            match &config.act.keys_file {
                None => fail("no act.keys_file: act and actuator processes must share keys".into()),
                Some(keys) => {
                    if !mounted_under(container, keys) {
                        fail(format!("act.keys_file {} is not mounted", keys.display()));
                    }
                    let ring = mounted_secret_file(objects, w, container, keys)
                        .map(|text| act::KeyRing::parse(&text));
                    match ring {
                        Some(Err(e)) if stage == StageName::Actuator => {
                            fail(format!("the actuator's act.keys_file does not parse: {e}"));
                        }
                        Some(Ok(ring))
                            if stage == StageName::Actuator
                                && !ring.signing_capable_ids().is_empty() =>
                        {
                            fail(format!(
                                "the actuator's act.keys_file holds keys that can sign ({}): \
                                 mount only their public halves (medic act public-keys)",
                                ring.signing_capable_ids().join(", ")
                            ));
                        }
                        _ => {}
                    }
                }
            }
        }
        if stage == StageName::Diagnose
            && config.diagnose.model == diagnose::DiagnoseModel::Transformer
        {
            match container
                .env
                .iter()
                .flatten()
                .find(|e| e.name == "MEDIC_BASE_MODEL")
                .and_then(|e| e.value.clone())
            {
                Some(dir) if mounted_under(container, Path::new(&dir)) => {}
                other => fail(format!(
                    "the transformer needs MEDIC_BASE_MODEL on a volume, has {other:?}"
                )),
            }
        }
    }
    let policies: Vec<NetworkPolicy> = typed(objects, "NetworkPolicy");
    for w in &workloads {
        let talks_to_kubernetes = ["medic-actuator", "medic-observe"].contains(&w.name.as_str());
        problems.extend(
            network_problems(w, &policies, talks_to_kubernetes)
                .into_iter()
                .map(|p| format!("{} {}: {p}", w.kind, w.name)),
        );
    }
    for stage in StageName::ALL {
        if !stages_seen.contains(&stage) {
            problems.push(format!("no workload runs stage {stage}"));
        }
    }
    for s in &scaled {
        if !workloads.iter().any(|w| {
            w.name == s.spec.scale_target_ref.name
                && Some(w.namespace.clone()) == s.metadata.namespace
        }) {
            problems.push(format!(
                "ScaledObject {:?} targets no rendered workload",
                s.metadata.name
            ));
        }
    }
    problems
}

/// The single-replica stages: their ServiceAccount and the roles it must be bound to (those that talk to
/// Kubernetes), or the stages' shared one (decide).
fn single_replica(stage: StageName) -> Option<(&'static str, &'static [&'static str])> {
    match stage {
        StageName::Actuator => Some((
            "medic-actuator",
            &["medic-actuator-nodes", "medic-actuator-workloads"],
        )),
        StageName::Observe => Some(("medic-observer", &["medic-observer"])),
        StageName::Decide => Some(("medic", &[])),
        _ => None,
    }
}

/// The API server's ports: only the actuator (writes) and the observer (reads) talk to Kubernetes.
const API_SERVER_PORTS: [i32; 2] = [443, 6443];

/// What the NetworkPolicies selecting `w`'s pods let through that they should not (`kubernetes`: it is
/// a workload that talks to the API server).
fn network_problems(w: &Workload, policies: &[NetworkPolicy], kubernetes: bool) -> Vec<String> {
    let labels = w.pod_labels();
    let mine: Vec<&NetworkPolicy> = policies
        .iter()
        .filter(|p| p.metadata.namespace.as_deref() == Some(w.namespace.as_str()))
        .filter(|p| {
            // No selector, or an empty one, selects every pod of the namespace.
            p.spec.as_ref().is_some_and(|s| {
                s.pod_selector.as_ref().is_none_or(|selector| {
                    selector
                        .match_labels
                        .iter()
                        .flatten()
                        .all(|(k, v)| labels.get(k) == Some(v))
                        && selector.match_expressions.is_none()
                })
            })
        })
        .collect();
    let types: BTreeSet<&str> = mine
        .iter()
        .filter_map(|p| p.spec.as_ref()?.policy_types.as_ref())
        .flatten()
        .map(String::as_str)
        .collect();
    let mut problems = Vec::new();
    for kind in ["Ingress", "Egress"] {
        if !types.contains(kind) {
            problems.push(format!("no NetworkPolicy limits its {kind}"));
        }
    }
    let mut api_server = false;
    for rule in mine
        .iter()
        .filter_map(|p| p.spec.as_ref()?.egress.as_ref())
        .flatten()
    {
        let ports = rule.ports.iter().flatten().collect::<Vec<_>>();
        if ports.is_empty() {
            problems.push("an egress rule allows every port".into());
        }
        api_server |= ports
            .iter()
            .any(|p| matches!(&p.port, Some(IntOrString::Int(n)) if API_SERVER_PORTS.contains(n)));
    }
    if api_server && !kubernetes {
        problems.push("may reach the API server's ports".into());
    }
    if !api_server && kubernetes {
        problems.push("cannot reach the API server's ports".into());
    }
    problems
}

/// Whether `name` is `base`, or `base` with the content hash kustomize's generators append
/// (`medic-kafka-sasl-act-<hash>`, never `medic-kafka-sasl-actuator-<hash>`).
fn generated_from(name: &str, base: &str) -> bool {
    name.strip_prefix(base).is_some_and(|rest| {
        rest.is_empty() || rest.strip_prefix('-').is_some_and(|h| !h.contains('-'))
    })
}

/// The text of the rendered Secret file that `path` is in `container` (`None` when `path` is not on a
/// Secret volume of a rendered Secret).
fn mounted_secret_file(
    objects: &[Value],
    w: &Workload,
    container: &Container,
    path: &Path,
) -> Option<String> {
    let mount = container
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| path.starts_with(&m.mount_path))?;
    let file = path.strip_prefix(&mount.mount_path).ok()?.to_str()?;
    let secret_name = w
        .template
        .spec
        .as_ref()?
        .volumes
        .iter()
        .flatten()
        .find(|v| v.name == mount.name)?
        .secret
        .as_ref()?
        .secret_name
        .clone()?;
    let secret = objects.iter().find(|o| {
        o["kind"] == "Secret"
            && o["metadata"]["name"] == secret_name.as_str()
            && o["metadata"]["namespace"] == w.namespace.as_str()
    })?;
    let encoded = secret["data"][file].as_str()?;
    String::from_utf8(BASE64.decode(encoded).ok()?).ok()
}

/// Whether `path` lies on one of `container`'s volume mounts.
fn mounted_under(container: &Container, path: &Path) -> bool {
    container
        .volume_mounts
        .iter()
        .flatten()
        .any(|m| path.starts_with(&m.mount_path))
}

fn scaling_problems(
    objects: &[Value],
    scaled: &ScaledObject,
    workload: &Workload,
    stage: StageName,
    config: &PipelineConfig,
    auths: &[TriggerAuthentication],
) -> Vec<String> {
    let mut problems = Vec::new();
    let spec = &scaled.spec;
    let target = &spec.scale_target_ref;
    if (target.api_version.as_str(), target.kind.as_str()) != ("apps/v1", workload.kind) {
        problems.push(format!("targets {} {}", target.api_version, target.kind));
    }
    let partitions = config.kafka.partitions;
    if !(1..=spec.max_replica_count).contains(&spec.min_replica_count)
        || spec.max_replica_count > partitions
    {
        problems.push(format!(
            "replicas {}..={} must lie within 1..={partitions} ([kafka] partitions)",
            spec.min_replica_count, spec.max_replica_count
        ));
    }
    let topics: BTreeSet<String> = stage.input_topics(config).into_iter().collect();
    let triggered: BTreeSet<String> = spec
        .triggers
        .iter()
        .map(|t| t.metadata.topic.clone())
        .collect();
    if triggered != topics || spec.triggers.len() != topics.len() {
        problems.push(format!(
            "triggers on {triggered:?}, the stage reads {topics:?} (one trigger per topic)"
        ));
    }
    let secured = config
        .kafka
        .properties
        .get("security.protocol")
        .is_some_and(|p| !p.eq_ignore_ascii_case("plaintext"));
    for trigger in &spec.triggers {
        let m = &trigger.metadata;
        if trigger.kind != "kafka" {
            problems.push(format!("trigger type {}", trigger.kind));
        }
        let group = stage.group_id(config);
        if m.consumer_group != group {
            problems.push(format!("consumerGroup {} is not {group}", m.consumer_group));
        }
        if m.bootstrap_servers != config.kafka.brokers {
            problems.push(format!(
                "bootstrapServers {} are not the pipeline's brokers {}",
                m.bootstrap_servers, config.kafka.brokers
            ));
        }
        if m.allow_idle_consumers != "false" {
            problems.push("allowIdleConsumers must be \"false\"".into());
        }
        if m.offset_reset_policy != "earliest" {
            problems.push("offsetResetPolicy must be earliest, as medic's consumers start".into());
        }
        if m.lag_threshold.parse::<u64>().map_or(true, |n| n == 0) {
            problems.push(format!(
                "lagThreshold {:?} is not a positive number",
                m.lag_threshold
            ));
        }
        match (&trigger.authentication_ref, secured) {
            (None, true) => problems.push(format!(
                "the brokers use {:?} but the trigger has no authenticationRef",
                config.kafka.properties.get("security.protocol")
            )),
            (Some(auth), _) => match auths.iter().find(|a| {
                a.metadata.name.as_deref() == Some(auth.name.as_str())
                    && a.metadata.namespace == scaled.metadata.namespace
            }) {
                None => problems.push(format!(
                    "TriggerAuthentication {} is not rendered",
                    auth.name
                )),
                Some(a) => {
                    for r in &a.spec.secret_target_ref {
                        if !KAFKA_AUTH_PARAMETERS.contains(&r.parameter.as_str()) {
                            problems.push(format!("unknown Kafka auth parameter {}", r.parameter));
                        }
                        let has_key = objects.iter().any(|o| {
                            o["kind"] == "Secret"
                                && o["metadata"]["name"] == r.name.as_str()
                                && o["metadata"]["namespace"]
                                    == scaled.metadata.namespace.as_deref().unwrap_or_default()
                                && !o["data"][&r.key].is_null()
                        });
                        if !has_key {
                            problems.push(format!(
                                "auth parameter {}: Secret {} with key {} is not rendered",
                                r.parameter, r.name, r.key
                            ));
                        }
                    }
                }
            },
            (None, false) => {}
        }
    }
    problems
}
