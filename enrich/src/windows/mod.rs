//! Event-time windows over parsed records, computed by DataFusion per micro-batch.
//!
//! ```text
//!  micro-batch of records ─► one row per (record, window it falls in) ─► Arrow RecordBatch `records`
//!     ─► the definition's SQL (DataFusion) ─► partial counts per window × workload × template × severity
//!     ─► merged into the open windows (state carried across batches, checkpointed)
//!     ─► watermark = oldest partition's newest event time − allowed lateness ─► windows ending at or
//!        before it are emitted
//! ```
//!
//! The watermark is the oldest of the input partitions' newest event times − allowed lateness
//! (`watermark.rs`): a partition that lags behind another does not see its records dropped as late; one
//! silent for `idle_timeout` of wall clock stops holding it back, and no record moves it past the wall
//! clock. A record whose window has already closed is late: with `late_records = "drop"` it is counted
//! (`enrich.late_dropped`); with `"update"` the closed window (kept for `late_retention`) absorbs it and
//! is emitted again with `revision` + 1. Whether a record is late is judged against the watermark
//! as it stands just before the input message it came in (it moves message by message — a frame's
//! records are judged together — a partition first heard of in a batch holding it back from the batch's
//! start), so with `"drop"` which records a window counts depends only on the messages of its
//! partitions read before, never on how they are split into batches:
//! a partition re-read from a checkpoint by its next owner counts every window as before. Windows are
//! emitted after each batch, in (end, workload) order; with `"update"`, where a batch ends decides
//! whether a record the watermark had just passed is in a window's first emission or in a revision,
//! but the last revision counts the same records. As long as records are no later than the allowed
//! lateness, no partition falls silent and no event time is ahead of the wall clock, the output does
//! not depend on their order either (an evidence bound that is reached keeps what came first).

mod evidence;
mod query;
mod slot;
mod spec;
mod state;
mod watermark;

pub use evidence::LineEvidence;
pub use query::{PartialCount, QueryError, WindowQuery, WindowRow};
pub use spec::{DEFAULT_SQL, LatePolicy, PARTIAL_COLUMNS, WindowSpec};

use schemas::{LogSeverity, LogView, ParsedRecord, Target, WindowFeatures};
use state::{Merged, Place, Shape, WindowState, window_starts};
use std::collections::BTreeSet;

/// One parsed record, as the window operator sees it.
#[derive(Debug, Clone, Copy)]
pub struct WindowInput<'a> {
    /// The workload (pod and node already removed).
    pub target: &'a Target,
    /// Event time, ns.
    pub event_time_ns: i64,
    /// Severity.
    pub severity: LogSeverity,
    /// Template id.
    pub template_id: &'a str,
    /// Template text.
    pub template: &'a str,
    /// The input partition the record was read from (the watermark waits for the slowest one).
    pub partition: i32,
    /// The offset of the input message the record was read in (a frame holds many records): the
    /// watermark moves between messages, so the records of one message are judged together.
    pub message: i64,
    /// The line itself, for windows that carry evidence (`evidence_templates`); `None` adds none.
    pub evidence: Option<LineEvidence<'a>>,
}

impl<'a> WindowInput<'a> {
    /// The line `log` of template `(template_id, template)`, read from input `partition` in the message at
    /// offset `message`, in the windows of its workload `target` ([`workload_of`]), with the line as
    /// evidence.
    #[must_use]
    pub fn of(
        log: &'a LogView<'_>,
        (template_id, template): (&'a str, &'a str),
        (partition, message): ReadAt,
        target: &'a Target,
    ) -> Self {
        Self {
            target,
            event_time_ns: log.event_time_ns,
            severity: log.severity,
            template_id,
            template,
            partition,
            message,
            evidence: Some(LineEvidence::of(log)),
        }
    }
}

/// The workload whose windows `log` counts in: its target without pod and node (windows aggregate per
/// workload, not per pod); `None` for a record that names no workload.
#[must_use]
pub fn workload_of(log: &LogView<'_>) -> Option<Target> {
    log.resource.workload()
}

/// Where a record was read: its input partition and the offset of its message.
pub type ReadAt = (i32, i64);

