//! Deployments and StatefulSets: scale, rollout restart, rollback, and rollout health.

use super::{LAST_COMMAND_ANNOTATION, Writes, annotation_patch, api_error};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet, StatefulSet};
use kube::api::{Api, ListParams, Patch};
use kube::{Client, Resource};
use schemas::actuate::{ActuationError, Applied, Health, TargetState};
use schemas::{Action, ObjectKind};
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;

const REVISION_ANNOTATION: &str = "deployment.kubernetes.io/revision";

/// The workload kinds medic scales and restarts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Deployment,
    StatefulSet,
}

impl Kind {
    pub(crate) fn of(kind: ObjectKind) -> Result<Self, ActuationError> {
        match kind {
            ObjectKind::Deployment => Ok(Kind::Deployment),
            ObjectKind::StatefulSet => Ok(Kind::StatefulSet),
            other => Err(ActuationError::permanent(format!(
                "expected a Deployment or StatefulSet, got {}",
                other.as_str()
            ))),
        }
    }
}

/// Replicas, readiness and the last medic command of a workload.
pub(crate) async fn inspect(
    client: Client,
    kind: Kind,
    ns: String,
    name: String,
) -> Result<TargetState, ActuationError> {
    let what = format!("get {kind:?} {ns}/{name}");
    let (replicas, ready, meta) = match kind {
        Kind::Deployment => {
            let Some(d) = get::<Deployment>(&client, &ns, &name, &what).await? else {
                return Ok(TargetState::default());
            };
            let ready = d.status.and_then(|s| s.ready_replicas);
            (d.spec.replicas, ready, d.metadata)
        }
        Kind::StatefulSet => {
            let Some(s) = get::<StatefulSet>(&client, &ns, &name, &what).await? else {
                return Ok(TargetState::default());
            };
            let ready = s.status.and_then(|s| s.ready_replicas);
            (s.spec.replicas, ready, s.metadata)
        }
    };
    Ok(TargetState {
        exists: true,
        replicas: Some(count(replicas.unwrap_or(1))),
        ready_replicas: Some(count(ready.unwrap_or(0))),
        last_command_id: annotation(meta.annotations.as_ref(), LAST_COMMAND_ANNOTATION),
        ..TargetState::default()
    })
}

/// Sets the replica count through the scale subresource, then records the command on the object.
pub(crate) async fn scale(
    client: Client,
    writes: Writes,
    kind: Kind,
    ns: String,
    name: String,
    replicas: u32,
    command_id: String,
) -> Result<Applied, ActuationError> {
    match kind {
        Kind::Deployment => {
            let api = Api::<Deployment>::namespaced(client, &ns);
            scale_typed(&api, writes, &ns, &name, replicas, &command_id).await
        }
        Kind::StatefulSet => {
            let api = Api::<StatefulSet>::namespaced(client, &ns);
            scale_typed(&api, writes, &ns, &name, replicas, &command_id).await
        }
    }
}

async fn scale_typed<K>(
    api: &Api<K>,
    writes: Writes,
    ns: &str,
    name: &str,
    replicas: u32,
    command_id: &str,
) -> Result<Applied, ActuationError>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    let what = format!("scale {ns}/{name}");
    let before = api
        .get_scale(name)
        .await
        .map_err(|e| api_error(&what, &e))?;
    let from = before.spec.and_then(|s| s.replicas).map_or(0, count);
    // The command id goes on the object first: a crash between the two writes then leaves a command
    // recorded but not applied (at most once), never applied but unrecorded (a redelivered relative
    // scale would be applied twice).
    annotate(api, writes, name, command_id, &what).await?;
    let body = serde_json::json!({ "spec": { "replicas": replicas } });
    api.patch_scale(name, &writes.patch(), &Patch::Merge(&body))
        .await
        .map_err(|e| api_error(&what, &e))?;
    Ok(Applied {
        summary: format!("scaled {ns}/{name} {from} → {replicas}"),
        undo: (from != replicas).then_some(Action::ScaleTo { replicas: from }),
    })
}

