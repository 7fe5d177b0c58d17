//! Integration tests of the ingest crate: every envelope format on real fixtures, and properties of the decoders: one binary, one module per area.

mod formats;
mod ingest_fixtures;
mod properties;
