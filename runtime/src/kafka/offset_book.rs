//! [`OffsetBook`]: where a stage runner stands on each input partition — what is committed, what is
//! processed and delivered but not committed yet, and what a rebalance took away before it could be
//! committed.
//!
//! A stage's consumer shares its book with its rebalance callback ([`super::StageContext`]): when the
//! group takes partitions away, a stateless stage commits what it has done on them at once (the outputs
//! are delivered) and forgets them; a stateful stage commits nothing for them (no snapshot covers those
//! offsets yet) but holds how far its state has read them, so that records it already took in are not
//! taken in again if the partition comes back. Either way nothing of a revoked partition is committed
//! while another consumer may own it. When a held partition is assigned back, its held offset becomes
//! committable again only if it is ahead of the group's commit (nobody else went further meanwhile)
//! ([`OffsetBook::reclaim`]).
//!
//! The runner processes the next batch while the broker acknowledges the last one's outputs: that
//! batch is in flight ([`OffsetBook::fly`]) — in the state, so never fed again, but neither committed
//! nor covered by a snapshot until it lands ([`OffsetBook::land`]). A partition revoked meanwhile is
//! dealt with by the revoke, as if the batch had not been processed yet (a stage with one snapshot holds
//! it, since its state has read it); landing then leaves it alone.
//!
//! A stage whose state follows its partitions ([`Checkpointing::PerPartition`]) forgets a revoked
//! partition altogether, as a stateless one does, but commits nothing for it either: the runner releases
//! the partition's state ([`OffsetBook::take_released`]) and its next owner restores it from the
//! partition's last checkpoint. An assigned partition is restored the same way
//! ([`OffsetBook::take_to_restore`], [`OffsetBook::restored`]) before its records are processed.

use crate::kafka::checkpoint::Offsets;
use crate::kafka::next_offsets;
use schemas::SourceRecord;
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

/// A topic-partition.
pub type Partition = (String, i32);

/// How a stage's state is checkpointed, which decides what a rebalance does with its offsets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpointing {
    /// No state: offsets are committed as soon as outputs are delivered.
    Stateless,
    /// One snapshot of the whole state per stage instance ([`schemas::Stage::state`]).
    Whole,
    /// One snapshot per input partition, which moves with it ([`schemas::Stage::partitioned_state`]).
    PerPartition,
}

/// A processed batch whose outputs are not all acknowledged yet ([`OffsetBook::fly`]).
#[derive(Debug)]
#[must_use = "a flight's offsets are committed only once it lands"]
pub struct Flight {
    /// The next offset per partition of the batch.
    next: Offsets,
    /// How often the group had taken each of those partitions away when the batch was processed.
    revocations: BTreeMap<Partition, u64>,
}

/// Where the runner stands per input partition.
#[derive(Debug, Default)]
pub struct OffsetBook {
    /// Offsets acknowledged downstream and committed (or covered by the last checkpoint).
    pub committed: Offsets,
    /// Offsets whose outputs are delivered but which are not committed yet (stateful stages between
    /// checkpoints).
    pub pending: Offsets,
    /// Offsets of the batch processed whose outputs are not all acknowledged yet ([`OffsetBook::fly`]):
    /// its records are in the stage's state, but nothing commits or checkpoints them before they land.
    pub in_flight: Offsets,
    /// How far a stateful stage's state has read partitions revoked before their offsets could be
    /// committed: never committed by this process, but covered by its next snapshot.
    pub held: Offsets,
    /// Partitions the group took away and has not given back: records of theirs still in a batch being
    /// filled when the rebalance happened are not processed (their next owner reads them).
    pub revoked: BTreeSet<Partition>,
    /// When the last checkpoint was taken.
    pub last_checkpoint: Option<Instant>,
    /// Partitions revoked whose state ([`Checkpointing::PerPartition`]) the runner has yet to release.
    released: BTreeSet<Partition>,
    /// Partitions assigned whose state ([`Checkpointing::PerPartition`]) the runner has yet to restore.
    to_restore: BTreeSet<Partition>,
    /// How often the group has taken each partition away: records read before a revoke are never
    /// processed (the runner's batch leaves them out), whether or not the partition came back.
    revocations: BTreeMap<Partition, u64>,
}

impl OffsetBook {
    /// Where this process stands on `partition` of `topic`: the next offset it has not processed.
    #[must_use]
    pub fn position(&self, topic: &str, partition: i32) -> Option<i64> {
        let key = (topic.to_owned(), partition);
        self.settled(&key).max(self.in_flight.get(&key).copied())
    }

