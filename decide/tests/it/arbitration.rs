//! Property: whatever a policy proposes, in any order, the arbiter never lets a command through that
//! breaks a safety rule.

use medic_decide::lab::arbitration::{Arbiter, SafetyConfig};
use medic_decide::lab::control::{Explanation, Proposal};
use medic_decide::lab::twin::{ClusterView, DeploymentView, Signal, TwinAction, TwinCommand};
use proptest::prelude::*;
use schemas::FaultClass;

const DEPLOYMENTS: usize = 3;
const NODES: usize = 4;

#[derive(Debug, Clone)]
struct Step {
    advance_secs: u32,
    deployment: usize,
    action: TwinAction,
    fault: FaultClass,
    confidence: f64,
    desired: u32,
    serving: u32,
    unschedulable: [bool; NODES],
}

fn action() -> impl Strategy<Value = TwinAction> {
    prop_oneof![
        Just(TwinAction::Noop),
        (-6i32..=6).prop_map(TwinAction::Scale),
        Just(TwinAction::RestartPod),
        Just(TwinAction::RolloutRestart),
        Just(TwinAction::Rollback),
        (0usize..NODES).prop_map(TwinAction::Cordon),
        (0usize..NODES).prop_map(TwinAction::CordonDrain),
        Just(TwinAction::Escalate),
    ]
}

fn step() -> impl Strategy<Value = Step> {
    (
        prop_oneof![Just(0u32), Just(30), Just(30), Just(60), Just(600)],
        0usize..DEPLOYMENTS,
        action(),
        prop::sample::select(FaultClass::ALL.to_vec()),
        0.0f64..1.0,
        1u32..14,
        0u32..14,
        prop::array::uniform4(prop::bool::weighted(0.2)),
    )
        .prop_map(
            |(
                advance_secs,
                deployment,
                action,
                fault,
                confidence,
                desired,
                serving,
                unschedulable,
            )| Step {
                advance_secs,
                deployment,
                action,
                fault,
                confidence,
                desired,
                serving: serving.min(desired),
                unschedulable,
            },
        )
}

