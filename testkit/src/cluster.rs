//! A real Kubernetes API server for tests (started by `scripts/k8s-up.sh`), with KWOK's simulated
//! kubelets: the nodes made here are KWOK's, so they turn Ready and keep their Lease, and the pods bound
//! to them run, turn Ready and go once deleted, as on a cluster (without containers). Used by the act
//! crate's tests and the end-to-end tests.

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Namespace, Node, Pod};
use kube::Client;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The kubeconfig of the test API server: `MEDIC_TEST_KUBECONFIG`, else `/tmp/medic-k8s/kubeconfig`.
///
/// # Panics
/// When it does not exist (the API server is not running).
pub fn kubeconfig() -> PathBuf {
    let path = std::env::var_os("MEDIC_TEST_KUBECONFIG")
        .map_or_else(|| PathBuf::from("/tmp/medic-k8s/kubeconfig"), PathBuf::from);
    assert!(
        path.exists(),
        "{} not found: start the test API server with scripts/k8s-up.sh (scripts/test.sh does)",
        path.display()
    );
    path
}

/// A client for the test API server.
pub async fn client() -> Client {
    let file = kube::config::Kubeconfig::read_from(kubeconfig()).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(file, &Default::default())
        .await
        .expect("kubeconfig is usable");
    Client::try_from(config).expect("client")
}

/// A name unique to this process and call (`prefix-<pid>-<n>`).
pub fn unique(prefix: &str) -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Creates namespace `name`.
pub async fn namespace(client: &Client, name: &str) {
    let ns: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": name }
    }))
    .expect("namespace");
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &ns)
        .await
        .expect("create namespace");
}

/// Creates a node KWOK plays, named `medic-test-<pid>-…` (label `kubernetes.io/hostname` its name), and
/// waits until it is Ready and schedulable. Nodes left by earlier test processes are deleted first
/// (their pods would crowd the new ones, and tests count nodes for the blast radius).
pub async fn ready_node(client: &Client) -> String {
    reap_stale_nodes(client).await;
    let name = unique("medic-test");
    add_node(client, &name).await;
    name
}

/// Deletes what earlier test processes left: their nodes and their
/// namespaces (`<prefix>-<pid>-<n>`, from [`unique`]), whose workloads would otherwise crowd the new
/// nodes. The pod garbage collector removes pods bound to deleted nodes.
async fn reap_stale_nodes(client: &Client) {
    let pid = std::process::id().to_string();
    let stale = |name: &str| {
        let mut parts = name.rsplitn(3, '-');
        let (_n, owner) = (parts.next(), parts.next());
        owner.is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()) && p != pid)
    };
    let nodes = Api::<Node>::all(client.clone());
    for node in nodes
        .list(&ListParams::default())
        .await
        .expect("list nodes")
        .items
    {
        let name = node.metadata.name.unwrap_or_default();
        if name.starts_with("medic-test-") && stale(&name) {
            let _ = nodes.delete(&name, &DeleteParams::default()).await;
        }
    }
    let namespaces = Api::<Namespace>::all(client.clone());
    for ns in namespaces
        .list(&ListParams::default())
        .await
        .expect("list namespaces")
        .items
    {
        let name = ns.metadata.name.unwrap_or_default();
        if ns.metadata.deletion_timestamp.is_none() && stale(&name) {
            let _ = namespaces.delete(&name, &DeleteParams::default()).await;
        }
    }
}

/// The annotation of the nodes KWOK plays (`scripts/k8s-up.sh` starts it with this selector).
const KWOK_NODE: (&str, &str) = ("kwok.x-k8s.io/node", "fake");

async fn add_node(client: &Client, name: &str) {
    let nodes = Api::<Node>::all(client.clone());
    let node: Node = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": { "name": name, "labels": { "kubernetes.io/hostname": name },
                      "annotations": { KWOK_NODE.0: KWOK_NODE.1 } }
    }))
    .expect("node");
    nodes
        .create(&PostParams::default(), &node)
        .await
        .expect("create node");
    // The node lifecycle controller taints a new node not-ready until its kubelet reports Ready, and
    // untaints it on its next pass after that; a test need not wait for that pass.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let node = nodes.get(name).await.expect("get node");
        let ready = node
            .status
            .and_then(|s| s.conditions)
            .unwrap_or_default()
            .iter()
            .any(|c| c.type_ == "Ready" && c.status == "True");
        if ready {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "node {name} not Ready after 30 s: is KWOK running? (scripts/k8s-up.sh starts it; \
             its log: /tmp/medic-k8s/logs/kwok.log)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let patch = serde_json::json!({ "spec": { "taints": null } });
    nodes
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("untaint node");
}

