//! Rendering `deploy/` with both kustomize generations, as `kubectl kustomize` of kubectl 1.20
//! (kustomize v2.0.3) and of a current kubectl (kustomize v5); both installed by `scripts/kubectl-up.sh`.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Every kustomization under `deploy/` that renders on its own.
pub const KUSTOMIZATIONS: [&str; 3] = ["base", "overlays/dev", "overlays/production"];

/// The kustomizations meant to be applied (the base lacks the Secrets the overlays add).
pub const OVERLAYS: [&str; 2] = ["overlays/dev", "overlays/production"];

/// The two kubectl builds: (label, path), old first.
pub fn kubectls() -> [(&'static str, PathBuf); 2] {
    let cache = std::env::var_os("MEDIC_KUBECTL_CACHE").map_or_else(
        || PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cache/medic"),
        PathBuf::from,
    );
    let pick = |var: &str, default: PathBuf| {
        let path = std::env::var_os(var).map_or(default, PathBuf::from);
        assert!(
            path.exists(),
            "{} not found: install the test kubectl builds with scripts/kubectl-up.sh (scripts/test.sh \
             does), or point {var} at one",
            path.display()
        );
        path
    };
    [
        (
            "kubectl 1.20 (kustomize v2.0.3)",
            pick(
                "MEDIC_KUBECTL_OLD",
                cache.join("kubectl-1.20.2/usr/bin/kubectl"),
            ),
        ),
        (
            "kubectl 1.37 (kustomize v5)",
            pick(
                "MEDIC_KUBECTL_NEW",
                cache.join("kubectl-1.37.1/bin/kubectl"),
            ),
        ),
    ]
}

/// A copy of `deploy/` in a temporary directory, with production's Secret files made from their
/// `*.example` templates (the real ones are never committed). Removed on drop.
pub struct DeployTree(PathBuf);

impl DeployTree {
    /// Copies the repository's `deploy/`.
    pub fn copy() -> Self {
        // Tests copy in parallel: a counter keeps two copies taken in the same instant apart (a clash
        // let one test's drop remove the other's tree).
        static COPIES: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let root = std::env::temp_dir().join(format!(
            "medic-deploy-{}-{}-{}",
            std::process::id(),
            COPIES.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos()
        ));
        copy_dir(&Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy"), &root);
        let secrets = root.join("overlays/production/secrets");
        for entry in std::fs::read_dir(&secrets).expect("production secrets/") {
            let path = entry.expect("entry").path();
            if let Some(real) = path.to_str().and_then(|p| p.strip_suffix(".example")) {
                std::fs::copy(&path, real).expect("copy an example secret");
            }
        }
        Self(root)
    }

    /// The directory of kustomization `name` (one of [`KUSTOMIZATIONS`]).
    pub fn dir(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for DeployTree {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create dir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy file");
        }
    }
}

/// `kubectl kustomize dir`, split into its objects.
///
/// # Panics
/// When kustomize fails (with its message) or prints something that is not YAML objects.
pub fn render(kubectl: &Path, dir: &Path) -> Vec<Value> {
    let output = Command::new(kubectl)
        .arg("kustomize")
        .arg(dir)
        .output()
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "{} kustomize {} failed:\n{}",
        kubectl.display(),
        dir.display(),
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("UTF-8 YAML");
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).expect("kustomize prints YAML");
    let objects: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    assert!(
        objects
            .iter()
            .all(|o| o["kind"].is_string() && o["apiVersion"].is_string()),
        "every document is a Kubernetes object:\n{text}"
    );
    objects
}

/// `kind/namespace/name` of an object.
pub fn id(object: &Value) -> String {
    format!(
        "{}/{}/{}",
        object["kind"].as_str().unwrap_or_default(),
        object["metadata"]["namespace"].as_str().unwrap_or("-"),
        object["metadata"]["name"].as_str().unwrap_or_default()
    )
}

/// The objects keyed by [`id`], with generated ConfigMap and Secret names (`<name>-<10-character
/// content hash>`, a hash that differs between kustomize generations) replaced by `<name>` wherever
/// they appear, empty maps and lists left out (kustomize v2 writes `labels: {}` where v5 writes
/// nothing; Kubernetes reads both as absent) and `volumes` sorted by name (a strategic-merge patch
/// puts a patched volume first in v5, last in v2; their order means nothing) and Secret data without
/// line breaks (v5 wraps long base64 at 76 columns; decoders skip them), so two renderings compare
/// equal when they mean the same.
pub fn without_name_hashes(objects: &[Value]) -> BTreeMap<String, Value> {
    let mut generated: BTreeMap<String, String> = BTreeMap::new();
    for object in objects {
        if matches!(object["kind"].as_str(), Some("ConfigMap" | "Secret"))
            && let Some(name) = object["metadata"]["name"].as_str()
            && let Some((stem, hash)) = name.rsplit_once('-')
            && hash.len() == 10
            && hash
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        {
            generated.insert(name.to_owned(), stem.to_owned());
        }
    }
    objects
        .iter()
        .map(|object| {
            let mut object = object.clone();
            replace_strings(&mut object, &generated);
            prune_empty(&mut object);
            sort_volumes(&mut object);
            if object["kind"] == "Secret"
                && let Some(data) = object["data"].as_object_mut()
            {
                for value in data.values_mut() {
                    if let Some(text) = value.as_str() {
                        *value = Value::String(text.split_whitespace().collect());
                    }
                }
            }
            (id(&object), object)
        })
        .collect()
}

fn sort_volumes(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(sort_volumes),
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "volumes"
                    && let Value::Array(volumes) = v
                {
                    volumes.sort_by(|a, b| a["name"].to_string().cmp(&b["name"].to_string()));
                }
                sort_volumes(v);
            }
        }
        _ => {}
    }
}

fn prune_empty(value: &mut Value) {
    match value {
        Value::Array(items) => items.iter_mut().for_each(prune_empty),
        Value::Object(map) => {
            map.values_mut().for_each(prune_empty);
            map.retain(|_, v| match v {
                Value::Object(m) => !m.is_empty(),
                Value::Array(a) => !a.is_empty(),
                Value::Null => false,
                _ => true,
            });
        }
        _ => {}
    }
}

fn replace_strings(value: &mut Value, names: &BTreeMap<String, String>) {
    match value {
        Value::String(s) => {
            if let Some(stem) = names.get(s.as_str()) {
                *s = stem.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| replace_strings(v, names)),
        Value::Object(map) => map.values_mut().for_each(|v| replace_strings(v, names)),
        _ => {}
    }
}
