//! Properties: no input makes any decoder panic, every input is accounted for, and the writable line
//! formats round-trip.

use medic_ingest::{Format, IngestConfig, RedactionConfig, SourceConfig};
use proptest::prelude::*;
use schemas::{Emitter, LogRecord, SourceRecord, Stage, Stream};

fn now() -> i64 {
    1_795_824_000_000_000_000
}

fn run(format: Format, payload: Vec<u8>) -> Emitter {
    run_with(format, payload, RedactionConfig::default())
}

/// Round trips compare text, so they run without redaction.
fn run_verbatim(format: Format, payload: Vec<u8>) -> Emitter {
    run_with(
        format,
        payload,
        RedactionConfig {
            enabled: false,
            ..RedactionConfig::default()
        },
    )
}

fn run_with(format: Format, payload: Vec<u8>, redaction: RedactionConfig) -> Emitter {
    let config = IngestConfig {
        sources: vec![SourceConfig {
            name: "t".into(),
            topic: Some("t".into()),
            format,
            redaction: Some(redaction),
        }],
        ..IngestConfig::default()
    };
    let mut stage = config.build().expect("valid").with_clock(now);
    let mut out = Emitter::new();
    stage.process_batch(&[SourceRecord::new("t", 0, 0, payload)], &mut out);
    stage.on_close(&mut out);
    out
}

/// Inputs near the formats' shapes find more paths than uniform bytes.
fn near_valid() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        "[ -~]{0,200}".prop_map(String::into_bytes),
        r#"\{"(messageType|awslogs|records|Records|logName|log|message|involvedObject)":[ -~]{0,120}\}"#
            .prop_map(String::into_bytes),
        "20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9](\\.[0-9]{1,9})?Z (stdout|stderr|x) (P|F|Q) [ -~]{0,80}"
            .prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..256).prop_map(|mut v| {
            v.splice(0..0, [0x1f, 0x8b, 0x08, 0x00]);
            v
        }),
    ]
}

const FORMATS: [Format; 9] = [
    Format::Auto,
    Format::Cri,
    Format::DockerJson,
    Format::K8sEvent,
    Format::JsonLine,
    Format::PlainText,
    Format::Cloudwatch,
    Format::GcpLogEntry,
    Format::AzureResourceLogs,
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn no_input_panics_and_each_is_accounted_for(payload in near_valid(), format in 0..FORMATS.len()) {
        let out = run(FORMATS[format], payload);
        // An input becomes records, a rejection, a drop, or (a partial chunk) records at close.
        let accounted = !out.emitted().is_empty() || out.rejections().len() == 1 || out.dropped() == 1;
        prop_assert!(accounted, "input vanished");
        prop_assert!(out.rejections().len() <= 1);
        for rejection in out.rejections() {
            prop_assert!(rejection.error.reason.starts_with('['), "reason code missing: {}", rejection.error.reason);
        }
    }

    #[test]
    fn cri_lines_round_trip(
        secs in 946_684_800_i64..1_790_000_000,
        nanos in 0u32..1_000_000_000,
        stderr in any::<bool>(),
        message in "[ -~]{0,200}",
    ) {
        let time = chrono::DateTime::from_timestamp(secs, nanos).expect("in range");
        let stream = if stderr { "stderr" } else { "stdout" };
        let line = format!("{} {stream} F {message}", time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        let out = run_verbatim(Format::Cri, line.into_bytes());
        let records: Vec<LogRecord> = out.decode_all().expect("records");
        prop_assert_eq!(records.len(), 1);
        let record = &records[0];
        prop_assert_eq!(record.event_time_ns, time.timestamp_nanos_opt().expect("ns"));
        prop_assert_eq!(record.stream, Some(if stderr { Stream::Stderr } else { Stream::Stdout }));
        prop_assert_eq!(&record.message, &message);
    }

    #[test]
    fn docker_json_lines_round_trip(secs in 946_684_800_i64..1_790_000_000, message in "[ -~]{0,200}") {
        let time = chrono::DateTime::from_timestamp(secs, 0).expect("in range");
        let line = serde_json::json!({"log": format!("{message}\n"), "stream": "stdout", "time": time.to_rfc3339()});
        let out = run_verbatim(Format::DockerJson, line.to_string().into_bytes());
        let records: Vec<LogRecord> = out.decode_all().expect("records");
        prop_assert_eq!(records.len(), 1);
        prop_assert_eq!(&records[0].message, &message);
        prop_assert_eq!(records[0].event_time_ns, secs * 1_000_000_000);
    }
}
