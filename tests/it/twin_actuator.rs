//! The actuator of `act` on decide's digital twin (the `Actuate` trait from `schemas`, wired here as the
//! `medic` binary wires it): a signed command goes through the same checks as against Kubernetes, is
//! applied to the simulated cluster, and is verified in simulated time; the twin records the recovery.

use act::{ActConfig, Signer};
use decide::lab::twin::{ClusterSpec, Scenario, Trace, Twin, TwinBackend, TwinOptions};
use schemas::{Action, ActionOutcome, RemediationCommand, Target};
use std::sync::{Arc, Mutex};

fn command(keys: &Signer, id: &str, action: Action) -> RemediationCommand {
    let catalog = Target::deployment("shop", "catalog");
    act::direct_command(keys, id, catalog, action, 600, "bad rollout", "test")
}

#[test]
fn a_rollback_through_the_actuator_recovers_the_twin() {
    let cluster = ClusterSpec::default();
    let scenario: Scenario = toml::from_str(
        "[[fault]]\nkind = \"bad_rollout\"\nat = \"10m\"\ndeployment = \"catalog\"\n",
    )
    .expect("scenario");
    let plan = scenario.plan(&cluster, 1, 7_200.0).expect("plan");
    let trace = Trace::diurnal(1).scaled_to_peak(300.0);
    let twin = Arc::new(Mutex::new(Twin::new(
        cluster,
        trace,
        plan,
        7_200.0,
        TwinOptions::default(),
    )));
    {
        let mut twin = twin.lock().expect("twin");
        while twin.now() < 1_500.0 {
            twin.step(&[]);
        }
        let report = twin.report();
        assert_eq!(
            (report.faults, report.unrecovered),
            (1, 1),
            "the bad rollout is open"
        );
    }

    let dir = std::env::temp_dir().join(format!("medic-twin-act-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (keys, _) = testkit::commands::keys(&dir);
    let config = ActConfig {
        keys_file: Some(dir.join("keys")),
        verify_timeout: schemas::span::Span::secs(1_800),
        verify_interval: schemas::span::Span::secs(30),
        ..ActConfig::default()
    };
    let mut actuator = config
        .build_actuator_on(Some(Box::new(TwinBackend::new(Arc::clone(&twin)))))
        .expect("actuator");
    assert_eq!(actuator.mode(), "twin");

    // A forged command is refused before the twin sees it.
    let mut forged = command(&keys, "t-forged", Action::Rollback);
    forged.action = Action::ScaleTo { replicas: 1 };
    assert_eq!(
        actuator.handle(forged).expect_err("forged").reason,
        "forged"
    );
    let actions_before = twin.lock().expect("twin").report().actions;
    assert_eq!(actions_before, 0);

    let handled = actuator
        .handle(command(&keys, "t-rollback", Action::Rollback))
        .expect("handled");
    assert_eq!(
        handled.result.outcome,
        ActionOutcome::Verified,
        "{}",
        handled.result.message
    );
    assert_eq!(handled.result.mode, "twin");
    let recovery_ms = handled.result.time_to_recover_ms.expect("time to recover");
    assert!(
        recovery_ms >= 30_000,
        "verified in simulated time: {recovery_ms} ms"
    );

    let report = twin.lock().expect("twin").report();
    assert_eq!(report.actions, 1, "applied once");
    assert_eq!(
        report.unrecovered, 0,
        "the twin saw the fault recover: {report:?}"
    );
    assert!(report.recoveries.iter().all(|r| r.recovered));
    // The replay of the same command is refused.
    assert_eq!(
        actuator
            .handle(command(&keys, "t-rollback", Action::Rollback))
            .expect_err("replay")
            .reason,
        "replayed"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// The observer reads the twin as it reads a cluster: for every step of a run with a bad rollout (rolled
/// back), a node failure and a disk filling up, each workload's state says what the learned policies' view of it says — the features
/// decide rebuilds from the records equal the twin's — and an observed twin runs exactly as an
/// unobserved one (the observer draws nothing and changes nothing).
#[test]
fn the_twin_observer_reports_what_the_policies_are_trained_on_and_changes_nothing() {
    use act::observe::{ObserveConfig, workload_states};
    use decide::features::{action_mask, features};
    use decide::lab::twin::{OBSERVER_TWIN, TwinObserver, snapshot};
    use decide::serving::{ServedWorkload, view_of};
    use schemas::Emitter;

    let cluster = ClusterSpec::default();
    let scenario: Scenario = toml::from_str(
        "[[fault]]\nkind = \"bad_rollout\"\nat = \"10m\"\ndeployment = \"catalog\"\n\n\
         [[fault]]\nkind = \"node_failure\"\nat = \"30m\"\nnode = \"node-2\"\n\n\
         [[fault]]\nkind = \"disk_pressure\"\nat = \"45m\"\nnode = \"node-3\"\n",
    )
    .expect("scenario");
    let plan = scenario.plan(&cluster, 1, 3_600.0).expect("plan");
    let trace = Trace::diurnal(1).scaled_to_peak(300.0);
    let run = || {
        Twin::new(
            cluster.clone(),
            trace.clone(),
            plan.clone(),
            3_600.0,
            TwinOptions::default(),
        )
    };
    let mut plain = run();
    let observed = Arc::new(Mutex::new(run()));
    let start = 1_700_000_000;
    let config = ObserveConfig::default();
    let mut stage = config.build_on(Box::new(TwinObserver::new(Arc::clone(&observed), start)));
    let (mut rolled_out, mut troubled, mut written) = (false, false, 0);
    let catalog = cluster
        .deployments
        .iter()
        .position(|d| d.name == "catalog")
        .expect("catalog");
    while !plain.done() {
        // At 20 minutes someone rolls the bad revision back: a third revision.
        let commands = if (plain.now() - 1_200.0).abs() < 1e-9 {
            vec![decide::lab::twin::TwinCommand {
                deployment: catalog,
                action: decide::lab::twin::TwinAction::Rollback,
            }]
        } else {
            Vec::new()
        };
        plain.step(&commands);
        observed.lock().expect("twin").step(&commands);
        let mut out = Emitter::new();
        written += stage.observe(0, &mut out);
        let twin = observed.lock().expect("twin");
        let states = workload_states(&snapshot(&twin, start), &config, OBSERVER_TWIN);
        drop(twin);
        let views = observed.lock().expect("twin").views();
        assert_eq!(views, plain.views(), "observing changed the run");
        for (state, view) in states.iter().zip(&views) {
            let at = format!("{} at {}s", state.target, view.at_secs);
            // Serving equals training: the features decide rebuilds from the records (and the
            // diagnosis) are the twin's own, bit for bit, as is the action mask.
            let deployment = &cluster.deployments[view.deployment];
            let served = ServedWorkload {
                pod_rps: deployment.pod_rps,
                sla_p95_ms: deployment.sla_p95_ms,
                max_error_rate: cluster.max_error_rate,
            };
            let rebuilt = view_of(&decode_again(state), view.signal, &served);
            for since in [0, 7, 40] {
                assert_eq!(features(&rebuilt, since), features(view, since), "{at}");
            }
            assert_eq!(action_mask(&rebuilt), action_mask(view), "{at}");
            assert_eq!(
                (state.pods.desired, state.pods.ready, state.pods.starting),
                (view.desired, view.serving, view.starting),
                "{at}"
            );
            assert_eq!(
                (state.pods.crash_looping, state.pods.pending),
                (view.crashing, view.pending),
                "{at}"
            );
            assert_eq!(
                (state.bounds.min, state.bounds.max),
                (view.min_replicas, view.max_replicas)
            );
            assert!(
                (state.cluster_nodes.unschedulable_share() - (1.0 - view.schedulable_nodes)).abs()
                    < 1e-9,
                "{at}"
            );
            assert_eq!(state.signals.demand_rps, Some(view.demand_rps), "{at}");
            assert_eq!(
                state.signals.demand_rps_5m,
                Some(view.demand_rps_5m),
                "{at}"
            );
            let troubled_here = state.nodes.iter().any(|n| !n.ready || n.disk_pressure);
            assert_eq!(troubled_here, view.troubled_node.is_some(), "{at}");
            troubled |= troubled_here;
            if let Some(rollout) = &state.last_rollout {
                assert_eq!(state.target.name, "catalog", "{at}");
                let expected = if view.at_secs <= 1_200.0 {
                    (2, start + 600)
                } else {
                    (3, start + 1_200)
                };
                assert_eq!(
                    (rollout.revision, rollout.at_ns / 1_000_000_000),
                    expected,
                    "{at}"
                );
                assert_eq!(rollout.image_changed, Some(true));
                rolled_out |= rollout.revision == 3;
            }
        }
        let at_ns = start * 1_000_000_000 + (views[0].at_secs * 1e9).round() as i64;
        for state in &states {
            assert_eq!(state.observed_at_ns, at_ns);
            assert_eq!(decode_again(state), *state);
        }
    }
    assert!(rolled_out && troubled, "the run shows both faults");
    assert!(written > 0);
}

/// `state` through its wire encoding.
fn decode_again(state: &schemas::WorkloadState) -> schemas::WorkloadState {
    schemas::decode_record(&schemas::encode_record(state).expect("encodes")).expect("decodes")
}
