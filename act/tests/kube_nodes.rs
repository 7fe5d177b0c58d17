//! Node actions against a real Kubernetes 1.20 API server: cordon, drain through the eviction API with a
//! PodDisruptionBudget holding pods back, the blast radius on live node counts, and dry-run.
//! One test in its own binary: it counts every node of the cluster.

use testkit::cluster;
use testkit::commands;

use commands::{config, keys, scratch, signed};
use k8s_openapi::api::core::v1::Node;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, PostParams};
use medic_act::{Actuator, ActuatorMode, Handled};
use schemas::{Action, ActionOutcome, RemediationCommand, Target};

fn handle(actuator: &mut Actuator, command: RemediationCommand) -> Handled {
    tokio::task::block_in_place(|| actuator.handle(command)).expect("accepted for handling")
}

async fn unschedulable(client: &kube::Client, name: &str) -> bool {
    let node = Api::<Node>::all(client.clone())
        .get(name)
        .await
        .expect("node");
    node.spec.and_then(|s| s.unschedulable) == Some(true)
}

async fn pods_on(client: &kube::Client, ns: &str, node: &str) -> Vec<String> {
    cluster::pods(client, ns)
        .await
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(node))
        .filter_map(|p| p.metadata.name)
        .collect()
}

#[ignore = "needs the test Kubernetes API server: run scripts/test.sh, or scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cordon_and_drain_respect_budgets_and_the_blast_radius() {
    let client = cluster::client().await;
    let nodes = cluster::ready_nodes(&client, 3).await;
    let (n1, n2, n3) = (nodes[0].clone(), nodes[1].clone(), nodes[2].clone());
    let ns = cluster::unique("nodes");
    cluster::namespace(&client, &ns).await;
    for (name, replicas) in [("web", 3), ("db", 2)] {
        cluster::deployment(&client, &ns, name, replicas, "nginx:1.25").await;
    }
    // Pin both to n1 (what a drain must clear) through a strategic-merge nodeSelector.
    for name in ["web", "db"] {
        let patch = serde_json::json!({ "spec": { "template": { "spec": {
            "nodeSelector": { "kubernetes.io/hostname": n1 } } } } });
        Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), &ns)
            .patch(
                name,
                &Default::default(),
                &kube::api::Patch::Strategic(&patch),
            )
            .await
            .expect("pin");
    }
    cluster::wait_available(&client, &ns, "web", 3).await;
    cluster::wait_available(&client, &ns, "db", 2).await;
    // A budget that allows no disruption of db (policy/v1beta1: the API is 1.20).
    let pdb_resource = ApiResource::from_gvk(&GroupVersionKind::gvk(
        "policy",
        "v1beta1",
        "PodDisruptionBudget",
    ));
    let pdbs = Api::<DynamicObject>::namespaced_with(client.clone(), &ns, &pdb_resource);
    let pdb: DynamicObject = serde_json::from_value(serde_json::json!({
        "apiVersion": "policy/v1beta1", "kind": "PodDisruptionBudget",
        "metadata": { "name": "db", "namespace": ns },
        "spec": { "minAvailable": 2, "selector": { "matchLabels": { "app": "db" } } }
    }))
    .expect("pdb");
    pdbs.create(&PostParams::default(), &pdb)
        .await
        .expect("create pdb");

    let dir = scratch("nodes");
    let (keys, _) = keys(&dir);
    let mut settings = config(ActuatorMode::Apply, &dir, cluster::kubeconfig());
    settings.verify_timeout = schemas::span::Span::secs(4);
    let mut actuator = settings.build_actuator().expect("actuator");

    // dry-run cordon: admitted, nothing changed
    let mut dry = config(
        ActuatorMode::ServerDryRun,
        &scratch("nodes-dry"),
        cluster::kubeconfig(),
    );
    dry.keys_file = Some(dir.join("keys"));
    let handled = handle(
        &mut dry.build_actuator().expect("actuator"),
        signed(&keys, "n-dry", Target::node(&n2), Action::CordonNode),
    );
    assert_eq!(
        handled.result.outcome,
        ActionOutcome::DryRun,
        "{}",
        handled.result.message
    );
    assert!(!unschedulable(&client, &n2).await);
    // dry-run drain of the loaded node: cordon and evictions admitted, nothing changed
    let handled = handle(
        &mut dry.build_actuator().expect("actuator"),
        signed(&keys, "n-dry-drain", Target::node(&n1), Action::DrainNode),
    );
    assert_eq!(
        handled.result.outcome,
        ActionOutcome::DryRun,
        "{}",
        handled.result.message
    );
    assert!(
        handled
            .result
            .message
            .contains("2 held by a PodDisruptionBudget"),
        "{}",
        handled.result.message
    );
    assert!(!unschedulable(&client, &n1).await);
    assert_eq!(pods_on(&client, &ns, &n1).await.len(), 5);
    // A drain leaves the pods of denied namespaces where they are: not targets, not collateral either.
    let mut guarded = dry.clone();
    guarded.safety.denied_namespaces.push(ns.clone());
    guarded.journal = None;
    let handled = handle(
        &mut guarded.build_actuator().expect("actuator"),
        signed(
            &keys,
            "n-dry-protected",
            Target::node(&n1),
            Action::DrainNode,
        ),
    );
    assert!(
        handled.result.message.contains("evicted 0 pod(s)")
            && handled
                .result
                .message
                .contains("5 in protected namespaces (not evicted)"),
        "{}",
        handled.result.message
    );

    // cordon n3: 1 of 3 nodes unschedulable
    let handled = handle(
        &mut actuator,
        signed(&keys, "n-cordon", Target::node(&n3), Action::CordonNode),
    );
    assert_eq!(
        handled.result.outcome,
        ActionOutcome::Verified,
        "{}",
        handled.result.message
    );
    assert!(unschedulable(&client, &n3).await);

    // draining n1 now would leave 2 of 3 unschedulable (> 50%): refused, n1 untouched
    let handled = handle(
        &mut actuator,
        signed(&keys, "n-drain-1", Target::node(&n1), Action::DrainNode),
    );
    assert_eq!(
        (handled.result.outcome, handled.event),
        (ActionOutcome::Rejected, "blast_radius"),
        "{}",
        handled.result.message
    );
    assert!(!unschedulable(&client, &n1).await);
    assert_eq!(pods_on(&client, &ns, &n1).await.len(), 5);

    // with a fourth node, 2 of 4 is allowed; the budget holds db back, so the drain is not verified
    let n4 = cluster::ready_node(&client).await;
    let handled = handle(
        &mut actuator,
        signed(&keys, "n-drain-2", Target::node(&n1), Action::DrainNode),
    );
    assert_eq!(
        handled.result.outcome,
        ActionOutcome::Failed,
        "{}",
        handled.result.message
    );
    assert!(
        handled.result.message.contains("PodDisruptionBudget"),
        "{}",
        handled.result.message
    );
    assert!(unschedulable(&client, &n1).await);
    let left = pods_on(&client, &ns, &n1).await;
    assert_eq!(left.len(), 2, "only db's pods remain: {left:?}");
    assert!(left.iter().all(|p| p.starts_with("db-")), "{left:?}");

    // budget lifted: the next drain completes
    pdbs.delete("db", &DeleteParams::default())
        .await
        .expect("delete pdb");
    let handled = handle(
        &mut actuator,
        signed(&keys, "n-drain-3", Target::node(&n1), Action::DrainNode),
    );
    assert_eq!(
        handled.result.outcome,
        ActionOutcome::Verified,
        "{}",
        handled.result.message
    );
    assert!(pods_on(&client, &ns, &n1).await.is_empty());

    cluster::delete_nodes(&client, &[n1, n2, n3, n4]).await;
}
