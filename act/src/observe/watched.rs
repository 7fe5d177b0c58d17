//! [`Watched`]: the objects the observer reads, kept current by one watch per kind (and namespace) —
//! kube-rs reflectors, as informers do — so a read of the cluster asks the API server nothing.
//!
//! Each watch starts with a list served from the API server's watch cache (`resourceVersion=0`) and then
//! follows the changes; a watch that breaks resumes from its last resource version, or lists again when
//! that version is gone, backing off between failures. A store that has not been listed yet, or whose
//! watch has failed for longer than the read's timeout, makes the read fail (the stage counts it and
//! tries again next interval) rather than serve a stale cluster.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::runtime::reflector::{self, Store};
use kube::runtime::{WatchStreamExt, watcher};
use schemas::observe::ObserveError;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Every object of the kinds the observer reads, as the watches last saw them.
#[derive(Debug, Default)]
pub(crate) struct Objects {
    pub pods: Vec<Pod>,
    pub replicasets: Vec<ReplicaSet>,
    pub deployments: Vec<Deployment>,
    pub statefulsets: Vec<StatefulSet>,
    pub daemonsets: Vec<DaemonSet>,
    pub controller_revisions: Vec<ControllerRevision>,
    pub autoscalers: Vec<HorizontalPodAutoscaler>,
    pub nodes: Vec<Node>,
}

/// Since when a watch has been failing, and why (none while it is healthy).
type Failing = Arc<Mutex<Option<(Instant, String)>>>;

/// One kind's stores (one per namespace watched) and their watches' health.
struct Kind<K: kube::Resource + 'static>
where
    K::DynamicType: std::hash::Hash + Eq,
{
    plural: &'static str,
    stores: Vec<(Store<K>, Failing)>,
}

impl<K> Kind<K>
where
    K: kube::Resource
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
    K::DynamicType: Default + Clone + std::hash::Hash + Eq + Send + Sync,
{
    /// Starts a watch of `apis` each (on the current runtime, which must keep running), with `config`.
    fn watch(plural: &'static str, apis: Vec<Api<K>>, config: &watcher::Config) -> Self {
        let stores = apis
            .into_iter()
            .map(|api| {
                let (store, writer) = reflector::store();
                let failing: Failing = Arc::default();
                let health = Arc::clone(&failing);
                let events =
                    reflector::reflector(writer, watcher(api, config.clone())).default_backoff();
                tokio::spawn(events.for_each(move |event| {
                    let mut failing = health.lock().unwrap_or_else(|p| p.into_inner());
                    match event {
                        Ok(_) => *failing = None,
                        Err(error) => {
                            tracing::warn!(kind = plural, error = %error, "observer: watch failed");
                            if failing.is_none() {
                                *failing = Some((Instant::now(), error.to_string()));
                            }
                        }
                    }
                    futures::future::ready(())
                }));
                (store, failing)
            })
            .collect();
        Self { plural, stores }
    }

    /// Waits (up to `deadline`) until every store was listed once.
    async fn ready(&self, deadline: tokio::time::Instant) -> Result<(), ObserveError> {
        for (store, failing) in &self.stores {
            if tokio::time::timeout_at(deadline, store.wait_until_ready())
                .await
                .is_err()
            {
                let why = failing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map_or_else(|| "no answer yet".to_owned(), |(_, why)| why.clone());
                return Err(ObserveError(format!("cannot list {}: {why}", self.plural)));
            }
        }
        Ok(())
    }

    /// Every object of the stores, unless a watch has been failing for longer than `stale_after`.
    fn objects(&self, stale_after: Duration) -> Result<Vec<K>, ObserveError> {
        let mut objects = Vec::new();
        for (store, failing) in &self.stores {
            if let Some((since, why)) = failing.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
                && since.elapsed() > stale_after
            {
                return Err(ObserveError(format!(
                    "the watch of {} has failed for {}s: {why}",
                    self.plural,
                    since.elapsed().as_secs()
                )));
            }
            objects.extend(store.state().iter().map(|o| K::clone(o)));
        }
        Ok(objects)
    }
}

/// The watches of every kind the observer reads, in `namespaces` (every namespace when empty).
pub(crate) struct Watched {
    pods: Kind<Pod>,
    replicasets: Kind<ReplicaSet>,
    deployments: Kind<Deployment>,
    statefulsets: Kind<StatefulSet>,
    daemonsets: Kind<DaemonSet>,
    controller_revisions: Kind<ControllerRevision>,
    autoscalers: Kind<HorizontalPodAutoscaler>,
    nodes: Kind<Node>,
}

impl Watched {
    /// Starts every watch on the current runtime (which must keep running: the watches are its tasks).
    pub(crate) fn start(client: &kube::Client, namespaces: &[String]) -> Self {
        let cached = watcher::Config::default().any_semantic();
        // Finished pods (a Job's) are not wanted: the API server leaves them out.
        let running = cached
            .clone()
            .fields("status.phase!=Succeeded,status.phase!=Failed");
        Self {
            pods: Kind::watch("pods", apis(client, namespaces), &running),
            replicasets: Kind::watch("replicasets", apis(client, namespaces), &cached),
            deployments: Kind::watch("deployments", apis(client, namespaces), &cached),
            statefulsets: Kind::watch("statefulsets", apis(client, namespaces), &cached),
            daemonsets: Kind::watch("daemonsets", apis(client, namespaces), &cached),
            controller_revisions: Kind::watch(
                "controllerrevisions",
                apis(client, namespaces),
                &cached,
            ),
            autoscalers: Kind::watch(
                "horizontalpodautoscalers",
                apis(client, namespaces),
                &cached,
            ),
            nodes: Kind::watch("nodes", vec![Api::all(client.clone())], &cached),
        }
    }

    /// Waits (up to `timeout`) until every watch has listed its objects once.
    pub(crate) async fn ready(&self, timeout: Duration) -> Result<(), ObserveError> {
        let deadline = tokio::time::Instant::now() + timeout;
        self.pods.ready(deadline).await?;
        self.replicasets.ready(deadline).await?;
        self.deployments.ready(deadline).await?;
        self.statefulsets.ready(deadline).await?;
        self.daemonsets.ready(deadline).await?;
        self.controller_revisions.ready(deadline).await?;
        self.autoscalers.ready(deadline).await?;
        self.nodes.ready(deadline).await
    }

    /// Every object as the watches last saw them, unless one has been failing for longer than
    /// `stale_after`. The watches are independent: a pod whose new ReplicaSet the ReplicaSet watch has
    /// not delivered yet is left out of this read, and counted at the next.
    pub(crate) fn objects(&self, stale_after: Duration) -> Result<Objects, ObserveError> {
        Ok(Objects {
            pods: self.pods.objects(stale_after)?,
            replicasets: self.replicasets.objects(stale_after)?,
            deployments: self.deployments.objects(stale_after)?,
            statefulsets: self.statefulsets.objects(stale_after)?,
            daemonsets: self.daemonsets.objects(stale_after)?,
            controller_revisions: self.controller_revisions.objects(stale_after)?,
            autoscalers: self.autoscalers.objects(stale_after)?,
            nodes: self.nodes.objects(stale_after)?,
        })
    }
}

/// The APIs of one namespaced kind in `namespaces` (every namespace when empty).
fn apis<K>(client: &kube::Client, namespaces: &[String]) -> Vec<Api<K>>
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>,
    K::DynamicType: Default,
{
    if namespaces.is_empty() {
        vec![Api::all(client.clone())]
    } else {
        namespaces
            .iter()
            .map(|ns| Api::namespaced(client.clone(), ns))
            .collect()
    }
}