/// Restarts every pod the way `kubectl rollout restart` does: a new `restartedAt` template annotation.
/// The value is the command's issue time, so applying the same command twice changes nothing.
pub(crate) async fn restart(
    client: Client,
    writes: Writes,
    kind: Kind,
    ns: String,
    name: String,
    restarted_at: String,
    command_id: String,
) -> Result<Applied, ActuationError> {
    let body = serde_json::json!({
        "metadata": { "annotations": { LAST_COMMAND_ANNOTATION: command_id } },
        "spec": { "template": { "metadata": { "annotations": {
            "kubectl.kubernetes.io/restartedAt": restarted_at
        } } } }
    });
    let what = format!("rollout restart {ns}/{name}");
    let patch = Patch::Merge(&body);
    let result = match kind {
        Kind::Deployment => Api::<Deployment>::namespaced(client, &ns)
            .patch(&name, &writes.patch(), &patch)
            .await
            .map(drop),
        Kind::StatefulSet => Api::<StatefulSet>::namespaced(client, &ns)
            .patch(&name, &writes.patch(), &patch)
            .await
            .map(drop),
    };
    result.map_err(|e| api_error(&what, &e))?;
    Ok(Applied {
        summary: format!("rollout restart of {ns}/{name} (restartedAt {restarted_at})"),
        undo: None,
    })
}

