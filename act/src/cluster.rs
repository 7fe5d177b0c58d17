//! [`ClusterClient`]: a kube-rs client on a private runtime, so the actuator's backend and the observer's
//! reader can be driven from synchronous stage code on any thread (including the runner's).

use std::future::Future;
use std::path::Path;

/// A Kubernetes client and the runtime its calls run on: one worker thread, which also runs the tasks
/// its callers spawn (the observer's watches) between their calls.
pub(crate) struct ClusterClient {
    runtime: PrivateRuntime,
    pub(crate) client: kube::Client,
}

impl ClusterClient {
    /// Connects with the kubeconfig at `kubeconfig`, or else `KUBECONFIG`, `~/.kube/config`, or the
    /// in-cluster ServiceAccount. kube's own retries are off: callers retry on their own terms (the
    /// actuator's verification loop, the observer's next interval); kube's built-in retry of 429 would
    /// turn a PodDisruptionBudget's refusal into minutes of blocking.
    ///
    /// # Errors
    /// When no configuration is found or the client cannot be built.
    pub(crate) fn connect(kubeconfig: Option<&Path>) -> Result<Self, String> {
        let runtime = PrivateRuntime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .thread_name("medic-kube")
                .enable_all()
                .build()
                .map_err(|e| format!("cannot start a runtime: {e}"))?,
        ));
        let path = kubeconfig.map(Path::to_owned);
        let client = on_runtime(&runtime, async move {
            let mut config = match path {
                Some(path) => {
                    let file = kube::config::Kubeconfig::read_from(&path)
                        .map_err(|e| format!("cannot read kubeconfig {}: {e}", path.display()))?;
                    kube::Config::from_custom_kubeconfig(file, &Default::default())
                        .await
                        .map_err(|e| format!("bad kubeconfig {}: {e}", path.display()))?
                }
                None => kube::Config::infer()
                    .await
                    .map_err(|e| format!("no Kubernetes configuration found: {e}"))?,
            };
            config.default_retry = false;
            kube::Client::try_from(config).map_err(|e| format!("cannot build the client: {e}"))
        })?;
        Ok(Self { runtime, client })
    }

    /// Runs `work` to completion on the private runtime.
    pub(crate) fn run<T: Send>(&self, work: impl Future<Output = T> + Send) -> T {
        on_runtime(&self.runtime, work)
    }
}

/// The client's own runtime; dropped without blocking, so a client may be dropped anywhere (including
/// inside another runtime).
struct PrivateRuntime(Option<tokio::runtime::Runtime>);

impl Drop for PrivateRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// Runs `work` to completion on `runtime` from a fresh thread: `block_on` must not be called from a
/// thread that is already inside a runtime (the stage runner's).
fn on_runtime<T: Send>(runtime: &PrivateRuntime, work: impl Future<Output = T> + Send) -> T {
    let runtime = runtime
        .0
        .as_ref()
        .expect("the runtime lives as long as the client");
    std::thread::scope(|scope| {
        scope
            .spawn(|| runtime.block_on(work))
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}
