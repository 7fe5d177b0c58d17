//! Behaviour of the digital twin: determinism, load and latency, and each fault with its right and
//! wrong remedies.

use medic_decide::lab::arbitration::SafetyConfig;
use medic_decide::lab::baselines::{Hpa, HpaConfig};
use medic_decide::lab::control::{Controller, EpisodeSpec, Explanation, Proposal, run_episode};
use medic_decide::lab::twin::{
    ClusterSpec, ClusterView, DeploymentView, EventKind, FaultKind, PlannedFault, Scenario, Trace,
    Twin, TwinAction, TwinCommand, TwinOptions,
};

fn flat_trace(rps: f64, hours: usize) -> Trace {
    Trace {
        source: "flat".into(),
        step_secs: 60.0,
        rps: vec![rps; hours * 60 + 1],
    }
}

fn fault(
    kind: FaultKind,
    at_secs: f64,
    deployment: Option<usize>,
    node: Option<usize>,
) -> PlannedFault {
    PlannedFault {
        kind,
        at_secs,
        duration_secs: kind.default_duration_secs(),
        deployment,
        node,
        factor: 3.0,
    }
}

fn spec(plan: Vec<PlannedFault>, rps: f64, hours: usize) -> EpisodeSpec {
    EpisodeSpec {
        cluster: ClusterSpec::default(),
        trace: flat_trace(rps, hours),
        plan,
        horizon_secs: hours as f64 * 3_600.0,
        options: TwinOptions {
            diagnosis_error: 0.0,
            ..TwinOptions::default()
        },
    }
}

/// Does nothing, except one scripted command at a time.
struct Script(Vec<(f64, TwinCommand)>);

impl Controller for Script {
    fn id(&self) -> String {
        "script".into()
    }
    fn propose(&mut self, views: &[DeploymentView], _cluster: &ClusterView) -> Vec<Proposal> {
        let now = views[0].at_secs;
        let due: Vec<_> = self
            .0
            .iter()
            .filter(|(t, _)| *t <= now)
            .map(|(_, c)| *c)
            .collect();
        self.0.retain(|(t, _)| *t > now);
        due.into_iter()
            .map(|command| Proposal {
                command,
                explanation: Explanation::default(),
            })
            .collect()
    }
    fn arbitrated(&self) -> bool {
        false
    }
}

fn run(
    spec: &EpisodeSpec,
    script: Vec<(f64, TwinCommand)>,
) -> medic_decide::lab::twin::EpisodeReport {
    run_episode(
        spec,
        &mut Script(script),
        &SafetyConfig::default(),
        |_, _| {},
    )
}

#[test]
fn a_quiet_cluster_meets_its_sla_and_an_overloaded_one_does_not() {
    let quiet = run(&spec(vec![], 300.0, 2), vec![]);
    assert_eq!(quiet.sla_violation_minutes, 0.0, "{quiet:?}");
    assert!(
        quiet.mean_cpu_utilisation > 0.3 && quiet.mean_cpu_utilisation < 0.9,
        "{quiet:?}"
    );
    // frontend: 6 pods × 100 rps; 700 rps cannot be served.
    let overloaded = run(&spec(vec![], 700.0, 2), vec![]);
    assert!(overloaded.sla_violation_minutes >= 119.0, "{overloaded:?}");
    assert!(overloaded.error_rate > 0.05);
    // …but the HPA scales it out.
    let mut hpa = Hpa::new(HpaConfig::default());
    let scaled = run_episode(
        &spec(vec![], 700.0, 2),
        &mut hpa,
        &SafetyConfig::default(),
        |_, _| {},
    );
    assert!(scaled.sla_violation_minutes < 10.0, "{scaled:?}");
    assert!(scaled.replica_minutes > quiet.replica_minutes);
}

