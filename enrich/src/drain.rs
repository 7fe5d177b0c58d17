//! An online, Drain-class template miner: a fixed-depth prefix tree routes a masked message by its token
//! count and its first tokens to a few candidate clusters; the most similar candidate above a threshold
//! absorbs the message (differing positions become `<*>`), otherwise a new cluster starts.
//!
//! One default configuration is meant for every source: the masking in [`crate::tokens`] does the
//! source-independent work (numbers, addresses, ids are variables wherever they appear), so the tree and
//! threshold only have to separate message types.

use crate::tokens::{TokenMasker, WILDCARD, has_wildcard, merge_token, whitespace_tokens};
use schemas::id;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// Miner settings. The defaults are used for every source.
#[derive(Debug, Clone, PartialEq)]
pub struct DrainConfig {
    /// Tree depth: token count level + `depth - 2` first-token levels. Default: 4.
    pub depth: usize,
    /// Similarity a message needs to join a cluster (share of equal positions). Default: 0.7, the
    /// leave-one-system-out choice on the visible Loghub-2k systems (`medic bench parse --loso`).
    pub similarity_threshold: f64,
    /// Children per tree node; beyond it new tokens route to the `<*>` child. Default: 100.
    pub max_children: usize,
    /// Most clusters kept; once reached, a message no cluster absorbs gets no cluster
    /// ([`Match::cluster`] is `None`) and the caller falls back to per-message masking. Bounds memory
    /// and snapshot size on sources that log unbounded variety. Default: 20000.
    pub max_clusters: usize,
    /// Clusters whose templates are equal once each run of bare `<*>` counts as one join one group
    /// (`delete <*>` and `delete <*> <*> <*>`: a list of variable length is one event). Default: on.
    pub merge_variable_runs: bool,
    /// Which two different words at one position keep two messages apart however similar the rest
    /// (`Transitioned from NEW to RUNNING`, `VM Started` and `VM Paused` are different events, while
    /// `user alice` and `user bob` are one). Default: [`WordGuard::Capitalised`].
    pub distinct_words: WordGuard,
}

impl Default for DrainConfig {
    fn default() -> Self {
        Self {
            depth: 4,
            similarity_threshold: 0.7,
            max_children: 100,
            max_clusters: 20_000,
            merge_variable_runs: true,
            distinct_words: WordGuard::Capitalised,
        }
    }
}

/// Which differing words keep two messages in different clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordGuard {
    /// None: only the similarity threshold decides.
    Off,
    /// Two different capitalised words (`NEW` / `RUNNING`, `Started` / `Paused`): names of states and
    /// actions, which logs write capitalised, unlike user names and values.
    Capitalised,
    /// Any two different words of letters only (`bytes` / `values`).
    All,
}

impl WordGuard {
    /// Whether `a` and `b` (different tokens) must not share a cluster.
    fn keeps_apart(self, a: &str, b: &str) -> bool {
        let capitalised = |t: &str| t.as_bytes().first().is_some_and(u8::is_ascii_uppercase);
        match self {
            Self::Off => false,
            Self::Capitalised => {
                is_plain_word(a) && is_plain_word(b) && capitalised(a) && capitalised(b)
            }
            Self::All => is_plain_word(a) && is_plain_word(b),
        }
    }
}

/// One template cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cluster {
    /// Stable id: a hash of the template the cluster started with, so the same input gives the same ids
    /// in every process, and a restored miner keeps them.
    pub id: String,
    /// The tree path the cluster was filed under (kept so a restored miner files it identically).
    pub route: Vec<String>,
    /// Template tokens (`<*>` for variables).
    pub tokens: Vec<String>,
    /// Messages absorbed.
    pub size: u64,
    /// Bumped each time the template generalises.
    pub version: u32,
    /// The oldest cluster of the group this one joined ([`DrainConfig::merge_variable_runs`]), whose id
    /// names the group ([`Drain::group_of`]); always that cluster itself, never a chain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub merged_into: Option<usize>,
}

impl Cluster {
    /// The template text.
    #[must_use]
    pub fn template(&self) -> String {
        self.tokens.join(" ")
    }
}