/// The window inputs of `lines` (each a line's log, its template id and text, and where it was read),
/// whose workloads ([`workload_of`]) are `workloads`: those that name a workload.
pub fn window_inputs<'a, 'v: 'a>(
    lines: impl IntoIterator<Item = (&'a LogView<'v>, (&'a str, &'a str), ReadAt)>,
    workloads: &'a [Option<Target>],
) -> Vec<WindowInput<'a>> {
    lines
        .into_iter()
        .zip(workloads)
        .filter_map(|((log, template, read_at), target)| {
            Some(WindowInput::of(log, template, read_at, target.as_ref()?))
        })
        .collect()
}

/// Every window of `spec` over `records` (each with where it was read), as enrich
/// emits them when `records` are one micro-batch at the end of a finite input (a replay, a test).
///
/// # Errors
/// When the definition does not plan or its query fails.
pub fn windows_of(
    spec: WindowSpec,
    records: &[(ParsedRecord, ReadAt)],
) -> Result<Vec<WindowFeatures>, QueryError> {
    let mut operator = WindowOperator::new(spec)?;
    let logs: Vec<LogView<'_>> = records.iter().map(|(p, _)| p.log.view()).collect();
    let workloads: Vec<Option<Target>> = logs.iter().map(workload_of).collect();
    let lines = records.iter().zip(&logs).map(|((parsed, read_at), log)| {
        let template = (parsed.template_id.as_str(), parsed.template.as_str());
        (log, template, *read_at)
    });
    let inputs = window_inputs(lines, &workloads);
    // No wall clock: a finite input's event times are what they are.
    let mut windows = operator.add_batch(&inputs, i64::MAX)?.windows;
    windows.extend(operator.flush());
    Ok(windows)
}

/// [`windows_of`] over parsed records as a stage reads them (from `medic.logs.parsed`), as the next stage
/// reads the windows: one record each on `medic.windows` partition 0, at offsets 0, 1, …. For tests and
/// tools that feed diagnose without a broker.
///
/// # Panics
/// When a record is not a [`ParsedRecord`] or the definition does not plan: test input is wrong.
#[must_use]
pub fn window_source_records(
    spec: WindowSpec,
    parsed: &[schemas::SourceRecord],
) -> Vec<schemas::SourceRecord> {
    let records: Vec<(ParsedRecord, ReadAt)> = parsed
        .iter()
        .map(|r| {
            let record = schemas::decode_record(&r.payload).expect("a parsed record");
            (record, (r.coordinates.partition, r.coordinates.offset))
        })
        .collect();
    windows_of(spec, &records)
        .expect("the window definition plans")
        .iter()
        .zip(0..)
        .map(|(window, offset)| {
            let payload = schemas::encode_record(window).expect("a window encodes");
            schemas::SourceRecord::new("medic.windows", 0, offset, payload)
        })
        .collect()
}

/// What one micro-batch produced.
#[derive(Debug, Default)]
pub struct WindowOutput {
    /// Windows closed (or corrected) by this batch, in end order.
    pub windows: Vec<WindowFeatures>,
    /// Record contributions dropped because their window had closed.
    pub late_dropped: u64,
    /// Record contributions added to already emitted windows (`update` policy).
    pub late_updates: u64,
    /// Records whose event time was ahead of the wall clock by more than the allowed lateness: counted
    /// as if at the wall clock plus the allowed lateness.
    pub ahead_of_clock: u64,
    /// Lines that found no window or template among the query's results to be evidence in, once per
    /// window they fall in (late lines, or lines the query filtered or re-labelled).
    pub evidence_unmatched: u64,
}

/// One window definition: its planned query and its state.
#[derive(Debug)]
pub struct WindowOperator {
    spec: WindowSpec,
    shape: Shape,
    query: WindowQuery,
    state: WindowState,
    /// Wall-clock time (ns) of the last record, for idle advancement.
    last_input_wall_ns: Option<i64>,
}

impl WindowOperator {
    /// Plans the definition's query.
    ///
    /// # Errors
    /// When the SQL does not plan or lacks the required columns.
    pub fn new(spec: WindowSpec) -> Result<Self, QueryError> {
        let query = WindowQuery::plan(&spec.sql)?;
        let shape = Shape {
            name: spec.name.clone(),
            size_ns: spec.size.as_nanos(),
            slide_ns: spec.slide_ns(),
            top_templates: spec.top_templates,
            by_template: spec.by_template,
            evidence_templates: spec.evidence_templates,
        };
        Ok(Self {
            spec,
            shape,
            query,
            state: WindowState::default(),
            last_input_wall_ns: None,
        })
    }