/// Rolls a Deployment back to its previous ReplicaSet revision, as `kubectl rollout undo` does: the
/// Deployment's pod template becomes that ReplicaSet's (without its `pod-template-hash` label). The
/// write is a strategic-merge `PATCH` that replaces the whole template (`$patch: replace`, so nothing of
/// the newer template survives) guarded by the object's `resourceVersion`, so a concurrent change is a
/// conflict; the actuator's role needs `patch` on Deployments, not `update`.
pub(crate) async fn rollback(
    client: Client,
    writes: Writes,
    ns: String,
    name: String,
    command_id: String,
) -> Result<Applied, ActuationError> {
    let what = format!("rollback {ns}/{name}");
    let deployments = Api::<Deployment>::namespaced(client.clone(), &ns);
    let deployment = deployments
        .get(&name)
        .await
        .map_err(|e| api_error(&what, &e))?;
    let current = revision(deployment.metadata.annotations.as_ref())
        .ok_or_else(|| ActuationError::permanent(format!("{what}: no revision recorded yet")))?;
    let selector = deployment
        .spec
        .selector
        .match_labels
        .as_ref()
        .map(|labels| {
            labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let uid = deployment.metadata.uid.clone();
    let replica_sets = Api::<ReplicaSet>::namespaced(client, &ns)
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| api_error(&what, &e))?;
    let previous = replica_sets
        .items
        .into_iter()
        .filter(|rs| {
            rs.metadata
                .owner_references
                .iter()
                .flatten()
                .any(|o| Some(&o.uid) == uid.as_ref())
        })
        .filter_map(|rs| Some((revision(rs.metadata.annotations.as_ref())?, rs)))
        .filter(|(rev, _)| *rev < current)
        .max_by_key(|(rev, _)| *rev);
    let Some((to, rs)) = previous else {
        return Err(ActuationError::permanent(format!(
            "{what}: no revision before {current} to roll back to"
        )));
    };
    let mut template = rs.spec.template.ok_or_else(|| {
        ActuationError::permanent(format!("{what}: revision {to} has no template"))
    })?;
    if let Some(labels) = template.metadata.as_mut().and_then(|m| m.labels.as_mut()) {
        labels.remove("pod-template-hash");
    }
    let mut template = serde_json::to_value(template)
        .map_err(|e| ActuationError::permanent(format!("{what}: {e}")))?;
    template["$patch"] = "replace".into();
    let body = serde_json::json!({
        "metadata": {
            "resourceVersion": deployment.metadata.resource_version,
            "annotations": { LAST_COMMAND_ANNOTATION: command_id },
        },
        "spec": { "template": template },
    });
    deployments
        .patch(&name, &writes.patch(), &Patch::Strategic(&body))
        .await
        .map_err(|e| api_error(&what, &e))?;
    Ok(Applied {
        summary: format!("rolled back {ns}/{name} from revision {current} to {to}"),
        undo: None,
    })
}

/// The rollout state, judged like `kubectl rollout status`.
pub(crate) async fn health(
    client: Client,
    kind: Kind,
    ns: String,
    name: String,
) -> Result<Health, ActuationError> {
    let what = format!("get {kind:?} {ns}/{name}");
    match kind {
        Kind::Deployment => {
            let Some(d) = get::<Deployment>(&client, &ns, &name, &what).await? else {
                return Ok(Health::Failed(format!("{ns}/{name} no longer exists")));
            };
            Ok(deployment_health(&d))
        }
        Kind::StatefulSet => {
            let Some(s) = get::<StatefulSet>(&client, &ns, &name, &what).await? else {
                return Ok(Health::Failed(format!("{ns}/{name} no longer exists")));
            };
            Ok(stateful_set_health(&s))
        }
    }
}

/// The status, once the controller has observed the object's latest generation; otherwise the
/// `Progressing` verdict that says what is awaited.
fn observed<S>(
    status: Option<&S>,
    observed_generation: impl Fn(&S) -> Option<i64>,
    generation: Option<i64>,
) -> Result<&S, Health> {
    let status = status.ok_or_else(|| Health::Progressing("no status yet".into()))?;
    if observed_generation(status) < generation {
        return Err(Health::Progressing(
            "waiting for the controller to observe the change".into(),
        ));
    }
    Ok(status)
}

fn deployment_health(d: &Deployment) -> Health {
    let want = d.spec.replicas.unwrap_or(1);
    let status = match observed(
        d.status.as_ref(),
        |s| s.observed_generation,
        d.metadata.generation,
    ) {
        Ok(status) => status,
        Err(waiting) => return waiting,
    };
    let stalled = status.conditions.iter().flatten().any(|c| {
        c.type_.as_deref() == Some("Progressing")
            && c.reason.as_deref() == Some("ProgressDeadlineExceeded")
    });
    if stalled {
        return Health::Failed("rollout exceeded its progress deadline".into());
    }
    let updated = status.updated_replicas.unwrap_or(0);
    let total = status.replicas.unwrap_or(0);
    let available = status.available_replicas.unwrap_or(0);
    if updated < want {
        Health::Progressing(format!("{updated} of {want} replicas updated"))
    } else if total > updated {
        Health::Progressing(format!(
            "{} old replicas pending termination",
            total - updated
        ))
    } else if available < updated {
        Health::Progressing(format!(
            "{available} of {updated} updated replicas available"
        ))
    } else {
        Health::Healthy(format!("{available} of {want} replicas available"))
    }
}

fn stateful_set_health(s: &StatefulSet) -> Health {
    let want = s.spec.replicas.unwrap_or(1);
    let status = match observed(
        s.status.as_ref(),
        |s| s.observed_generation,
        s.metadata.generation,
    ) {
        Ok(status) => status,
        Err(waiting) => return waiting,
    };
    let ready = status.ready_replicas.unwrap_or(0);
    if ready < want {
        return Health::Progressing(format!("{ready} of {want} replicas ready"));
    }
    // As `kubectl rollout status`: OnDelete updates wait for someone to delete pods (nothing to wait
    // for); a partitioned rolling update is done once the pods above the partition are updated.
    let strategy = s.spec.update_strategy.as_ref();
    if strategy.and_then(|u| u.type_.as_deref()) == Some("OnDelete") {
        return Health::Healthy(format!("{ready} of {want} replicas ready (OnDelete)"));
    }
    let partition = strategy
        .and_then(|u| u.rolling_update.as_ref())
        .and_then(|r| r.partition)
        .unwrap_or(0);
    if partition > 0 {
        let updated = status.updated_replicas.unwrap_or(0);
        if updated < want - partition {
            return Health::Progressing(format!(
                "{updated} of {} pods above the partition updated",
                want - partition
            ));
        }
    } else if status.update_revision.is_some() && status.update_revision != status.current_revision
    {
        return Health::Progressing("rolling update in progress".into());
    }
    Health::Healthy(format!("{ready} of {want} replicas ready"))
}

/// Records `command_id` on the object (merge patch of one annotation).
pub(crate) async fn annotate<K>(
    api: &Api<K>,
    writes: Writes,
    name: &str,
    command_id: &str,
    what: &str,
) -> Result<(), ActuationError>
where
    K: Resource + Clone + DeserializeOwned + Debug,
{
    api.patch(
        name,
        &writes.patch(),
        &Patch::Merge(annotation_patch(command_id)),
    )
    .await
    .map(drop)
    .map_err(|e| api_error(what, &e))
}

/// Gets a namespaced object; `None` when it does not exist.
pub(crate) async fn get<K>(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
) -> Result<Option<K>, ActuationError>
where
    K: Resource<Scope = k8s_openapi::NamespaceResourceScope> + Clone + DeserializeOwned + Debug,
    K::DynamicType: Default,
{
    Api::<K>::namespaced(client.clone(), ns)
        .get_opt(name)
        .await
        .map_err(|e| api_error(what, &e))
}

pub(crate) fn annotation(
    annotations: Option<&BTreeMap<String, String>>,
    key: &str,
) -> Option<String> {
    annotations.and_then(|a| a.get(key)).cloned()
}

fn revision(annotations: Option<&BTreeMap<String, String>>) -> Option<i64> {
    annotation(annotations, REVISION_ANNOTATION)?.parse().ok()
}

/// A replica count from the API's `i32` (negative counts do not exist).
pub(crate) fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}
