//! `medic classify` and `medic eval classifier` on real Kubernetes fault events (the shipped model and the
//! real pretrained encoder, installed by `scripts/model-up.sh`).

use std::path::PathBuf;
use std::process::Command;

const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/diagnose/tests/fixtures/k8s_faults.jsonl"
);

/// The fine-tuned transformer shipped in `models/classifier` (the default pipeline uses `models/ngram`).
fn medic_diagnose_transformer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/classifier")
}

/// Runs a `medic` command line and asserts it succeeded.
fn succeed(command: &mut Command) -> std::process::Output {
    let run = command.output().expect("medic runs");
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    run
}

fn temp(name: &str) -> PathBuf {
    std::env::temp_dir().join(format!("medic-cli-classify-{}-{name}", std::process::id()))
}

/// `medic classify` (the shipped model) on `samples`, its output lines as JSON.
fn classify_with_the_shipped_model(
    name: &str,
    samples: impl Iterator<Item = serde_json::Value>,
) -> Vec<serde_json::Value> {
    let input = temp(&format!("{name}-in.jsonl"));
    let text: String = samples.map(|s| s.to_string() + "\n").collect();
    std::fs::write(&input, text).expect("write input");
    let output = temp(&format!("{name}-out.jsonl"));
    succeed(
        Command::new(env!("CARGO_BIN_EXE_medic"))
            .args(["classify", "--input"])
            .arg(&input)
            .arg("--output")
            .arg(&output),
    );
    let lines = std::fs::read_to_string(&output)
        .expect("output")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    std::fs::remove_file(&input).ok();
    std::fs::remove_file(&output).ok();
    lines
}

#[test]
fn classify_writes_one_line_per_input_in_order() {
    // Input without labels, as an operator would give it.
    let samples: Vec<serde_json::Value> = std::fs::read_to_string(FIXTURE)
        .expect("fixture")
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    let lines = classify_with_the_shipped_model(
        "out",
        samples
            .iter()
            .map(|s| serde_json::json!({"id": s["id"], "lines": s["lines"]})),
    );
    assert_eq!(lines.len(), samples.len());
    for (line, sample) in lines.iter().zip(&samples) {
        assert_eq!(line["id"], sample["id"]);
        assert!(line["fault"].is_string() && line["severity"].is_string());
        let confidence = line["confidence"].as_f64().expect("confidence");
        assert!((0.0..=1.0).contains(&confidence));
    }
    let correct = lines
        .iter()
        .zip(&samples)
        .filter(|(l, s)| l["fault"] == s["label"])
        .count();
    assert!(correct >= 8, "{correct}/10");
}

#[test]
fn the_containers_of_one_application_share_its_verdict() {
    // Two containers of one YARN application, only one of which shows the fault, and the healthy
    // container's lines again as a sample of its own.
    let app = "hadoop/application_1445144423722_0021";
    let healthy = ["Starting the task attempt", "Task attempt done"];
    let inputs = [
        (
            format!("{app}/container_1445144423722_0021_01_000001"),
            &["Container killed: OOMKilled, exit code 137"][..],
        ),
        (
            format!("{app}/container_1445144423722_0021_01_000002"),
            &healthy[..],
        ),
        ("alone/healthy".to_owned(), &healthy[..]),
    ];
    let lines = classify_with_the_shipped_model(
        "application",
        inputs
            .iter()
            .map(|(id, lines)| serde_json::json!({"id": id, "lines": lines})),
    );
    let ids: Vec<&str> = lines.iter().filter_map(|l| l["id"].as_str()).collect();
    let expected: Vec<&str> = inputs.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, expected, "one line per input, in order");
    let [faulty, healthy_part, alone] = &lines[..] else {
        unreachable!("three lines")
    };
    assert_eq!(
        (&faulty["fault"], &faulty["confidence"]),
        (&healthy_part["fault"], &healthy_part["confidence"]),
        "one application, one verdict: {lines:?}"
    );
    assert_ne!(
        healthy_part["fault"], alone["fault"],
        "the same lines alone read otherwise: {lines:?}"
    );
    // `eval classifier --data` reads the application the same way: labelled with the verdicts the
    // pooled reading gives, the shipped model scores every sample right (at most 2 of 3 if it read one
    // container at a time: the healthy container would read as `alone` does).
    let labelled = temp("application-labelled.jsonl");
    let text: String = inputs
        .iter()
        .zip(&lines)
        .map(|((id, sample), line)| {
            serde_json::json!({"id": id, "lines": sample, "label": line["fault"]}).to_string()
                + "\n"
        })
        .collect();
    std::fs::write(&labelled, text).expect("write labelled");
    let run = succeed(
        Command::new(env!("CARGO_BIN_EXE_medic"))
            .args(["eval", "classifier", "--data"])
            .arg(&labelled)
            .args(["--train-data", FIXTURE]),
    );
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON report");
    for (model, scores) in report["models"].as_object().expect("models") {
        assert_eq!(scores["samples"], 3, "{model}: every part scored");
    }
    let shipped = &report["models"]["shipped"];
    assert_eq!(shipped["accuracy"].as_f64(), Some(1.0), "{shipped}");
    std::fs::remove_file(&labelled).ok();
}