    /// The next offset of `key` whose outputs are all delivered (committed, pending or held).
    fn settled(&self, key: &Partition) -> Option<i64> {
        [&self.committed, &self.pending, &self.held]
            .into_iter()
            .filter_map(|offsets| offsets.get(key).copied())
            .max()
    }

    /// `batch` was processed and its outputs handed to the producer: its records are in the state
    /// (never fed again), but its offsets wait for the acknowledgements. Returns what
    /// [`OffsetBook::land`] needs once they came.
    pub fn fly(&mut self, batch: &[SourceRecord]) -> Flight {
        let next = next_offsets(batch);
        let mut revocations = BTreeMap::new();
        for (key, &offset) in &next {
            let flying = self.in_flight.entry(key.clone()).or_insert(offset);
            *flying = (*flying).max(offset);
            revocations.insert(key.clone(), self.revocations(key));
        }
        Flight { next, revocations }
    }

    /// Every output of `flight` is acknowledged: its offsets become committable (a position only moves
    /// forward), except on partitions the group took away meanwhile (their revoke already dealt with
    /// them: a stage with one snapshot holds them, the others leave them to the next owner).
    pub fn land(&mut self, flight: Flight) {
        for (key, next) in flight.next {
            if flight.revocations.get(&key).copied() != Some(self.revocations(&key)) {
                continue;
            }
            if self
                .in_flight
                .get(&key)
                .is_some_and(|&flying| flying <= next)
            {
                self.in_flight.remove(&key);
            }
            if self.settled(&key).is_none_or(|settled| next > settled) {
                self.pending.insert(key, next);
            }
        }
    }

    /// Marks `batch` as processed and delivered ([`Self::fly`] and [`Self::land`] at once). A
    /// partition's position only moves forward: a batch read again below it (after a rebalance) must
    /// not pull the next commit back.
    #[cfg(test)]
    pub fn advance(&mut self, batch: &[SourceRecord]) {
        let flight = self.fly(batch);
        self.land(flight);
    }

    /// The records of `batch` a stateful stage's state does not include yet. Below the next offset this
    /// process has processed (or restored from a checkpoint) for a partition, a record is in the state
    /// already: read again after a restart from an older commit, or after a rebalance — a lost group
    /// session, a broker restart — handed the partition back from its last commit, which lags the
    /// state by up to a checkpoint interval. Its outputs were delivered the first time. Borrowed, without
    /// copying a record, unless some must be left out.
    #[must_use]
    pub fn not_yet_in_state<'a>(&self, batch: &'a [SourceRecord]) -> Cow<'a, [SourceRecord]> {
        let fresh = |r: &SourceRecord| {
            let c = &r.coordinates;
            self.position(&c.topic, c.partition)
                .is_none_or(|next| c.offset >= next)
        };
        if batch.iter().all(fresh) {
            return Cow::Borrowed(batch);
        }
        Cow::Owned(batch.iter().filter(|r| fresh(r)).cloned().collect())
    }

    /// The records of `batch` whose partition this process still owns: a batch filled across a
    /// rebalance may hold records of a partition revoked meanwhile, which its next owner reads from the
    /// last commit. Borrowed, without copying a record, unless some must be left out.
    #[must_use]
    pub fn owned<'a>(&self, batch: &'a [SourceRecord]) -> Cow<'a, [SourceRecord]> {
        let revoked = |r: &SourceRecord| {
            self.revoked
                .contains(&(r.coordinates.topic.clone(), r.coordinates.partition))
        };
        if self.revoked.is_empty() || !batch.iter().any(revoked) {
            return Cow::Borrowed(batch);
        }
        Cow::Owned(batch.iter().filter(|r| !revoked(r)).cloned().collect())
    }

    /// Takes the pending offsets to commit, counting them as committed.
    pub fn take_pending(&mut self) -> Offsets {
        let pending = std::mem::take(&mut self.pending);
        for (key, next) in &pending {
            self.committed.insert(key.clone(), *next);
            self.held.remove(key);
        }
        pending
    }

    /// Every offset a snapshot of the state covers: the furthest of committed, pending and held.
    #[must_use]
    pub fn covered(&self) -> Offsets {
        let mut offsets = self.committed.clone();
        for (key, next) in self.held.iter().chain(&self.pending) {
            let entry = offsets.entry(key.clone()).or_insert(*next);
            *entry = (*entry).max(*next);
        }
        offsets
    }

    /// The group took `partitions` away. A stateless stage gets back the offsets to commit now — the
    /// ones it has delivered — and forgets the partitions; a stage with one snapshot gets nothing to
    /// commit and keeps how far its state has read them; a stage whose state follows its partitions gets
    /// nothing to commit and forgets them, their state to be released (see the module docs).
    pub fn revoke(&mut self, partitions: &[Partition], checkpointing: Checkpointing) -> Offsets {
        let mut commit_now = Offsets::new();
        for key in partitions {
            self.revoked.insert(key.clone());
            *self.revocations.entry(key.clone()).or_default() += 1;
            self.to_restore.remove(key);
            let pending = self.pending.remove(key);
            let flying = self.in_flight.remove(key);
            match checkpointing {
                Checkpointing::Stateless => {
                    self.committed.remove(key);
                    if let Some(next) = pending {
                        commit_now.insert(key.clone(), next);
                    }
                }
                Checkpointing::Whole => {
                    // The state has read the batch in flight too; its snapshot comes only after the
                    // batch's outputs are acknowledged.
                    if let Some(next) = pending.max(flying) {
                        self.held.insert(key.clone(), next);
                    }
                }
                Checkpointing::PerPartition => {
                    self.committed.remove(key);
                    self.held.remove(key);
                    self.released.insert(key.clone());
                }
            }
        }
        commit_now
    }

    /// How often the group has taken `partition` away.
    #[must_use]
    pub fn revocations(&self, partition: &Partition) -> u64 {
        self.revocations.get(partition).copied().unwrap_or(0)
    }

    /// The partitions whose state must be released since the last call (revoked, whether or not they
    /// have been assigned back since: their state is restored from their checkpoint then).
    pub fn take_released(&mut self) -> BTreeSet<Partition> {
        std::mem::take(&mut self.released)
    }

    /// The partitions whose state must be restored since the last call (assigned and not revoked since).
    pub fn take_to_restore(&mut self) -> BTreeSet<Partition> {
        std::mem::take(&mut self.to_restore)
    }

    /// `partition`'s state was restored from a checkpoint covering up to `next` (`None`: no checkpoint,
    /// an empty state): that is where this process now stands on it, whatever it knew before.
    pub fn restored(&mut self, partition: &Partition, next: Option<i64>) {
        self.pending.remove(partition);
        self.in_flight.remove(partition);
        self.held.remove(partition);
        match next {
            Some(next) => self.committed.insert(partition.clone(), next),
            None => self.committed.remove(partition),
        };
    }
}

