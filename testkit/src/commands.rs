//! Signed commands and actuators for tests.

use act::{ActConfig, ActuatorMode, KeyRing, Signer};
use schemas::{Action, RemediationCommand, Target};
use std::path::PathBuf;

/// A fresh signing key, and the actuator's key file `<dir>/keys`, which holds only its public half
/// (as deployed: the actuator verifies but cannot sign).
pub fn keys(dir: &std::path::Path) -> (Signer, PathBuf) {
    let ring = KeyRing::parse(&KeyRing::generate_line("test")).expect("keys");
    let path = dir.join("keys");
    std::fs::write(&path, ring.public_lines().expect("ed25519")).expect("write keys");
    (ring.signer().expect("signs"), path)
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

/// A command `id` signed by `signer`, valid for ten minutes.
pub fn signed(signer: &Signer, id: &str, target: Target, action: Action) -> RemediationCommand {
    act::direct_command(signer, id, target, action, 600, "test", "test")
}
