//! Every rendered object read as its typed API object, with unknown fields detected: the object is
//! deserialised (k8s-openapi, or the KEDA types of `keda.rs`) and serialised again, and every field of
//! the input that did not survive the round trip is reported by its path.

use super::keda::{ScaledObject, TriggerAuthentication};
use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, RoleBinding};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Reads `object` as the type of its `apiVersion` and `kind`.
///
/// # Errors
/// A kind without a type here, a shape the type refuses, or the paths of fields the type does not know.
pub fn check(object: &Value) -> Result<(), String> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    match (api_version, kind) {
        ("v1", "ServiceAccount") => round_trip::<ServiceAccount>(object),
        ("v1", "ConfigMap") => round_trip::<ConfigMap>(object),
        ("v1", "Secret") => round_trip::<Secret>(object),
        ("v1", "Service") => round_trip::<Service>(object),
        ("v1", "PersistentVolumeClaim") => round_trip::<PersistentVolumeClaim>(object),
        ("apps/v1", "Deployment") => round_trip::<Deployment>(object),
        ("apps/v1", "StatefulSet") => round_trip::<StatefulSet>(object),
        ("policy/v1", "PodDisruptionBudget") => round_trip::<PodDisruptionBudget>(object),
        ("networking.k8s.io/v1", "NetworkPolicy") => round_trip::<NetworkPolicy>(object),
        ("rbac.authorization.k8s.io/v1", "ClusterRole") => round_trip::<ClusterRole>(object),
        ("rbac.authorization.k8s.io/v1", "ClusterRoleBinding") => {
            round_trip::<ClusterRoleBinding>(object)
        }
        ("rbac.authorization.k8s.io/v1", "RoleBinding") => round_trip::<RoleBinding>(object),
        ("keda.sh/v1alpha1", "ScaledObject") => round_trip::<ScaledObject>(object),
        ("keda.sh/v1alpha1", "TriggerAuthentication") => {
            round_trip::<TriggerAuthentication>(object)
        }
        _ => Err(format!(
            "no typed check for {api_version} {kind}: add its type to tests/deploy_manifests/typed.rs"
        )),
    }
}

fn round_trip<T: DeserializeOwned + Serialize>(object: &Value) -> Result<(), String> {
    let typed: T = serde_json::from_value(object.clone()).map_err(|e| e.to_string())?;
    let back = serde_json::to_value(&typed).map_err(|e| e.to_string())?;
    let unknown = dropped(object, &back);
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(format!("unknown fields: {}", unknown.join(", ")))
    }
}

/// The paths of `before`'s fields that are missing from `after` (fields set to `null`, `{}` or `[]`
/// excepted: they mean "absent", and serialisers leave them out).
pub fn dropped(before: &Value, after: &Value) -> Vec<String> {
    let mut paths = Vec::new();
    walk(before, after, String::new(), &mut paths);
    paths
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Object(m) => m.is_empty(),
        Value::Array(a) => a.is_empty(),
        _ => false,
    }
}

fn walk(before: &Value, after: &Value, path: String, paths: &mut Vec<String>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (key, value) in b {
                let here = format!("{path}.{key}");
                match a.get(key) {
                    Some(other) => walk(value, other, here, paths),
                    None if is_empty(value) => {}
                    None => paths.push(here),
                }
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            for (i, value) in b.iter().enumerate() {
                let here = format!("{path}[{i}]");
                match a.get(i) {
                    Some(other) => walk(value, other, here, paths),
                    None => paths.push(here),
                }
            }
        }
        _ => {}
    }
}

#[test]
fn dropped_fields_are_found_at_any_depth() {
    let before = serde_json::json!({
        "spec": { "template": { "containers": [ { "name": "m", "livenesProbe": { "periodSeconds": 5 } } ] },
                  "x": null, "labels": {} }
    });
    let after =
        serde_json::json!({ "spec": { "template": { "containers": [ { "name": "m" } ] } } });
    assert_eq!(
        dropped(&before, &after),
        vec![".spec.template.containers[0].livenesProbe"]
    );
    assert!(
        check(&serde_json::json!({
            "apiVersion": "apps/v1", "kind": "Deployment", "metadata": { "name": "d" },
            "spec": { "selector": {}, "template": { "spec": { "containers": [
                { "name": "m", "livenesProbe": { "httpGet": { "path": "/healthz", "port": 9464 } } }
            ] } } }
        }))
        .expect_err("a misspelt field is caught")
        .contains("livenesProbe")
    );
}