#[derive(Debug, Default)]
struct Node {
    children: HashMap<String, Node>,
    clusters: Vec<usize>,
}

/// The result of adding one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match {
    /// Index of the cluster (stable for the miner's lifetime); `None` when no cluster absorbed the
    /// message and the miner is full.
    pub cluster: Option<usize>,
    /// Whether this message changed the cluster's template.
    pub changed: bool,
}

/// The miner.
#[derive(Debug, Default)]
pub struct Drain {
    config: DrainConfig,
    by_length: HashMap<usize, Node>,
    clusters: Vec<Cluster>,
    /// Current template shape (runs of `<*>` folded, [`shape_of`]) → the clusters that have it now (all
    /// of one group). Old shapes are forgotten when a template changes, so a restored miner, which
    /// knows only current shapes, groups exactly as one that never stopped.
    by_shape: HashMap<String, Vec<usize>>,
    /// Group root → the other clusters of its group (to re-point them when the group joins an older one).
    members: HashMap<usize, Vec<usize>>,
}

/// A token of letters only (`bytes`, `NEW`): a word that names something, unlike a value.
fn is_plain_word(token: &str) -> bool {
    !token.is_empty() && token.bytes().all(|b| b.is_ascii_alphabetic())
}

/// Tokens that must not route the tree: they carry a digit or an already masked part.
fn is_variable_like(token: &str) -> bool {
    has_wildcard(token) || token.bytes().any(|b| b.is_ascii_digit())
}

impl Drain {
    /// A miner with `config`.
    #[must_use]
    pub fn new(config: DrainConfig) -> Self {
        Self {
            config,
            by_length: HashMap::new(),
            clusters: Vec::new(),
            by_shape: HashMap::new(),
            members: HashMap::new(),
        }
    }

    /// The clusters, by index.
    #[must_use]
    pub fn clusters(&self) -> &[Cluster] {
        &self.clusters
    }

    /// Masks and adds one message; returns its cluster.
    pub fn add_message(&mut self, message: &str) -> Match {
        self.add(TokenMasker::default().mask(&whitespace_tokens(message)))
    }

    /// Adds one already masked token sequence; returns its cluster.
    pub fn add<T: AsRef<str>>(&mut self, tokens: Vec<T>) -> Match {
        let depth = self.config.depth.saturating_sub(2).max(1);
        let max_children = self.config.max_children;
        let threshold = self.config.similarity_threshold;
        let distinct_words = self.config.distinct_words;
        let mut node = self.by_length.entry(tokens.len()).or_default();
        for token in tokens.iter().take(depth) {
            let token = token.as_ref();
            let mut key = if is_variable_like(token) {
                WILDCARD
            } else {
                token
            };
            if !node.children.contains_key(key) {
                if node.children.len() >= max_children {
                    key = WILDCARD;
                }
                if !node.children.contains_key(key) {
                    node.children.insert(key.to_owned(), Node::default());
                }
            }
            node = node
                .children
                .get_mut(key)
                .expect("child exists: inserted above");
        }
        let best = node
            .clusters
            .iter()
            .map(|&i| {
                (
                    i,
                    similarity(&self.clusters[i].tokens, &tokens, distinct_words),
                )
            })
            .filter(|(_, (sim, _))| *sim >= threshold)
            .max_by(|(_, a), (_, b)| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal))
            .map(|(i, _)| i);
        match best {
            Some(i) => {
                let generalises = self.clusters[i]
                    .tokens
                    .iter()
                    .zip(&tokens)
                    .any(|(t, m)| t != m.as_ref() && t != WILDCARD);
                if generalises {
                    self.forget_shape(i);
                }
                let cluster = &mut self.clusters[i];
                cluster.size += 1;
                if generalises {
                    for (t, m) in cluster.tokens.iter_mut().zip(&tokens) {
                        let m = m.as_ref();
                        if t != m && t != WILDCARD {
                            *t = merge_token(t, m);
                        }
                    }
                    cluster.version += 1;
                    self.file_shape(i);
                }
                Match {
                    cluster: Some(i),
                    changed: generalises,
                }
            }
            None if self.clusters.len() >= self.config.max_clusters => Match {
                cluster: None,
                changed: false,
            },
            None => {
                let index = self.clusters.len();
                node.clusters.push(index);
                let route = self.route_of(&tokens);
                let tokens: Vec<String> = tokens.iter().map(|t| t.as_ref().to_owned()).collect();
                self.clusters.push(Cluster {
                    id: id::stable_id("tpl", &[&tokens.join(" ")]),
                    route,
                    tokens,
                    size: 1,
                    version: 1,
                    merged_into: None,
                });
                self.file_shape(index);
                Match {
                    cluster: Some(index),
                    changed: false,
                }
            }
        }
    }
}

