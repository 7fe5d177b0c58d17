//! The actuator against a real Kubernetes 1.20 API server (scripts/k8s-up.sh): every workload action
//! changes the API state and is verified; dry-run changes nothing; forged, expired and replayed commands
//! never reach the API; a restarted actuator applies nothing twice.

use testkit::cluster;
use testkit::commands;

use commands::{config, keys, scratch, signed};
use medic_act::kubernetes::LAST_COMMAND_ANNOTATION;
use medic_act::{Actuator, ActuatorMode, Handled, Refused};
use schemas::{Action, ActionOutcome, RemediationCommand, Target};

/// Runs the (blocking) actuator from inside the test's runtime.
fn handle(actuator: &mut Actuator, command: RemediationCommand) -> Result<Handled, Refused> {
    tokio::task::block_in_place(|| actuator.handle(command))
}

fn verified(handled: Result<Handled, Refused>) -> Handled {
    let handled = handled.expect("accepted");
    assert_eq!(
        handled.result.outcome,
        ActionOutcome::Verified,
        "{}",
        handled.result.message
    );
    handled
}

#[ignore = "needs the test Kubernetes API server: run scripts/test.sh, or scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_action_changes_the_cluster_and_is_verified() {
    let client = cluster::client().await;
    let ns = cluster::unique("act");
    cluster::namespace(&client, &ns).await;
    let node = cluster::ready_node(&client).await;
    cluster::deployment(&client, &ns, "web", 2, "nginx:1.25").await;
    cluster::wait_available(&client, &ns, "web", 2).await;

    let dir = scratch("workloads");
    let (keys, _) = keys(&dir);
    let mut settings = config(ActuatorMode::Apply, &dir, cluster::kubeconfig());
    // Two pod deletions of one 3-replica workload below: above the default blast radius (40%).
    settings.safety.max_pod_deletion_fraction = 1.0;
    let mut actuator = settings.build_actuator().expect("actuator");
    let web = Target::deployment(&ns, "web");

    // scale (absolute, through the scale subresource), recorded on the object
    let done = verified(handle(
        &mut actuator,
        signed(
            &keys,
            "c-scale",
            web.clone(),
            Action::ScaleTo { replicas: 4 },
        ),
    ));
    assert_eq!(cluster::replicas(&client, &ns, "web").await, 4);
    assert!(done.result.time_to_recover_ms.is_some());
    // scale by delta, resolved against the live count
    verified(handle(
        &mut actuator,
        signed(&keys, "c-delta", web.clone(), Action::Scale { delta: -1 }),
    ));
    assert_eq!(cluster::replicas(&client, &ns, "web").await, 3);
    let d = kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), &ns)
        .get("web")
        .await
        .expect("get");
    assert_eq!(
        d.metadata.annotations.expect("annotations")[LAST_COMMAND_ANNOTATION],
        "c-delta"
    );

    // rollback to the previous revision after a bad release (an image, an env var and a label): the
    // whole template goes back, nothing of the bad one survives
    let deployments =
        kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), &ns);
    let bad_release = serde_json::json!({ "spec": { "template": {
        "metadata": { "labels": { "release": "bad" } },
        "spec": { "containers": [{ "name": "app", "image": "nginx:broken",
                                   "env": [{ "name": "BROKEN", "value": "1" }] }] } } } });
    deployments
        .patch(
            "web",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Strategic(&bad_release),
        )
        .await
        .expect("a bad release");
    cluster::wait_available(&client, &ns, "web", 3).await;
    verified(handle(
        &mut actuator,
        signed(&keys, "c-rollback", web.clone(), Action::Rollback),
    ));
    assert_eq!(cluster::image(&client, &ns, "web").await, "nginx:1.25");
    let template = deployments.get("web").await.expect("get").spec.template;
    assert_eq!(
        template
            .metadata
            .and_then(|m| m.labels)
            .and_then(|l| l.get("release").cloned()),
        None
    );
    assert_eq!(template.spec.expect("pod spec").containers[0].env, None);

    // rollout restart: every pod replaced
    let before: Vec<_> = cluster::pods(&client, &ns)
        .await
        .into_iter()
        .filter_map(|p| p.metadata.uid)
        .collect();
    verified(handle(
        &mut actuator,
        signed(&keys, "c-restart", web.clone(), Action::RolloutRestart),
    ));
    let after: Vec<_> = cluster::pods(&client, &ns)
        .await
        .into_iter()
        .filter_map(|p| p.metadata.uid)
        .collect();
    assert!(
        after.iter().all(|uid| !before.contains(uid)),
        "all pods are new"
    );

    // A workload named from a pod acts only when the API server confirms the pod is the workload's: a
    // bare pod named like web's pods, or a pod that is gone, gets web neither restarted nor scaled.
    let impostor = "web-5d567cc74c-abcde";
    let bare: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
        "metadata": { "name": impostor },
        "spec": { "containers": [{ "name": "app", "image": "nginx:1.25" }] },
    }))
    .expect("a pod");
    kube::Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), &ns)
        .create(&kube::api::PostParams::default(), &bare)
        .await
        .expect("create the bare pod");
    // A StatefulSet that shares web's name: its pod web-0 is not the Deployment's.
    let stateful: k8s_openapi::api::apps::v1::StatefulSet =
        serde_json::from_value(serde_json::json!({
            "metadata": { "name": "web" },
            "spec": {
                "serviceName": "web", "replicas": 1,
                "selector": { "matchLabels": { "set": "web" } },
                "template": {
                    "metadata": { "labels": { "set": "web" } },
                    "spec": { "containers": [{ "name": "app", "image": "nginx:1.25" }] }
                }
            }
        }))
        .expect("a statefulset");
    kube::Api::<k8s_openapi::api::apps::v1::StatefulSet>::namespaced(client.clone(), &ns)
        .create(&kube::api::PostParams::default(), &stateful)
        .await
        .expect("create the statefulset");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !cluster::pods(&client, &ns)
        .await
        .iter()
        .any(|p| p.metadata.name.as_deref() == Some("web-0"))
    {
        assert!(std::time::Instant::now() < deadline, "web-0 never created");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    for (id, pod, action) in [
        ("c-impostor", impostor, Action::RolloutRestart),
        (
            "c-gone",
            "web-5d567cc74c-zzzzz",
            Action::ScaleTo { replicas: 9 },
        ),
        ("c-other-kind", "web-0", Action::RolloutRestart),
    ] {
        let mut claimed = web.clone();
        claimed.pod = Some(pod.to_owned());
        let refused = handle(&mut actuator, signed(&keys, id, claimed, action)).expect("handled");
        assert_eq!(
            (refused.event, refused.result.outcome),
            ("unconfirmed_owner", ActionOutcome::Rejected),
            "{}",
            refused.result.message
        );
    }
    assert_eq!(cluster::replicas(&client, &ns, "web").await, 3);
    let now = kube::api::DeleteParams {
        grace_period_seconds: Some(0),
        ..kube::api::DeleteParams::default()
    };
    kube::Api::<k8s_openapi::api::apps::v1::StatefulSet>::namespaced(client.clone(), &ns)
        .delete("web", &now)
        .await
        .expect("delete the statefulset");
    let pods = kube::Api::<k8s_openapi::api::core::v1::Pod>::namespaced(client.clone(), &ns);
    pods.delete(impostor, &now)
        .await
        .expect("delete the impostor");
    // web-0 may be gone already: the garbage collector deletes it with its StatefulSet, and KWOK
    // removes a deleted pod at once.
    match pods.delete("web-0", &now).await {
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        result => {
            result.expect("delete web-0");
        }
    }
    let own = cluster::pods(&client, &ns)
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .find(|n| n.starts_with("web-") && n != impostor)
        .expect("a web pod");
    let mut confirmed = web.clone();
    confirmed.pod = Some(own);
    verified(handle(
        &mut actuator,
        signed(
            &keys,
            "c-confirmed",
            confirmed,
            Action::ScaleTo { replicas: 3 },
        ),
    ));

    // a command naming web cannot delete another workload's pod
    cluster::deployment(&client, &ns, "other", 1, "nginx:1.25").await;
    cluster::wait_available(&client, &ns, "other", 1).await;
    let stranger = cluster::pods(&client, &ns)
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .find(|n| n.starts_with("other-"))
        .expect("other's pod");
    let mut wrong = web.clone();
    wrong.pod = Some(stranger.clone());
    let handled = handle(
        &mut actuator,
        signed(&keys, "c-wrong-pod", wrong, Action::RestartPod),
    )
    .expect("handled");
    assert_eq!(handled.result.outcome, ActionOutcome::Failed);
    assert!(
        handled
            .result
            .message
            .contains("belongs to Deployment other"),
        "{}",
        handled.result.message
    );
    assert!(
        cluster::pods(&client, &ns)
            .await
            .iter()
            .any(|p| p.metadata.name.as_deref() == Some(&stranger))
    );

    // delete one pod: it is replaced and the workload is ready again
    let victim = cluster::pods(&client, &ns)
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .find(|n| n.starts_with("web-"))
        .expect("a web pod");
    let mut target = web.clone();
    target.pod = Some(victim.clone());
    verified(handle(
        &mut actuator,
        signed(&keys, "c-pod", target.clone(), Action::RestartPod),
    ));
    let names: Vec<_> = cluster::pods(&client, &ns)
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert!(!names.contains(&victim));
    // a pod already gone counts as deleted
    verified(handle(
        &mut actuator,
        signed(&keys, "c-pod-again", target, Action::RestartPod),
    ));

    cluster::delete_nodes(&client, &[node]).await;
}

