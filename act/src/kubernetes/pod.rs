//! Pods: delete one (its controller replaces it) and tell when it is gone or replaced.

use super::workload::{annotation, count, get};
use super::{LAST_COMMAND_ANNOTATION, Writes, api_error, not_found};
use k8s_openapi::api::apps::v1::ReplicaSet;
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::Api;
use schemas::ObjectKind;
use schemas::actuate::{ActuationError, Applied, Health, TargetState};

/// The pod, with its owning workload and the replica count of the ReplicaSet that owns it (the
/// blast-radius base).
pub(crate) async fn inspect(
    client: Client,
    ns: String,
    name: String,
) -> Result<TargetState, ActuationError> {
    let what = format!("get pod {ns}/{name}");
    let Some(pod) = get::<Pod>(&client, &ns, &name, &what).await? else {
        return Ok(TargetState::default());
    };
    let mut state = TargetState {
        exists: true,
        last_command_id: annotation(pod.metadata.annotations.as_ref(), LAST_COMMAND_ANNOTATION),
        ..TargetState::default()
    };
    let (owner, replica_set) = owner(&client, &ns, &pod, &what).await?;
    state.owner_kind = owner.as_ref().map(|(kind, _)| *kind);
    state.owner = owner.map(|(_, name)| name);
    if let Some(rs) = replica_set {
        state.replicas = rs.spec.replicas.map(count);
        state.ready_replicas = rs.status.and_then(|s| s.ready_replicas).map(count);
    }
    Ok(state)
}

/// The workload owning `pod` (a StatefulSet, or the Deployment above its ReplicaSet) with its kind, and
/// that ReplicaSet.
async fn owner(
    client: &Client,
    ns: &str,
    pod: &Pod,
    what: &str,
) -> Result<(Option<(ObjectKind, String)>, Option<ReplicaSet>), ActuationError> {
    let controller = pod
        .metadata
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    let Some(controller) = controller else {
        return Ok((None, None));
    };
    match controller.kind.as_str() {
        "StatefulSet" => Ok((
            Some((ObjectKind::StatefulSet, controller.name.clone())),
            None,
        )),
        "ReplicaSet" => {
            let rs = get::<ReplicaSet>(client, ns, &controller.name, what).await?;
            let deployment = rs.as_ref().and_then(|rs| {
                rs.metadata
                    .owner_references
                    .iter()
                    .flatten()
                    .find(|o| o.kind == "Deployment")
                    .map(|o| (ObjectKind::Deployment, o.name.clone()))
            });
            Ok((deployment, rs))
        }
        _ => Ok((None, None)),
    }
}

/// Deletes the pod; a pod already gone counts as deleted. With `workload` (kind and name), the pod must
/// belong to it (a command naming a workload cannot delete another workload's pod, nor one of a workload
/// of another kind with the same name). Returns the deleted pod's uid.
pub(crate) async fn delete(
    client: Client,
    writes: Writes,
    ns: String,
    name: String,
    workload: Option<(ObjectKind, String)>,
) -> Result<(Applied, Option<String>), ActuationError> {
    let what = format!("delete pod {ns}/{name}");
    if let Some((kind, workload)) = workload
        && let Some(pod) = get::<Pod>(&client, &ns, &name, &what).await?
    {
        let (owner, _) = owner(&client, &ns, &pod, &what).await?;
        if owner.as_ref() != Some(&(kind, workload.clone())) {
            let belongs = owner.map_or_else(
                || "no workload".to_owned(),
                |(kind, name)| format!("{} {name}", kind.as_str()),
            );
            return Err(ActuationError::permanent(format!(
                "{what}: the pod belongs to {belongs}, not to {} {workload}",
                kind.as_str()
            )));
        }
    }
    match Api::<Pod>::namespaced(client, &ns)
        .delete(&name, &writes.delete())
        .await
    {
        Ok(deleted) => {
            let uid = deleted.left().and_then(|pod| pod.metadata.uid);
            Ok((
                Applied {
                    summary: format!("deleted pod {ns}/{name}"),
                    undo: None,
                },
                uid,
            ))
        }
        Err(e) if not_found(&e) => Ok((
            Applied {
                summary: format!("pod {ns}/{name} was already gone"),
                undo: None,
            },
            None,
        )),
        Err(e) => Err(api_error(&what, &e)),
    }
}

/// Healthy once the pod named `name` is gone, or is a new pod (a StatefulSet reuses names).
pub(crate) async fn replaced(
    client: Client,
    ns: String,
    name: String,
    old_uid: Option<String>,
) -> Result<Health, ActuationError> {
    let what = format!("get pod {ns}/{name}");
    Ok(match get::<Pod>(&client, &ns, &name, &what).await? {
        None => Health::Healthy(format!("pod {ns}/{name} is gone")),
        Some(pod) if old_uid.is_some() && pod.metadata.uid != old_uid => {
            Health::Healthy(format!("pod {ns}/{name} was replaced"))
        }
        Some(_) => Health::Progressing(format!("pod {ns}/{name} is still terminating")),
    })
}
