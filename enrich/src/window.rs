//! Tumbling event-time windows per workload, closed by a watermark.
//!
//! The watermark is the newest event time seen minus the allowed lateness. A window `[start, end)` closes
//! when the watermark reaches `end`; records older than the watermark's closed windows are late: they are
//! counted by [`Windows::late`] and not aggregated.

use schemas::{LogSeverity, SCHEMA_VERSION, Target, TemplateCount, WindowFeatures};
use std::collections::{BTreeMap, HashMap};

#[derive(Debug, Default)]
struct OpenWindow {
    record_count: u64,
    warning_count: u64,
    error_count: u64,
    templates: HashMap<String, (String, u64)>,
}

/// Open windows keyed by `(end, target)` so closing walks them in end order.
#[derive(Debug)]
pub(crate) struct Windows {
    width_ns: i64,
    lateness_ns: i64,
    top_templates: usize,
    max_open: usize,
    open: BTreeMap<(i64, Target), OpenWindow>,
    max_event_time_ns: i64,
    late: u64,
}

impl Windows {
    pub(crate) fn new(
        width_ns: i64,
        lateness_ns: i64,
        top_templates: usize,
        max_open: usize,
    ) -> Self {
        Self {
            width_ns,
            lateness_ns,
            top_templates,
            max_open,
            open: BTreeMap::new(),
            max_event_time_ns: i64::MIN,
            late: 0,
        }
    }

    fn watermark(&self) -> i64 {
        self.max_event_time_ns.saturating_sub(self.lateness_ns)
    }

    /// Records that arrived after their window closed.
    pub(crate) fn late(&self) -> u64 {
        self.late
    }

    /// Adds one record; returns the windows this closes.
    pub(crate) fn add(
        &mut self,
        target: Target,
        event_time_ns: i64,
        severity: LogSeverity,
        template_id: &str,
        template: &str,
    ) -> Vec<WindowFeatures> {
        let start = event_time_ns.div_euclid(self.width_ns) * self.width_ns;
        let end = start + self.width_ns;
        if end <= self.watermark() {
            self.late += 1;
            return Vec::new();
        }
        let window = self.open.entry((end, target)).or_default();
        window.record_count += 1;
        match severity {
            LogSeverity::Warning => window.warning_count += 1,
            s if s.is_error() => window.error_count += 1,
            _ => {}
        }
        window
            .templates
            .entry(template_id.to_owned())
            .or_insert_with(|| (template.to_owned(), 0))
            .1 += 1;
        self.max_event_time_ns = self.max_event_time_ns.max(event_time_ns);
        let mut closed = self.close_until(self.watermark());
        while self.open.len() > self.max_open {
            let Some(((end, target), window)) = self.open.pop_first() else {
                break;
            };
            closed.push(self.features(end, target, window));
        }
        closed
    }

    /// Closes every window ending at or before `watermark`.
    fn close_until(&mut self, watermark: i64) -> Vec<WindowFeatures> {
        let mut closed = Vec::new();
        while let Some(entry) = self.open.first_entry() {
            if entry.key().0 > watermark {
                break;
            }
            let ((end, target), window) = entry.remove_entry();
            closed.push(self.features(end, target, window));
        }
        closed
    }

    /// Closes every open window (at shutdown).
    pub(crate) fn close_all(&mut self) -> Vec<WindowFeatures> {
        self.close_until(i64::MAX)
    }

    fn features(&self, end: i64, target: Target, window: OpenWindow) -> WindowFeatures {
        let mut top: Vec<TemplateCount> = window
            .templates
            .into_iter()
            .map(|(template_id, (template, count))| TemplateCount {
                template_id,
                template,
                count,
            })
            .collect();
        let distinct_templates = top.len() as u64;
        top.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then_with(|| a.template_id.cmp(&b.template_id))
        });
        top.truncate(self.top_templates);
        #[allow(clippy::cast_precision_loss, reason = "counts far below 2^52")]
        let error_rate = window.error_count as f64 / window.record_count.max(1) as f64;
        WindowFeatures {
            schema_version: SCHEMA_VERSION,
            target,
            window_start_ns: end - self.width_ns,
            window_end_ns: end,
            record_count: window.record_count,
            warning_count: window.warning_count,
            error_count: window.error_count,
            error_rate,
            distinct_templates,
            top_templates: top,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::ObjectKind;

    const S: i64 = 1_000_000_000;

    fn target(name: &str) -> Target {
        Target {
            cluster: None,
            namespace: Some("shop".into()),
            kind: ObjectKind::Deployment,
            name: name.into(),
            pod: None,
            node: None,
        }
    }

    #[test]
    fn watermark_closes_windows_in_order_and_counts_late_records() {
        let mut windows = Windows::new(60 * S, 10 * S, 5, 100);
        assert!(
            windows
                .add(target("a"), 5 * S, LogSeverity::Error, "t1", "x")
                .is_empty()
        );
        assert!(
            windows
                .add(target("b"), 30 * S, LogSeverity::Info, "t2", "y")
                .is_empty()
        );
        // 65 s: watermark 55 s, the [0, 60) windows stay open.
        assert!(
            windows
                .add(target("a"), 65 * S, LogSeverity::Warning, "t1", "x")
                .is_empty()
        );
        // 71 s: watermark 61 s, both [0, 60) windows close.
        let closed = windows.add(target("a"), 71 * S, LogSeverity::Info, "t1", "x");
        assert_eq!(closed.len(), 2);
        assert_eq!(closed[0].target.name, "a");
        assert_eq!((closed[0].record_count, closed[0].error_count), (1, 1));
        assert!((closed[0].error_rate - 1.0).abs() < f64::EPSILON);
        // A record for the closed window is late.
        assert!(
            windows
                .add(target("a"), 10 * S, LogSeverity::Info, "t1", "x")
                .is_empty()
        );
        assert_eq!(windows.late(), 1);
        let rest = windows.close_all();
        assert_eq!(rest.len(), 1);
        assert_eq!((rest[0].record_count, rest[0].warning_count), (2, 1));
        assert_eq!(rest[0].window_start_ns, 60 * S);
    }

    #[test]
    fn open_windows_are_bounded() {
        let mut windows = Windows::new(60 * S, 10 * S, 5, 2);
        windows.add(target("a"), S, LogSeverity::Info, "t", "x");
        windows.add(target("b"), S, LogSeverity::Info, "t", "x");
        let closed = windows.add(target("c"), S, LogSeverity::Info, "t", "x");
        assert_eq!(closed.len(), 1, "the oldest window is closed early");
    }
}
