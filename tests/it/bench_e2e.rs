//! `medic bench e2e`, small, on its embedded broker and on the test broker (`--brokers`): six
//! `medic run --stage` child processes, the bundled incident replayed by eight staggered workloads, one
//! JSON object with throughput, command latency and peak memory per stage.

use std::process::Command;
use std::time::Instant;

#[test]
fn a_small_run_reports_throughput_latency_and_memory_per_stage() {
    let _machine = super::common::share_machine();
    let report = small_run(&["--pass-through"]);
    assert_eq!(report["embedded_broker"], true);
    // The same load through pass-through stages: every line forwarded by ingest and enrich (as parsed
    // records; no window, so nothing reaches diagnose), nothing decided; medic's lines/s reported as a
    // fraction of that limit.
    let limit = &report["pass_through"];
    for (stage, records_in, records_out) in [
        ("ingest", 2000, 2000),
        ("enrich", 2000, 2000),
        ("diagnose", 0, 0),
        ("decide", 0, 0),
    ] {
        assert_eq!(
            (
                &limit["stages"][stage]["records_in"],
                &limit["stages"][stage]["records_out"]
            ),
            (&records_in.into(), &records_out.into()),
            "{stage}: {limit:#}"
        );
    }
    let fraction = limit["fraction"].as_f64().expect("a fraction");
    let expected = report["lines_per_s"].as_f64().expect("lines/s")
        / limit["lines_per_s"].as_f64().expect("lines/s");
    assert!(
        (fraction - expected).abs() < 1e-9 && fraction > 0.0,
        "{limit:#}"
    );
    assert!(
        report["cpu_us_per_line"]["diagnose"]
            .as_f64()
            .is_some_and(|us| us > 0.0),
        "{report:#}"
    );
}

#[ignore = "needs the test broker: run scripts/test.sh, or scripts/kafka-up.sh and `cargo test -- --ignored`"]
#[test]
fn a_small_run_on_an_external_broker_reports_the_same() {
    let _machine = super::common::share_machine();
    let brokers = testkit::kafka::brokers();
    let report = small_run(&["--brokers", &brokers]);
    assert_eq!(report["embedded_broker"], false);
    assert_eq!(report["brokers"], brokers.as_str());
}

/// Runs `medic bench e2e --lines 2000` with `extra` flags and checks the report's shape and counts.
fn small_run(extra: &[&str]) -> serde_json::Value {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(["bench", "e2e", "--lines", "2000"])
        .args(["--timeout-secs", "120"])
        .args(extra)
        .env("MEDIC_LOG", "warn")
        .output()
        .expect("medic runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "medic bench e2e failed:\n{stderr}");
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("stdout is one JSON object");
    eprintln!("{report:#} ({:.1}s)", started.elapsed().as_secs_f64());

    for key in [
        "lines_per_s",
        "p50_ms",
        "p99_ms",
        "commands_matched",
        "rss_mb",
        "lines",
        "rate",
        "brokers",
        "partitions",
        "profile",
        "stages",
    ] {
        assert!(report.get(key).is_some(), "{key} missing:\n{report:#}");
    }
    assert_eq!(report["lines"], 2000);
    assert_eq!(
        report["profile"],
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
    );
    let number = |key: &str| {
        report[key]
            .as_f64()
            .unwrap_or_else(|| panic!("{key}: {report:#}"))
    };
    assert!(number("lines_per_s") > 0.0);
    assert!(number("p50_ms") <= number("p99_ms"));
    assert!(number("p50_ms") > 0.0, "a command comes after its line");
    assert!(number("commands_matched") >= 1.0, "{report:#}");

    for stage in ["ingest", "enrich", "diagnose", "decide", "act", "actuator"] {
        let rss = report["rss_mb"][stage].as_f64();
        assert!(
            rss.is_some_and(|mb| mb > 1.0),
            "peak RSS of {stage}: {report:#}"
        );
    }
    // Every line went through ingest and enrich; diagnose read the windows enrich closed, far fewer.
    for stage in ["ingest", "enrich"] {
        assert_eq!(report["stages"][stage]["records_in"], 2000, "{report:#}");
    }
    let windows = report["stages"]["diagnose"]["records_in"].as_u64();
    assert!(windows.is_some_and(|w| w > 0 && w < 200), "{report:#}");
    report
}

#[test]
fn a_pass_through_stage_is_refused_outside_the_bench() {
    // On a real pipeline it would commit the stages' offsets past records nothing processed.
    let output = Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(["run", "--stage", "ingest", "--pass-through"])
        .env_remove("MEDIC_BENCH_PASS_THROUGH")
        .output()
        .expect("medic runs");
    assert!(!output.status.success());
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("MEDIC_BENCH_PASS_THROUGH=1"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}
