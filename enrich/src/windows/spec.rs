//! [`WindowSpec`]: one `[[enrich.windows]]` definition in the pipeline file.

use crate::span::Span;
use schemas::config::{Problem, Problems};
use serde::{Deserialize, Serialize};

/// The query that turns each micro-batch of records into partial counts. Its result must have the
/// columns of [`PARTIAL_COLUMNS`]; counts of equal keys are summed across micro-batches.
pub const DEFAULT_SQL: &str = "SELECT window_start, cluster_name, namespace, kind, name, template_id, \
     min(template) AS template, severity, count(*) AS records \
     FROM records \
     GROUP BY window_start, cluster_name, namespace, kind, name, template_id, severity";

/// The columns a window query must return (`records` an integer count, the rest keys).
pub const PARTIAL_COLUMNS: [&str; 9] = [
    "window_start",
    "cluster_name",
    "namespace",
    "kind",
    "name",
    "template_id",
    "template",
    "severity",
    "records",
];

/// What happens to a record whose window the watermark has already closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum LatePolicy {
    /// Count it (`enrich.late_dropped`) and leave the emitted window as it was.
    #[default]
    Drop,
    /// Add it to the closed window (kept for `late_retention`) and emit the window again with
    /// `revision` + 1; later than that, drop it as above.
    Update,
}

/// One event-time window definition: tumbling when `slide` equals `size`, hopping when smaller.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    /// Name, carried in every emitted window (`window`). Default: `workload`.
    #[serde(default = "default_name")]
    pub name: String,
    /// Window length. Default: `1m`.
    #[serde(default = "default_size")]
    pub size: Span,
    /// Distance between window starts; equal to `size` (tumbling) by default.
    #[serde(default)]
    pub slide: Option<Span>,
    /// Watermark = the oldest of the input partitions' newest event times − `allowed_lateness`; a window
    /// is emitted once the watermark passes its end. Lines more out of order than this within a
    /// partition are late. Default: `10s`.
    #[serde(default = "default_lateness")]
    pub allowed_lateness: Span,
    /// Records for already closed windows: `drop` (default) or `update`.
    #[serde(default)]
    pub late_records: LatePolicy,
    /// With `update`: how long a closed window still accepts corrections. Default: the window size.
    #[serde(default)]
    pub late_retention: Option<Span>,
    /// When no record arrives for this long (wall clock), event time is assumed to move on with the
    /// wall clock, so the last windows of a quiet stream still close. Default: `30s`.
    #[serde(default = "default_idle_timeout")]
    pub idle_timeout: Span,
    /// Emit one window per workload and template instead of per workload. Default: false.
    #[serde(default)]
    pub by_template: bool,
    /// How many of the most frequent templates a window reports. Default: 5.
    #[serde(default = "default_top_templates")]
    pub top_templates: usize,
    /// How many templates' evidence (counts by kind of line, the earliest and latest line, each cut to
    /// 1 KiB) a window carries, for diagnose, which reads windows instead of lines; 0 carries none.
    /// Evidence follows each line's own workload and template id: a query that re-labels them leaves the
    /// window without evidence (`windows.evidence_unmatched` counts such lines). Default: 200.
    #[serde(default = "default_evidence_templates")]
    pub evidence_templates: usize,
    /// Upper bound on open windows (workloads × windows in flight); beyond it the oldest window closes
    /// early. Default: 10000.
    #[serde(default = "default_max_open_windows")]
    pub max_open_windows: usize,
    /// The query DataFusion runs over each micro-batch, as table `records` with columns
    /// `window_start`, `window_end`, `event_time_ns` (Int64), `cluster_name`, `namespace`, `kind`, `name`,
    /// `template_id`, `template`, `severity` (Utf8; `cluster_name`/`namespace` nullable). It must return
    /// `window_start, cluster_name, namespace, kind, name, template_id, template, severity, records`.
    /// Filter or re-label here (e.g. `WHERE namespace <> 'kube-system'`). Default: [`DEFAULT_SQL`].
    #[serde(default = "default_sql")]
    pub sql: String,
}

fn default_name() -> String {
    "workload".to_owned()
}
fn default_size() -> Span {
    Span::secs(60)
}
fn default_lateness() -> Span {
    Span::secs(10)
}
fn default_idle_timeout() -> Span {
    Span::secs(30)
}
fn default_top_templates() -> usize {
    5
}
fn default_evidence_templates() -> usize {
    200
}
fn default_max_open_windows() -> usize {
    10_000
}
fn default_sql() -> String {
    DEFAULT_SQL.to_owned()
}

impl Default for WindowSpec {
    fn default() -> Self {
        Self {
            name: default_name(),
            size: default_size(),
            slide: None,
            allowed_lateness: default_lateness(),
            late_records: LatePolicy::Drop,
            late_retention: None,
            idle_timeout: default_idle_timeout(),
            by_template: false,
            top_templates: default_top_templates(),
            evidence_templates: default_evidence_templates(),
            max_open_windows: default_max_open_windows(),
            sql: default_sql(),
        }
    }
}

impl WindowSpec {
    /// Distance between window starts, in ns.
    #[must_use]
    pub fn slide_ns(&self) -> i64 {
        self.slide.unwrap_or(self.size).as_nanos()
    }

    /// How long a closed window accepts late corrections, in ns (0 with the `drop` policy).
    #[must_use]
    pub fn retention_ns(&self) -> i64 {
        match self.late_records {
            LatePolicy::Drop => 0,
            LatePolicy::Update => self.late_retention.unwrap_or(self.size).as_nanos(),
        }
    }

    /// Every problem with this definition, under `enrich.windows[i].<key>`.
    #[must_use]
    pub fn problems(&self, index: usize) -> Vec<Problem> {
        let mut problems = Problems::new(format!("enrich.windows[{index}]"));
        let mut require = |ok: bool, key: &str, message: String| {
            problems.require(ok, key, || message);
        };
        let size = self.size.as_nanos();
        let day = Span::secs(86_400).as_nanos();
        require(
            size > 0 && size <= day,
            "size",
            format!("{} must be between 1ms and 1d", self.size),
        );
        let slide = self.slide_ns();
        require(
            slide > 0 && slide <= size && size % slide.max(1) == 0,
            "slide",
            format!(
                "{} must divide the size {} evenly",
                Span::from_nanos(slide),
                self.size
            ),
        );
        require(
            size / slide.max(1) <= 60,
            "slide",
            "a window may overlap at most 60 others".to_owned(),
        );
        require(
            self.allowed_lateness.as_nanos() <= day,
            "allowed_lateness",
            format!("{} exceeds 1d", self.allowed_lateness),
        );
        require(
            self.idle_timeout.as_nanos() > 0,
            "idle_timeout",
            "must be positive".to_owned(),
        );
        require(
            self.top_templates > 0,
            "top_templates",
            "must be at least 1".to_owned(),
        );
        require(
            self.max_open_windows > 0,
            "max_open_windows",
            "must be at least 1".to_owned(),
        );
        require(
            !self.name.is_empty(),
            "name",
            "must not be empty".to_owned(),
        );
        problems.into_vec()
    }
}