#[ignore = "needs the test Kubernetes API server: run scripts/test.sh, or scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_changes_nothing() {
    let client = cluster::client().await;
    let ns = cluster::unique("dry");
    cluster::namespace(&client, &ns).await;
    cluster::deployment(&client, &ns, "api", 2, "nginx:1.25").await;
    let dir = scratch("dry");
    let (keys, _) = keys(&dir);
    let mut actuator = config(ActuatorMode::ServerDryRun, &dir, cluster::kubeconfig())
        .build_actuator()
        .expect("actuator");
    let api = Target::deployment(&ns, "api");
    for (id, action) in [
        ("d-scale", Action::ScaleTo { replicas: 5 }),
        ("d-restart", Action::RolloutRestart),
    ] {
        let handled = handle(&mut actuator, signed(&keys, id, api.clone(), action)).expect("ok");
        assert_eq!(
            handled.result.outcome,
            ActionOutcome::DryRun,
            "{}",
            handled.result.message
        );
        assert_eq!(handled.result.mode, "server-dry-run");
    }
    let d = kube::Api::<k8s_openapi::api::apps::v1::Deployment>::namespaced(client.clone(), &ns)
        .get("api")
        .await
        .expect("get");
    assert_eq!(d.spec.replicas, Some(2), "not scaled");
    assert!(
        !d.metadata
            .annotations
            .unwrap_or_default()
            .contains_key(LAST_COMMAND_ANNOTATION),
        "not annotated"
    );
    assert!(
        !cluster::restarted(&client, &ns, "api").await,
        "not restarted"
    );
    // A dry run of an impossible change is still refused by the API server.
    let handled = handle(
        &mut actuator,
        signed(
            &keys,
            "d-missing",
            Target::deployment(&ns, "nope"),
            Action::RolloutRestart,
        ),
    )
    .expect("handled");
    assert_eq!(handled.result.outcome, ActionOutcome::Failed);
}

