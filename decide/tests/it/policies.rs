//! The learners train, save and load; the committed policies behave on the held-out scenario.

use medic_decide::features::Remedies;
use medic_decide::lab::arbitration::SafetyConfig;
use medic_decide::lab::control::{Controller, EpisodeSpec, run_episode};
use medic_decide::lab::evaluate::{demo_comparison, load_controller};
use medic_decide::lab::rl::{DqnConfig, LearnedPolicy, PpoConfig, TrainingSetup};
use medic_decide::lab::training::{Learner, TrainJob, train_policy};
use medic_decide::lab::twin::{ClusterSpec, Scenario, Trace, TwinOptions};
use std::path::{Path, PathBuf};

fn job(learner: Learner) -> TrainJob {
    let cluster = ClusterSpec::default();
    TrainJob {
        learner,
        traces: vec![Trace::diurnal(1).scaled_to_peak(900.0)],
        scenario: (
            "inline".into(),
            toml::from_str("[random]\nmean_interval = \"30m\"").expect("scenario"),
        ),
        cluster,
        episode_hours: 1.0,
        safety: SafetyConfig::default(),
        options: TwinOptions::default(),
        seed: 3,
        replica_minute_cost: medic_decide::lab::objective::REPLICA_MINUTE_COST,
        remedies: Remedies::Learned,
    }
}

/// A directory of its own for one policy, removed when dropped.
struct TempDir(PathBuf);

