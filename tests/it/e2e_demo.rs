//! `medic demo` — the README's first command — closes the loop on its own and prints the timeline, with
//! the learned policy (PPO) deciding in the rules' shadow.

use std::process::Command;

#[test]
fn demo_closes_the_loop_and_prints_a_timeline() {
    let _machine = super::common::share_machine();
    let output = Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(["demo", "--timeout-secs", "100"])
        .output()
        .expect("medic demo starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "medic demo failed\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );

    // The incident is diagnosed, decided on, commanded and the command's result reported.
    for expected in [
        "DIAGNOSIS  shop/Deployment/checkout",
        "oom (severity High",
        "DECISION   shop/Deployment/checkout           rollout_restart [rules@1]",
        "COMMAND    shop/Deployment/checkout           rollout_restart",
        "RESULT     shop/Deployment/checkout           Logged: log mode: would rollout_restart",
    ] {
        assert!(
            stdout.contains(expected),
            "missing {expected:?} in:\n{stdout}"
        );
    }
    // The first thing medic does is the OOM's remedy: no Normal event ("image … already present on
    // machine") and no INFO line alone makes a diagnosis that acts first.
    let first_command = stdout.lines().find(|l| l.contains("COMMAND"));
    assert!(
        first_command
            .is_some_and(|l| l.contains("shop/Deployment/checkout           rollout_restart")),
        "first command {first_command:?} in:\n{stdout}"
    );
    assert!(!stdout.contains("image_pull"), "{stdout}");
    // The learned policy decides each diagnosis in the rules' shadow, under its own policy id, on the
    // Deployment's state as the observer wrote it at the diagnosis' time; nothing it decides is acted on.
    let shadows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("SHADOW "))
        .collect();
    let diagnoses = stdout.lines().filter(|l| l.contains("DIAGNOSIS")).count();
    assert_eq!(shadows.len(), diagnoses, "{stdout}");
    assert!(
        shadows
            .iter()
            .all(|l| l.contains("[ppo@") && l.ends_with("not acted on")),
        "{stdout}"
    );
    assert!(stdout.contains("15 workload states"), "{stdout}");
    assert!(
        stdout.contains("[cluster, 15s before: 2/2 ready; replicas 1..10"),
        "the first decision reads the state of 09:04:45, not a later one: {stdout}"
    );
    assert_eq!(stdout.matches("COMMAND").count(), 1, "{stdout}");
    // No rollback without a recent rollout (the Deployment's last was 12 days before), from either.
    assert!(!stdout.contains("rollback"), "{stdout}");
    // The cooldown holds back a second action on the same Deployment within 300 s.
    assert!(stdout.contains("noop [rules@1]"), "{stdout}");
    // Every record fed is ingested; nothing is dead-lettered.
    assert!(stdout.contains("fed        442 records"), "{stdout}");
    assert!(
        stdout.contains("ingest     442 in →  434 log_record out, 0 dead-lettered"),
        "{stdout}"
    );
}
