//! [`model_dir`]: where a committed model (`models/<name>`: the classifiers, the policies) is found.

use std::path::{Path, PathBuf};

/// `models/<name>` in the working directory or one of its parents (the first holding its `spec.json`),
/// else in the source tree.
#[must_use]
pub fn model_dir(name: &str) -> PathBuf {
    let relative = Path::new("models").join(name);
    std::env::current_dir()
        .ok()
        .and_then(|cwd| {
            cwd.ancestors()
                .map(|dir| dir.join(&relative))
                .find(|dir| dir.join("spec.json").is_file())
        })
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join(relative)
        })
}
