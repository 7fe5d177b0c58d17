#![no_main]
//! Fuzz target: the ingest stage with format `Cloudwatch`.
#[path = "common.rs"]
mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| common::run(medic_ingest::Format::Cloudwatch, data));
