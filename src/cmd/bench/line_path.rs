//! `medic bench line-path`: the CPU the line path's two stages take per line, in this process and
//! without a broker, so that a change to ingest or enrich can be measured apart from the noise of six
//! processes and a broker sharing two cores (`medic bench e2e`).
//!
//! ```text
//!  e2e's load (the bundled incident, replayed by staggered workloads)
//!    ─► ingest, batches of runner.batch_max_records lines, each read from the partition its key goes to
//!    ─► enrich (one instance per partition, as `medic run` builds it), the same batches of records, each
//!       partition's records of a batch one frame (one offset)
//! ```
//!
//! Each round builds both stages afresh and times each; the median round is reported. The baseline, run
//! in the same rounds, is what any stage reading and writing the per-line topics must do: decode each
//! normalised record and encode it again.

use crate::config::PipelineConfig;
use crate::stages::StageName;
use runtime::kafka::frames::partition_for;
use schemas::{Emitted, Emitter, LogRecord, SourceRecord, Stage, decode_record, encode_record};
use serde::Serialize;
use std::time::{Duration, Instant};

/// What `medic bench line-path` prints.
#[derive(Debug, Serialize)]
pub struct LinePathReport {
    /// Lines fed.
    pub lines: usize,
    /// Records ingest wrote (enrich's input).
    pub records: usize,
    /// Records enrich wrote: parsed records and windows.
    pub enrich_outputs: usize,
    /// Partitions the lines and records are spread over.
    pub partitions: i32,
    /// Lines per batch (`runner.batch_max_records`).
    pub batch_records: usize,
    /// Timed rounds (the median is reported).
    pub rounds: usize,
    /// Ingest, µs of CPU per line (median round).
    pub ingest_us_per_line: f64,
    /// Enrich, µs per record read.
    pub enrich_us_per_line: f64,
    /// The baseline (decode and encode each record), µs per record.
    pub baseline_us_per_line: f64,
    /// `enrich_us_per_line / baseline_us_per_line`.
    pub enrich_ratio_to_baseline: f64,
}

/// Feeds `lines` lines of the e2e load through ingest and enrich `rounds` times.
///
/// # Errors
/// When a stage cannot be built from `config`.
pub fn run(
    config: &PipelineConfig,
    lines: u64,
    partitions: i32,
    rounds: usize,
) -> anyhow::Result<LinePathReport> {
    let partitions = partitions.max(1);
    let batch = config.runner.batch_max_records.max(1);
    let raw = raw_batches(config, lines, partitions, batch);
    let build = |name: StageName| {
        name.build(config)
            .map_err(|problems| anyhow::anyhow!("{}: {problems:?}", name.as_str()))
    };
    // Enrich's input, made once; the timed rounds keep no output (as a stage hands its outputs to the
    // producer and reuses their memory), so fresh pages of a growing heap are not what is timed.
    let normalized = outputs_of(build(StageName::Ingest)?.as_mut(), &raw);
    let records = framed_batches(config, &normalized, partitions, batch);
    drop(normalized);
    let mut samples = Vec::with_capacity(rounds.max(1));
    let mut enrich_outputs = 0;
    for _ in 0..rounds.max(1) {
        let mut ingest = build(StageName::Ingest)?;
        let started = Instant::now();
        count_outputs(ingest.as_mut(), &raw);
        let ingest_time = started.elapsed();
        let mut enrich = build(StageName::Enrich)?;
        let started = Instant::now();
        enrich_outputs = count_outputs(enrich.as_mut(), &records);
        let enrich_time = started.elapsed();
        let started = Instant::now();
        reencode(&records);
        let baseline_time = started.elapsed();
        samples.push((ingest_time, enrich_time, baseline_time));
    }
    let counts = (records.iter().map(Vec::len).sum(), enrich_outputs);
    let fed = raw.iter().map(Vec::len).sum::<usize>();
    let median = |pick: fn(&(Duration, Duration, Duration)) -> Duration| {
        let mut times: Vec<Duration> = samples.iter().map(pick).collect();
        times.sort_unstable();
        times[times.len() / 2]
    };
    let per = |time: Duration, n: usize| time.as_secs_f64() * 1e6 / n.max(1) as f64;
    let (records, enrich_outputs) = counts;
    let enrich_us = per(median(|s| s.1), records);
    let baseline_us = per(median(|s| s.2), records);
    Ok(LinePathReport {
        lines: fed,
        records,
        enrich_outputs,
        partitions,
        batch_records: batch,
        rounds: samples.len(),
        ingest_us_per_line: per(median(|s| s.0), fed),
        enrich_us_per_line: enrich_us,
        baseline_us_per_line: baseline_us,
        enrich_ratio_to_baseline: enrich_us / baseline_us.max(f64::MIN_POSITIVE),
    })
}

/// The load's lines as ingest reads them: keyed, each on the partition its key goes to, in batches.
fn raw_batches(
    config: &PipelineConfig,
    lines: u64,
    partitions: i32,
    batch: usize,
) -> Vec<Vec<SourceRecord>> {
    let topic = config.ingest.sources[0].topic();
    let mut offsets = vec![0_i64; usize::try_from(partitions).unwrap_or(1)];
    let records: Vec<SourceRecord> = super::e2e::load_lines(lines)
        .into_iter()
        .map(|(key, payload)| {
            let partition = partition_for(key.as_bytes(), partitions);
            let offset = next(&mut offsets, partition);
            SourceRecord::new(&topic, partition, offset, payload).with_key(key)
        })
        .collect();
    records.chunks(batch).map(by_partition).collect()
}