#[test]
fn a_missing_base_model_fails_with_instructions() {
    let run = Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(["classify", "--model"])
        .arg(medic_diagnose_transformer_dir())
        .args(["--input", FIXTURE, "--output"])
        .arg(temp("never.jsonl"))
        .env("MEDIC_BASE_MODEL", "/nonexistent/minilm")
        .output()
        .expect("medic classify runs");
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("model-up.sh"), "{stderr}");
}

#[test]
fn eval_scores_the_shipped_model_and_every_baseline() {
    let run = succeed(Command::new(env!("CARGO_BIN_EXE_medic")).args([
        "eval",
        "classifier",
        "--data",
        FIXTURE,
        "--train-data",
        FIXTURE,
    ]));
    let report: serde_json::Value = serde_json::from_slice(&run.stdout).expect("JSON report");
    for model in [
        "shipped",
        "ngram_logreg",
        "ngram_svm",
        "keyword_rules",
        "tfidf_logreg",
        "frozen_embedding_logreg",
    ] {
        let scores = &report["models"][model];
        let f1 = scores["macro_f1"].as_f64().expect(model);
        assert!((0.0..=1.0).contains(&f1), "{model}: {f1}");
        assert_eq!(scores["samples"], 10);
        assert!(
            scores["per_class"]["scheduling"]["support"] == 5,
            "{scores}"
        );
    }
}

#[test]
fn an_ngram_model_trained_with_cross_validation_classifies_what_it_was_given() {
    let out = temp("ngram");
    succeed(
        Command::new(env!("CARGO_BIN_EXE_medic"))
            .args([
                "train",
                "classifier",
                "--kind",
                "ngram",
                "--cv",
                "2",
                "--data",
                FIXTURE,
                "--out",
            ])
            .arg(&out),
    );
    let card: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("card.json")).expect("card"))
            .expect("card JSON");
    for model in ["ngram_logreg", "ngram_svm"] {
        let cv = &card["cv"]["models"][model]["kubernetes"]["macro_f1"];
        assert_eq!(cv["folds"].as_array().map(Vec::len), Some(2), "{card}");
    }
    assert!(
        card["spec"]["kind"] == "ngram"
            && card["spec"]["options"]["loss"] == "squared_hinge"
            && card["samples"] == 10,
        "{card}"
    );
    let classified = temp("ngram-out.jsonl");
    succeed(
        Command::new(env!("CARGO_BIN_EXE_medic"))
            .args(["classify", "--model"])
            .arg(&out)
            .args(["--input", FIXTURE, "--output"])
            .arg(&classified),
    );
    let text = std::fs::read_to_string(&classified).expect("output");
    let truth = std::fs::read_to_string(FIXTURE).expect("fixture");
    let correct = text
        .lines()
        .zip(truth.lines())
        .filter(|(p, t)| {
            let p: serde_json::Value = serde_json::from_str(p).expect("json");
            let t: serde_json::Value = serde_json::from_str(t).expect("json");
            p["fault"] == t["label"]
        })
        .count();
    assert_eq!(correct, 10, "fitted on these samples: {text}");
    std::fs::remove_dir_all(&out).ok();
    std::fs::remove_file(&classified).ok();
}
