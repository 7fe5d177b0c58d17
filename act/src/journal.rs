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

/// A bounded, optionally durable set of idempotency keys; the oldest is forgotten first.
#[derive(Debug)]
pub struct Journal {
    order: VecDeque<String>,
    set: HashSet<String>,
    capacity: usize,
    file: Option<(PathBuf, File)>,
}

impl Journal {
    /// A journal in memory only.
    #[must_use]
    pub fn in_memory(capacity: usize) -> Self {
        Self {
            order: VecDeque::new(),
            set: HashSet::new(),
            capacity: capacity.max(1),
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
                journal.remember(line.to_owned());
            }
        }
        if torn || lines > 2 * journal.capacity {
            let tmp = path.with_extension("compact");
            let mut out = File::create(&tmp)?;
            for key in &journal.order {
                writeln!(out, "{key}")?;
            }
            out.sync_all()?;
            std::fs::rename(&tmp, path)?;
        }
        let file = OpenOptions::new().create(true).append(true).open(path)?;
        journal.file = Some((path.to_owned(), file));
        Ok(journal)
    }

    /// Whether `key` was handled.
    #[must_use]
    pub fn contains(&self, key: &str) -> bool {
        self.set.contains(key)
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
        self.remember(key.to_owned());
        Ok(())
    }

    /// The file, when the journal is durable.
    #[must_use]
    pub fn path(&self) -> Option<&Path> {
        self.file.as_ref().map(|(path, _)| path.as_path())
    }

    fn remember(&mut self, key: String) {
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
        }
        let journal = Journal::open(&path, 3).expect("reopen");
        assert!(journal.contains("k9") && journal.contains("k7"));
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