impl std::ops::Deref for TempDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn temp_dir(name: &str) -> TempDir {
    let dir = std::env::temp_dir().join(format!("medic-policy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    TempDir(dir)
}

fn tiny_ppo() -> Learner {
    Learner::Ppo(PpoConfig {
        iterations: 2,
        rollout_steps: 120,
        minibatch: 64,
        ..PpoConfig::default()
    })
}

fn views_of_a_day() -> Vec<medic_decide::lab::twin::DeploymentView> {
    let scenario: Scenario = toml::from_str("[random]\nmean_interval = \"1h\"").expect("scenario");
    let cluster = ClusterSpec::default();
    let plan = scenario.plan(&cluster, 9, 7_200.0).expect("plan");
    let mut twin = medic_decide::lab::twin::Twin::new(
        cluster,
        Trace::diurnal(1).scaled_to_peak(900.0),
        plan,
        7_200.0,
        TwinOptions::default(),
    );
    let mut views = Vec::new();
    while !twin.done() {
        twin.step(&[]);
        views.extend(twin.views());
    }
    views
}

#[test]
fn ppo_trains_deterministically_saves_and_acts_with_explanations() {
    let (a, b) = (temp_dir("ppo-a"), temp_dir("ppo-b"));
    let card = train_policy(&job(tiny_ppo()), &a, &mut |_| {}).expect("trains");
    assert_eq!(card["history"].as_array().map(Vec::len), Some(2), "{card}");
    train_policy(&job(tiny_ppo()), &b, &mut |_| {}).expect("trains");
    let (pa, pb) = (
        LearnedPolicy::load(&a).expect("loads"),
        LearnedPolicy::load(&b).expect("loads"),
    );
    assert_eq!(
        pa.spec().fingerprint,
        pb.spec().fingerprint,
        "same seed, same weights"
    );
    // The replica price is in the reward (and on the card): another price, other weights.
    let cheap = temp_dir("ppo-cheap");
    let priced = TrainJob {
        replica_minute_cost: 0.001,
        ..job(tiny_ppo())
    };
    let card = train_policy(&priced, &cheap, &mut |_| {}).expect("trains");
    assert_eq!(card["objective"]["replica_minute_cost"], 0.001);
    let cheap_policy = LearnedPolicy::load(&cheap).expect("loads");
    assert_ne!(cheap_policy.spec().fingerprint, pa.spec().fingerprint);
    // Trained with the remedy table answering confident diagnoses: saved, and served, so.
    let table = temp_dir("ppo-table");
    let tabled = TrainJob {
        remedies: Remedies::Table,
        ..job(tiny_ppo())
    };
    let card = train_policy(&tabled, &table, &mut |_| {}).expect("trains");
    assert_eq!(card["remedies"], "table");
    let tabled = LearnedPolicy::load(&table).expect("loads");
    assert_eq!(tabled.spec().remedies, Remedies::Table);
    assert_eq!(tabled.spec().format, "medic-policy@2");
    assert_eq!(pa.spec().remedies, Remedies::Learned);
    let spec_text = std::fs::read_to_string(a.join("spec.json")).expect("spec");
    assert!(
        !spec_text.contains("remedies") && spec_text.contains("medic-policy@1"),
        "a learned-remedies spec reads as the ones saved before the setting: {spec_text}"
    );
    let served = medic_decide::PolicyNet::load(&table).expect("serves");
    let mut remedied = 0;
    for view in views_of_a_day() {
        let (action, scores) = served.scores(&view, 0);
        if let Some(remedy) = medic_decide::features::table_remedy(&view) {
            assert_eq!(action, remedy, "{view:?}");
            assert!((scores[remedy] - 1.0).abs() < 1e-6, "{scores:?}");
            remedied += 1;
        }
    }
    assert!(remedied > 0, "the day's faults were diagnosed");
    // Serving reads the weights without candle: the very network candle trained.
    let spec = pa.spec().clone();
    let mut varmap = candle_nn::VarMap::new();
    let mlp = medic_decide::lab::rl::Mlp::new(
        &varmap,
        &spec.network,
        &spec.sizes,
        &mut schemas::rng::Rng::new(0),
        1.0,
    )
    .expect("mlp");
    varmap
        .load(a.join("model.safetensors"))
        .expect("candle loads");
    let served = medic_decide::PlainMlp::from_safetensors(
        &std::fs::read(a.join("model.safetensors")).expect("weights"),
        &spec.network,
        &spec.sizes,
    )
    .expect("plain loads");
    assert_eq!(served, mlp.to_plain().expect("plain"));
    assert!(
        medic_decide::PlainMlp::from_safetensors(b"not weights", "policy", &spec.sizes).is_err()
    );
    let mut policy = pa;
    let cluster = medic_decide::lab::twin::ClusterView::default();
    for view in views_of_a_day().chunks(3).take(50) {
        for proposal in policy.propose(view, &cluster) {
            let total: f64 = proposal.explanation.scores.iter().map(|(_, p)| p).sum();
            assert!(
                (total - 1.0).abs() < 1e-4,
                "PPO scores are probabilities: {total}"
            );
            assert!(proposal.explanation.policy_id.starts_with("ppo@"));
            assert!(!proposal.explanation.inputs.is_empty());
        }
    }
    std::fs::write(
        a.join("spec.json"),
        "{\"format\":\"medic-policy@1\",\"algo\":\"ppo\"}",
    )
    .expect("write");
    assert!(
        LearnedPolicy::load(&a).is_err(),
        "a damaged spec is refused"
    );
}

#[test]
fn distributed_dqn_fills_one_replay_buffer_from_several_actors() {
    let dir = temp_dir("dqn");
    let config = DqnConfig {
        total_steps: 1_500,
        actors: 2,
        learn_start: 300,
        batch: 32,
        ..DqnConfig::default()
    };
    let card = train_policy(&job(Learner::Dqn(config)), &dir, &mut |_| {}).expect("trains");
    let history = card["history"].as_array().expect("history");
    assert!(!history.is_empty());
    let episodes = history
        .last()
        .and_then(|h| h["episodes"].as_u64())
        .unwrap_or(0);
    // 1-hour episodes of 120 steps: 1 500 steps end at least 11 episodes, whichever actor ran them.
    assert!(episodes >= 11, "{episodes} episodes");
    let policy = LearnedPolicy::load(&dir).expect("loads");
    assert!(policy.id().starts_with("dqn@"));
}

#[test]
fn rules_calibration_picks_the_cheapest_target() {
    let dir = temp_dir("rules");
    let card = train_policy(&job(Learner::Rules), &dir, &mut |_| {}).expect("calibrates");
    let grid: Vec<(f64, f64)> = serde_json::from_value(card["grid"].clone()).expect("grid");
    let best = grid
        .iter()
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("non-empty")
        .0;
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("spec.json")).expect("spec"))
            .expect("json");
    assert_eq!(spec["target"].as_f64(), Some(best));
    let loaded = load_controller(dir.to_str().expect("utf-8"), Path::new("models")).expect("loads");
    assert!(loaded.id().starts_with("rules@"));
    // Remedies are a setting of the learners: the rules refuse it rather than record it unused.
    let tabled = TrainJob {
        remedies: Remedies::Table,
        ..job(Learner::Rules)
    };
    let refused = train_policy(&tabled, &temp_dir("rules-table"), &mut |_| {});
    assert!(refused.is_err_and(|e| e.to_string().contains("setting of ppo and dqn")));
}

