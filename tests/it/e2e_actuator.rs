//! The actuator as an operator runs it (`medic run --stage actuator`, a child process) between the real
//! test broker and the real test API server: signed commands on the actuation topic change the cluster
//! and publish results; a storm of 1,000 commands stays within the rate limit and blast radius with every
//! record accounted for; and an actuator killed with SIGKILL mid-storm and restarted applies no command
//! twice.

use act::Signer;
use rdkafka::consumer::StreamConsumer;
use rdkafka::message::{BorrowedMessage, Message};
use schemas::rng::Rng;
use schemas::{Action, ActionOutcome, ActionResult, RemediationCommand, Target};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use testkit::cluster;
use testkit::kafka::{brokers, headers, observer, produce_all, read_until, run_pipeline};
use testkit::process::{Medic, spawn_medic, wait_ready};
use testkit::scratch::{free_port, run_id};

/// One test's topics, keys, journal and pipeline file.
struct Rig {
    run_id: String,
    dir: PathBuf,
    pipeline: PathBuf,
    log: PathBuf,
    admin_port: u16,
    brokers: String,
    keys: Signer,
}

impl Rig {
    fn new(name: &str, safety: &str) -> Self {
        let brokers = brokers();
        let run_id = run_id(name);
        let dir = std::env::temp_dir().join(&run_id);
        std::fs::create_dir_all(&dir).expect("dir");
        // The actuator's key file holds the public key only.
        let (keys, _) = testkit::commands::keys(&dir);
        let admin_port = free_port();
        let head = run_pipeline(&run_id, &brokers, 2);
        let pipeline = dir.join("pipeline.toml");
        std::fs::write(
            &pipeline,
            format!(
                r#"{head}
[runner]
batch_linger = "20ms"

[admin]
listen = "127.0.0.1:{admin_port}"

[act]
mode = "apply"
keys_file = "{keys}"
journal = "{journal}"
kubeconfig = "{kubeconfig}"
verify_timeout = "30s"
verify_interval = "200ms"

[act.safety]
{safety}
"#,
                keys = dir.join("keys").display(),
                journal = dir.join("journal").display(),
                kubeconfig = cluster::kubeconfig().display(),
            ),
        )
        .expect("pipeline");
        Self {
            log: dir.join("medic.log"),
            keys,
            run_id,
            dir,
            pipeline,
            admin_port,
            brokers,
        }
    }

    fn topic(&self, name: &str) -> String {
        format!("{}.{name}", self.run_id)
    }

    fn start(&self) -> Medic {
        let mut medic = spawn_medic(&self.pipeline, &["actuator"], &self.log);
        wait_ready(&mut medic, self.admin_port);
        medic
    }

    fn command(&self, id: &str, target: Target, action: Action) -> RemediationCommand {
        act::direct_command(&self.keys, id, target, action, 600, "storm", "test")
    }

    /// `n` commands `up-<i>` scaling `web` in `ns` by +1, each delivered twice in a row.
    fn scale_ups_twice(&self, ns: &str, n: usize) -> Vec<RemediationCommand> {
        (0..n)
            .flat_map(|i| {
                let c = self.command(
                    &format!("up-{i}"),
                    deployment(ns, "web", None),
                    Action::Scale { delta: 1 },
                );
                [c.clone(), c]
            })
            .collect()
    }

    /// Produces `commands` to the actuation topic, keyed by target (in order per target).
    async fn produce(&self, commands: &[RemediationCommand]) {
        let records: Vec<(String, Vec<u8>)> = commands
            .iter()
            .map(|c| {
                let payload = schemas::encode_record(c).expect("json");
                (c.target.to_string(), payload)
            })
            .collect();
        produce_all(&self.brokers, &self.topic("actions"), &records).await;
    }

    /// Starts the actuator, produces `commands` and reads until `outputs` results and dead letters
    /// arrived. Returns the running actuator, what was seen, and the consumer to read on with.
    async fn run(
        &self,
        commands: &[RemediationCommand],
        outputs: usize,
        limit: Duration,
    ) -> (Medic, Seen, StreamConsumer) {
        let medic = self.start();
        self.produce(commands).await;
        let consumer = observer(
            &self.brokers,
            &format!("{}-observer", self.run_id),
            &[&self.topic("results"), &self.topic("dlq")],
        );
        let mut seen = Seen::default();
        self.read_until(
            &consumer,
            &mut seen,
            |s| s.results.len() + s.dead.len() >= outputs,
            limit,
        )
        .await;
        (medic, seen, consumer)
    }

