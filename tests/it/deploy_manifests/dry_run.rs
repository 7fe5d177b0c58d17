//! Submitting rendered objects to the test API server (Kubernetes 1.20, `scripts/k8s-up.sh`) with
//! server-side dry-run (`dryRun=All`): admission and validation run, nothing is stored.
//!
//! - Objects move to fresh namespaces (`medic` and `shop` would collide with other tests and need not
//!   exist); ServiceAccount subjects of bindings move with them.
//! - KEDA's CRDs are not part of medic's manifests (KEDA installs them): minimal structural stand-ins
//!   from `tests/fixtures/keda-crds.yaml` are created first (for real, not dry-run).
//! - Kubernetes 1.20 serves PodDisruptionBudget only as `policy/v1beta1`; the manifests use
//!   `policy/v1` (1.21+, the only version from 1.25). Where the server lacks `policy/v1` the test
//!   submits the same object as `policy/v1beta1` (its spec is the same), as deploy/README.md tells
//!   1.20 operators to do.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, DynamicObject, PostParams};
use kube::core::GroupVersionKind;
use kube::discovery::{Scope, pinned_kind};
use kube::{Client, Error};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

const KEDA_CRDS: &str = include_str!("../../fixtures/keda-crds.yaml");

/// Creates (or updates) the stand-in KEDA CRDs and waits until the server serves them.
pub async fn install_keda_crds(client: &Client) {
    let api = Api::<CustomResourceDefinition>::all(client.clone());
    let crds: Vec<CustomResourceDefinition> =
        serde_saphyr::from_multiple(KEDA_CRDS).expect("keda-crds.yaml");
    assert_eq!(crds.len(), 2, "scaledobjects and triggerauthentications");
    for crd in &crds {
        let name = crd.metadata.name.clone().expect("name");
        match api.create(&PostParams::default(), crd).await {
            Ok(_) => {}
            Err(Error::Api(status)) if status.code == 409 => {
                let mut updated = crd.clone();
                updated.metadata.resource_version = api
                    .get(&name)
                    .await
                    .expect("live CRD")
                    .metadata
                    .resource_version;
                api.replace(&name, &PostParams::default(), &updated)
                    .await
                    .expect("update the CRD");
            }
            Err(e) => panic!("create CRD {name}: {e}"),
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let live = api.get(&name).await.expect("CRD");
            let established = live
                .status
                .and_then(|s| s.conditions)
                .unwrap_or_default()
                .iter()
                .any(|c| c.type_ == "Established" && c.status == "True");
            if established {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "CRD {name} not established in 30 s"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

/// Moves `object` (and the ServiceAccount subjects of a binding) from each namespace of `map`'s keys
/// to its value.
pub fn relocate(object: &mut Value, map: &BTreeMap<String, String>) {
    let moved = |ns: &Value| ns.as_str().and_then(|ns| map.get(ns)).cloned();
    if let Some(ns) = moved(&object["metadata"]["namespace"]) {
        object["metadata"]["namespace"] = Value::String(ns);
    }
    if let Some(subjects) = object["subjects"].as_array_mut() {
        for subject in subjects {
            if let Some(ns) = moved(&subject["namespace"]) {
                subject["namespace"] = Value::String(ns);
            }
        }
    }
}

fn gvk(object: &Value) -> GroupVersionKind {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
    GroupVersionKind::gvk(group, version, object["kind"].as_str().unwrap_or_default())
}

/// Submits `object` with `dryRun=All` (a cluster-scoped object that exists already is submitted as a
/// dry-run update) and returns what the server would store, and the object as submitted (converted for
/// the server's API level).
///
/// # Errors
/// The server's refusal, or a kind it does not serve.
pub async fn submit(client: &Client, object: &Value) -> Result<(Value, Value), String> {
    let mut object = object.clone();
    let (resource, capabilities) = match pinned_kind(client, &gvk(&object)).await {
        Ok(found) => found,
        Err(_)
            if object["apiVersion"] == "policy/v1" && object["kind"] == "PodDisruptionBudget" =>
        {
            object["apiVersion"] = Value::String("policy/v1beta1".into());
            pinned_kind(client, &gvk(&object))
                .await
                .map_err(|e| format!("neither policy/v1 nor policy/v1beta1 is served: {e}"))?
        }
        Err(e) => return Err(format!("{:?} is not served: {e}", gvk(&object))),
    };
    let api: Api<DynamicObject> = match capabilities.scope {
        Scope::Namespaced => Api::namespaced_with(
            client.clone(),
            object["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default"),
            &resource,
        ),
        Scope::Cluster => Api::all_with(client.clone(), &resource),
    };
    let dynamic: DynamicObject =
        serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
    let dry_run = PostParams {
        dry_run: true,
        ..PostParams::default()
    };
    let stored = match api.create(&dry_run, &dynamic).await {
        Ok(stored) => stored,
        Err(Error::Api(status)) if status.code == 409 && capabilities.scope == Scope::Cluster => {
            let name = dynamic.metadata.name.clone().unwrap_or_default();
            let mut update = dynamic.clone();
            update.metadata.resource_version = api
                .get(&name)
                .await
                .map_err(|e| e.to_string())?
                .metadata
                .resource_version;
            api.replace(&name, &dry_run, &update)
                .await
                .map_err(|e| format!("dry-run update refused: {e}"))?
        }
        Err(e) => return Err(format!("dry-run create refused: {e}")),
    };
    Ok((
        serde_json::to_value(stored).map_err(|e| e.to_string())?,
        object,
    ))
}
