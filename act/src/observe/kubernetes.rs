//! [`KubeReader`]: the cluster as the Kubernetes API shows it, through watches ([`super::watched`]):
//!
//! | reads | for |
//! |---|---|
//! | Deployments, StatefulSets, DaemonSets | the workloads and their desired replicas |
//! | ReplicaSets | which Deployment owns a pod; a Deployment's rollouts (revision, time, image change) |
//! | ControllerRevisions | a StatefulSet's or DaemonSet's rollouts (revision, time, image change) |
//! | Pods | their state ([`classify_pod`]) and node |
//! | Nodes | Ready, DiskPressure, unschedulable |
//! | HorizontalPodAutoscalers (`autoscaling/v1`) | replica bounds |
//!
//! Each kind is listed once from the API server's watch cache (`resourceVersion=0`), as informers start,
//! and then watched: a read of the cluster costs the API server nothing.

use super::OBSERVER_KUBERNETES;
use super::watched::{Objects, Watched};
use crate::cluster::ClusterClient;
use k8s_openapi::api::apps::v1::{ControllerRevision, ReplicaSet};
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemas::observe::{
    ClusterSnapshot, ObserveError, ObservedPhase, ObservedPod, ObservedWorkload, ReadCluster,
};
use schemas::{NodeCondition, ObjectKind, Rollout, Target, WorkloadSignals};
use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

/// Container waiting reasons that mean the pod cannot run as it is: counted as crash-looping.
const CANNOT_RUN: [&str; 7] = [
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
];

/// The Deployment annotation on a ReplicaSet naming its revision.
const REVISION: &str = "deployment.kubernetes.io/revision";

/// Reads a Kubernetes cluster with get/list/watch rights only.
pub struct KubeReader {
    cluster: ClusterClient,
    namespaces: Vec<String>,
    timeout: Duration,
    /// The watches, started at the first read.
    watched: Option<Watched>,
}

impl KubeReader {
    /// Connects with the kubeconfig at `kubeconfig`, or else `KUBECONFIG`, `~/.kube/config`, or the
    /// in-cluster ServiceAccount; reads `namespaces` (every namespace when empty). A read waits at most
    /// `timeout` for the watches' first lists (an API server that does not answer must not hold the
    /// stage, and with it the process's liveness), and fails while a watch has been failing for longer.
    ///
    /// # Errors
    /// When no configuration is found or the client cannot be built.
    pub fn connect(
        kubeconfig: Option<&Path>,
        namespaces: Vec<String>,
        timeout: Duration,
    ) -> Result<Self, String> {
        Ok(Self {
            cluster: ClusterClient::connect(kubeconfig)?,
            namespaces,
            timeout,
            watched: None,
        })
    }
}

impl ReadCluster for KubeReader {
    fn observer(&self) -> &'static str {
        OBSERVER_KUBERNETES
    }

    fn read(&mut self) -> Result<ClusterSnapshot, ObserveError> {
        let (client, namespaces) = (self.cluster.client.clone(), self.namespaces.clone());
        let cluster = &self.cluster;
        let watched = self.watched.get_or_insert_with(|| {
            cluster.run(async move { Watched::start(&client, &namespaces) })
        });
        self.cluster.run(watched.ready(self.timeout))?;
        let at_ns = schemas::clock::wall_clock_ns();
        Ok(snapshot(at_ns, watched.objects(self.timeout)?))
    }
}