    /// Reads results and dead letters into `seen` until `done` holds.
    async fn read_until(
        &self,
        consumer: &StreamConsumer,
        seen: &mut Seen,
        done: impl Fn(&Seen) -> bool,
        limit: Duration,
    ) {
        let results = self.topic("results");
        read_until(
            consumer,
            seen,
            |seen, message| seen.record(message, &results),
            done,
            Duration::ZERO,
            limit,
            |seen| {
                format!(
                    "{} results and {} dead letters; medic log:\n{}",
                    seen.results.len(),
                    seen.dead.len(),
                    std::fs::read_to_string(&self.log).unwrap_or_default()
                )
            },
        )
        .await;
    }
}

/// What came out: results, and dead letters (idempotency key or command id → error reason).
#[derive(Default)]
struct Seen {
    results: Vec<ActionResult>,
    dead: Vec<(String, String)>,
}

impl Seen {
    /// Keeps a result (from the `results` topic) or a dead letter (its idempotency key and reason).
    fn record(&mut self, message: &BorrowedMessage<'_>, results: &str) {
        let payload = message.payload().unwrap_or_default();
        if message.topic() == results {
            self.results
                .push(schemas::decode_record(payload).expect("a result"));
            return;
        }
        let reason = headers(message)
            .remove("medic.error.reason")
            .unwrap_or_default();
        let key = serde_json::from_slice::<serde_json::Value>(payload)
            .ok()
            .and_then(|v| v["idempotency_key"].as_str().map(str::to_owned))
            .unwrap_or_default();
        self.dead.push((key, reason));
    }

    /// Records per idempotency key (results and dead letters).
    fn per_key(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for r in &self.results {
            *counts.entry(r.idempotency_key.clone()).or_insert(0) += 1;
        }
        for (key, _) in &self.dead {
            *counts.entry(key.clone()).or_insert(0) += 1;
        }
        counts
    }

    /// Results of commands that changed the cluster (applied, whether verified or not).
    fn applied(&self) -> impl Iterator<Item = &ActionResult> {
        self.results.iter().filter(|r| {
            matches!(
                r.outcome,
                ActionOutcome::Verified | ActionOutcome::Failed | ActionOutcome::Applied
            ) && !r.message.starts_with("inspect")
                && !r.message.contains("does not exist")
        })
    }
}

fn deployment(ns: &str, name: &str, pod: Option<String>) -> Target {
    Target::deployment(ns, name).with_pod(pod.as_deref())
}