#[test]
fn committed_policies_recover_what_kubernetes_alone_leaves_broken() {
    let models = Path::new(env!("CARGO_MANIFEST_DIR")).join("../models");
    let rows = demo_comparison(&models);
    let hpa = rows[0].1.as_ref().expect("hpa runs");
    assert!(
        hpa.unrecovered > 0,
        "the HPA never fixes a leak or a bad rollout: {hpa:?}"
    );
    for (policy, report) in &rows[2..] {
        let report = report.as_ref().unwrap_or_else(|e| panic!("{policy}: {e}"));
        assert_eq!(report.unrecovered, 0, "{policy}: {report:?}");
        assert!(report.mttr_s < hpa.mttr_s / 4.0, "{policy}: {report:?}");
        assert!(
            report.sla_violation_minutes < hpa.sla_violation_minutes / 4.0,
            "{policy}: {report:?}"
        );
    }
}

#[test]
fn a_policy_trained_here_runs_through_the_episode_loop() {
    let dir = temp_dir("ppo-episode");
    train_policy(&job(tiny_ppo()), &dir, &mut |_| {}).expect("trains");
    let mut policy = LearnedPolicy::load(&dir).expect("loads");
    let setup = TrainingSetup {
        cluster: ClusterSpec::default(),
        traces: vec![Trace::diurnal(1).scaled_to_peak(900.0)],
        scenario: Scenario::default(),
        episode_secs: 3_600.0,
        safety: SafetyConfig::default(),
        options: TwinOptions::default(),
        replica_minute_cost: medic_decide::lab::objective::REPLICA_MINUTE_COST,
        remedies: Remedies::Learned,
    };
    let spec: EpisodeSpec = setup.draw(&mut schemas::rng::Rng::new(1));
    let report = run_episode(&spec, &mut policy, &SafetyConfig::default(), |_, p| {
        assert!(!p.explanation.summary().is_empty());
    });
    assert!(report.minutes > 0.0);
}

#[test]
fn training_observations_carry_the_policys_remedies() {
    use medic_decide::features::{ACTION_NAMES, N_ACTIONS, action_mask, table_remedy};
    use medic_decide::lab::rl::env::Observation;
    // A fault the table remedies, then one it answers with a page.
    let scenario: Scenario = toml::from_str(
        "[[fault]]\nkind = \"memory_leak\"\nat = \"5m\"\ndeployment = \"checkout\"\n\
         [[fault]]\nkind = \"dependency_outage\"\nat = \"20m\"\ndeployment = \"frontend\"\nduration = \"30m\"",
    )
    .expect("scenario");
    let setup = |remedies| {
        let job = job(tiny_ppo());
        std::sync::Arc::new(TrainingSetup {
            cluster: job.cluster,
            traces: job.traces,
            scenario: scenario.clone(),
            episode_secs: 3_600.0,
            safety: job.safety,
            options: job.options,
            replica_minute_cost: job.replica_minute_cost,
            remedies,
        })
    };
    let mut envs: Vec<_> = [Remedies::Learned, Remedies::Table, Remedies::TableFixes]
        .into_iter()
        .map(|remedies| medic_decide::lab::rl::Env::new(setup(remedies), 5))
        .collect();
    let mut answered = [0usize; 2];
    for _ in 0..120 {
        let observed: Vec<_> = envs
            .iter()
            .map(medic_decide::lab::rl::Env::observations)
            .collect();
        // The same episode in each (same seed, no-ops): only the masks differ.
        assert_eq!(observed[0].len(), observed[1].len());
        for (agent, views) in envs[0].views().iter().enumerate() {
            let allowed = |o: &[Observation]| -> Vec<&str> {
                (0..N_ACTIONS)
                    .filter(|&a| o[agent].1[a])
                    .map(|a| ACTION_NAMES[a])
                    .collect()
            };
            match table_remedy(views) {
                Some(remedy) => {
                    assert_eq!(allowed(&observed[1]), [ACTION_NAMES[remedy]]);
                    answered[0] += 1;
                    if ACTION_NAMES[remedy] == "escalate" {
                        // A page leaves capacity to the network, and no other remedy.
                        let capacity_or_page: Vec<&str> = (0..N_ACTIONS)
                            .filter(|&a| action_mask(views)[a] && (a < 5 || a == 9))
                            .map(|a| ACTION_NAMES[a])
                            .collect();
                        assert_eq!(allowed(&observed[2]), capacity_or_page);
                        assert!(capacity_or_page.contains(&"noop"));
                        answered[1] += 1;
                    } else {
                        assert_eq!(allowed(&observed[2]), [ACTION_NAMES[remedy]]);
                    }
                }
                None => {
                    assert_eq!(allowed(&observed[1]), allowed(&observed[0]));
                    assert_eq!(allowed(&observed[2]), allowed(&observed[0]));
                }
            }
        }
        for env in &mut envs {
            let noops = vec![0; env.agents()];
            env.step(&noops);
        }
    }
    assert!(
        answered[0] > answered[1] && answered[1] > 0,
        "both faults were diagnosed: {answered:?}"
    );
}