#[test]
fn runs_repeat_with_the_seed() {
    let scenario: Scenario = toml::from_str("[random]\nmean_interval = \"1h\"").expect("parses");
    let cluster = ClusterSpec::default();
    let report = |seed| {
        let mut s = spec(
            scenario.plan(&cluster, seed, 6.0 * 3_600.0).expect("plan"),
            350.0,
            6,
        );
        s.options.seed = seed;
        s.options.diagnosis_error = 0.1;
        run_episode(
            &s,
            &mut Hpa::new(HpaConfig::default()),
            &SafetyConfig::default(),
            |_, _| {},
        )
    };
    assert_eq!(report(5), report(5));
    assert_ne!(report(5), report(6));
}

#[test]
fn a_memory_leak_crash_loops_until_a_rollout_restart() {
    let leak = || {
        spec(
            vec![fault(FaultKind::MemoryLeak, 600.0, Some(2), None)],
            300.0,
            3,
        )
    };
    let untreated = run(&leak(), vec![]);
    assert_eq!(
        (untreated.faults, untreated.unrecovered),
        (1, 1),
        "{untreated:?}"
    );
    let restart = TwinCommand {
        deployment: 2,
        action: TwinAction::RolloutRestart,
    };
    let treated = run(&leak(), vec![(1_800.0, restart)]);
    assert_eq!(treated.unrecovered, 0, "{treated:?}");
    assert!(treated.mttr_s < 1_800.0, "{treated:?}");
    let mut twin = Twin::new(
        ClusterSpec::default(),
        flat_trace(300.0, 2),
        vec![fault(FaultKind::MemoryLeak, 0.0, Some(2), None)],
        7_200.0,
        TwinOptions {
            record_events: true,
            ..TwinOptions::default()
        },
    );
    while !twin.done() {
        twin.step(&[]);
    }
    let ooms = twin
        .take_events()
        .iter()
        .filter(|e| matches!(e.kind, EventKind::OomKilled { .. }))
        .count();
    assert!(ooms >= 3, "{ooms} OOM kills in 2 h of leaking");
}

#[test]
fn a_bad_rollout_needs_a_rollback_and_a_restart_makes_it_worse() {
    let bad = || {
        spec(
            vec![fault(FaultKind::BadRollout, 600.0, Some(0), None)],
            450.0,
            2,
        )
    };
    let rollback = run(
        &bad(),
        vec![(
            900.0,
            TwinCommand {
                deployment: 0,
                action: TwinAction::Rollback,
            },
        )],
    );
    assert_eq!(rollback.unrecovered, 0, "{rollback:?}");
    let restart = run(
        &bad(),
        vec![(
            900.0,
            TwinCommand {
                deployment: 0,
                action: TwinAction::RolloutRestart,
            },
        )],
    );
    assert_eq!(restart.unrecovered, 1, "{restart:?}");
    assert!(
        restart.sla_violation_minutes > rollback.sla_violation_minutes,
        "{restart:?} vs {rollback:?}"
    );
}

#[test]
fn a_drain_recovers_a_failed_node_faster_than_taint_eviction() {
    let down = || {
        spec(
            vec![fault(FaultKind::NodeFailure, 600.0, None, Some(1))],
            450.0,
            2,
        )
    };
    let evicted = run(&down(), vec![]);
    assert_eq!(
        evicted.unrecovered, 0,
        "Kubernetes evicts after 300 s: {evicted:?}"
    );
    assert!(evicted.mttr_s >= 300.0, "{evicted:?}");
    let drained = run(
        &down(),
        vec![(
            660.0,
            TwinCommand {
                deployment: 0,
                action: TwinAction::CordonDrain(1),
            },
        )],
    );
    assert!(
        drained.mttr_s < evicted.mttr_s,
        "{drained:?} vs {evicted:?}"
    );
}

#[test]
fn an_escalation_brings_the_right_fix_after_the_response_delay() {
    let bad = spec(
        vec![fault(FaultKind::BadRollout, 600.0, Some(1), None)],
        300.0,
        2,
    );
    let escalated = run(
        &bad,
        vec![(
            660.0,
            TwinCommand {
                deployment: 1,
                action: TwinAction::Escalate,
            },
        )],
    );
    assert_eq!(
        (escalated.escalations, escalated.unrecovered),
        (1, 0),
        "{escalated:?}"
    );
    assert!(
        escalated.mttr_s >= 900.0 && escalated.mttr_s < 1_400.0,
        "{escalated:?}"
    );
}

