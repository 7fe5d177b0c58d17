//! [`Watched`]: the objects the observer reads, kept current by one watch per kind (and namespace) —
//! kube-rs reflectors, as informers do — so a read of the cluster asks the API server nothing.
//!
//! Each watch starts with a list served from the API server's watch cache (`resourceVersion=0`) and then
//! follows the changes; a watch that breaks resumes from its last resource version, or lists again when
//! that version is gone, backing off between failures (0.8 s doubling to 30 s, reset by the next object
//! or completed list — not by the watch merely restarting, which kube-runtime's own backoff takes for
//! a success). A store not listed yet, a watch that ended, or one that has failed without a success for
//! longer than the read's timeout and is still failing makes the read fail (the stage counts it and
//! tries again next interval) rather than serve a stale cluster. A watch that resumed quietly (nothing
//! changed since) stops counting as failing once no error has come for twice a backoff's longest wait.

use futures::StreamExt;
use k8s_openapi::api::apps::v1::{
    ControllerRevision, DaemonSet, Deployment, ReplicaSet, StatefulSet,
};
use k8s_openapi::api::autoscaling::v1::HorizontalPodAutoscaler;
use k8s_openapi::api::core::v1::{Node, Pod};
use kube::Api;
use kube::ResourceExt;
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

/// The longest wait between two attempts of a failing watch.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The first wait after a failure.
const MIN_BACKOFF: Duration = Duration::from_millis(800);

/// A watch's failures since its last success: when the first and the last came, and why.
#[derive(Debug, Clone)]
struct Streak {
    since: Instant,
    last: Instant,
    why: String,
}

/// A watch's current streak of failures (none while it is healthy).
type Failing = Arc<Mutex<Option<Streak>>>;

/// Whether `streak` means the watch is failing now, for longer than `stale_after`: it began earlier than
/// that, and its last failure is recent (a watch that resumed quietly fails no more; one still failing
/// fails at least every [`MAX_BACKOFF`]).
fn stale(streak: &Streak, stale_after: Duration) -> bool {
    streak.since.elapsed() > stale_after && streak.last.elapsed() <= MAX_BACKOFF * 2
}

/// Counts `error` in the streak of `failing` (a new streak when the last failure is old).
fn failed(failing: &Failing, error: String) {
    let now = Instant::now();
    let mut streak = failing.lock().unwrap_or_else(|p| p.into_inner());
    match streak.as_mut() {
        Some(s) if now - s.last <= MAX_BACKOFF * 2 => {
            s.last = now;
            s.why = error;
        }
        _ => {
            *streak = Some(Streak {
                since: now,
                last: now,
                why: error,
            });
        }
    }
}

/// One kind's stores (one per namespace watched), their watches' health and tasks.
struct Kind<K: kube::Resource + 'static>
where
    K::DynamicType: std::hash::Hash + Eq,
{
    plural: &'static str,
    stores: Vec<(Store<K>, Failing, tokio::task::JoinHandle<()>)>,
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
                // Managed fields are most of an object's size and say nothing the observer reads.
                let stripped = watcher(api, config.clone()).modify(|object: &mut K| {
                    object.managed_fields_mut().clear();
                });
                let mut events = Box::pin(reflector::reflector(writer, stripped));
                let task = tokio::spawn(async move {
                    let mut wait = MIN_BACKOFF;
                    while let Some(event) = events.next().await {
                        match event {
                            // A restarted watch, or a list under way: not yet a success.
                            Ok(watcher::Event::Init | watcher::Event::InitApply(_)) => {}
                            Ok(_) => {
                                *health.lock().unwrap_or_else(|p| p.into_inner()) = None;
                                wait = MIN_BACKOFF;
                            }
                            Err(error) => {
                                tracing::warn!(kind = plural, error = %error, "observer: watch failed");
                                failed(&health, error.to_string());
                                // Not polled while waiting: the watcher tries again after it.
                                tokio::time::sleep(wait).await;
                                wait = (wait * 2).min(MAX_BACKOFF);
                            }
                        }
                    }
                });
                (store, failing, task)
            })
            .collect();
        Self { plural, stores }
    }

    /// Waits (up to `deadline`) until every store was listed once.
    async fn ready(&self, deadline: tokio::time::Instant) -> Result<(), ObserveError> {
        for (store, failing, _) in &self.stores {
            let why = match tokio::time::timeout_at(deadline, store.wait_until_ready()).await {
                Ok(Ok(())) => continue,
                Ok(Err(_)) => "its watch ended".to_owned(),
                Err(_) => failing
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .as_ref()
                    .map_or_else(|| "no answer yet".to_owned(), |s| s.why.clone()),
            };
            return Err(ObserveError(format!("cannot list {}: {why}", self.plural)));
        }
        Ok(())
    }

    /// Every object of the stores, unless a watch ended or is stale ([`stale`] after `stale_after`).
    fn objects(&self, stale_after: Duration) -> Result<Vec<K>, ObserveError> {
        let mut objects = Vec::new();
        for (store, failing, task) in &self.stores {
            if task.is_finished() {
                return Err(ObserveError(format!("the watch of {} ended", self.plural)));
            }
            if let Some(streak) = failing.lock().unwrap_or_else(|p| p.into_inner()).as_ref()
                && stale(streak, stale_after)
            {
                return Err(ObserveError(format!(
                    "the watch of {} has failed for {}s: {}",
                    self.plural,
                    streak.since.elapsed().as_secs(),
                    streak.why
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_watch_is_stale_while_it_keeps_failing_past_the_timeout() {
        let ago = |secs: u64| Instant::now() - Duration::from_secs(secs);
        let streak = |since: u64, last: u64| Streak {
            since: ago(since),
            last: ago(last),
            why: "refused".into(),
        };
        let timeout = Duration::from_secs(15);
        assert!(
            stale(&streak(20, 1), timeout),
            "failing for 20 s, still failing"
        );
        assert!(
            !stale(&streak(10, 1), timeout),
            "failing for less than the timeout"
        );
        assert!(
            !stale(&streak(300, 61), timeout),
            "no failure for longer than two backoffs: it resumed quietly"
        );
        let failing: Failing = Arc::new(Mutex::new(Some(streak(300, 61))));
        failed(&failing, "again".into());
        let renewed = failing.lock().expect("lock").clone().expect("a streak");
        assert!(
            renewed.since.elapsed() < Duration::from_secs(1),
            "an old streak starts anew"
        );
        failed(&failing, "and again".into());
        let continued = failing.lock().expect("lock").clone().expect("a streak");
        assert_eq!(
            (continued.since, continued.why.as_str()),
            (renewed.since, "and again")
        );
    }
}