#[ignore = "needs the test broker and Kubernetes API server: run scripts/test.sh, or scripts/kafka-up.sh and scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storm_of_1000_commands_holds_the_rate_limit_and_blast_radius() {
    let _machine = super::common::MACHINE.read().await;
    let _cluster = super::common::CLUSTER.read().await;
    let client = cluster::client().await;
    let node = cluster::ready_node(&client).await;
    let ns = cluster::unique("storm");
    cluster::namespace(&client, &ns).await;
    cluster::deployment(&client, &ns, "web", 1, "nginx:1.25").await;
    cluster::deployment(&client, &ns, "api", 5, "nginx:1.25").await;
    cluster::wait_available(&client, &ns, "web", 1).await;
    cluster::wait_available(&client, &ns, "api", 5).await;
    let api_pods: Vec<String> = cluster::pods(&client, &ns)
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .filter(|n| n.starts_with("api-"))
        .collect();

    let rig = Rig::new(
        "storm",
        "max_commands_per_minute = 4\nmax_commands_per_target_per_hour = 1000\nmax_replicas = 4",
    );
    // Each scale-up twice: the copy must never be applied.
    let mut commands = rig.scale_ups_twice(&ns, 200);
    for i in 0..300 {
        let pod = api_pods[i % api_pods.len()].clone();
        commands.push(rig.command(
            &format!("kill-{i}"),
            deployment(&ns, "api", Some(pod)),
            Action::RestartPod,
        ));
    }
    for i in 0..100 {
        let mut forged = rig.command(
            &format!("forged-{i}"),
            deployment(&ns, "web", None),
            Action::ScaleTo { replicas: 1 },
        );
        forged.action = Action::ScaleTo { replicas: 90 };
        commands.push(forged);
        let mut expired = rig.command(
            &format!("expired-{i}"),
            deployment(&ns, "web", None),
            Action::Scale { delta: 1 },
        );
        expired.expires_at_ns = expired.issued_at_ns - 1;
        rig.keys.sign(&mut expired);
        commands.push(expired);
        commands.push(rig.command(
            &format!("huge-{i}"),
            deployment(&ns, "web", None),
            Action::ScaleTo { replicas: 50 },
        ));
    }
    assert_eq!(commands.len(), 1000);
    let mut rng = Rng::new(7);
    for i in (1..commands.len()).rev() {
        let j = rng.index(i + 1);
        commands.swap(i, j);
    }

    let started = Instant::now();
    let (_medic, seen, _) = rig.run(&commands, 1000, Duration::from_secs(240)).await;
    let minutes = started.elapsed().as_secs() / 60 + 1;

    // Every record is accounted for, once: 1000 in, 1000 out (results or dead letters).
    assert_eq!(seen.results.len() + seen.dead.len(), 1000);
    let reasons = |needle: &str| seen.dead.iter().filter(|(_, r)| r.contains(needle)).count();
    assert_eq!(reasons("forged"), 100);
    assert_eq!(reasons("expired"), 100);
    // Rate limit: at most 4 changes a minute (below the 3 scale-ups + 2 pod deletions the blast radius
    // would allow).
    let applied: Vec<_> = seen.applied().collect();
    assert!(!applied.is_empty());
    assert!(
        applied.len() as u64 <= 4 * minutes,
        "{} changes in {minutes} minute(s)",
        applied.len()
    );
    // No idempotency key applied twice.
    let mut per_key: BTreeMap<&str, usize> = BTreeMap::new();
    for r in &applied {
        *per_key.entry(&r.idempotency_key).or_insert(0) += 1;
    }
    assert!(per_key.values().all(|n| *n == 1), "{per_key:?}");
    // Blast radius: no more than max_replicas, at most 40% of api's 5 pods deleted in 10 minutes.
    let web_scales = applied
        .iter()
        .filter(|r| r.idempotency_key.starts_with("up-"))
        .count();
    let replicas = cluster::replicas(&client, &ns, "web").await;
    assert_eq!(
        replicas,
        1 + i32::try_from(web_scales).expect("small"),
        "each applied scale-up once"
    );
    assert!(replicas <= 4);
    let kills = applied
        .iter()
        .filter(|r| r.idempotency_key.starts_with("kill-"))
        .count();
    assert!(kills <= 2, "{kills} pods of 5 deleted");
    let refused = |reason: &str| {
        seen.results
            .iter()
            .filter(|r| r.outcome == ActionOutcome::Rejected && r.message.contains(reason))
            .count()
    };
    assert!(
        refused("max_replicas") >= 1,
        "ScaleTo 50 is refused by the blast radius"
    );
    assert!(refused("last minute") >= 1, "the rate limit refused some");
    // The second copy of a handled scale-up is dead-lettered as a replay.
    assert!(reasons("replayed") >= 1);
    cluster::delete_nodes(&client, &[node]).await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

#[ignore = "needs the test broker and Kubernetes API server: run scripts/test.sh, or scripts/kafka-up.sh and scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_actuator_killed_mid_storm_applies_no_command_twice() {
    let _machine = super::common::MACHINE.read().await;
    let _cluster = super::common::CLUSTER.read().await;
    let client = cluster::client().await;
    let node = cluster::ready_node(&client).await;
    let ns = cluster::unique("crash");
    cluster::namespace(&client, &ns).await;
    cluster::deployment(&client, &ns, "web", 1, "nginx:1.25").await;
    cluster::wait_available(&client, &ns, "web", 1).await;

    let rig = Rig::new(
        "crash",
        "max_commands_per_minute = 10000\nmax_commands_per_target_per_hour = 10000\nmax_replicas = 100",
    );
    // 30 scale-ups by one replica, each delivered twice: a double application would show in the count.
    let commands = rig.scale_ups_twice(&ns, 30);
    let (mut medic, mut seen, consumer) = rig.run(&commands, 8, Duration::from_secs(120)).await;
    // SIGKILL: no drain, no commit of the batch in flight.
    medic.kill();
    drop(medic);
    let _restarted = rig.start();
    rig.read_until(
        &consumer,
        &mut seen,
        |s| {
            let per_key = s.per_key();
            per_key.len() >= 30 && per_key.values().all(|n| *n >= 2)
        },
        Duration::from_secs(180),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;

    let replicas = cluster::replicas(&client, &ns, "web").await;
    let applied = seen.applied().count();
    // At most once per key: never above 1 + 30. A command journalled just before the kill but not yet
    // applied is lost rather than applied twice (at most one: commands are handled one at a time).
    assert!(
        replicas <= 31,
        "a command was applied twice: {replicas} replicas"
    );
    assert!(
        replicas >= 30,
        "more than the one in-flight command was lost: {replicas}"
    );
    assert!(applied <= 30);
    let journal = std::fs::read_to_string(rig.dir.join("journal")).expect("journal");
    let mut keys: Vec<&str> = journal.lines().collect();
    let total = keys.len();
    keys.sort_unstable();
    keys.dedup();
    assert_eq!((keys.len(), total), (30, 30), "each key journalled once");
    cluster::delete_nodes(&client, &[node]).await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}