impl Drain {
    /// The tree keys `tokens` took on their way down (all present: the walk in [`Drain::add`] inserted
    /// them), recomputed only when a cluster is created so the hot path allocates nothing for it.
    fn route_of<T: AsRef<str>>(&self, tokens: &[T]) -> Vec<String> {
        let depth = self.config.depth.saturating_sub(2).max(1);
        let mut route = Vec::with_capacity(depth);
        let mut node = self.by_length.get(&tokens.len());
        for token in tokens.iter().take(depth) {
            let Some(current) = node else { break };
            let token = token.as_ref();
            let key = if !is_variable_like(token) && current.children.contains_key(token) {
                token
            } else {
                WILDCARD
            };
            route.push(key.to_owned());
            node = current.children.get(key);
        }
        route
    }
}

impl Drain {
    /// The cluster that names `index`'s group: the oldest cluster of the group (itself unless it joined
    /// another through [`DrainConfig::merge_variable_runs`]). Its id is the group's stable id.
    #[must_use]
    pub fn group_of(&self, index: usize) -> usize {
        self.clusters[index].merged_into.unwrap_or(index)
    }

    /// Removes cluster `index`'s current shape from [`Drain::by_shape`] (before its template changes).
    fn forget_shape(&mut self, index: usize) {
        if !self.config.merge_variable_runs {
            return;
        }
        let shape = shape_of(&self.clusters[index].tokens);
        if let Some(clusters) = self.by_shape.get_mut(&shape) {
            clusters.retain(|&c| c != index);
            if clusters.is_empty() {
                self.by_shape.remove(&shape);
            }
        }
    }

    /// Files cluster `index` under its template's current shape; when other clusters have that shape,
    /// the two groups become one.
    fn file_shape(&mut self, index: usize) {
        if !self.config.merge_variable_runs {
            return;
        }
        let same_shape = self
            .by_shape
            .entry(shape_of(&self.clusters[index].tokens))
            .or_default();
        let other = same_shape.first().copied();
        same_shape.push(index);
        if let Some(other) = other {
            self.unite(index, other);
        }
    }

    /// Joins the groups of `a` and `b`: the younger group's clusters point at the older root, which
    /// keeps its id.
    fn unite(&mut self, a: usize, b: usize) {
        let (a, b) = (self.group_of(a), self.group_of(b));
        if a == b {
            return;
        }
        let (older, younger) = (a.min(b), a.max(b));
        let mut moved = self.members.remove(&younger).unwrap_or_default();
        moved.push(younger);
        for &cluster in &moved {
            self.clusters[cluster].merged_into = Some(older);
        }
        self.members.entry(older).or_default().extend(moved);
    }
}

/// A template with each run of bare `<*>` tokens folded to one (`a <*> <*> b` → `a <*> b`).
fn shape_of(tokens: &[String]) -> String {
    let mut shape = String::new();
    let mut previous_wildcard = false;
    for token in tokens {
        let wildcard = token == WILDCARD;
        if wildcard && previous_wildcard {
            continue;
        }
        if !shape.is_empty() {
            shape.push(' ');
        }
        shape.push_str(token);
        previous_wildcard = wildcard;
    }
    shape
}

/// A miner's clusters as a checkpoint holds them: borrowed (`&[Cluster]`) when written, owned when read.
#[derive(Serialize, Deserialize)]
struct Snapshot<C> {
    clusters: C,
}

