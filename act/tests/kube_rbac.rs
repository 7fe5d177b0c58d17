//! `deploy/rbac/actuator.yaml` is enough, and no more: the manifests are applied to the real API server,
//! and the actuator runs every action as the `medic-actuator` ServiceAccount (its token, nothing else).
//! A workload in a namespace without the RoleBinding is out of reach. `deploy/rbac/observer.yaml` lets
//! the observer read every workload state, and write nothing.

use testkit::cluster;
use testkit::commands;

use commands::{config, keys, scratch, signed};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::api::{Api, PostParams};
use medic_act::{Actuator, ActuatorMode, Handled};
use schemas::{Action, ActionOutcome, RemediationCommand, Target};
use serde::de::DeserializeOwned;
use std::path::PathBuf;
use std::time::Duration;

const ACTUATOR_RBAC: &str = include_str!("../../deploy/rbac/actuator.yaml");
const OBSERVER_RBAC: &str = include_str!("../../deploy/rbac/observer.yaml");

fn handle(actuator: &mut Actuator, command: RemediationCommand) -> Handled {
    tokio::task::block_in_place(|| actuator.handle(command)).expect("accepted for handling")
}

/// Creates `doc` as `K`; an object that already exists (an earlier run) is made equal to `doc` (a merge
/// patch replaces its lists, so a role keeps no rule the manifest dropped).
async fn create<K>(api: Api<K>, doc: &serde_json::Value)
where
    K: kube::Resource + Clone + DeserializeOwned + serde::Serialize + std::fmt::Debug,
{
    let object: K = serde_json::from_value(doc.clone()).expect("manifest deserialises");
    match api.create(&PostParams::default(), &object).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 409 => {
            let name = doc["metadata"]["name"].as_str().expect("name");
            api.patch(
                name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(doc),
            )
            .await
            .unwrap_or_else(|e| panic!("update {doc}: {e}"));
        }
        Err(e) => panic!("create {doc}: {e}"),
    }
}

async fn ensure_namespace(client: &kube::Client, name: &str) {
    let doc = serde_json::json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name } });
    create(Api::<Namespace>::all(client.clone()), &doc).await;
}

/// Applies every document of an RBAC manifest, which has `documents` of them (a grant added to it must
/// be added to its test too).
async fn apply_rbac(client: &kube::Client, manifest: &str, documents: usize) {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(manifest).expect("YAML");
    assert_eq!(docs.len(), documents);
    for doc in &docs {
        let ns = doc["metadata"]["namespace"].as_str().unwrap_or_default();
        match doc["kind"].as_str().expect("kind") {
            "ServiceAccount" => {
                create(Api::<ServiceAccount>::namespaced(client.clone(), ns), doc).await
            }
            "ClusterRole" => create(Api::<ClusterRole>::all(client.clone()), doc).await,
            "ClusterRoleBinding" => {
                create(Api::<ClusterRoleBinding>::all(client.clone()), doc).await
            }
            "RoleBinding" => create(Api::<RoleBinding>::namespaced(client.clone(), ns), doc).await,
            other => panic!("unexpected kind {other}"),
        }
    }
}

/// A kubeconfig in `dir` that is the test API server's, authenticated as ServiceAccount `medic/<account>`
/// (its token, once the token controller has minted it).
async fn kubeconfig_as(client: &kube::Client, account: &str, dir: &std::path::Path) -> PathBuf {
    let token = service_account_token(client, account).await;
    kubeconfig_with_token(&token, &dir.join(format!("kubeconfig-{account}")))
}