#[ignore = "needs the test broker and Kubernetes API server: run scripts/test.sh, or scripts/kafka-up.sh and scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_goes_from_the_topic_to_the_cluster_and_back() {
    let _machine = super::common::MACHINE.read().await;
    let _cluster = super::common::CLUSTER.read().await;
    let client = cluster::client().await;
    let nodes = cluster::ready_nodes(&client, 4).await;
    let ns = cluster::unique("topic");
    cluster::namespace(&client, &ns).await;
    cluster::deployment(&client, &ns, "web", 2, "nginx:1.25").await;
    cluster::wait_available(&client, &ns, "web", 2).await;
    cluster::set_image(&client, &ns, "web", "nginx:broken").await;
    cluster::wait_available(&client, &ns, "web", 2).await;
    let pod = cluster::pods(&client, &ns)
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .next()
        .expect("a pod");

    let rig = Rig::new(
        "topic",
        "max_commands_per_minute = 100\nmax_pod_deletion_fraction = 1.0",
    );
    let node = Target::node;
    // The web commands share a key (and so a partition): they are applied in this order.
    let commands = [
        rig.command(
            "t-scale",
            deployment(&ns, "web", None),
            Action::ScaleTo { replicas: 3 },
        ),
        rig.command("t-rollback", deployment(&ns, "web", None), Action::Rollback),
        rig.command(
            "t-restart",
            deployment(&ns, "web", None),
            Action::RolloutRestart,
        ),
        rig.command(
            "t-pod",
            deployment(&ns, "web", Some(pod.clone())),
            Action::RestartPod,
        ),
        rig.command("t-cordon", node(&nodes[1]), Action::CordonNode),
        rig.command("t-drain", node(&nodes[2]), Action::DrainNode),
    ];
    let (_medic, seen, _) = rig.run(&commands, 6, Duration::from_secs(180)).await;
    assert!(seen.dead.is_empty(), "{:?}", seen.dead);
    for result in &seen.results {
        assert_eq!(
            result.outcome,
            ActionOutcome::Verified,
            "{}: {}",
            result.command_id,
            result.message
        );
        assert_eq!(result.mode, "apply");
    }

    assert_eq!(cluster::replicas(&client, &ns, "web").await, 3);
    assert_eq!(
        cluster::image(&client, &ns, "web").await,
        "nginx:1.25",
        "rolled back"
    );
    assert!(cluster::restarted(&client, &ns, "web").await, "restarted");
    let names: Vec<_> = cluster::pods(&client, &ns)
        .await
        .into_iter()
        .filter_map(|p| p.metadata.name)
        .collect();
    assert!(!names.contains(&pod), "the pod was deleted");
    let node_api = kube::Api::<k8s_openapi::api::core::v1::Node>::all(client.clone());
    for n in &nodes[1..3] {
        let node = node_api.get(n).await.expect("node");
        assert_eq!(
            node.spec.and_then(|s| s.unschedulable),
            Some(true),
            "{n} is unschedulable"
        );
    }
    let on_drained = cluster::pods(&client, &ns)
        .await
        .into_iter()
        .filter(|p| p.spec.as_ref().and_then(|s| s.node_name.as_deref()) == Some(nodes[2].as_str()))
        .count();
    assert_eq!(on_drained, 0, "the drained node is empty");
    cluster::delete_nodes(&client, &nodes).await;
    let _ = std::fs::remove_dir_all(&rig.dir);
}
