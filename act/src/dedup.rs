//! A bounded memory of idempotency keys.

use std::collections::{HashSet, VecDeque};

/// Remembers the last `capacity` keys; the oldest is forgotten first.
#[derive(Debug)]
pub(crate) struct SeenKeys {
    order: VecDeque<String>,
    set: HashSet<String>,
    capacity: usize,
}

impl SeenKeys {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            order: VecDeque::new(),
            set: HashSet::new(),
            capacity,
        }
    }

    /// Records `key`; returns false when it was already remembered.
    pub(crate) fn insert(&mut self, key: &str) -> bool {
        if self.set.contains(key) {
            return false;
        }
        if self.order.len() == self.capacity
            && let Some(oldest) = self.order.pop_front()
        {
            self.set.remove(&oldest);
        }
        self.order.push_back(key.to_owned());
        self.set.insert(key.to_owned());
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_up_to_capacity() {
        let mut seen = SeenKeys::new(2);
        assert!(seen.insert("a"));
        assert!(!seen.insert("a"));
        assert!(seen.insert("b"));
        assert!(seen.insert("c"));
        assert!(seen.insert("a"), "a was forgotten when c arrived");
        assert!(!seen.insert("c"));
    }
}
