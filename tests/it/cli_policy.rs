//! `medic eval policy`, `medic simulate` and `medic train policy` on a small trace.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn medic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medic"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("medic runs")
}

fn work_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("medic-cli-policy-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// Four hours of a per-minute request trace that doubles halfway.
fn trace(dir: &Path) -> String {
    let mut csv = String::from("minute,requests\n");
    for m in 0..240 {
        csv.push_str(&format!("{m},{}\n", if m < 120 { 400 } else { 800 }));
    }
    let path = dir.join("trace.csv");
    std::fs::write(&path, csv).expect("write trace");
    path.display().to_string()
}

fn ok(output: &Output) -> serde_json::Value {
    assert!(
        output.status.success(),
        "stderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("JSON on stdout")
}

#[test]
fn eval_policy_prints_the_measurements_per_policy() {
    let dir = work_dir("eval");
    let trace = trace(&dir);
    let run = |policy: &str| {
        ok(&medic(&[
            "eval",
            "policy",
            "--policy",
            policy,
            "--trace",
            &trace,
            "--column",
            "requests",
            "--scenario",
            "decide/scenarios/mixed.toml",
            "--hours",
            "4",
            "--seeds",
            "2",
        ]))
    };
    let hpa = run("hpa");
    let ppo = run("ppo");
    for key in [
        "sla_violation_minutes",
        "mttr_s",
        "mttr_fixable_s",
        "sla_minutes_beyond_ceiling",
        "fixable_sla_minutes",
        "mean_cpu_utilisation",
        "replica_minutes",
        "actions",
        "escalations",
    ] {
        assert!(hpa[key].is_number() && ppo[key].is_number(), "{key}: {hpa}");
    }
    assert_eq!(hpa["seeds"], serde_json::json!([1, 2]));
    assert!(
        ppo["policy"]
            .as_str()
            .is_some_and(|p| p.starts_with("ppo@")),
        "{ppo}"
    );
    // The first hours of mixed.toml hold a memory leak (1 h) the HPA never repairs.
    assert!(hpa["unrecovered"].as_f64() >= Some(1.0), "{hpa}");
    assert_eq!(ppo["unrecovered"].as_f64(), Some(0.0), "{ppo}");
    let bad = medic(&[
        "eval", "policy", "--policy", "nope", "--trace", &trace, "--column", "requests",
    ]);
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("use hpa, manual, rules, ppo, dqn"));
}

#[test]
fn simulate_writes_logs_decisions_and_a_report() {
    let dir = work_dir("simulate");
    let trace = trace(&dir);
    let out = dir.join("run");
    let report = ok(&medic(&[
        "simulate",
        "--policy",
        "rules",
        "--trace",
        &trace,
        "--column",
        "requests",
        "--scenario",
        "decide/scenarios/mixed.toml",
        "--hours",
        "3",
        "--out",
        out.to_str().expect("utf-8"),
    ]));
    assert!(report["faults"].as_u64() >= Some(1), "{report}");
    let events = std::fs::read_to_string(out.join("events.jsonl")).expect("events");
    assert!(
        events.lines().any(|l| l.contains("\"Killing\"")),
        "the rollout restart's kills are Events"
    );
    let heap_warning = std::fs::read_dir(out.join("var/log/pods"))
        .expect("container logs under var/log/pods")
        .flatten()
        .filter(|pod| {
            pod.file_name()
                .to_string_lossy()
                .starts_with("shop_checkout-")
        })
        .flat_map(|pod| {
            std::fs::read_dir(pod.path().join("checkout"))
                .into_iter()
                .flatten()
                .flatten()
        })
        .any(|file| {
            std::fs::read_to_string(file.path()).is_ok_and(|t| t.contains("Heap usage at"))
        });
    assert!(
        heap_warning,
        "the leaking checkout pods warn about their heap"
    );
    let decisions = std::fs::read_to_string(out.join("decisions.jsonl")).expect("decisions");
    assert!(
        decisions.lines().any(|l| l.contains("rollout_restart")),
        "{decisions}"
    );
}

#[test]
fn train_policy_calibrates_the_rules() {
    let dir = work_dir("train");
    let trace = trace(&dir);
    let out = dir.join("rules");
    // The rules calibrated on two-hour episodes of `trace`, written to `out`, with `more` flags.
    let train_rules = |out: &Path, more: &[&str]| {
        let out = out.to_str().expect("utf-8");
        let mut args = vec![
            "train",
            "policy",
            "--algo",
            "rules",
            "--trace",
            &trace,
            "--column",
            "requests",
            "--episode-hours",
            "2",
            "--out",
            out,
        ];
        args.extend_from_slice(more);
        medic(&args)
    };
    let output = train_rules(&out, &[]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let spec: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("spec.json")).expect("spec"))
            .expect("json");
    assert_eq!(spec["algo"], "rules");
    let bad = medic(&[
        "train", "policy", "--algo", "sarsa", "--trace", &trace, "--column", "requests", "--out",
        "x",
    ]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("expected ppo, dqn or rules"));
    // Remedies are a setting of the learners (either spelling of table-fixes is taken), refused for the
    // rules before anything is trained or written.
    let tabled = dir.join("rules-table");
    for remedies in ["table", "table-fixes", "table_fixes"] {
        let refused = train_rules(&tabled, &["--remedies", remedies]);
        assert!(!refused.status.success(), "{remedies}");
        let stderr = String::from_utf8_lossy(&refused.stderr);
        assert!(
            stderr.contains("setting of ppo and dqn"),
            "{remedies}: {stderr}"
        );
        assert!(!tabled.join("spec.json").exists(), "{remedies}");
    }
}
