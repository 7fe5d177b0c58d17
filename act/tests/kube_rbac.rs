//! `deploy/rbac/actuator.yaml` is enough, and no more: the manifests are applied to the real API server,
//! and the actuator runs every action as the `medic-actuator` ServiceAccount (its token, nothing else).
//! A workload in a namespace without the RoleBinding is out of reach.

use testkit::cluster;
use testkit::commands;

use commands::{config, keys, scratch, signed};
use k8s_openapi::api::core::v1::{Namespace, Secret, ServiceAccount};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use kube::api::{Api, PostParams};
use medic_act::{Actuator, ActuatorMode, Handled};
use schemas::{Action, ActionOutcome, RemediationCommand, Target};
use serde::de::DeserializeOwned;
use std::time::Duration;

const RBAC: &str = include_str!("../../deploy/rbac/actuator.yaml");

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

/// Applies every document of the RBAC manifest.
async fn apply_rbac(client: &kube::Client) {
    let docs: Vec<serde_json::Value> = serde_saphyr::from_multiple(RBAC).expect("YAML");
    assert_eq!(docs.len(), 5);
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

/// The ServiceAccount's token, once the token controller has minted it.
async fn service_account_token(client: &kube::Client) -> String {
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
                .is_some_and(|n| n == "medic-actuator");
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
    panic!("no token was minted for medic/medic-actuator");
}

#[ignore = "needs the test Kubernetes API server: run scripts/test.sh, or scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_actuator_needs_exactly_its_rbac() {
    let client = cluster::client().await;
    for ns in ["medic", "shop"] {
        ensure_namespace(&client, ns).await;
    }
    apply_rbac(&client).await;
    let token = service_account_token(&client).await;
    let dir = scratch("rbac");
    let admin = std::fs::read_to_string(cluster::kubeconfig()).expect("kubeconfig");
    let as_actuator: String = admin
        .lines()
        .map(|l| match l.split_once("token:") {
            Some((indent, _)) => format!("{indent}token: {token}\n"),
            None => format!("{l}\n"),
        })
        .collect();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, as_actuator).expect("write kubeconfig");

    // Four nodes: one cordoned and one drained leave half schedulable (the blast-radius limit).
    let nodes = cluster::ready_nodes(&client, 4).await;
    let kubelet = cluster::spawn_kubelet(client.clone());
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

    kubelet.abort();
    cluster::delete_nodes(&client, &nodes).await;
    let _ = Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), "shop")
        .delete(&web, &Default::default())
        .await;
}