/// How many records a stage emitted for `batches`, each batch's outputs dropped once counted.
fn count_outputs(stage: &mut dyn Stage, batches: &[Vec<SourceRecord>]) -> usize {
    per_batch(stage, batches, |emitted| emitted.len())
        .into_iter()
        .sum()
}

/// What a stage emitted for its outputs' topic, batch by batch: keyed, with their payloads.
fn outputs_of(
    stage: &mut dyn Stage,
    batches: &[Vec<SourceRecord>],
) -> Vec<Vec<(Option<String>, Vec<u8>)>> {
    per_batch(stage, batches, |emitted| {
        emitted.into_iter().map(|e| (e.key, e.payload)).collect()
    })
}

/// Runs `stage` over `batches`, handing each batch's outputs to `keep` as they come.
fn per_batch<T>(
    stage: &mut dyn Stage,
    batches: &[Vec<SourceRecord>],
    mut keep: impl FnMut(Vec<Emitted>) -> T,
) -> Vec<T> {
    batches
        .iter()
        .map(|batch| {
            let mut out = Emitter::new();
            stage.process_batch(batch, &mut out);
            keep(out.take().emitted)
        })
        .collect()
}

/// Ingest's outputs as enrich reads them: each on the partition its key goes to, in batches of `batch`
/// records; within a batch, a partition's records are one frame (one offset, each its index). The runner
/// also starts a new frame at `runner.frame_max_bytes` (256 KiB by default, about 700 of these records,
/// where a batch of 2 000 over 8 partitions makes frames of about 250) and lets a batch of frames pass
/// `batch` by one frame; both are left out here.
fn framed_batches(
    config: &PipelineConfig,
    outputs: &[Vec<(Option<String>, Vec<u8>)>],
    partitions: i32,
    batch: usize,
) -> Vec<Vec<SourceRecord>> {
    let topic = &config.topics.normalized;
    let mut offsets = vec![0_i64; usize::try_from(partitions).unwrap_or(1)];
    let all: Vec<(i32, &Vec<u8>)> = outputs
        .iter()
        .flatten()
        .map(|(key, payload)| {
            let key = key.as_deref().unwrap_or_default();
            (partition_for(key.as_bytes(), partitions), payload)
        })
        .collect();
    all.chunks(batch)
        .map(|chunk| {
            let mut records: Vec<SourceRecord> = Vec::with_capacity(chunk.len());
            let mut sorted: Vec<&(i32, &Vec<u8>)> = chunk.iter().collect();
            sorted.sort_by_key(|(partition, _)| *partition);
            for run in sorted.chunk_by(|a, b| a.0 == b.0) {
                let offset = next(&mut offsets, run[0].0);
                for (index, (partition, payload)) in run.iter().enumerate() {
                    let mut record =
                        SourceRecord::new(topic, *partition, offset, payload.as_slice());
                    record.coordinates.index = u32::try_from(index).unwrap_or(u32::MAX);
                    records.push(record);
                }
            }
            records
        })
        .collect()
}

/// The batch sorted by partition, each partition's records in their order (as the runner hands a
/// batch to a stage whose state follows its partitions).
fn by_partition(chunk: &[SourceRecord]) -> Vec<SourceRecord> {
    let mut batch = chunk.to_vec();
    batch.sort_by_key(|r| r.coordinates.partition);
    batch
}

/// The next offset of `partition`.
fn next(offsets: &mut [i64], partition: i32) -> i64 {
    let slot = &mut offsets[usize::try_from(partition).unwrap_or(0)];
    *slot += 1;
    *slot - 1
}

/// The baseline: each record decoded and encoded again.
fn reencode(batches: &[Vec<SourceRecord>]) {
    for record in batches.iter().flatten() {
        if let Ok(log) = decode_record::<LogRecord>(&record.payload) {
            std::hint::black_box(encode_record(&log).ok());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_line_goes_through_both_stages_and_a_batch_holds_one_frame_per_partition() {
        let config = crate::config::load_pipeline(None, std::iter::empty())
            .expect("the embedded pipeline loads")
            .config;
        let report = run(&config, 3000, 4, 1).expect("runs");
        assert_eq!(
            (report.lines, report.records),
            (3000, 3000),
            "one record per line"
        );
        assert!(
            report.enrich_outputs > report.records,
            "a parsed record per line, and windows: {report:?}"
        );
        assert!(report.ingest_us_per_line > 0.0 && report.enrich_us_per_line > 0.0);

        let outputs = vec![
            (0..5)
                .map(|i| {
                    (
                        Some(format!("ns/w{i}")),
                        vec![u8::try_from(i).expect("small")],
                    )
                })
                .collect(),
        ];
        let batches = framed_batches(&config, &outputs, 2, 3);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [3, 2]);
        for batch in &batches {
            for run in batch.chunk_by(|a, b| a.coordinates.partition == b.coordinates.partition) {
                let c = |i: usize| (run[i].coordinates.offset, run[i].coordinates.index);
                assert!(
                    (0..run.len()).all(|i| c(i) == (c(0).0, u32::try_from(i).expect("small"))),
                    "one offset per partition per batch, records indexed in it"
                );
            }
        }
    }
}
