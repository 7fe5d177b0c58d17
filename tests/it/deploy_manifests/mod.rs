//! `deploy/` (the kustomize base and overlays) rendered and checked: both kustomize generations
//! (kubectl 1.20's v2.0.3 and v5) render the same objects; every object reads as its API type with no
//! unknown field; the manifests keep medic's operating rules (`invariants.rs`); and the test API server
//! (Kubernetes 1.20, `scripts/k8s-up.sh`) accepts every object in a server-side dry run without dropping
//! a field. The kubectl builds come from `scripts/kubectl-up.sh`; `scripts/test.sh` runs both scripts.

use testkit::cluster;
mod dry_run;
mod invariants;
mod keda;
mod render;
mod typed;

use render::{DeployTree, KUSTOMIZATIONS, OVERLAYS, id, kubectls, render, without_name_hashes};
use serde_json::Value;
use std::collections::BTreeMap;

/// `names` rendered by kubectl 1.20 (the renderings the other checks use).
fn renderings(tree: &DeployTree, names: &[&'static str]) -> Vec<(&'static str, Vec<Value>)> {
    let [(_, old), _] = kubectls();
    names
        .iter()
        .map(|name| (*name, render(&old, &tree.dir(name))))
        .collect()
}

#[ignore = "needs kubectl 1.20 and 1.37: run scripts/test.sh, or scripts/kubectl-up.sh and `cargo test -- --ignored`"]
#[test]
fn kustomize_2_and_5_render_the_same_objects() {
    let tree = DeployTree::copy();
    let [(old_label, old), (new_label, new)] = kubectls();
    for name in KUSTOMIZATIONS {
        let a = without_name_hashes(&render(&old, &tree.dir(name)));
        let b = without_name_hashes(&render(&new, &tree.dir(name)));
        assert_eq!(
            a.keys().collect::<Vec<_>>(),
            b.keys().collect::<Vec<_>>(),
            "{name}: {old_label} and {new_label} render different objects"
        );
        for (key, object) in &a {
            assert_eq!(
                object, &b[key],
                "{name}: {key} differs between {old_label} and {new_label}"
            );
        }
    }
}

#[ignore = "needs kubectl 1.20 and 1.37: run scripts/test.sh, or scripts/kubectl-up.sh and `cargo test -- --ignored`"]
#[test]
fn every_object_reads_as_its_type_without_unknown_fields() {
    let tree = DeployTree::copy();
    let mut problems = Vec::new();
    for (name, objects) in renderings(&tree, &KUSTOMIZATIONS) {
        for object in &objects {
            if let Err(e) = typed::check(object) {
                problems.push(format!("{name}: {}: {e}", id(object)));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[ignore = "needs kubectl 1.20 and 1.37: run scripts/test.sh, or scripts/kubectl-up.sh and `cargo test -- --ignored`"]
#[test]
fn the_manifests_keep_medics_operating_rules() {
    let tree = DeployTree::copy();
    let mut problems = Vec::new();
    for (name, objects) in renderings(&tree, &OVERLAYS) {
        problems.extend(
            invariants::broken_rules(&objects)
                .into_iter()
                .map(|p| format!("{name}: {p}")),
        );
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[ignore = "needs kubectl 1.20 and 1.37: run scripts/test.sh, or scripts/kubectl-up.sh and `cargo test -- --ignored`"]
#[test]
fn a_broken_manifest_breaks_the_rules() {
    // The rules are not vacuous: damage a good rendering and each damage is named.
    let tree = DeployTree::copy();
    let [(_, old), _] = kubectls();
    let mut objects = render(&old, &tree.dir("overlays/dev"));
    let signing_secret = objects
        .iter()
        .find(|o| {
            o["kind"] == "Secret"
                && o["metadata"]["name"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("medic-command-keys-"))
        })
        .and_then(|o| o["metadata"]["name"].as_str())
        .expect("the signing keys' Secret")
        .to_owned();
    for object in &mut objects {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match (object["kind"].as_str().unwrap_or_default(), name.as_str()) {
            ("Deployment", "medic-decide") => {
                object["spec"]["template"]["spec"]["containers"][0]
                    .as_object_mut()
                    .expect("container")
                    .remove("readinessProbe");
            }
            ("ScaledObject", "medic-act") => {
                object["spec"]["maxReplicaCount"] = 99.into();
                object["spec"]["triggers"][0]["metadata"]["consumerGroup"] = "medic-acts".into();
            }
            ("Deployment", "medic-actuator") => {
                object["spec"]["replicas"] = 2.into();
                // The issuer's private keys mounted in the actuator.
                let volumes = object["spec"]["template"]["spec"]["volumes"]
                    .as_array_mut()
                    .expect("volumes");
                let keys = volumes
                    .iter_mut()
                    .find(|v| v["name"] == "command-keys")
                    .expect("the command keys' volume");
                keys["secret"]["secretName"] = signing_secret.clone().into();
            }
            ("Deployment", "medic-ingest") => {
                // ingest authenticating as act, whose principal may write medic.actions.
                let env = object["spec"]["template"]["spec"]["containers"][0]["env"]
                    .as_array_mut()
                    .expect("env");
                for var in env.iter_mut().filter(|v| {
                    v["name"]
                        .as_str()
                        .is_some_and(|n| n.starts_with("MEDIC__KAFKA__PROPERTIES__SASL."))
                }) {
                    var["valueFrom"]["secretKeyRef"]["name"] = "medic-kafka-sasl-act".into();
                }
            }
            ("Deployment", "medic-observe") => {
                // The observer with the actuator's write rights.
                object["spec"]["template"]["spec"]["serviceAccountName"] = "medic-actuator".into();
            }
            ("NetworkPolicy", "medic-stages") => {
                object["spec"]["egress"][1]["ports"][0]["port"] = 443.into();
            }
            _ => {}
        }
    }
    objects.retain(|o| !(o["kind"] == "ScaledObject" && o["metadata"]["name"] == "medic-enrich"));
    let problems = invariants::broken_rules(&objects).join("\n");
    for expected in [
        "Deployment medic-decide: no readiness probe",
        "replicas 1..=99 must lie within 1..=3",
        "consumerGroup medic-acts is not medic-act",
        "the actuator is one Deployment replica",
        "the actuator's act.keys_file holds keys that can sign (dev-1)",
        "Deployment medic-enrich: needs exactly one ScaledObject, has 0",
        "Deployment medic-decide: may reach the API server's ports",
        "not the stage's own medic-kafka-sasl-ingest",
        "Deployment medic-observe: runs as medic-actuator, not medic-observer",
    ] {
        assert!(
            problems.contains(expected),
            "{expected:?} not reported:\n{problems}"
        );
    }
}

#[test]
fn productions_acl_example_is_what_medic_kafka_acls_prints() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/overlays/production");
    let config = medic::config::load_pipeline(Some(&dir.join("pipeline.toml")), std::iter::empty())
        .expect("production's pipeline loads")
        .config;
    let acls = medic::kafka_acls::stage_acls(&config, "medic-");
    let printed =
        medic::kafka_acls::kafka_acls_commands(&acls, &config.kafka.brokers, "admin.properties");
    let committed: String = std::fs::read_to_string(dir.join("kafka-acls.sh"))
        .expect("the example")
        .lines()
        .filter(|l| !l.starts_with('#'))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(
        committed, printed,
        "deploy/overlays/production/kafka-acls.sh drifted from the pipeline: regenerate it with the \
         command in its header"
    );
}

#[ignore = "needs kubectl 1.20 and 1.37: run scripts/test.sh, or scripts/kubectl-up.sh and `cargo test -- --ignored`"]
#[test]
fn production_does_not_render_without_its_secret_files() {
    // The committed tree has only secrets/*.example: kustomize refuses, so placeholder credentials
    // cannot be deployed by accident.
    let [(_, old), (_, new)] = kubectls();
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/overlays/production");
    for kubectl in [old, new] {
        let output = std::process::Command::new(&kubectl)
            .arg("kustomize")
            .arg(&dir)
            .output()
            .expect("kubectl runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            !output.status.success() && stderr.contains("secrets/command-keys"),
            "{}: {stderr}",
            kubectl.display()
        );
    }
}

#[ignore = "needs kubectl and the test Kubernetes API server: run scripts/test.sh, or scripts/kubectl-up.sh and scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_server_accepts_every_object_in_a_dry_run() {
    let client = cluster::client().await;
    dry_run::install_keda_crds(&client).await;
    let medic_ns = cluster::unique("medic-deploy");
    let shop_ns = cluster::unique("medic-deploy-shop");
    cluster::namespace(&client, &medic_ns).await;
    cluster::namespace(&client, &shop_ns).await;
    let moves = BTreeMap::from([
        ("medic".to_owned(), medic_ns.clone()),
        ("shop".to_owned(), shop_ns.clone()),
    ]);

    let tree = DeployTree::copy();
    let mut problems = Vec::new();
    let mut accepted = 0;
    for (name, objects) in renderings(&tree, &KUSTOMIZATIONS) {
        for object in &objects {
            let mut object = object.clone();
            dry_run::relocate(&mut object, &moves);
            match dry_run::submit(&client, &object).await {
                Ok((stored, submitted)) => {
                    accepted += 1;
                    // Kubernetes 1.20 silently drops fields it does not know: none may be lost.
                    let lost = typed::dropped(&submitted, &stored);
                    if !lost.is_empty() {
                        problems.push(format!(
                            "{name}: {}: the server dropped {}",
                            id(&object),
                            lost.join(", ")
                        ));
                    }
                }
                Err(e) => problems.push(format!("{name}: {}: {e}", id(&object))),
            }
        }
    }
    for ns in [&medic_ns, &shop_ns] {
        let _ = kube::Api::<k8s_openapi::api::core::v1::Namespace>::all(client.clone())
            .delete(ns, &Default::default())
            .await;
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert!(accepted > 40, "only {accepted} objects were submitted");
}
