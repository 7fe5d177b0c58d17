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