    /// The definition.
    #[must_use]
    pub fn spec(&self) -> &WindowSpec {
        &self.spec
    }

    /// The oldest of the active input partitions' newest event times − allowed lateness, never moving
    /// back (`i64::MIN` before any record).
    #[must_use]
    pub fn watermark(&self) -> i64 {
        self.state.watermark.get()
    }

    /// Open windows (workloads × windows in flight).
    #[must_use]
    pub fn open_windows(&self) -> usize {
        self.state.open.len()
    }

    /// Adds one micro-batch (any order) read at wall-clock time `now_ns`; returns the windows it closes.
    ///
    /// # Errors
    /// When DataFusion fails to execute the query; the state is unchanged then.
    pub fn add_batch(
        &mut self,
        inputs: &[WindowInput<'_>],
        now_ns: i64,
    ) -> Result<WindowOutput, QueryError> {
        let mut output = WindowOutput::default();
        if inputs.is_empty() {
            return Ok(output);
        }
        // A clock far ahead (a pod's own timestamp; ingest accepts up to a day) must neither close every
        // window at once nor open windows in the future: such a record counts at the wall clock plus the
        // allowed lateness, so the watermark stays at or behind the wall clock and the current window open.
        let ahead = now_ns.saturating_add(self.spec.allowed_lateness.as_nanos());
        output.ahead_of_clock = inputs.iter().filter(|i| i.event_time_ns > ahead).count() as u64;
        let clamped: Vec<WindowInput<'_>> = inputs
            .iter()
            .map(|input| WindowInput {
                event_time_ns: input.event_time_ns.min(ahead),
                ..*input
            })
            .collect();
        let inputs = clamped.as_slice();
        let watermark = self.watermark();
        let retention = self.spec.retention_ns();
        let (size, slide) = (self.shape.size_ns, self.shape.slide_ns);
        let (lateness, idle) = (
            self.spec.allowed_lateness.as_nanos(),
            self.spec.idle_timeout.as_nanos(),
        );
        // The watermark moves message by message (a frame's records are judged together), so whether a
        // record is late depends only on the messages of its partition before it, never on where
        // batches begin: a partition's next owner, re-reading it from a checkpoint in other batches,
        // counts each window as the first owner did. A partition first heard of in this batch holds it
        // back from the batch's start.
        let mut running = self.state.watermark.clone();
        for input in inputs {
            running.hear(input.partition, input.event_time_ns, now_ns);
        }
        let mut marks = Vec::with_capacity(inputs.len());
        let mut rows =
            Vec::with_capacity(inputs.len() * usize::try_from(size / slide).unwrap_or(1));
        let kinds: Vec<&'static str> = inputs.iter().map(|i| i.target.kind.as_str()).collect();
        let mut mark = running.get();
        for (i, (input, kind)) in inputs.iter().zip(&kinds).enumerate() {
            let t = input.event_time_ns;
            // The watermark as the record's message found it.
            let before = mark;
            marks.push(before);
            running.observe(input.partition, t, now_ns);
            let message_ends = inputs.get(i + 1).is_none_or(|next| {
                (next.partition, next.message) != (input.partition, input.message)
            });
            if message_ends {
                running.advance(lateness, idle, now_ns);
                mark = running.get();
            }
            for start in window_starts(t, size, slide) {
                let end = start.saturating_add(size);
                if Place::of(end, before, retention) == Place::Late {
                    output.late_dropped += 1;
                } else {
                    rows.push(WindowRow {
                        window_start: start,
                        window_end: end,
                        event_time_ns: t,
                        cluster: input.target.cluster.as_deref(),
                        namespace: input.target.namespace.as_deref(),
                        kind,
                        name: &input.target.name,
                        template_id: input.template_id,
                        template: input.template,
                        severity: input.severity.as_str(),
                    });
                }
            }
        }
        let partials = self.query.run(&rows)?;
        let mut corrected = BTreeSet::new();
        for partial in partials {
            let records = partial.records;
            match self.state.merge(partial, size, watermark, retention) {
                Merged::Open => {}
                Merged::Corrected(key) => {
                    output.late_updates += records;
                    corrected.insert(key);
                }
                Merged::Late => output.late_dropped += records,
            }
        }
        if self.shape.evidence_templates > 0 {
            output.evidence_unmatched =
                self.state
                    .gather_evidence(inputs, &marks, &self.shape, watermark, retention);
        }
        for input in inputs {
            let t = input.event_time_ns;
            self.state.max_event_time_ns = self.state.max_event_time_ns.max(Some(t));
        }
        self.state.watermark = running;
        self.last_input_wall_ns = Some(now_ns);
        output.windows = self.state.reemit(&corrected, &self.shape);
        output.windows.extend(self.close_due());
        Ok(output)
    }

    /// Moves event time on with the wall clock when no record has arrived for `idle_timeout`, so the
    /// windows of a stream that went quiet still close.
    pub fn on_idle(&mut self, now_ns: i64) -> Vec<WindowFeatures> {
        let (Some(last), Some(max)) = (self.last_input_wall_ns, self.state.max_event_time_ns)
        else {
            return Vec::new();
        };
        let idle = now_ns.saturating_sub(last);
        if idle < self.spec.idle_timeout.as_nanos() {
            return Vec::new();
        }
        // Never past the wall clock, whatever event time a record claimed.
        let moved = max.saturating_add(idle).min(now_ns.max(max));
        self.state.max_event_time_ns = Some(moved);
        self.state
            .watermark
            .raise(moved.saturating_sub(self.spec.allowed_lateness.as_nanos()));
        self.last_input_wall_ns = Some(now_ns);
        self.close_due()
    }

    /// Emits every open window (end of a finite input, such as a replay).
    pub fn flush(&mut self) -> Vec<WindowFeatures> {
        self.state
            .close(i64::MAX, self.spec.max_open_windows, 0, &self.shape)
    }

    fn close_due(&mut self) -> Vec<WindowFeatures> {
        self.state.close(
            self.watermark(),
            self.spec.max_open_windows,
            self.spec.retention_ns(),
            &self.shape,
        )
    }

    /// The state, ready to serialise without copying.
    pub fn snapshot(&self) -> impl serde::Serialize + '_ {
        &self.state
    }