/// The cluster at `at_ns`, from its objects.
fn snapshot(at_ns: i64, objects: Objects) -> ClusterSnapshot {
    let Objects {
        pods,
        replicasets,
        deployments,
        statefulsets,
        daemonsets,
        controller_revisions,
        autoscalers,
        nodes,
    } = objects;
    let bounds: HashMap<(String, ObjectKind, String), (u32, u32)> = autoscalers
        .iter()
        .filter_map(|hpa| {
            let spec = &hpa.spec;
            let target = &spec.scale_target_ref;
            let key = (
                hpa.metadata.namespace.clone()?,
                ObjectKind::from_kind(&target.kind),
                target.name.clone(),
            );
            let min = spec.min_replicas.unwrap_or(1);
            Some((key, (count(min), count(spec.max_replicas))))
        })
        .collect();
    // ReplicaSet (namespace, name) → the Deployment owning it; (namespace, Deployment) → its
    // revisions.
    let mut owner_of_set: HashMap<(String, String), String> = HashMap::new();
    let mut revisions_of: HashMap<(ObjectKind, String, String), Vec<Revision>> = HashMap::new();
    for rs in &replicasets {
        if let (Some(owner), Some((namespace, name))) =
            (controller(&rs.metadata, "Deployment"), key_of(&rs.metadata))
        {
            owner_of_set.insert((namespace.clone(), name), owner.clone());
            if let Some(revision) = Revision::of_replica_set(rs) {
                revisions_of
                    .entry((ObjectKind::Deployment, namespace, owner))
                    .or_default()
                    .push(revision);
            }
        }
    }
    // A ControllerRevision belongs to the listed StatefulSet or DaemonSet whose uid its controller
    // reference names (other controllers, OpenKruise's say, own ControllerRevisions of the same kinds).
    let owners: HashMap<&str, (ObjectKind, String, String)> = statefulsets
        .iter()
        .map(|s| (ObjectKind::StatefulSet, &s.metadata))
        .chain(
            daemonsets
                .iter()
                .map(|d| (ObjectKind::DaemonSet, &d.metadata)),
        )
        .filter_map(|(kind, meta)| {
            let (namespace, name) = key_of(meta)?;
            Some((meta.uid.as_deref()?, (kind, namespace, name)))
        })
        .collect();
    for revision in &controller_revisions {
        let owner = revision
            .metadata
            .owner_references
            .iter()
            .flatten()
            .find(|o| o.controller == Some(true))
            .and_then(|o| owners.get(o.uid.as_str()));
        if let (Some(owner), Some(revision)) = (owner, Revision::of_controller_revision(revision)) {
            revisions_of
                .entry(owner.clone())
                .or_default()
                .push(revision);
        }
    }
    let rollout_of = |kind: ObjectKind, meta: &ObjectMeta| {
        let (namespace, name) = key_of(meta)?;
        last_rollout(revisions_of.get(&(kind, namespace, name))?)
    };

    let mut workloads = Vec::new();
    let mut add = |kind: ObjectKind, meta: &ObjectMeta, desired: u32, rollout: Option<Rollout>| {
        let (Some(namespace), Some(name)) = (&meta.namespace, &meta.name) else {
            return;
        };
        let autoscaler = bounds
            .get(&(namespace.clone(), kind, name.clone()))
            .copied();
        workloads.push(ObservedWorkload {
            target: Target::object(kind, Some(namespace), name),
            desired,
            autoscaler,
            last_rollout: rollout,
            signals: WorkloadSignals::default(),
        });
    };
    for d in &deployments {
        let desired = d.spec.replicas.unwrap_or(1);
        let rollout = rollout_of(ObjectKind::Deployment, &d.metadata);
        add(ObjectKind::Deployment, &d.metadata, count(desired), rollout);
    }
    for s in &statefulsets {
        let desired = s.spec.replicas.unwrap_or(1);
        let rollout = rollout_of(ObjectKind::StatefulSet, &s.metadata);
        add(
            ObjectKind::StatefulSet,
            &s.metadata,
            count(desired),
            rollout,
        );
    }
    for d in &daemonsets {
        let desired = d.status.as_ref().map_or(0, |s| s.desired_number_scheduled);
        let rollout = rollout_of(ObjectKind::DaemonSet, &d.metadata);
        add(ObjectKind::DaemonSet, &d.metadata, count(desired), rollout);
    }

    let pods = pods
        .iter()
        .filter_map(|pod| {
            let namespace = pod.metadata.namespace.as_deref()?;
            let owner = pod
                .metadata
                .owner_references
                .as_ref()?
                .iter()
                .find(|o| o.controller == Some(true))?;
            let (kind, name) = match owner.kind.as_str() {
                "ReplicaSet" => (
                    ObjectKind::Deployment,
                    owner_of_set
                        .get(&(namespace.to_owned(), owner.name.clone()))?
                        .clone(),
                ),
                "StatefulSet" => (ObjectKind::StatefulSet, owner.name.clone()),
                "DaemonSet" => (ObjectKind::DaemonSet, owner.name.clone()),
                _ => return None,
            };
            Some(ObservedPod {
                owner: Target::object(kind, Some(namespace), &name),
                name: pod.metadata.name.clone()?,
                node: pod.spec.as_ref().and_then(|s| s.node_name.clone()),
                phase: classify_pod(pod),
            })
        })
        .collect();
    let nodes = nodes.iter().filter_map(node_condition).collect();
    ClusterSnapshot {
        at_ns,
        workloads,
        pods,
        nodes,
    }
}

