//! The container image definition (`Dockerfile`) cannot be built here (no registry), so what can go
//! stale in it is checked instead: every file it copies exists, the build stage gets every workspace
//! member and every directory the binary embeds files from, the runtime image is non-root with the
//! models in its working directory, and the production overlay deploys the version being built.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `COPY` instructions of the Dockerfile as (stage, sources, destination); `--from` copies have the
/// stage they copy from as their only source, prefixed with `stage:`.
fn copies(dockerfile: &str) -> Vec<(String, Vec<String>, String)> {
    let mut stage = String::new();
    let mut out = Vec::new();
    for line in dockerfile.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["FROM", .., "AS", name] => stage = (*name).to_owned(),
            ["COPY", rest @ ..] if rest.len() >= 2 => {
                let (flags, paths): (Vec<&str>, Vec<&str>) =
                    rest.iter().partition(|w| w.starts_with("--"));
                let (destination, sources) = paths.split_last().expect("a destination");
                let sources = match flags.iter().find_map(|f| f.strip_prefix("--from=")) {
                    Some(from) => vec![format!("stage:{from}")],
                    None => sources.iter().map(|s| (*s).to_owned()).collect(),
                };
                out.push((stage.clone(), sources, (*destination).to_owned()));
            }
            _ => {}
        }
    }
    out
}

/// The workspace members named in the root manifest.
fn members() -> Vec<String> {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml"))
            .expect("valid TOML");
    manifest["workspace"]["members"]
        .as_array()
        .expect("members")
        .iter()
        .map(|m| m.as_str().expect("a path").to_owned())
        .collect()
}

/// The top-level directories the sources under `dir` embed files from (`include_str!("…")`).
fn embedded_dirs(dir: &Path, found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).expect("readable") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            embedded_dirs(&path, found);
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for (_, rest) in text
            .match_indices("include_str!(\"")
            .map(|(i, _)| text.split_at(i + 14))
        {
            let target = rest.split('"').next().unwrap_or_default();
            let resolved = path.parent().expect("a directory").join(target);
            if let Ok(relative) = resolved
                .canonicalize()
                .expect("embedded file exists")
                .strip_prefix(root().canonicalize().expect("root"))
            {
                let top = relative.components().next().expect("a component");
                found.push(top.as_os_str().to_string_lossy().into_owned());
            }
        }
    }
}

#[test]
fn the_dockerfile_copies_what_exists_and_what_the_build_needs() {
    let dockerfile = std::fs::read_to_string(root().join("Dockerfile")).expect("Dockerfile");
    let copies = copies(&dockerfile);
    let stages: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.trim().strip_prefix("FROM "))
        .filter_map(|l| l.split(" AS ").nth(1))
        .collect();
    assert_eq!(stages, ["build", "model", "base-model", "medic"]);
    for (stage, sources, _) in &copies {
        for source in sources {
            match source.strip_prefix("stage:") {
                Some(from) => assert!(stages.contains(&from), "{stage} copies from {from}"),
                None => assert!(
                    root().join(source).exists(),
                    "the {stage} stage copies {source}, which does not exist"
                ),
            }
        }
    }
    let built: Vec<&str> = copies
        .iter()
        .filter(|(stage, _, _)| stage == "build")
        .flat_map(|(_, sources, _)| sources.iter().map(String::as_str))
        .collect();
    let mut needed = members();
    needed.extend(["Cargo.toml", "Cargo.lock", "src"].map(String::from));
    for crate_dir in members().iter().map(|m| root().join(m)).chain([root()]) {
        embedded_dirs(&crate_dir.join("src"), &mut needed);
    }
    for path in &needed {
        assert!(
            built.contains(&path.as_str()),
            "the build stage lacks {path}"
        );
    }
    // The runtime image: models in the working directory (models_dir() is relative), non-root.
    let runtime = dockerfile
        .split("AS medic")
        .nth(1)
        .expect("the medic stage");
    assert!(runtime.contains("WORKDIR /opt/medic") && runtime.contains("COPY models models"));
    assert!(runtime.contains("USER 65532:65532"), "non-root");
    let ignored = std::fs::read_to_string(root().join(".dockerignore")).expect(".dockerignore");
    assert!(ignored.lines().any(|l| l.trim() == "target"));
}

#[test]
fn production_deploys_the_version_being_built() {
    let manifest: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("Cargo.toml")).expect("Cargo.toml"))
            .expect("valid TOML");
    let version = manifest["workspace"]["package"]["version"]
        .as_str()
        .expect("version");
    let kustomization =
        std::fs::read_to_string(root().join("deploy/overlays/production/kustomization.yaml"))
            .expect("production overlay");
    let medic = kustomization
        .split("- name: medic\n")
        .nth(1)
        .expect("the medic image");
    assert!(
        medic.contains(&format!("newTag: {version}")),
        "production's medic image tag is not {version}:\n{medic}"
    );
}