    /// Replaces the state with a snapshot's.
    ///
    /// # Errors
    /// When the snapshot is not one [`WindowOperator::snapshot`] wrote.
    pub fn restore(&mut self, snapshot: serde_json::Value) -> Result<(), serde_json::Error> {
        self.state = serde_json::from_value(snapshot)?;
        if let (true, Some(max)) = (
            self.state.watermark.is_unset(),
            self.state.max_event_time_ns,
        ) {
            // Written before watermarks were kept per partition: as it was then.
            self.state
                .watermark
                .raise(max.saturating_sub(self.spec.allowed_lateness.as_nanos()));
        }
        self.last_input_wall_ns = None;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;

    const S: i64 = 1_000_000_000;
    /// A wall clock far after every event time here.
    const NO_CLOCK: i64 = 1_000_000 * S;

    fn target(name: &str) -> Target {
        Target {
            cluster: None,
            namespace: Some("shop".into()),
            kind: schemas::ObjectKind::Deployment,
            name: name.into(),
            pod: None,
            node: None,
        }
    }

    /// An info line of template `t1` at second `t` of `target`, in its own message on partition 0.
    fn info_line(target: &Target, t: i64) -> WindowInput<'_> {
        WindowInput {
            target,
            event_time_ns: t * S,
            severity: LogSeverity::Info,
            template_id: "t1",
            template: "t1",
            partition: 0,
            message: t,
            evidence: None,
        }
    }

    fn add(
        operator: &mut WindowOperator,
        records: &[(&Target, i64, LogSeverity, &str)],
    ) -> WindowOutput {
        let inputs: Vec<WindowInput<'_>> = records
            .iter()
            .map(|(target, t, severity, template_id)| WindowInput {
                target,
                event_time_ns: t * S,
                severity: *severity,
                template_id,
                template: template_id,
                partition: 0,
                message: *t,
                evidence: None,
            })
            .collect();
        operator.add_batch(&inputs, NO_CLOCK).expect("query runs")
    }

