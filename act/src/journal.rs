//! [`Journal`]: the idempotency keys the actuator has handled, remembered across restarts.
//!
//! A key is written (and the file synced) *before* its command is applied, so a crash between the two
//! leaves the command not applied rather than applied twice: the actuator is at-most-once per key, and the
//! at-least-once delivery of the topic makes it exactly-once in the normal case. Without a file the
//! journal lives in memory only (fine for `log` mode and tests; the Kubernetes backend also records the
//! last command id on the object it changes).

use std::collections::{HashSet, VecDeque};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A bounded, optionally durable set of idempotency keys; the oldest is forgotten first. Keys of
/// commands that change nothing (noop, escalate) are kept apart, in memory only ([`Journal::note`]), so
/// that a flood of them neither fills the file nor pushes out the keys of changes.
#[derive(Debug)]
pub struct Journal {
    changes: KeySet,
    noted: KeySet,
    file: Option<(PathBuf, File)>,
}

/// Keys in arrival order, at most `capacity`; the oldest is forgotten first.
#[derive(Debug)]
struct KeySet {
    order: VecDeque<String>,
    set: HashSet<String>,
    capacity: usize,
}

impl KeySet {
    fn new(capacity: usize) -> Self {
        Self {
            order: VecDeque::new(),
            set: HashSet::new(),
            capacity: capacity.max(1),
        }
    }

    fn insert(&mut self, key: String) {
        if self.set.contains(&key) {
            return;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.set.insert(key.clone());
        self.order.push_back(key);
    }
}

impl Journal {
    /// A journal in memory only.
    #[must_use]
    pub fn in_memory(capacity: usize) -> Self {
        Self {
            changes: KeySet::new(capacity),
            noted: KeySet::new(capacity),
            file: None,
        }
    }

    /// Opens (or creates) the journal file at `path` and loads its last `capacity` keys. A file much
    /// longer than `capacity` is compacted first.
    ///
    /// # Errors
    /// When the file cannot be read, compacted or opened for appending.
    pub fn open(path: &Path, capacity: usize) -> std::io::Result<Self> {
        let mut journal = Self::in_memory(capacity);
        let mut lines = 0_usize;
        let mut torn = false;
        if path.exists() {
            let text = std::fs::read_to_string(path)?;
            // A last line without its newline was never synced (the write was cut short): its command
            // was not applied, so it is dropped, and the file rewritten without it.
            torn = !text.is_empty() && !text.ends_with('\n');
            let complete = if torn {
                &text[..text.rfind('\n').map_or(0, |i| i + 1)]
            } else {
                &text[..]
            };
            for line in complete.lines().filter(|l| !l.is_empty()) {
                lines += 1;
                journal.changes.insert(line.to_owned());
            }
        }
        let compact = torn || lines > 2 * journal.changes.capacity;
        if compact {
            let tmp = path.with_extension("compact");
            let mut out = File::create(&tmp)?;
            for key in &journal.changes.order {
                writeln!(out, "{key}")?;
            }
            out.sync_all()?;
            std::fs::rename(&tmp, path)?;
        }
        let created = !path.exists();
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        if compact || created {
            // A renamed or created file's name is durable only once its directory is.
            sync_directory(path)?;
        }
        journal.file = Some((path.to_owned(), file));
        Ok(journal)
    }

    /// Whether `key` was handled.
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.changes.set.contains(key) || self.noted.set.contains(key)
    }

    /// Remembers `key` of a command that changes nothing, in memory only: its replays are refused while
    /// this process runs; after a restart one is logged again, which changes nothing either.
    pub fn note(&mut self, key: &str) {
        self.noted.insert(key.to_owned());
    }

    /// Records `key` durably (appended and synced when there is a file) before the caller acts on it.
    ///
    /// # Errors
    /// When the key cannot be written; the caller must not apply the command then.
    pub fn record(&mut self, key: &str) -> std::io::Result<()> {
        if let Some((_, file)) = &mut self.file {
            // One write per key, so a crash cannot glue two keys onto one line.
            file.write_all(format!("{key}\n").as_bytes())?;
            file.sync_data()?;
        }
        self.changes.insert(key.to_owned());
        Ok(())
    }

    /// The file, when the journal is durable.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(path, _)| path.as_path())
    }
}

/// Syncs the directory holding `path`, so that a file created or renamed there survives a crash.
fn sync_directory(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_up_to_capacity() {
        let mut seen = Journal::in_memory(2);
        for key in ["a", "b", "c"] {
            assert!(!seen.contains(key));
            seen.record(key).expect("memory");
        }
        assert!(!seen.contains("a"), "a was forgotten when c arrived");
        assert!(seen.contains("b") && seen.contains("c"));
        // Keys of commands that change nothing never push out those of changes.
        for i in 0..10 {
            seen.note(&format!("escalate-{i}"));
        }
        assert!(seen.contains("b") && seen.contains("c") && seen.contains("escalate-9"));
    }

    #[test]
    fn survives_a_restart_and_compacts() {
        let dir = std::env::temp_dir().join(format!("medic-journal-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("keys");
        let _ = std::fs::remove_file(&path);
        {
            let mut journal = Journal::open(&path, 3).expect("open");
            for i in 0..10 {
                journal.record(&format!("k{i}")).expect("write");
            }
            journal.note("escalation");
        }
        let journal = Journal::open(&path, 3).expect("reopen");
        assert!(journal.contains("k9") && journal.contains("k7"));
        assert!(
            !journal.contains("escalation"),
            "noted keys never reach the file"
        );
        assert!(!journal.contains("k6"), "beyond capacity");
        let kept = std::fs::read_to_string(&path).expect("read");
        assert_eq!(
            kept.lines().count(),
            3,
            "compacted to the remembered keys: {kept}"
        );
        // A torn last write (no newline) is dropped on open.
        std::fs::write(&path, "k1\nk2\nk3-cut").expect("write");
        let journal = Journal::open(&path, 10).expect("open");
        assert!(journal.contains("k2") && !journal.contains("k3-cut"));
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "k1\nk2\n");
        std::fs::remove_dir_all(&dir).expect("clean up");
    }
}