/// Where `pod` is in its life: gone (deleted or finished); crash-looping (a container, init or not,
/// waits as `CrashLoopBackOff`, `ImagePullBackOff`, `ErrImagePull`, `InvalidImageName`,
/// `CreateContainerConfigError`, `CreateContainerError` or `RunContainerError`); pending (no node);
/// ready (condition Ready); else starting.
#[must_use]
pub fn classify_pod(pod: &Pod) -> ObservedPhase {
    let status = pod.status.as_ref();
    let phase = status.and_then(|s| s.phase.as_deref());
    if pod.metadata.deletion_timestamp.is_some() || matches!(phase, Some("Succeeded" | "Failed")) {
        return ObservedPhase::Gone;
    }
    let cannot_run = status.is_some_and(|s| {
        s.container_statuses
            .iter()
            .chain(s.init_container_statuses.iter())
            .flatten()
            .filter_map(|c| c.state.as_ref()?.waiting.as_ref()?.reason.as_deref())
            .any(|reason| CANNOT_RUN.contains(&reason))
    });
    if cannot_run {
        return ObservedPhase::CrashLooping;
    }
    if pod
        .spec
        .as_ref()
        .and_then(|s| s.node_name.as_ref())
        .is_none()
    {
        return ObservedPhase::Pending;
    }
    let ready = status
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"));
    if ready {
        ObservedPhase::Ready
    } else {
        ObservedPhase::Starting
    }
}

/// One revision of a workload's pod template: a Deployment's ReplicaSet, or a StatefulSet's or
/// DaemonSet's ControllerRevision.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Revision {
    number: u64,
    /// When its object was created, ns since the epoch.
    at_ns: i64,
    /// Its containers' images, sorted.
    images: Vec<String>,
}

impl Revision {
    /// A ReplicaSet's revision (its `deployment.kubernetes.io/revision` annotation).
    fn of_replica_set(rs: &ReplicaSet) -> Option<Self> {
        let number = rs
            .metadata
            .annotations
            .as_ref()?
            .get(REVISION)?
            .parse()
            .ok()?;
        let images = rs
            .spec
            .template
            .as_ref()
            .and_then(|t| t.spec.as_ref())
            .map(|p| {
                p.containers
                    .iter()
                    .filter_map(|c| c.image.clone())
                    .collect()
            })
            .unwrap_or_default();
        Self::new(number, &rs.metadata, images)
    }

