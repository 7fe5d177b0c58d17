//! Nodes: cordon, drain through the eviction API, and tell when either took effect.

use super::workload::annotation;
use super::{LAST_COMMAND_ANNOTATION, Writes, annotation_patch, api_error, not_found};
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Client;
use kube::api::{Api, EvictParams, ListParams, Patch};
use schemas::actuate::{ActuationError, Applied, Health, TargetState};
use std::sync::Arc;

/// The node, and how many nodes the cluster has and how many are unschedulable.
pub(crate) async fn inspect(client: Client, name: String) -> Result<TargetState, ActuationError> {
    let nodes = Api::<Node>::all(client)
        .list(&ListParams::default())
        .await
        .map_err(|e| api_error("list nodes", &e))?;
    let unschedulable = |n: &Node| n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
    let this = nodes
        .items
        .iter()
        .find(|n| n.metadata.name.as_deref() == Some(&name));
    Ok(TargetState {
        exists: this.is_some(),
        nodes: Some(u32::try_from(nodes.items.len()).unwrap_or(u32::MAX)),
        unschedulable_nodes: Some(
            u32::try_from(nodes.items.iter().filter(|n| unschedulable(n)).count())
                .unwrap_or(u32::MAX),
        ),
        unschedulable: this.map(unschedulable),
        last_command_id: this
            .and_then(|n| annotation(n.metadata.annotations.as_ref(), LAST_COMMAND_ANNOTATION)),
        ..TargetState::default()
    })
}

/// Marks the node unschedulable (and records the command on it).
pub(crate) async fn cordon(
    client: Client,
    writes: Writes,
    name: String,
    command_id: String,
) -> Result<Applied, ActuationError> {
    let mut body = annotation_patch(&command_id);
    body["spec"] = serde_json::json!({ "unschedulable": true });
    Api::<Node>::all(client)
        .patch(&name, &writes.patch(), &Patch::Merge(&body))
        .await
        .map_err(|e| api_error(&format!("cordon node {name}"), &e))?;
    Ok(Applied {
        summary: format!("cordoned node {name}"),
        undo: None,
    })
}

/// Cordons the node, then asks the eviction API to evict each of its pods (PodDisruptionBudgets may
/// refuse some: the verification loop retries them).
pub(crate) async fn drain(
    client: Client,
    writes: Writes,
    name: String,
    command_id: String,
    protected: Arc<Vec<String>>,
) -> Result<Applied, ActuationError> {
    cordon(client.clone(), writes, name.clone(), command_id).await?;
    let pass = evict_all(&client, writes, &name, &protected).await?;
    Ok(Applied {
        summary: format!("cordoned node {name}; {}", pass.describe()),
        undo: None,
    })
}

/// Healthy once the node is unschedulable.
pub(crate) async fn cordoned(client: Client, name: String) -> Result<Health, ActuationError> {
    let node = Api::<Node>::all(client)
        .get(&name)
        .await
        .map_err(|e| api_error(&format!("get node {name}"), &e))?;
    Ok(if node.spec.and_then(|s| s.unschedulable) == Some(true) {
        Health::Healthy(format!("node {name} is unschedulable"))
    } else {
        Health::Progressing(format!("node {name} is still schedulable"))
    })
}

/// Healthy once no pod is left on the node but DaemonSet and mirror pods (none terminating);
/// otherwise evicts the remaining ones again.
pub(crate) async fn drained(
    client: Client,
    writes: Writes,
    name: String,
    protected: Arc<Vec<String>>,
) -> Result<Health, ActuationError> {
    let pass = evict_all(&client, writes, &name, &protected).await?;
    Ok(if pass.left() == 0 {
        Health::Healthy(format!("node {name} is drained"))
    } else {
        Health::Progressing(format!("node {name}: {}", pass.describe()))
    })
}

/// One pass over a node's pods.
#[derive(Debug, Default)]
struct EvictionPass {
    /// Evictions the API accepted.
    evicted: usize,
    /// Evictions a PodDisruptionBudget refused (429).
    blocked: usize,
    /// Pods already terminating.
    terminating: usize,
    /// Pods without a controller: never evicted, they would be lost.
    unmanaged: usize,
    /// Pods in protected namespaces: never evicted, and not waited for.
    protected: usize,
    /// Evictions that failed otherwise (the message of the last one).
    failed: Vec<String>,
}

impl EvictionPass {
    fn left(&self) -> usize {
        self.evicted + self.blocked + self.terminating + self.unmanaged + self.failed.len()
    }

    fn describe(&self) -> String {
        let mut text = format!(
            "evicted {} pod(s), {} held by a PodDisruptionBudget, {} terminating, {} without a controller (not evicted)",
            self.evicted, self.blocked, self.terminating, self.unmanaged
        );
        if self.protected > 0 {
            text.push_str(&format!(
                ", {} in protected namespaces (not evicted)",
                self.protected
            ));
        }
        if let Some(last) = self.failed.last() {
            text.push_str(&format!(", {} failed (last: {last})", self.failed.len()));
        }
        text
    }
}

/// Evicts every evictable pod on `node`. An eviction that fails is reported, not fatal: the cordon
/// stands and the verification loop tries again.
async fn evict_all(
    client: &Client,
    writes: Writes,
    node: &str,
    protected: &[String],
) -> Result<EvictionPass, ActuationError> {
    let pods = Api::<Pod>::all(client.clone())
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
        .map_err(|e| api_error(&format!("list pods on {node}"), &e))?;
    let mut pass = EvictionPass::default();
    for pod in &pods.items {
        match kind_of(pod) {
            PodKind::Ignored => continue,
            PodKind::Terminating => {
                pass.terminating += 1;
                continue;
            }
            PodKind::Unmanaged => {
                pass.unmanaged += 1;
                continue;
            }
            PodKind::Evictable => {}
        }
        let (Some(ns), Some(name)) = (&pod.metadata.namespace, &pod.metadata.name) else {
            continue;
        };
        if protected.contains(ns) {
            pass.protected += 1;
            continue;
        }
        let params = EvictParams {
            delete_options: Some(writes.delete()),
            post_options: writes.post(),
        };
        match Api::<Pod>::namespaced(client.clone(), ns)
            .evict(name, &params)
            .await
        {
            Ok(_) => pass.evicted += 1,
            Err(e) if not_found(&e) => {}
            Err(kube::Error::Api(status)) if status.code == 429 => pass.blocked += 1,
            Err(e) => pass
                .failed
                .push(api_error(&format!("evict pod {ns}/{name}"), &e).message),
        }
    }
    Ok(pass)
}

/// How a drain treats a pod.
enum PodKind {
    /// DaemonSet pods (their controller ignores cordons), mirror pods, finished pods.
    Ignored,
    /// Already being deleted: wait for it.
    Terminating,
    /// No controller would recreate it: never evicted.
    Unmanaged,
    /// Evict it.
    Evictable,
}

fn kind_of(pod: &Pod) -> PodKind {
    let meta = &pod.metadata;
    let controller = meta
        .owner_references
        .iter()
        .flatten()
        .find(|o| o.controller == Some(true));
    let mirror = meta
        .annotations
        .as_ref()
        .is_some_and(|a| a.contains_key("kubernetes.io/config.mirror"));
    let finished = pod
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|p| p == "Succeeded" || p == "Failed");
    if mirror || finished || controller.is_some_and(|c| c.kind == "DaemonSet") {
        PodKind::Ignored
    } else if meta.deletion_timestamp.is_some() {
        PodKind::Terminating
    } else if controller.is_none() {
        PodKind::Unmanaged
    } else {
        PodKind::Evictable
    }
}
