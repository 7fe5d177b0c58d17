#![no_main]
//! Fuzz target: what enrich and every reader of the per-line topics read — a message as a frame of
//! records (`schemas::frame`), each record as a log or parsed record, compact (`schemas::compact`) or
//! JSON. Must never panic; a compact record that decodes must encode back to the very same bytes (each
//! record has one encoding) and have a JSON form.
use medic_schemas::{
    LogRecord, ParsedRecord, WireRecord, compact, decode_record, encode_record, frame,
};

/// `payload` read as an `R`: when it is a compact one, it is the only encoding of what it holds.
fn one_encoding<R: WireRecord>(payload: &[u8]) {
    if compact::is_compact(payload)
        && let Ok(record) = decode_record::<R>(payload)
    {
        assert_eq!(
            encode_record(&record).expect("encodes"),
            payload,
            "one encoding per {}",
            R::KIND.as_str()
        );
        assert!(
            compact::to_json(payload).is_ok(),
            "a record that decodes has a JSON form"
        );
    }
}

fn check(payload: &[u8]) {
    one_encoding::<LogRecord>(payload);
    one_encoding::<ParsedRecord>(payload);
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
