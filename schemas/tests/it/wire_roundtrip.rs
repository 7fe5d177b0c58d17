//! Records survive the wire, and decoding refuses what it must.

use medic_schemas::{
    ErrorKind, LogRecord, LogSeverity, SCHEMA_VERSION, WireRecord, decode_record, encode_record,
    fixtures,
};

fn log_record() -> LogRecord {
    let mut record = fixtures::log_record("OOMKilled", 1_557_255_470_904_275_087);
    record.severity = LogSeverity::Error;
    record.source.partition = 2;
    record.source.offset = 41;
    record
}

#[test]
fn log_record_round_trips_and_is_keyed_by_workload() {
    let record = log_record();
    let bytes = encode_record(&record).expect("encode");
    let back: LogRecord = decode_record(&bytes).expect("decode");
    assert_eq!(back, record);
    assert_eq!(record.key().as_deref(), Some("shop/web"));
}

#[test]
fn decode_classifies_errors() {
    let err = decode_record::<LogRecord>(b"{not json").expect_err("bad json");
    assert_eq!(err.kind, ErrorKind::Decode);

    let err = decode_record::<LogRecord>(br#"{"schema_version":1}"#).expect_err("missing fields");
    assert_eq!(err.kind, ErrorKind::Schema);

    let mut future = serde_json::to_value(log_record()).expect("to value");
    future["schema_version"] = (SCHEMA_VERSION + 1).into();
    let err =
        decode_record::<LogRecord>(future.to_string().as_bytes()).expect_err("future version");
    assert_eq!(err.kind, ErrorKind::Schema);
    assert!(err.reason.contains("not supported"), "{}", err.reason);
}

#[test]
fn unknown_fields_are_ignored_for_forward_compatibility() {
    // A newer minor writer may add optional fields; readers of the same schema_version must still read it.
    let mut value = serde_json::to_value(log_record()).expect("to value");
    value["added_by_a_newer_writer"] = 1.into();
    let back: LogRecord =
        decode_record(value.to_string().as_bytes()).expect("extra field tolerated");
    assert_eq!(back, log_record());
}
