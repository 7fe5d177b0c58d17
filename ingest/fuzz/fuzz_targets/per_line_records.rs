#![no_main]
//! Fuzz target: what enrich and every reader of the per-line topics read — a message as a frame of
//! records (`schemas::frame`), each record as a log or parsed record, compact (`schemas::compact`) or
//! JSON. Must never panic; a compact record that decodes must encode back to the very same bytes (each
//! record has one encoding), and its JSON form must always be producible.
use medic_schemas::{LogRecord, ParsedRecord, compact, decode_record, encode_record, frame};

fn check(payload: &[u8]) {
    if let Ok(log) = decode_record::<LogRecord>(payload)
        && compact::is_compact(payload)
    {
        assert_eq!(
            encode_record(&log).expect("encodes"),
            payload,
            "one encoding per log record"
        );
    }
    if let Ok(parsed) = decode_record::<ParsedRecord>(payload)
        && compact::is_compact(payload)
    {
        assert_eq!(
            encode_record(&parsed).expect("encodes"),
            payload,
            "one encoding per parsed record"
        );
    }
    let _ = compact::to_json(payload);
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    check(data);
    if let Ok(records) = frame::read_frame(None, data) {
        for record in records {
            check(record.payload);
        }
    }
});
