//! Integration tests of the schemas crate: JSON Schemas in step with the records, and the wire format: one binary, one module per area.

mod schema_drift;
mod wire_roundtrip;