#[test]
fn a_spike_beyond_the_replica_ceiling_is_not_counted_as_fixable() {
    // checkout (deployment 2): 20 % of the traffic, at most 16 pods of 50 requests/s, whose p95 stays
    // under 250 ms up to about 590 requests/s. From 300 requests/s, × 3 is 180 on checkout (an HPA
    // scales it away); × 12 is 720, more than 16 pods serve within the SLA.
    let spike = |factor| {
        let mut fault = fault(FaultKind::TrafficSpike, 600.0, Some(2), None);
        fault.factor = factor;
        fault
    };
    let with_hpa = |plan| {
        run_episode(
            &spec(plan, 300.0, 2),
            &mut Hpa::new(HpaConfig::default()),
            &SafetyConfig::default(),
            |_, _| {},
        )
    };
    let modest = with_hpa(vec![spike(3.0)]);
    assert_eq!(modest.recoveries.len(), 1, "{modest:?}");
    assert!(modest.recoveries[0].recovered && modest.recoveries[0].fixable);
    assert_eq!(
        (
            modest.spikes_beyond_ceiling,
            modest.sla_minutes_beyond_ceiling
        ),
        (0, 0.0)
    );
    assert_eq!(modest.mttr_fixable_s, modest.mttr_s);

    // With a dependency outage on frontend at the same time: neither is fixable.
    let outage = fault(FaultKind::DependencyOutage, 600.0, Some(0), None);
    let beyond = with_hpa(vec![spike(12.0), outage]);
    assert!(
        beyond.recoveries.iter().all(|r| !r.fixable),
        "{:?}",
        beyond.recoveries
    );
    let recovery = &beyond.recoveries[0];
    // It lasts as long as its cause (30 minutes) although the HPA scales checkout out.
    assert!(recovery.recovery_s >= 1_800.0, "{recovery:?}");
    assert_eq!(beyond.spikes_beyond_ceiling, 1);
    assert_eq!(beyond.mttr_fixable_s, 0.0, "no fixable fault");
    // Checkout's SLA is violated the whole 30 minutes; only the first 15 (a page's answer time) count as
    // minutes no action fixes. Frontend's outage minutes are counted as such.
    let response_min = TwinOptions::default().human_response_secs / 60.0;
    assert!(
        (beyond.sla_minutes_beyond_ceiling - response_min).abs() <= 1.0,
        "{beyond:?}"
    );
    assert!(
        beyond.sla_minutes_in_dependency_outages >= 14.0
            && beyond.sla_violation_minutes >= 29.0 + beyond.sla_minutes_in_dependency_outages,
        "{beyond:?}"
    );

    // An outage on checkout itself, over the spike's first 15 minutes: those are outage minutes, not
    // counted twice, and the rest of the spike is fixable (by a page).
    let both = with_hpa(vec![
        spike(12.0),
        fault(FaultKind::DependencyOutage, 600.0, Some(2), None),
    ]);
    assert_eq!(both.sla_minutes_beyond_ceiling, 0.0, "{both:?}");
    assert!(
        (both.sla_minutes_in_dependency_outages - response_min).abs() <= 1.0
            && both.sla_violation_minutes >= 29.0,
        "{both:?}"
    );

    // …because a paged human scales past max_replicas: paged at once, the spike ends in about the
    // human's response time.
    let paged = run(
        &spec(vec![spike(12.0)], 300.0, 2),
        vec![(
            660.0,
            TwinCommand {
                deployment: 2,
                action: TwinAction::Escalate,
            },
        )],
    );
    let recovery = &paged.recoveries[0];
    assert!(recovery.recovered && !recovery.fixable, "{recovery:?}");
    assert!(
        recovery.recovery_s < 1_200.0 && recovery.recovery_s >= response_min * 60.0,
        "{recovery:?}"
    );
}