    #[test]
    fn tumbling_windows_close_at_the_watermark_with_their_features() {
        let (a, b) = (target("a"), target("b"));
        let mut operator = WindowOperator::new(WindowSpec::default()).expect("plans");
        let out = add(
            &mut operator,
            &[
                (&a, 5, LogSeverity::Error, "t1"),
                (&b, 30, LogSeverity::Info, "t2"),
                (&a, 20, LogSeverity::Info, "t2"),
                (&a, 65, LogSeverity::Warning, "t1"),
            ],
        );
        assert!(out.windows.is_empty(), "watermark 55 s: nothing closes");
        let out = add(&mut operator, &[(&a, 71, LogSeverity::Info, "t1")]);
        assert_eq!(
            out.windows.len(),
            2,
            "watermark 61 s closes both [0, 60) windows"
        );
        let first = &out.windows[0];
        assert_eq!(
            (first.target.name.as_str(), first.window_start_ns),
            ("a", 0)
        );
        assert_eq!(
            (first.record_count, first.error_count, first.warning_count),
            (2, 1, 0)
        );
        assert_eq!(first.severity_counts.get("info"), Some(&1));
        assert_eq!((first.distinct_templates, first.new_templates), (2, 2));
        assert!((first.error_rate - 0.5).abs() < 1e-9);
        assert!(
            (first.rate_of_change - 2.0).abs() < 1e-9,
            "2 records against none"
        );
        assert_eq!(first.window, "workload");

        let out = add(&mut operator, &[(&a, 200, LogSeverity::Info, "t1")]);
        let second = &out.windows[0];
        assert_eq!((second.window_start_ns, second.record_count), (60 * S, 2));
        assert_eq!(second.new_templates, 0, "t1 was seen in the first window");
        assert!((second.rate_of_change - 0.0).abs() < 1e-9, "2 against 2");
        assert_eq!(second.top_templates[0].template_id, "t1");
    }

    #[test]
    fn a_lagging_partition_is_not_dropped_as_late_because_another_ran_ahead() {
        let (web, api) = (target("web"), target("api"));
        let mut operator = WindowOperator::new(WindowSpec::default()).expect("plans");
        let input = |target, t: i64, partition| WindowInput {
            target,
            event_time_ns: t * S,
            severity: LogSeverity::Error,
            template_id: "t1",
            template: "t1",
            partition,
            message: t,
            evidence: None,
        };
        // Partition 1 (api) has been heard from; partition 0 (web) reads on to minute 5.
        let first = operator.add_batch(&[input(&api, 5, 1), input(&web, 300, 0)], NO_CLOCK);
        assert!(first.expect("runs").windows.is_empty(), "api holds it back");
        let caught_up = operator
            .add_batch(&[input(&api, 20, 1), input(&api, 75, 1)], NO_CLOCK)
            .expect("runs");
        assert_eq!(caught_up.late_dropped, 0);
        let closed: Vec<(&str, u64)> = caught_up
            .windows
            .iter()
            .map(|w| (w.target.name.as_str(), w.record_count))
            .collect();
        assert_eq!(closed, [("api", 2)], "api's first minute, whole");
    }

    #[test]
    fn whether_a_record_is_late_does_not_depend_on_where_batches_begin() {
        let web = target("web");
        let input = |t: i64| info_line(&web, t);
        // Out of order by more than the allowed lateness (10 s): 5 and 30 arrive after 90.
        let stream: Vec<WindowInput<'_>> = [1, 20, 40, 90, 5, 30, 61, 100, 130, 200]
            .into_iter()
            .map(input)
            .collect();
        let run = |cuts: &[usize]| {
            let mut operator = WindowOperator::new(WindowSpec::default()).expect("plans");
            let (mut late, mut counts) = (0, Vec::new());
            let mut from = 0;
            for &to in cuts.iter().chain([&stream.len()]) {
                let out = operator
                    .add_batch(&stream[from..to], NO_CLOCK)
                    .expect("runs");
                late += out.late_dropped;
                counts.extend(
                    out.windows
                        .iter()
                        .map(|w| (w.window_start_ns / S, w.record_count)),
                );
                from = to;
            }
            counts.extend(
                operator
                    .flush()
                    .iter()
                    .map(|w| (w.window_start_ns / S, w.record_count)),
            );
            (late, counts)
        };
        let whole = run(&[]);
        assert_eq!(whole.0, 2, "5 and 30 came after minute 0 had closed");
        assert_eq!(whole.1, [(0, 3), (60, 3), (120, 1), (180, 1)]);
        for cuts in [&[1][..], &[4], &[5, 6], &[2, 4, 7, 9]] {
            assert_eq!(run(cuts), whole, "batches cut at {cuts:?}");
        }
        // The records of one message (a frame) are judged together: 5 came in 90's frame.
        let mut operator = WindowOperator::new(WindowSpec::default()).expect("plans");
        let frame: Vec<WindowInput<'_>> = stream[..5]
            .iter()
            .map(|i| WindowInput { message: 7, ..*i })
            .collect();
        let out = operator.add_batch(&frame, NO_CLOCK).expect("runs");
        assert_eq!(out.late_dropped, 0);
    }