impl Drain {
    /// Every cluster, ready to serialise without copying (the tree is rebuilt from the clusters' routes).
    pub fn snapshot(&self) -> impl Serialize + '_ {
        Snapshot {
            clusters: self.clusters.as_slice(),
        }
    }

    /// Replaces the clusters with a snapshot's and rebuilds the tree.
    ///
    /// # Errors
    /// When the snapshot is not one [`Drain::snapshot`] wrote.
    pub fn restore(&mut self, snapshot: serde_json::Value) -> Result<(), serde_json::Error> {
        let Snapshot::<Vec<Cluster>> { clusters } = serde_json::from_value(snapshot)?;
        if let Some((index, _)) = clusters
            .iter()
            .enumerate()
            .find(|(index, c)| c.merged_into.is_some_and(|older| older >= *index))
        {
            return Err(serde::de::Error::custom(format!(
                "cluster {index} joins a group that is not older than itself"
            )));
        }
        self.by_length.clear();
        for (index, cluster) in clusters.iter().enumerate() {
            let mut node = self.by_length.entry(cluster.tokens.len()).or_default();
            for key in &cluster.route {
                node = node.children.entry(key.clone()).or_default();
            }
            node.clusters.push(index);
        }
        self.clusters = clusters;
        self.by_shape.clear();
        self.members.clear();
        for index in 0..self.clusters.len() {
            // Older clusters are done first, so `older`'s own link already names its root.
            if let Some(older) = self.clusters[index].merged_into {
                let root = self.group_of(older);
                self.clusters[index].merged_into = Some(root);
                self.members.entry(root).or_default().push(index);
            }
        }
        for index in 0..self.clusters.len() {
            // Clusters that share a shape now are one group, as online (also for snapshots written
            // before groups existed).
            self.file_shape(index);
        }
        Ok(())
    }
}