fn view(s: &Step, at_secs: f64) -> DeploymentView {
    DeploymentView {
        deployment: s.deployment,
        at_secs,
        desired: s.desired,
        serving: s.serving,
        starting: s.desired - s.serving,
        crashing: 0,
        pending: 0,
        min_replicas: 2,
        max_replicas: 12,
        pod_rps: 100.0,
        demand_rps: 500.0,
        served_rps: 400.0,
        demand_rps_1m: 500.0,
        demand_rps_5m: 500.0,
        capacity_rps: 600.0,
        cpu_utilisation: 0.7,
        p95_ms: 100.0,
        sla_p95_ms: 250.0,
        error_rate: 0.0,
        violated: false,
        signal: Some(Signal {
            fault: s.fault,
            confidence: s.confidence,
            node: Some(1),
        }),
        troubled_node: None,
        schedulable_nodes: 1.0,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn no_sequence_of_proposals_breaks_a_rule(steps in prop::collection::vec(step(), 1..120)) {
        let config = SafetyConfig::default();
        let mut arbiter = Arbiter::new(config.clone());
        let mut now = 0.0;
        let mut applied: Vec<(f64, usize, TwinAction)> = Vec::new();
        for s in &steps {
            now += f64::from(s.advance_secs);
            let v = view(s, now);
            let cluster = ClusterView {
                schedulable: s.unschedulable.iter().map(|u| !u).collect(),
                ready: vec![true; NODES],
                pods_on_node: vec![vec![3; NODES]; DEPLOYMENTS],
            };
            let proposal = Proposal {
                command: TwinCommand { deployment: s.deployment, action: s.action },
                explanation: Explanation::default(),
            };
            let out = arbiter.review(proposal, &v, &cluster).command.action;
            // Bounds.
            if let TwinAction::Scale(delta) = out {
                let after = i64::from(s.desired) + i64::from(delta);
                prop_assert!((2..=12).contains(&after), "scale {delta} from {} leaves bounds", s.desired);
            }
            // Nothing disruptive on an uncertain or healthy diagnosis.
            if out.disrupts() {
                prop_assert!(s.confidence >= config.min_confidence && s.fault != FaultClass::Normal,
                    "{out:?} on {} {:.2}", s.fault, s.confidence);
            }
            // Node blast radius.
            if let Some(n) = out.node() {
                let after = s.unschedulable.iter().enumerate().filter(|(i, u)| **u || *i == n).count();
                prop_assert!(after as f64 / NODES as f64 <= config.max_unschedulable_node_share);
            }
            // Restarts never take a whole serving set out.
            if out == TwinAction::RestartPod && s.serving == s.desired {
                prop_assert!(1.0 / f64::from(s.serving.max(1)) <= config.max_disruption_share);
            }
            // Recovery before scaling, either way.
            if matches!(out, TwinAction::Scale(_)) && s.confidence >= config.min_confidence {
                prop_assert!(!matches!(s.fault, FaultClass::Oom | FaultClass::CrashLoop | FaultClass::NodeFailure | FaultClass::DiskPressure));
            }
            if out != TwinAction::Noop {
                applied.push((now, s.deployment, out));
            }
        }
        for (i, (t, d, a)) in applied.iter().enumerate() {
            let earlier = &applied[..i];
            // Cooldowns per deployment (pod-level disruption) and per node.
            if a.disrupts() {
                for (t0, d0, a0) in earlier.iter().filter(|(_, _, a0)| a0.disrupts()) {
                    let same = match (a.node(), a0.node()) {
                        (Some(n), Some(n0)) => n == n0,
                        (None, None) => d == d0,
                        _ => false,
                    };
                    prop_assert!(!same || t - t0 >= config.cooldown_secs, "{a0:?}@{t0} then {a:?}@{t}");
                }
            }
            // One page per deployment per interval.
            if *a == TwinAction::Escalate {
                for (t0, _, _) in earlier.iter().filter(|(_, d0, a0)| d0 == d && *a0 == TwinAction::Escalate) {
                    prop_assert!(t - t0 >= config.escalation_interval_secs);
                }
            }
            // Rate limits.
            if a.acts() {
                let hour = earlier.iter().filter(|(t0, d0, a0)| d0 == d && a0.acts() && t - t0 < 3_600.0).count();
                prop_assert!(hour < config.max_actions_per_hour);
                let minute = earlier.iter().filter(|(t0, _, a0)| a0.acts() && t - t0 < 60.0).count();
                prop_assert!(minute < config.max_actions_per_minute);
            }
            // Scale-in waits after a scale-out.
            if matches!(a, TwinAction::Scale(x) if *x < 0) {
                for (t0, _, _) in earlier.iter().filter(|(_, d0, a0)| d0 == d && matches!(a0, TwinAction::Scale(x) if *x > 0)) {
                    prop_assert!(t - t0 >= config.scale_in_delay_secs);
                }
            }
        }
    }
}

#[test]
fn an_action_recorded_again_does_not_move_its_time_back() {
    let config = SafetyConfig::default();
    let mut arbiter = Arbiter::new(config.clone());
    let step = Step {
        advance_secs: 0,
        deployment: 0,
        action: TwinAction::Escalate,
        fault: FaultClass::Oom,
        confidence: 0.9,
        desired: 4,
        serving: 4,
        unschedulable: [false; NODES],
    };
    let cluster = ClusterView {
        schedulable: vec![true; NODES],
        ready: vec![true; NODES],
        pods_on_node: vec![vec![1; NODES]; DEPLOYMENTS],
    };
    let paged = 10_000.0;
    arbiter.record(TwinAction::Escalate, &view(&step, paged));
    // An earlier page, recorded again (its diagnosis delivered again after a restart).
    arbiter.record(TwinAction::Escalate, &view(&step, 100.0));
    let soon = view(&step, paged + config.escalation_interval_secs - 1.0);
    let (out, notes) = arbiter.assess(TwinAction::Escalate, &soon, &cluster);
    assert_eq!(out, TwinAction::Noop, "{notes:?}");
    let (out, _) = arbiter.assess(
        TwinAction::Escalate,
        &view(&step, paged + config.escalation_interval_secs),
        &cluster,
    );
    assert_eq!(out, TwinAction::Escalate);
}
