//! `medic decode`: records on stdout, a summary on stderr, exit 0 when the input was read, 2 when not.

use std::io::Write;
use std::process::{Command, Stdio};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/ingest/tests/fixtures");

fn decode(args: &[&str], stdin: Option<&[u8]>) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_medic"))
        .arg("decode")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("medic decode starts");
    if let Some(data) = stdin {
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(data)
            .expect("write stdin");
    }
    drop(child.stdin.take());
    let output = child.wait_with_output().expect("medic decode runs");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn decodes_a_lambda_cloudwatch_event_file() {
    let (code, stdout, stderr) = decode(
        &[&format!("{FIXTURES}/cloudwatch-awslogs-event.json")],
        None,
    );
    assert_eq!(code, 0, "{stderr}");
    let records: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("JSON line"))
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["message"], "[ERROR] First test message");
    assert_eq!(records[0]["source_format"], "cloudwatch");
    let summary: serde_json::Value =
        serde_json::from_str(stderr.lines().last().expect("summary")).expect("summary JSON");
    assert_eq!(
        (summary["inputs"].as_u64(), summary["records"].as_u64()),
        (Some(1), Some(2))
    );
}

#[test]
fn bad_records_are_reported_but_the_exit_code_is_0() {
    let input = b"2024-01-01T00:00:00Z stdout F fine\n{\"awslogs\":{\"data\":\"!!\"}}\n";
    let (code, stdout, stderr) = decode(&["--format", "auto", "-"], Some(input));
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 1);
    assert!(stderr.contains("input 2: [invalid_base64]"), "{stderr}");
    assert!(
        stderr.contains(r#""errors":{"invalid_base64":1}"#),
        "{stderr}"
    );
}

#[test]
fn unreadable_input_and_bad_arguments_exit_2() {
    assert_eq!(decode(&["/nonexistent/file.log"], None).0, 2);
    assert_eq!(decode(&["--format", "syslog", "-"], Some(b"")).0, 2);
}
