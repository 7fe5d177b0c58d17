#![no_main]
//! Fuzz target: CRI and docker json-file lines (with partial-line reassembly).
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let format = if data.first().is_some_and(|b| b % 2 == 0) {
        medic_ingest::Format::Cri
    } else {
        medic_ingest::Format::DockerJson
    };
    common::run(format, data.get(1..).unwrap_or_default());
});