/// Drain's similarity: the share of positions where the template equals the message (a masked `<*>`
/// meeting a template `<*>` counts as equal, so a template never stops matching the very messages it
/// was built from); ties prefer the template with more wildcards (the second element). Two words the
/// guard keeps apart make the similarity 0.
fn similarity<T: AsRef<str>>(template: &[String], tokens: &[T], guard: WordGuard) -> (f64, usize) {
    if template.is_empty() {
        return (1.0, 0);
    }
    let mut equal = 0usize;
    let mut wildcards = 0usize;
    for (t, m) in template.iter().zip(tokens) {
        if t == m.as_ref() {
            // Equal tokens, including a masked variable meeting a wildcard.
            equal += 1;
        } else if t == WILDCARD {
            wildcards += 1;
        } else if guard.keeps_apart(t, m.as_ref()) {
            return (0.0, 0);
        }
    }
    #[allow(clippy::cast_precision_loss, reason = "token counts are small")]
    let sim = equal as f64 / template.len() as f64;
    (sim, wildcards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similar_messages_share_a_cluster_and_generalise() {
        let mut drain = Drain::new(DrainConfig::default());
        let a =
            drain.add_message("Receiving block blk_1 src: /10.0.0.1:50010 dest: /10.0.0.2:50010");
        let b =
            drain.add_message("Receiving block blk_2 src: /10.0.0.3:50010 dest: /10.0.0.4:50010");
        assert_eq!(a.cluster, b.cluster);
        let c = drain.add_message("Deleting block blk_3 file /mnt/hadoop/current/blk_3");
        assert_ne!(a.cluster, c.cluster);
        let template = drain.clusters()[a.cluster.expect("clustered")].template();
        assert_eq!(template, "Receiving block <*> src: <*>:<*> dest: <*>:<*>");
    }

    #[test]
    fn differing_words_become_wildcards_and_bump_the_version() {
        let mut drain = Drain::new(DrainConfig::default());
        let first = drain.add_message("session opened for user alice by web");
        let second = drain.add_message("session opened for user bob by web");
        assert_eq!(first.cluster, second.cluster);
        assert!(second.changed);
        let cluster = &drain.clusters()[first.cluster.expect("clustered")];
        assert_eq!(
            (cluster.template().as_str(), cluster.version, cluster.size),
            ("session opened for user <*> by web", 2, 2)
        );
    }

    #[test]
    fn a_template_with_wildcards_keeps_absorbing_its_own_messages() {
        // Regression: when a masked `<*>` did not count as equal to a template `<*>`, templates with
        // many variables fell below the threshold and every message started a duplicate cluster.
        let mut drain = Drain::new(DrainConfig::default());
        for i in 0..50 {
            drain.add_message(&format!(
                "Received block blk_{i} of size {} from /10.0.0.{i}",
                1000 + i
            ));
        }
        assert_eq!(drain.clusters().len(), 1);
        assert_eq!(drain.clusters()[0].size, 50);
    }

    #[test]
    fn a_restored_miner_continues_with_the_same_ids_and_templates() {
        let lines = [
            "session opened for user alice by web",
            "session opened for user bob by web",
            "connection from 10.0.0.1 closed",
            "disk /dev/sda1 is 93% full",
        ];
        let mut original = Drain::new(DrainConfig::default());
        for line in &lines[..3] {
            original.add_message(line);
        }
        let snapshot = serde_json::to_value(original.snapshot()).expect("snapshot");
        let mut restored = Drain::new(DrainConfig::default());
        restored.restore(snapshot).expect("restore");
        assert_eq!(restored.clusters(), original.clusters());
        for line in lines {
            let a = original.add_message(line);
            let b = restored.add_message(line);
            assert_eq!(a, b, "{line}");
        }
        assert_eq!(restored.clusters(), original.clusters());
        assert!(restored.restore(serde_json::json!({"x": 1})).is_err());

        // Routes through the `<*>` child (a full tree node) are restored as they were taken.
        let narrow = DrainConfig {
            max_children: 1,
            ..DrainConfig::default()
        };
        let mut original = Drain::new(narrow.clone());
        let words = ["alpha", "beta", "gamma", "delta"];
        for word in words {
            original.add_message(&format!("{word} service started ok"));
        }
        let mut restored = Drain::new(narrow);
        restored
            .restore(serde_json::to_value(original.snapshot()).expect("snapshot"))
            .expect("restore");
        for word in words.iter().chain(&["epsilon"]) {
            let line = format!("{word} service started ok");
            assert_eq!(
                original.add_message(&line),
                restored.add_message(&line),
                "{line}"
            );
        }
    }

    #[test]
    fn a_full_miner_stops_creating_clusters() {
        let mut drain = Drain::new(DrainConfig {
            max_clusters: 1,
            ..DrainConfig::default()
        });
        assert!(drain.add_message("first kind of message").cluster.is_some());
        assert_eq!(
            drain
                .add_message("another thing entirely here, longer")
                .cluster,
            None
        );
        assert!(drain.add_message("first kind of message").cluster.is_some());
    }

    #[test]
    fn lists_of_any_length_are_one_group_named_by_its_oldest_cluster() {
        let mut drain = Drain::new(DrainConfig::default());
        let one = drain.add_message("BLOCK* ask 10.0.0.1:50010 to delete blk_-160899");
        let three =
            drain.add_message("BLOCK* ask 10.0.0.2:50010 to delete blk_-217 blk_9331 blk_40");
        let other = drain.add_message("BLOCK* ask 10.0.0.2:50010 to replicate blk_57");
        let (one, three, other) = (
            one.cluster.expect("clustered"),
            three.cluster.expect("clustered"),
            other.cluster.expect("clustered"),
        );
        assert_ne!(one, three, "two lengths, two clusters");
        assert_eq!(drain.group_of(three), one, "one group, the older names it");
        assert_eq!(drain.group_of(other), other);

        // A restored miner keeps the groups, and new lists still join the oldest.
        let mut restored = Drain::new(DrainConfig::default());
        restored
            .restore(serde_json::to_value(drain.snapshot()).expect("snapshot"))
            .expect("restore");
        assert_eq!(restored.group_of(three), one);
        let two = restored
            .add_message("BLOCK* ask 10.0.0.3:50010 to delete blk_61 blk_-74")
            .cluster
            .expect("clustered");
        assert_eq!(restored.group_of(two), one);

        let off = DrainConfig {
            merge_variable_runs: false,
            ..DrainConfig::default()
        };
        let mut separate = Drain::new(off);
        separate.add_message("BLOCK* ask 10.0.0.1:50010 to delete blk_-160899");
        let three = separate
            .add_message("BLOCK* ask 10.0.0.2:50010 to delete blk_-217 blk_9331 blk_40")
            .cluster
            .expect("clustered");
        assert_eq!(separate.group_of(three), three);
    }

    #[test]
    fn a_restored_miner_groups_exactly_as_one_that_never_stopped() {
        // `stop pod alpha 12` starts a cluster whose shape `stop pod alpha <*>` it then loses; a later
        // cluster with that old shape must not join it, whether or not the miner was restored between.
        let before = ["stop pod alpha 12", "stop pod beta 13"];
        let after = [
            "stop pod alpha 12 13",
            "stop pod gamma 14 15",
            "stop pod delta 16",
        ];
        let mut uninterrupted = Drain::new(DrainConfig::default());
        let mut first = Drain::new(DrainConfig::default());
        for line in before {
            uninterrupted.add_message(line);
            first.add_message(line);
        }
        let mut restored = Drain::new(DrainConfig::default());
        restored
            .restore(serde_json::to_value(first.snapshot()).expect("snapshot"))
            .expect("restore");
        for line in after {
            let a = uninterrupted.add_message(line).cluster.expect("clustered");
            let b = restored.add_message(line).cluster.expect("clustered");
            assert_eq!(
                (a, uninterrupted.group_of(a)),
                (b, restored.group_of(b)),
                "{line}"
            );
        }
        assert_eq!(uninterrupted.clusters(), restored.clusters());
    }

    #[test]
    fn a_snapshot_whose_group_points_forward_is_refused() {
        let mut drain = Drain::new(DrainConfig::default());
        drain.add_message("delete blk_-160899");
        drain.add_message("create file now");
        let mut snapshot = serde_json::to_value(drain.snapshot()).expect("snapshot");
        snapshot["clusters"][0]["merged_into"] = serde_json::json!(1);
        let error = Drain::new(DrainConfig::default())
            .restore(snapshot)
            .expect_err("a cycle would hang group_of");
        assert!(error.to_string().contains("not older"), "{error}");
    }

    #[test]
    fn capitalised_states_stay_apart_while_names_generalise() {
        let mut drain = Drain::new(DrainConfig::default());
        let new = drain.add_message("task_1 Task Transitioned from NEW to SCHEDULED");
        let running = drain.add_message("task_2 Task Transitioned from SCHEDULED to RUNNING");
        assert_ne!(new.cluster, running.cluster);
        let started = drain.add_message("[instance: 1f0e-22] VM Started (Lifecycle Event)");
        let paused = drain.add_message("[instance: 3a9c-44] VM Paused (Lifecycle Event)");
        assert_ne!(started.cluster, paused.cluster);
        let alice = drain.add_message("Invalid user alice from 10.0.0.1 port 22");
        let bob = drain.add_message("Invalid user bob from 10.0.0.2 port 22");
        assert_eq!(alice.cluster, bob.cluster);

        let unguarded = DrainConfig {
            distinct_words: WordGuard::Off,
            ..DrainConfig::default()
        };
        let mut drain = Drain::new(unguarded);
        let started = drain.add_message("[instance: 1f0e-22] VM Started (Lifecycle Event)");
        let paused = drain.add_message("[instance: 3a9c-44] VM Paused (Lifecycle Event)");
        assert_eq!(started.cluster, paused.cluster);
        let all = DrainConfig {
            distinct_words: WordGuard::All,
            ..DrainConfig::default()
        };
        let mut drain = Drain::new(all);
        let alice = drain.add_message("Invalid user alice from 10.0.0.1 port 22");
        let bob = drain.add_message("Invalid user bob from 10.0.0.2 port 22");
        assert_ne!(alice.cluster, bob.cluster);
    }

    #[test]
    fn different_lengths_never_merge() {
        let mut drain = Drain::new(DrainConfig::default());
        let a = drain.add_message("connection closed");
        let b = drain.add_message("connection closed by peer");
        assert_ne!(a.cluster, b.cluster);
    }
}