/// `n` Ready nodes (see [`ready_node`]).
pub async fn ready_nodes(client: &Client, n: usize) -> Vec<String> {
    let mut nodes = Vec::with_capacity(n);
    for _ in 0..n {
        nodes.push(ready_node(client).await);
    }
    nodes
}

/// Whether the Deployment's pod template carries `kubectl.kubernetes.io/restartedAt`.
pub async fn restarted(client: &Client, ns: &str, name: &str) -> bool {
    let d = Api::<Deployment>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .expect("get deployment");
    d.spec
        .template
        .metadata
        .and_then(|m| m.annotations)
        .is_some_and(|a| a.contains_key("kubectl.kubernetes.io/restartedAt"))
}

/// Creates a Deployment of `replicas` pods (label `app: <name>`, image `image`).
pub async fn deployment(client: &Client, ns: &str, name: &str, replicas: i32, image: &str) {
    let deployment: Deployment = serde_json::from_value(serde_json::json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": { "name": name, "namespace": ns },
        "spec": {
            "replicas": replicas,
            "selector": { "matchLabels": { "app": name } },
            "strategy": { "rollingUpdate": { "maxSurge": 1, "maxUnavailable": 0 } },
            "template": {
                "metadata": { "labels": { "app": name } },
                "spec": { "containers": [{ "name": "app", "image": image }] }
            }
        }
    }))
    .expect("deployment");
    Api::<Deployment>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &deployment)
        .await
        .expect("create deployment");
}

/// Sets the Deployment's image (a new revision).
pub async fn set_image(client: &Client, ns: &str, name: &str, image: &str) {
    let patch = serde_json::json!({ "spec": { "template": { "spec": {
        "containers": [{ "name": "app", "image": image }] } } } });
    Api::<Deployment>::namespaced(client.clone(), ns)
        .patch(name, &PatchParams::default(), &Patch::Strategic(&patch))
        .await
        .expect("set image");
}

/// The Deployment's container image.
pub async fn image(client: &Client, ns: &str, name: &str) -> String {
    let d = Api::<Deployment>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .expect("get deployment");
    d.spec.template.spec.expect("pod spec").containers[0]
        .image
        .clone()
        .expect("image")
}

/// Replicas in the Deployment's spec.
pub async fn replicas(client: &Client, ns: &str, name: &str) -> i32 {
    Api::<Deployment>::namespaced(client.clone(), ns)
        .get(name)
        .await
        .expect("get deployment")
        .spec
        .replicas
        .unwrap_or(1)
}

/// Waits until the Deployment has `n` available replicas of its current revision.
pub async fn wait_available(client: &Client, ns: &str, name: &str, n: i32) {
    let api = Api::<Deployment>::namespaced(client.clone(), ns);
    // A bound, not a sleep: on a quiet cluster this takes about a second.
    for _ in 0..480 {
        let d = api.get(name).await.expect("get deployment");
        let s = d.status.unwrap_or_default();
        if s.available_replicas == Some(n)
            && s.updated_replicas == Some(n)
            && s.replicas == Some(n)
            && s.observed_generation >= d.metadata.generation
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    panic!("{ns}/{name} never had {n} available replicas");
}

/// Names of the pods in `ns` (not terminating).
pub async fn pods(client: &Client, ns: &str) -> Vec<Pod> {
    Api::<Pod>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .expect("list pods")
        .items
        .into_iter()
        .filter(|p| p.metadata.deletion_timestamp.is_none())
        .collect()
}

/// Deletes the nodes (cleanup; other tests count nodes for the blast radius).
pub async fn delete_nodes(client: &Client, nodes: &[String]) {
    let api = Api::<Node>::all(client.clone());
    for node in nodes {
        let _ = api.delete(node, &DeleteParams::default()).await;
    }
}

/// A fresh namespace (`<prefix>-<pid>-<n>`) holding Deployment `web` (`nginx:1.25`) with `replicas`
/// pods available, on a new node KWOK plays. Returns the namespace and the node (delete it when done).
pub async fn running_web(client: &Client, prefix: &str, replicas: i32) -> (String, String) {
    let ns = unique(prefix);
    namespace(client, &ns).await;
    let node = ready_node(client).await;
    deployment(client, &ns, "web", replicas, "nginx:1.25").await;
    wait_available(client, &ns, "web", replicas).await;
    (ns, node)
}