    /// A ControllerRevision's: its `revision`, and the images of the pod template its `data` holds
    /// (`{"spec": {"template": …}}`, as the StatefulSet and DaemonSet controllers write it).
    fn of_controller_revision(revision: &ControllerRevision) -> Option<Self> {
        let number = u64::try_from(revision.revision?).ok()?;
        let images = revision.data.0["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(|containers| {
                containers
                    .iter()
                    .filter_map(|c| c["image"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Self::new(number, &revision.metadata, images)
    }

    fn new(number: u64, meta: &ObjectMeta, mut images: Vec<String>) -> Option<Self> {
        let at_ns = meta.creation_timestamp.as_ref()?.0.as_nanosecond();
        images.sort();
        Some(Self {
            number,
            at_ns: i64::try_from(at_ns).ok()?,
            images,
        })
    }
}

/// A workload's newest revision: its number, its object's creation time, and whether its images differ
/// from the revision before it. (A rollback to an older template reuses that template's ReplicaSet or
/// ControllerRevision under a new number: its time is then the older creation time, which the observer
/// corrects, marking it a rollback, when it first sees the new number: `super::rollouts`.)
fn last_rollout(revisions: &[Revision]) -> Option<Rollout> {
    let mut newest_first: Vec<&Revision> = revisions.iter().collect();
    newest_first.sort_by_key(|r| std::cmp::Reverse(r.number));
    let newest = newest_first.first()?;
    Some(Rollout {
        revision: newest.number,
        at_ns: newest.at_ns,
        image_changed: newest_first
            .get(1)
            .map(|previous| newest.images != previous.images),
        rolled_back: false,
    })
}

fn node_condition(node: &Node) -> Option<NodeCondition> {
    let condition = |kind: &str| {
        node.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == kind && c.status == "True"))
    };
    Some(NodeCondition {
        node: node.metadata.name.clone()?,
        ready: condition("Ready"),
        disk_pressure: condition("DiskPressure"),
        unschedulable: node.spec.as_ref().and_then(|s| s.unschedulable) == Some(true),
    })
}

/// The name of `meta`'s controller, when it is of `kind`.
fn controller(meta: &ObjectMeta, kind: &str) -> Option<String> {
    meta.owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true) && o.kind == kind)
        .map(|o| o.name.clone())
}

fn key_of(meta: &ObjectMeta) -> Option<(String, String)> {
    Some((meta.namespace.clone()?, meta.name.clone()?))
}

fn count(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A StatefulSet's ControllerRevision as its controller writes it (fields a 1.20 API server returns).
    fn controller_revision(number: i64, created: &str, image: &str) -> ControllerRevision {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {
                "name": format!("db-{number}"), "namespace": "shop", "creationTimestamp": created,
                "ownerReferences": [{ "apiVersion": "apps/v1", "kind": "StatefulSet", "name": "db",
                                      "uid": "1", "controller": true }]
            },
            "data": { "spec": { "template": { "$patch": "replace", "metadata": {},
                "spec": { "containers": [{ "name": "db", "image": image }] } } } },
            "revision": number
        }))
        .expect("a ControllerRevision")
    }

    #[test]
    fn a_controller_revision_is_a_rollout_with_its_images() {
        let first = controller_revision(1, "2026-03-14T09:00:00Z", "redis:7.2");
        let second = controller_revision(2, "2026-03-14T09:30:00Z", "redis:7.4");
        let relabelled = controller_revision(3, "2026-03-14T10:00:00Z", "redis:7.4");
        let revisions: Vec<Revision> = [&second, &first]
            .into_iter()
            .filter_map(Revision::of_controller_revision)
            .collect();
        let rollout = last_rollout(&revisions).expect("a rollout");
        assert_eq!(
            (rollout.revision, rollout.image_changed),
            (2, Some(true)),
            "the newest by number, whatever the list order"
        );
        assert_eq!(rollout.at_ns, 1_773_480_600_000_000_000);
        let revisions: Vec<Revision> = [&first, &second, &relabelled]
            .into_iter()
            .filter_map(Revision::of_controller_revision)
            .collect();
        assert_eq!(
            last_rollout(&revisions).map(|r| (r.revision, r.image_changed)),
            Some((3, Some(false))),
            "a template change that keeps the images"
        );
        assert_eq!(
            last_rollout(&revisions[..1]).map(|r| r.image_changed),
            Some(None),
            "no earlier revision: unknown"
        );
        assert_eq!(
            controller(&first.metadata, "StatefulSet").as_deref(),
            Some("db")
        );
    }
}
