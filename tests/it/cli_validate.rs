//! `medic validate` on every shipped pipeline, and on a broken one.

use std::path::Path;
use std::process::Command;

fn validate(path: &Path) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_medic"))
        .arg("validate")
        .arg(path)
        .output()
        .expect("medic validate runs")
}

#[test]
fn every_shipped_pipeline_is_valid() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("pipelines/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let output = validate(&path);
            assert!(
                output.status.success(),
                "{} is invalid:\n{}",
                path.display(),
                String::from_utf8_lossy(&output.stderr)
            );
            assert!(String::from_utf8_lossy(&output.stdout).contains(": ok"));
            checked += 1;
        }
    }
    assert!(checked >= 2, "default.toml and local.toml at least");
}

#[test]
fn a_broken_pipeline_lists_every_problem_with_its_line_and_exits_2() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/invalid-pipeline.toml");
    let output = validate(&path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    for expected in [
        "8 problem(s)",
        "line 4: kafka.partitions",
        "line 9: ingest.sources[0].topic",
        "line 7: runner.batch_max_records",
        "line 10: ingest.sources[0].name",
        "line 13: decide.min_confidence",
        "line 18: enrich.windows[0].slide",
        "line 22: enrich.windows[1].sql: the query must return the columns",
        "diagnose.windows: \"workload\" names no [[enrich.windows]] definition",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn a_pipeline_with_deprecated_keys_is_valid_and_each_key_is_named_with_its_replacement() {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/deprecated-keys-pipeline.toml");
    let output = validate(&path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    for expected in [
        "warning: line 4: runner.batch_linger_ms: is deprecated: write batch_linger = \"20ms\"",
        "warning: line 5: runner.tick_interval_ms: is deprecated: write tick_interval = \"500ms\"",
        "warning: line 8: decide.cooldown_secs: is deprecated: write cooldown = \"2m\"",
    ] {
        assert!(
            stderr.contains(expected),
            "missing {expected:?} in:\n{stderr}"
        );
    }
}

#[test]
fn every_verb_has_help() {
    for verb in ["demo", "run", "validate", "schemas"] {
        let output = Command::new(env!("CARGO_BIN_EXE_medic"))
            .args([verb, "--help"])
            .output()
            .expect("runs");
        assert!(output.status.success(), "{verb} --help");
        assert!(
            String::from_utf8_lossy(&output.stdout).contains("Usage: medic"),
            "{verb}"
        );
    }
}
