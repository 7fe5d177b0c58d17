//! The published JSON Schema files under `schemas/json/` must match the Rust types.
//! Regenerate them with `MEDIC_BLESS=1 cargo test -p medic-schemas --test it schema_drift`.

use medic_schemas::RecordKind;
use std::path::PathBuf;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("json")
}

#[test]
fn published_json_schemas_match_the_rust_types() {
    let bless = std::env::var_os("MEDIC_BLESS").is_some();
    let mut drifted = Vec::new();
    for kind in RecordKind::ALL {
        let path = schema_dir().join(format!("{}.schema.json", kind.as_str()));
        let mut generated =
            serde_json::to_string_pretty(&kind.json_schema()).expect("schema serialises");
        generated.push('\n');
        if bless {
            std::fs::create_dir_all(schema_dir()).expect("create schemas/json");
            std::fs::write(&path, &generated).expect("write schema");
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(published) if published == generated => {}
            _ => drifted.push(path.display().to_string()),
        }
    }
    assert!(
        drifted.is_empty(),
        "JSON Schema files drifted from the Rust types: {drifted:?}\n\
         regenerate with: MEDIC_BLESS=1 cargo test -p medic-schemas --test it schema_drift"
    );
}

#[test]
fn every_schema_requires_schema_version() {
    for kind in RecordKind::ALL {
        let schema = serde_json::to_value(kind.json_schema()).expect("schema to value");
        let required = schema["required"]
            .as_array()
            .expect("top-level required list");
        assert!(
            required.iter().any(|v| v == "schema_version"),
            "{} does not require schema_version",
            kind.as_str()
        );
    }
}
