//! `medic parse`: Loghub-style structured output from a log file with a header format.

use std::process::Command;

#[test]
fn parses_the_demo_incident_with_a_cri_header() {
    let input = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/incidents/checkout-oom-crashloop/pods/shop_checkout-6b8f7d9c4d-7xk2p_5f1c9a8e-2b7d-4c3e-9a61-0d2f8b7c6e51/app/0.log"
    );
    let output = std::env::temp_dir().join(format!("medic-parse-{}.csv", std::process::id()));
    let status = Command::new(env!("CARGO_BIN_EXE_medic"))
        .args([
            "parse",
            "--log-format",
            "<Time> <Stream> <Tag> <Content>",
            "--input",
            input,
            "--output",
        ])
        .arg(&output)
        .status()
        .expect("medic parse runs");
    assert!(status.success());
    let mut reader = csv::Reader::from_path(&output).expect("csv");
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        ["LineId", "EventId", "EventTemplate"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    let lines = std::fs::read_to_string(input)
        .expect("input")
        .lines()
        .count();
    assert_eq!(rows.len(), lines, "one row per input line");
    assert_eq!(&rows[0][0], "1");
    let template_of = |needle: &str| {
        let text = std::fs::read_to_string(input).expect("input");
        let line = text
            .lines()
            .position(|l| l.contains(needle))
            .expect("needle present");
        rows[line][2].to_owned()
    };
    // Order lines differ only in variables: one template with the variables masked.
    let order = template_of("POST /api/v1/orders 201");
    assert!(
        order.ends_with("OrderController : POST <*> <*> in <*> orderId=<*>"),
        "{order}"
    );
    assert_eq!(
        template_of("java.lang.OutOfMemoryError"),
        "java.lang.OutOfMemoryError: Java heap space"
    );
    let _ = std::fs::remove_file(&output);
}