impl OffsetBook {
    /// The group assigned `partitions`: their records are this process's to process again (for a stage
    /// whose state follows its partitions, once their state is restored).
    pub fn assign(&mut self, partitions: &[Partition], checkpointing: Checkpointing) {
        for key in partitions {
            self.revoked.remove(key);
            if checkpointing == Checkpointing::PerPartition {
                self.to_restore.insert(key.clone());
            }
        }
    }

    /// Weighs held offsets of assigned partitions against the group's commits (each partition with the
    /// group's committed offset, if any): a held offset ahead of the group's commit is this process's to
    /// commit again, with its next snapshot; one the group has committed further stays held, only to
    /// skip what the state has read.
    pub fn reclaim(&mut self, partitions: &[(Partition, Option<i64>)]) {
        for (key, group) in partitions {
            if let Some(&held) = self.held.get(key)
                && group.is_none_or(|group| held > group)
            {
                self.held.remove(key);
                self.pending.insert(key.clone(), held);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "medic.logs.normalized";

    fn records(partition: i32, offsets: std::ops::Range<i64>) -> Vec<SourceRecord> {
        offsets
            .map(|offset| SourceRecord::new(TOPIC, partition, offset, "{}"))
            .collect()
    }

    fn key(partition: i32) -> Partition {
        (TOPIC.to_owned(), partition)
    }

    const EVERY_CHECKPOINTING: [Checkpointing; 3] = [
        Checkpointing::Stateless,
        Checkpointing::Whole,
        Checkpointing::PerPartition,
    ];

    /// A book owning partitions 0 and 1, with 1 processed up to offset 5.
    fn owning_both_with_one_read_to_5(checkpointing: Checkpointing) -> OffsetBook {
        let mut book = OffsetBook::default();
        book.assign(&[key(0), key(1)], checkpointing);
        book.advance(&records(1, 0..5));
        book
    }

    /// Records 0..3 of partition 0 and 5..8 of partition 1.
    fn batch_of_both() -> Vec<SourceRecord> {
        let mut batch = records(0, 0..3);
        batch.extend(records(1, 5..8));
        batch
    }

    #[test]
    fn a_partition_read_again_is_neither_fed_twice_nor_committed_backwards() {
        let mut book = OffsetBook::default();
        // The group's last commit is 700; the state has taken in 700..1100 since (not committed yet).
        book.committed.insert(key(0), 700);
        book.advance(&records(0, 700..1100));
        // A rebalance hands the partition back from the commit: 700..1100 are in the state already.
        let read = records(0, 700..1200);
        let fresh = book.not_yet_in_state(&read);
        assert_eq!(
            fresh
                .iter()
                .map(|r| r.coordinates.offset)
                .collect::<Vec<_>>(),
            (1100..1200).collect::<Vec<_>>()
        );
        book.advance(&records(0, 700..800));
        assert_eq!(
            book.position(TOPIC, 0),
            Some(1100),
            "the position only moves forward"
        );
        book.advance(&records(0, 1100..1200));
        assert_eq!(book.position(TOPIC, 0), Some(1200));
        let read = records(0, 1200..1201);
        assert!(
            matches!(book.not_yet_in_state(&read), Cow::Borrowed(b) if b.len() == 1),
            "nothing to leave out: the batch itself, not a copy"
        );
    }

    #[test]
    fn a_batch_in_flight_is_in_the_state_but_committable_only_once_it_lands() {
        let mut book = OffsetBook::default();
        book.advance(&records(0, 0..10));
        let flight = book.fly(&records(0, 10..20));
        assert_eq!(book.take_pending(), Offsets::from([(key(0), 10)]));
        assert_eq!(
            book.covered()[&key(0)],
            10,
            "a snapshot does not cover it yet"
        );
        let again = records(0, 15..25);
        assert_eq!(
            book.not_yet_in_state(&again)
                .first()
                .map(|r| r.coordinates.offset),
            Some(20),
            "never fed twice"
        );
        // The next batch flies before this one lands.
        let next = book.fly(&records(0, 20..30));
        book.land(flight);
        assert_eq!(book.take_pending(), Offsets::from([(key(0), 20)]));
        assert_eq!(book.position(TOPIC, 0), Some(30));
        book.land(next);
        assert_eq!(book.take_pending(), Offsets::from([(key(0), 30)]));
        assert!(book.in_flight.is_empty());
    }

    #[test]
    fn a_partition_revoked_while_its_batch_flies_is_not_committed_when_it_lands() {
        for checkpointing in EVERY_CHECKPOINTING {
            let mut book = owning_both_with_one_read_to_5(checkpointing);
            let flight = book.fly(&batch_of_both());
            let now = book.revoke(&[key(1)], checkpointing);
            // Given back before the batch lands: its next owner (here again) reads from the last commit.
            book.assign(&[key(1)], checkpointing);
            book.land(flight);
            let pending = book.take_pending();
            assert_eq!(pending.get(&key(0)), Some(&3), "{checkpointing:?}");
            assert_eq!(pending.get(&key(1)), None, "{checkpointing:?}");
            match checkpointing {
                Checkpointing::Stateless => {
                    assert_eq!(now, Offsets::from([(key(1), 5)]), "only what was delivered");
                }
                Checkpointing::Whole => {
                    assert!(now.is_empty());
                    assert_eq!(
                        book.held[&key(1)],
                        8,
                        "the state has read the batch in flight"
                    );
                }
                Checkpointing::PerPartition => {
                    assert!(now.is_empty());
                    assert_eq!(book.position(TOPIC, 1), None, "its state is restored anew");
                }
            }
        }
    }

    #[test]
    fn a_stateless_stage_commits_what_it_delivered_on_revoked_partitions_and_forgets_them() {
        let mut book = OffsetBook::default();
        book.advance(&records(0, 0..10));
        book.advance(&records(1, 0..20));
        assert_eq!(book.take_pending().len(), 2);
        book.advance(&records(0, 10..15));
        book.advance(&records(1, 20..30));
        let now = book.revoke(&[key(1)], Checkpointing::Stateless);
        assert_eq!(
            now,
            Offsets::from([(key(1), 30)]),
            "delivered, committed at once"
        );
        assert_eq!(book.position(TOPIC, 1), None, "forgotten");
        // Only the partition it still owns is committed later.
        assert_eq!(book.take_pending(), Offsets::from([(key(0), 15)]));
        // A revoked partition with nothing pending is forgotten too.
        assert!(book.revoke(&[key(0)], Checkpointing::Stateless).is_empty());
        assert_eq!(book.position(TOPIC, 0), None);
    }

    #[test]
    fn a_stateful_stage_never_commits_a_revoked_partition_but_remembers_its_state_read_it() {
        let mut book = OffsetBook::default();
        book.advance(&records(0, 0..10));
        book.advance(&records(1, 0..10));
        book.take_pending();
        book.advance(&records(0, 10..20));
        book.advance(&records(1, 10..20));
        assert!(
            book.revoke(&[key(1)], Checkpointing::Whole).is_empty(),
            "no snapshot covers 10..20 yet"
        );
        assert_eq!(
            book.take_pending(),
            Offsets::from([(key(0), 20)]),
            "the revoked partition is not committed later"
        );
        assert_eq!(book.covered()[&key(1)], 20, "the next snapshot covers it");
        // It comes back after another replica committed 22: the held 20 is not this process's to commit.
        book.assign(&[key(1)], Checkpointing::Whole);
        book.reclaim(&[(key(1), Some(22))]);
        assert!(book.pending.is_empty());
        assert_eq!(book.held[&key(1)], 20);
        // It comes back from the group's commit (10): what the state has read is not fed again, and the
        // held offset, ahead of the group's commit, is committed with the next snapshot.
        book.reclaim(&[(key(1), Some(10))]);
        assert_eq!(book.pending, Offsets::from([(key(1), 20)]));
        let read = records(1, 10..25);
        let fresh = book.not_yet_in_state(&read);
        assert_eq!(fresh.first().map(|r| r.coordinates.offset), Some(20));
        book.advance(&records(1, 10..25));
        assert_eq!(book.take_pending(), Offsets::from([(key(1), 25)]));
        assert_eq!(book.position(TOPIC, 1), Some(25));
        assert!(book.held.is_empty());
    }

    #[test]
    fn records_of_a_partition_revoked_while_their_batch_filled_are_not_processed() {
        for checkpointing in EVERY_CHECKPOINTING {
            let mut book = owning_both_with_one_read_to_5(checkpointing);
            let committed_now = book.revoke(&[key(1)], checkpointing);
            // The batch being filled holds records of both partitions from before the rebalance.
            let batch = batch_of_both();
            let owned = book.owned(&batch);
            assert!(owned.iter().all(|r| r.coordinates.partition == 0));
            // A batch with nothing of a revoked partition is taken as it is, not copied.
            assert!(matches!(book.owned(&records(0, 3..6)), Cow::Borrowed(_)));
            book.advance(&owned);
            assert_eq!(
                book.take_pending(),
                Offsets::from([(key(0), 3)]),
                "nothing of the revoked partition is committed after the revoke"
            );
            assert_eq!(
                committed_now.is_empty(),
                checkpointing != Checkpointing::Stateless
            );
            // Given back, its records (read again after the assignment) are processed.
            book.assign(&[key(1)], checkpointing);
            assert_eq!(book.owned(&records(1, 5..8)).len(), 3);
            assert_eq!(
                book.revocations(&key(1)),
                1,
                "the batch drops what it read before"
            );
        }
    }

    #[test]
    fn a_partition_whose_state_follows_it_is_forgotten_on_revoke_and_restored_on_assign() {
        let mut book = OffsetBook::default();
        let per_partition = Checkpointing::PerPartition;
        book.assign(&[key(0), key(1)], per_partition);
        assert_eq!(book.take_to_restore(), BTreeSet::from([key(0), key(1)]));
        book.restored(&key(0), Some(40));
        book.restored(&key(1), None);
        assert_eq!(book.position(TOPIC, 0), Some(40));
        assert_eq!(
            book.not_yet_in_state(&records(0, 30..45)).len(),
            5,
            "what the checkpoint covers is skipped"
        );
        book.advance(&records(0, 40..50));
        book.advance(&records(1, 0..10));
        // Partition 1 goes to another instance, comes back, and goes again before the runner looks.
        assert!(book.revoke(&[key(1)], per_partition).is_empty());
        assert_eq!(book.position(TOPIC, 1), None, "forgotten, never committed");
        book.assign(&[key(1)], per_partition);
        assert!(book.revoke(&[key(1)], per_partition).is_empty());
        assert_eq!(book.take_released(), BTreeSet::from([key(1)]));
        assert!(book.take_to_restore().is_empty(), "not this instance's now");
        // Back again: restored from the checkpoint another instance wrote, whatever was known before.
        book.assign(&[key(1)], per_partition);
        assert_eq!(book.take_to_restore(), BTreeSet::from([key(1)]));
        book.restored(&key(1), Some(25));
        assert_eq!(book.position(TOPIC, 1), Some(25));
        assert_eq!(
            book.take_pending(),
            Offsets::from([(key(0), 50)]),
            "only what this instance processed and still owns"
        );
    }
}
