//! `medic act keygen | sign | apply` as an operator types them: a signed command applies (log mode and a
//! server-side dry run against the test API server), and a tampered, expired or replayed one makes
//! `apply` exit 3 without touching anything.

use testkit::cluster;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn medic(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_medic"))
        .args(args)
        .env("MEDIC_LOG", "warn")
        .output()
        .expect("medic runs")
}

fn scratch() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("medic-cli-act-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    dir
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn sign(keys: &Path, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["act", "sign", "--key-file", path(keys)];
    args.extend_from_slice(extra);
    let signed = medic(&args);
    assert!(
        signed.status.success(),
        "{}",
        String::from_utf8_lossy(&signed.stderr)
    );
    std::fs::write(out, &signed.stdout).expect("write command");
    serde_json::from_slice(&signed.stdout).expect("a JSON command")
}

fn apply(keys: &Path, command: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value) {
    let mut args = vec!["act", "apply", "--key-file", path(keys)];
    args.extend_from_slice(extra);
    args.push(path(command));
    let out = medic(&args);
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "apply printed no JSON: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code(), json)
}

/// `apply` exited with `want_code` and printed `field` = `want`.
fn expect_exit(
    code: Option<i32>,
    json: &serde_json::Value,
    field: &str,
    want_code: i32,
    want: &str,
) {
    assert_eq!(
        (code, json[field].as_str()),
        (Some(want_code), Some(want)),
        "{json}"
    );
}

#[ignore = "needs the test Kubernetes API server: run scripts/test.sh, or scripts/k8s-up.sh and `cargo test -- --ignored`"]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_then_apply_and_refuse_what_must_be_refused() {
    let _cluster = super::common::CLUSTER.write().await;
    let dir = scratch();
    let keys = dir.join("keys");
    let keygen = medic(&["act", "keygen", "--key-id", "ops-1"]);
    assert!(keygen.status.success());
    std::fs::write(&keys, &keygen.stdout).expect("keys");
    let line = String::from_utf8_lossy(&keygen.stdout);
    assert!(
        line.starts_with("ops-1 ed25519 ") && line.trim().len() > 40,
        "{line}"
    );
    // The actuator's file: the public half only, which verifies but cannot sign.
    let public_keys = dir.join("public-keys");
    let public = medic(&["act", "public-keys", "--key-file", path(&keys)]);
    assert!(public.status.success());
    std::fs::write(&public_keys, &public.stdout).expect("public keys");
    let cannot_sign = medic(&[
        "act",
        "sign",
        "--key-file",
        path(&public_keys),
        "--target",
        "deployment/shop/checkout",
        "--action",
        "restart",
    ]);
    assert!(
        !cannot_sign.status.success()
            && String::from_utf8_lossy(&cannot_sign.stderr).contains("no key here can sign"),
        "{cannot_sign:?}"
    );

    // Log mode: checked, recorded, nothing applied; exit 0.
    let cmd = dir.join("scale.json");
    let signed = sign(
        &keys,
        &cmd,
        &[
            "--target",
            "deployment/shop/checkout",
            "--action",
            "scale",
            "--replicas",
            "5",
        ],
    );
    assert_eq!(
        signed["action"],
        serde_json::json!({ "type": "scale_to", "replicas": 5 })
    );
    assert_eq!(signed["signature"]["key_id"], "ops-1");
    let journal = dir.join("journal");
    let (code, result) = apply(&public_keys, &cmd, &["--journal", path(&journal)]);
    expect_exit(code, &result, "outcome", 0, "logged");
    // The same command again: a replay, exit 3.
    let (code, refused) = apply(&public_keys, &cmd, &["--journal", path(&journal)]);
    expect_exit(code, &refused, "refused", 3, "replayed");

    // Tampered: exit 3, forged.
    let mut tampered = signed.clone();
    tampered["action"] = serde_json::json!({ "type": "scale_to", "replicas": 50 });
    tampered["idempotency_key"] = "other".into();
    let bad = dir.join("tampered.json");
    std::fs::write(&bad, tampered.to_string()).expect("write");
    let (code, refused) = apply(&keys, &bad, &[]);
    expect_exit(code, &refused, "refused", 3, "forged");

    // Expired (valid for 0 s): exit 3.
    let old = dir.join("old.json");
    sign(
        &keys,
        &old,
        &[
            "--target",
            "node/worker-1",
            "--action",
            "cordon",
            "--ttl-secs",
            "0",
        ],
    );
    std::thread::sleep(std::time::Duration::from_millis(1_100));
    let (code, refused) = apply(&keys, &old, &[]);
    expect_exit(code, &refused, "refused", 3, "expired");

    // Bad flags are refused by sign itself.
    let nonsense = medic(&[
        "act",
        "sign",
        "--key-file",
        path(&keys),
        "--target",
        "deployment/x",
        "--action",
        "scale",
    ]);
    assert!(!nonsense.status.success());

    // A server-side dry run against the real API server: admitted, nothing changed.
    let client = cluster::client().await;
    let ns = cluster::unique("cli");
    cluster::namespace(&client, &ns).await;
    cluster::deployment(&client, &ns, "web", 1, "nginx:1.25").await;
    let restart = dir.join("restart.json");
    sign(
        &keys,
        &restart,
        &[
            "--target",
            &format!("deployment/{ns}/web"),
            "--action",
            "restart",
        ],
    );
    let kubeconfig = cluster::kubeconfig();
    let (code, result) = apply(
        &keys,
        &restart,
        &[
            "--mode",
            "server-dry-run",
            "--kubeconfig",
            path(&kubeconfig),
        ],
    );
    expect_exit(code, &result, "outcome", 0, "dry_run");
    // Outside the allowlist (kube-system is denied by default): rejected, exit 3.
    let system = dir.join("system.json");
    sign(
        &keys,
        &system,
        &[
            "--target",
            "deployment/kube-system/coredns",
            "--action",
            "restart",
        ],
    );
    let (code, result) = apply(
        &keys,
        &system,
        &[
            "--mode",
            "server-dry-run",
            "--kubeconfig",
            path(&kubeconfig),
        ],
    );
    expect_exit(code, &result, "outcome", 3, "rejected");
    let _ = std::fs::remove_dir_all(&dir);
}