    #[test]
    fn a_clock_far_ahead_moves_event_time_only_to_the_wall_clock() {
        let a = target("a");
        let mut operator = WindowOperator::new(WindowSpec::default()).expect("plans");
        let input = |t: i64| info_line(&a, t);
        let now = 1_000 * S;
        let forged = operator
            .add_batch(&[input(990), input(1_000 + 86_000)], now)
            .expect("runs");
        assert_eq!(forged.ahead_of_clock, 1);
        assert!(forged.windows.is_empty(), "the current minute stays open");
        assert_eq!(
            operator.open_windows(),
            1,
            "and no window a day ahead opens"
        );
        let next = operator
            .add_batch(&[input(1_005)], now + 5 * S)
            .expect("runs");
        assert_eq!(next.late_dropped, 0, "the lines after it still count");
        // Quiet for a minute: the watermark follows the wall clock, not the forged time.
        let closed = operator.on_idle(now + 65 * S);
        assert_eq!(closed.len(), 1);
        assert_eq!(
            closed[0].record_count, 3,
            "[960 s, 1020 s): 990, 1005 and the forged line, counted at 1010"
        );
    }

    #[test]
    fn hopping_windows_count_a_record_in_every_window_containing_it() {
        let a = target("a");
        let mut operator = WindowOperator::new(WindowSpec {
            size: Span::secs(60),
            slide: Some(Span::secs(30)),
            allowed_lateness: Span::secs(0),
            ..WindowSpec::default()
        })
        .expect("plans");
        add(&mut operator, &[(&a, 45, LogSeverity::Error, "t1")]);
        let out = add(&mut operator, &[(&a, 500, LogSeverity::Info, "t1")]);
        let spans: Vec<(i64, i64, u64)> = out
            .windows
            .iter()
            .map(|w| (w.window_start_ns / S, w.window_end_ns / S, w.record_count))
            .collect();
        assert_eq!(spans, [(0, 60, 1), (30, 90, 1)]);
    }

    #[test]
    fn late_records_are_dropped_or_correct_the_window() {
        let a = target("a");
        for (policy, expect_updates) in [(LatePolicy::Drop, false), (LatePolicy::Update, true)] {
            let mut operator = WindowOperator::new(WindowSpec {
                late_records: policy,
                ..WindowSpec::default()
            })
            .expect("plans");
            add(&mut operator, &[(&a, 5, LogSeverity::Info, "t1")]);
            let closed = add(&mut operator, &[(&a, 75, LogSeverity::Info, "t1")]);
            assert_eq!(closed.windows.len(), 1);
            let late = add(&mut operator, &[(&a, 10, LogSeverity::Error, "t9")]);
            if expect_updates {
                assert_eq!((late.late_updates, late.late_dropped), (1, 0));
                let corrected = &late.windows[0];
                assert_eq!((corrected.revision, corrected.record_count), (1, 2));
                assert_eq!((corrected.error_count, corrected.new_templates), (1, 2));
            } else {
                assert_eq!((late.late_updates, late.late_dropped), (0, 1));
                assert!(late.windows.is_empty());
            }
        }
    }

    #[test]
    fn per_template_windows_and_idle_streams() {
        let a = target("a");
        let mut operator = WindowOperator::new(WindowSpec {
            by_template: true,
            ..WindowSpec::default()
        })
        .expect("plans");
        let inputs = [WindowInput {
            target: &a,
            event_time_ns: 5 * S,
            severity: LogSeverity::Error,
            template_id: "t1",
            template: "x <*>",
            partition: 0,
            message: 0,
            evidence: None,
        }];
        assert!(
            operator
                .add_batch(&inputs, 1_000 * S)
                .expect("runs")
                .windows
                .is_empty()
        );
        assert!(
            operator.on_idle(1_010 * S).is_empty(),
            "not idle for 30 s yet"
        );
        let closed = operator.on_idle(1_100 * S);
        assert_eq!(
            closed.len(),
            1,
            "a quiet stream's window closes with the wall clock"
        );
        assert_eq!(closed[0].template_id.as_deref(), Some("t1"));
        assert_eq!(closed[0].top_templates[0].template, "x <*>");
    }
}
