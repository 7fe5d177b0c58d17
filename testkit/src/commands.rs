//! Signed commands and actuators for tests.

use act::{ActConfig, ActuatorMode, KeyRing};
use schemas::{Action, RemediationCommand, Target};
use std::path::PathBuf;

/// A fresh key ring, and a file holding it.
pub fn keys(dir: &std::path::Path) -> (KeyRing, PathBuf) {
    let line = KeyRing::generate_line("test");
    let path = dir.join("keys");
    std::fs::write(&path, &line).expect("write keys");
    (KeyRing::parse(&line).expect("keys"), path)
}

/// A scratch directory unique to this test.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("medic-act-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

/// The actuator configuration the cluster tests use: `mode` on the test API server, keys and journal
/// in `dir`, quick verification.
pub fn config(mode: ActuatorMode, dir: &std::path::Path, kubeconfig: PathBuf) -> ActConfig {
    ActConfig {
        mode,
        keys_file: Some(dir.join("keys")),
        journal: Some(dir.join("journal")),
        kubeconfig: Some(kubeconfig),
        verify_timeout: schemas::span::Span::secs(60),
        verify_interval: schemas::span::Span::millis(250),
        ..ActConfig::default()
    }
}

/// A command `id` signed with `keys`, valid for ten minutes.
pub fn signed(keys: &KeyRing, id: &str, target: Target, action: Action) -> RemediationCommand {
    act::direct_command(keys, id, target, action, 600, "test", "test")
}