/// The test API server's kubeconfig with `token` instead of the admin's, written to `path`.
fn kubeconfig_with_token(token: &str, path: &std::path::Path) -> PathBuf {
    let admin = std::fs::read_to_string(cluster::kubeconfig()).expect("kubeconfig");
    let with_token: String = admin
        .lines()
        .map(|l| match l.split_once("token:") {
            Some((indent, _)) => format!("{indent}token: {token}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    std::fs::write(path, with_token).expect("write kubeconfig");
    path.to_owned()
}

async fn service_account_token(client: &kube::Client, account: &str) -> String {
    let secrets = Api::<Secret>::namespaced(client.clone(), "medic");
    for _ in 0..120 {
        let list = secrets
            .list(&Default::default())
            .await
            .expect("list secrets");
        let token = list.items.into_iter().find_map(|s| {
            let for_us = s
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get("kubernetes.io/service-account.name"))
                .is_some_and(|n| n == account);
            for_us.then(|| {
                s.data?
                    .get("token")
                    .map(|t| String::from_utf8_lossy(&t.0).into_owned())
            })?
        });
        if let Some(token) = token {
            return token;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("no token was minted for medic/{account}");
}

#[ignore = "needs the test Kubernetes API server: run scripts/test.sh, or scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actuator_needs_exactly_its_rbac() {
    let client = cluster::client().await;
    for ns in ["medic", "shop"] {
        ensure_namespace(&client, ns).await;
    }
    apply_rbac(&client, ACTUATOR_RBAC, 5).await;
    let dir = scratch("rbac");
    let kubeconfig = kubeconfig_as(&client, "medic-actuator", &dir).await;

    // Four nodes: one cordoned and one drained leave half schedulable (the blast-radius limit).
    let nodes = cluster::ready_nodes(&client, 4).await;
    let web = cluster::unique("web");
    cluster::deployment(&client, "shop", &web, 2, "nginx:1.25").await;
    cluster::wait_available(&client, "shop", &web, 2).await;
    let outside = cluster::unique("outside");
    cluster::namespace(&client, &outside).await;
    cluster::deployment(&client, &outside, "web", 1, "nginx:1.25").await;

    let (keys, _) = keys(&dir);
    let mut settings = config(ActuatorMode::Apply, &dir, kubeconfig);
    settings.safety.max_pod_deletion_fraction = 1.0;
    let mut actuator = settings.build_actuator().expect("actuator");
    let target = Target::deployment("shop", &web);
    let verified = |handled: Handled| {
        assert_eq!(
            handled.result.outcome,
            ActionOutcome::Verified,
            "{}",
            handled.result.message
        );
    };
    verified(handle(
        &mut actuator,
        signed(
            &keys,
            "r-scale",
            target.clone(),
            Action::ScaleTo { replicas: 3 },
        ),
    ));
    verified(handle(
        &mut actuator,
        signed(&keys, "r-restart", target.clone(), Action::RolloutRestart),
    ));
    verified(handle(
        &mut actuator,
        signed(&keys, "r-rollback", target.clone(), Action::Rollback),
    ));
    let pod = cluster::pods(&client, "shop")
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .find(|n| n.starts_with(&web))
        .expect("a pod");
    let mut one_pod = target.clone();
    one_pod.pod = Some(pod);
    verified(handle(
        &mut actuator,
        signed(&keys, "r-pod", one_pod, Action::RestartPod),
    ));
    verified(handle(
        &mut actuator,
        signed(
            &keys,
            "r-cordon",
            Target::node(&nodes[1]),
            Action::CordonNode,
        ),
    ));
    verified(handle(
        &mut actuator,
        signed(&keys, "r-drain", Target::node(&nodes[2]), Action::DrainNode),
    ));

    // No RoleBinding in `outside`: the API server refuses, and the result says why.
    let handled = handle(
        &mut actuator,
        signed(
            &keys,
            "r-outside",
            Target::deployment(&outside, "web"),
            Action::RolloutRestart,
        ),
    );
    assert_eq!(handled.result.outcome, ActionOutcome::Failed);
    assert!(
        handled.result.message.contains("403"),
        "{}",
        handled.result.message
    );
    assert!(
        handled.result.message.contains("lacks this permission"),
        "{}",
        handled.result.message
    );

    cluster::delete_nodes(&client, &nodes).await;
    let _ = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), "shop")
        .delete(&web, &Default::default())
        .await;
}

#[ignore = "needs the test Kubernetes API server: run scripts/test.sh, or scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_observer_reads_workload_states_and_cannot_write() {
    use k8s_openapi::api::apps::v1::{ControllerRevision, Deployment, StatefulSet};
    use k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler;
    use k8s_openapi::api::core::v1::Pod;
    use kube::api::{Patch, PatchParams};
    use medic_act::observe::{ObserveConfig, ObserveSource};
    use schemas::{BoundsSource, Emitter, PodCounts, WorkloadState};

    let client = cluster::client().await;
    ensure_namespace(&client, "medic").await;
    apply_rbac(&client, OBSERVER_RBAC, 3).await;
    let dir = scratch("observer");
    let kubeconfig = kubeconfig_as(&client, "medic-observer", &dir).await;

    let (ns, node) = cluster::running_web(&client, "observed", 2).await;
    cluster::set_image(&client, &ns, "web", "nginx:1.26").await;
    cluster::wait_available(&client, &ns, "web", 2).await;
    let hpa: HorizontalPodAutoscaler = serde_json::from_value(serde_json::json!({
        "apiVersion": "autoscaling/v1", "kind": "HorizontalPodAutoscaler",
        "metadata": { "name": "web", "namespace": ns },
        "spec": { "minReplicas": 2, "maxReplicas": 6,
                  "scaleTargetRef": { "apiVersion": "apps/v1", "kind": "Deployment", "name": "web" } }
    }))
    .expect("hpa");
    Api::<HorizontalPodAutoscaler>::namespaced(client.clone(), &ns)
        .create(&PostParams::default(), &hpa)
        .await
        .expect("create hpa");
    // One pod's container crashes (what a kubelet reports); KWOK leaves a Running pod's status alone.
    let crashing = cluster::pods(&client, &ns).await[0]
        .metadata
        .name
        .clone()
        .expect("pod name");
    let status = serde_json::json!({ "status": {
        "conditions": [{ "type": "Ready", "status": "False" }],
        "containerStatuses": [{ "name": "app", "image": "nginx:1.26", "imageID": "", "ready": false,
            "restartCount": 4,
            "state": { "waiting": { "reason": "CrashLoopBackOff", "message": "back-off 40s" } } }]
    }});
    Api::<Pod>::namespaced(client.clone(), &ns)
        .patch_status(&crashing, &PatchParams::default(), &Patch::Merge(&status))
        .await
        .expect("pod status");

    // A StatefulSet whose image changed: its second ControllerRevision is its last rollout. OnDelete,
    // so the controller writes the revision without replacing db-0: 1.20's rolling replacement of a
    // pod can fail the StatefulSet's status update (`currentReplicas: -1`) and back the sync off.
    let statefulset: StatefulSet = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "StatefulSet",
        "metadata": { "name": "db", "namespace": ns },
        "spec": { "replicas": 1, "serviceName": "db", "updateStrategy": { "type": "OnDelete" },
                  "selector": { "matchLabels": { "app": "db" } },
                  "template": { "metadata": { "labels": { "app": "db" } },
                                "spec": { "containers": [{ "name": "db", "image": "redis:7.2" }] } } }
    }))
    .expect("statefulset");
    let statefulsets = Api::<StatefulSet>::namespaced(client.clone(), &ns);
    statefulsets
        .create(&PostParams::default(), &statefulset)
        .await
        .expect("create statefulset");
    let image = serde_json::json!({ "spec": { "template": { "spec": {
        "containers": [{ "name": "db", "image": "redis:7.4" }] } } } });
    statefulsets
        .patch("db", &PatchParams::default(), &Patch::Strategic(&image))
        .await
        .expect("new image");
    let revisions = Api::<ControllerRevision>::namespaced(client.clone(), &ns);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while revisions
        .list(&Default::default())
        .await
        .expect("list revisions")
        .items
        .len()
        < 2
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the StatefulSet controller wrote no second revision"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let config = ObserveConfig {
        source: ObserveSource::Kubernetes,
        kubeconfig: Some(kubeconfig.clone()),
        namespaces: vec![ns.clone()],
        ..ObserveConfig::default()
    };
    let mut observer = config.build().expect("observer");
    let mut out = Emitter::new();
    tokio::task::block_in_place(|| observer.observe(schemas::clock::wall_clock_ns(), &mut out));
    assert_eq!(
        out.events().get("observe.read_errors"),
        None,
        "{:?}",
        out.events()
    );
    let states = out.decode_all::<WorkloadState>().expect("states");
    let [web, db] = states.as_slice() else {
        panic!("two workloads in {ns}: {states:?}")
    };
    assert_eq!(
        (db.target.kind, db.target.name.as_str(), db.pods.desired),
        (schemas::ObjectKind::StatefulSet, "db", 1)
    );
    let rollout = db.last_rollout.as_ref().expect("the StatefulSet's rollout");
    assert_eq!((rollout.revision, rollout.image_changed), (2, Some(true)));
    assert_eq!(
        (
            web.target.namespace.as_deref(),
            web.target.name.as_str(),
            web.observer.as_str()
        ),
        (Some(ns.as_str()), "web", "kubernetes@1")
    );
    assert_eq!(
        web.pods,
        PodCounts {
            desired: 2,
            ready: 1,
            starting: 0,
            crash_looping: 1,
            pending: 0
        }
    );
    assert_eq!(
        (web.bounds.min, web.bounds.max, web.bounds.source),
        (2, 6, BoundsSource::Hpa)
    );
    let rollout = web.last_rollout.as_ref().expect("a rollout");
    assert_eq!((rollout.revision, rollout.image_changed), (2, Some(true)));
    assert!(rollout.at_ns <= web.observed_at_ns);
    // Other tests of this process add nodes too: the scheduler may spread the two pods.
    assert_eq!(web.pods_per_node.iter().map(|n| n.pods).sum::<u32>(), 2);
    assert_eq!(
        web.nodes.iter().map(|n| &n.node).collect::<Vec<_>>(),
        web.pods_per_node
            .iter()
            .map(|n| &n.node)
            .collect::<Vec<_>>()
    );
    assert!(web.nodes.iter().all(|n| n.schedulable()), "{:?}", web.nodes);
    assert!(web.cluster_nodes.schedulable >= 1);

    // A rollback: the image set back makes revision 1's ReplicaSet, created before revision 2's,
    // revision 3. The observer dates it at the read that first saw it, not by that old creation time.
    let before_rollback = schemas::clock::wall_clock_ns();
    cluster::set_image(&client, &ns, "web", "nginx:1.25").await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let rolled_back = loop {
        let mut out = Emitter::new();
        tokio::task::block_in_place(|| observer.observe(schemas::clock::wall_clock_ns(), &mut out));
        let states = out.decode_all::<WorkloadState>().expect("states");
        let newest = states
            .iter()
            .filter(|s| s.target.name == "web")
            .find_map(|s| s.last_rollout.clone().filter(|r| r.revision == 3));
        if let Some(rollout) = newest {
            break rollout;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no revision 3 after the rollback"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        rolled_back.at_ns >= before_rollback
            && rolled_back.image_changed == Some(true)
            && rolled_back.rolled_back,
        "{rolled_back:?} (rollback at {before_rollback})"
    );

    // The same token cannot change what it reads.
    let file = kube::config::Kubeconfig::read_from(&kubeconfig).expect("kubeconfig");
    let as_observer = kube::Client::try_from(
        kube::Config::from_custom_kubeconfig(file, &Default::default())
            .await
            .expect("config"),
    )
    .expect("client");
    let forbidden = |result: Result<(), kube::Error>, what: &str| {
        assert!(
            matches!(&result, Err(kube::Error::Api(status)) if status.code == 403),
            "{what}: {result:?}"
        );
    };
    let patch = serde_json::json!({ "spec": { "replicas": 5 } });
    forbidden(
        Api::<Deployment>::namespaced(as_observer.clone(), &ns)
            .patch("web", &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map(drop),
        "scale a Deployment",
    );
    forbidden(
        Api::<Pod>::namespaced(as_observer.clone(), &ns)
            .delete(&crashing, &Default::default())
            .await
            .map(drop),
        "delete a pod",
    );
    let cordon = serde_json::json!({ "spec": { "unschedulable": true } });
    forbidden(
        Api::<k8s_openapi::api::core::v1::Node>::all(as_observer.clone())
            .patch(&node, &PatchParams::default(), &Patch::Merge(&cordon))
            .await
            .map(drop),
        "cordon a node",
    );
    forbidden(
        Api::<Secret>::namespaced(as_observer, "medic")
            .list(&Default::default())
            .await
            .map(drop),
        "read Secrets",
    );

    // Without a valid token no watch lists anything: the read fails within its timeout and says why.
    let config = ObserveConfig {
        source: ObserveSource::Kubernetes,
        kubeconfig: Some(kubeconfig_with_token(
            "not-a-token",
            &dir.join("kubeconfig-rejected"),
        )),
        interval: schemas::span::Span::secs(2),
        ..ObserveConfig::default()
    };
    let mut observer = config.build().expect("observer");
    let mut out = Emitter::new();
    let started = std::time::Instant::now();
    tokio::task::block_in_place(|| observer.observe(schemas::clock::wall_clock_ns(), &mut out));
    assert_eq!(out.events().get("observe.read_errors"), Some(&1));
    assert!(out.emitted().is_empty());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );

    cluster::delete_nodes(&client, &[node]).await;
}