#[ignore = "needs the test Kubernetes API server: run scripts/test.sh, or scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forged_expired_and_replayed_commands_never_reach_the_api() {
    let client = cluster::client().await;
    let ns = cluster::unique("auth");
    cluster::namespace(&client, &ns).await;
    let node = cluster::ready_node(&client).await;
    cluster::deployment(&client, &ns, "pay", 1, "nginx:1.25").await;
    cluster::wait_available(&client, &ns, "pay", 1).await;
    let dir = scratch("auth");
    let (keys, _) = keys(&dir);
    let settings = config(ActuatorMode::Apply, &dir, cluster::kubeconfig());
    let mut actuator = settings.build_actuator().expect("actuator");
    let pay = Target::deployment(&ns, "pay");

    let mut forged = signed(
        &keys,
        "a-forged",
        pay.clone(),
        Action::ScaleTo { replicas: 2 },
    );
    forged.action = Action::ScaleTo { replicas: 9 };
    let refused = handle(&mut actuator, forged).expect_err("forged");
    assert_eq!(refused.reason, "forged");
    // The same key id, another key.
    let stranger = medic_act::KeyRing::parse(&medic_act::KeyRing::generate_line("test"))
        .and_then(|ring| ring.signer())
        .expect("keys");
    let refused = handle(
        &mut actuator,
        signed(
            &stranger,
            "a-stranger",
            pay.clone(),
            Action::ScaleTo { replicas: 9 },
        ),
    )
    .expect_err("wrong key");
    assert_eq!(refused.reason, "forged");
    let mut expired = signed(
        &keys,
        "a-expired",
        pay.clone(),
        Action::ScaleTo { replicas: 9 },
    );
    expired.expires_at_ns = expired.issued_at_ns - 1;
    keys.sign(&mut expired);
    assert_eq!(
        handle(&mut actuator, expired).expect_err("expired").reason,
        "expired"
    );
    assert_eq!(
        cluster::replicas(&client, &ns, "pay").await,
        1,
        "nothing applied"
    );

    let good = signed(&keys, "a-good", pay.clone(), Action::Scale { delta: 1 });
    verified(handle(&mut actuator, good.clone()));
    assert_eq!(
        handle(&mut actuator, good.clone())
            .expect_err("replay")
            .reason,
        "replayed"
    );
    // A restarted actuator reads the journal: still refused.
    drop(actuator);
    let mut restarted = settings.build_actuator().expect("actuator");
    assert_eq!(
        handle(&mut restarted, good.clone())
            .expect_err("replay")
            .reason,
        "replayed"
    );
    // An actuator that lost its journal still sees the command id on the object: not applied again.
    let mut amnesiac = config(
        ActuatorMode::Apply,
        &scratch("amnesiac"),
        cluster::kubeconfig(),
    );
    amnesiac.keys_file = Some(dir.join("keys"));
    let handled = handle(&mut amnesiac.build_actuator().expect("actuator"), good).expect("handled");
    assert_eq!(handled.result.outcome, ActionOutcome::Duplicate);
    assert_eq!(
        cluster::replicas(&client, &ns, "pay").await,
        2,
        "applied exactly once"
    );

    // Outside the allowlist: rejected without a call.
    let mut fenced = settings.clone();
    fenced.journal = Some(scratch("fenced").join("journal"));
    fenced.safety.allowed_namespaces = vec!["elsewhere".into()];
    let handled = handle(
        &mut fenced.build_actuator().expect("actuator"),
        signed(&keys, "a-fenced", pay, Action::ScaleTo { replicas: 3 }),
    )
    .expect("handled");
    assert_eq!(
        (handled.result.outcome, handled.event),
        (ActionOutcome::Rejected, "namespace_not_allowed")
    );
    assert_eq!(cluster::replicas(&client, &ns, "pay").await, 2);
    cluster::delete_nodes(&client, &[node]).await;
}
