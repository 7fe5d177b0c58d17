//! Reading medic's Prometheus text (`/metrics`): one parser for the tests and the bench.

use crate::http::{KeepAlive, http_get};
use std::collections::BTreeMap;

/// One read of a `/metrics` page: every sample with its labels (comments skipped).
#[derive(Debug, Clone, Default)]
pub struct Scrape(Vec<(String, BTreeMap<String, String>, f64)>);

impl Scrape {
    /// Parses the Prometheus text format.
    #[must_use]
    pub fn parse(text: &str) -> Self {
        let samples = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let value: f64 = value.parse().ok()?;
                let (name, labels) = parse_series(series);
                Some((name.to_owned(), labels, value))
            })
            .collect();
        Self(samples)
    }

    /// `/metrics` of the admin server at 127.0.0.1:`admin_port`; `None` when it does not answer 200.
    #[must_use]
    pub fn fetch(admin_port: u16) -> Option<Self> {
        Self::of_answer(http_get(admin_port, "/metrics"))
    }

    /// `/metrics` through a connection kept open (a poller's); `None` when it does not answer 200.
    #[must_use]
    pub fn fetch_on(connection: &mut KeepAlive) -> Option<Self> {
        Self::of_answer(connection.get("/metrics"))
    }

    /// The page of a `/metrics` answer (status, body) when it is 200.
    fn of_answer(answer: Option<(u16, String)>) -> Option<Self> {
        match answer? {
            (200, body) => Some(Self::parse(&body)),
            _ => None,
        }
    }

    /// The sum of the samples of `name` whose labels include `labels`.
    #[must_use]
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.sum_where(name, |l| {
            labels
                .iter()
                .all(|(k, v)| l.get(*k).is_some_and(|x| x == v))
        })
    }

    /// The sum of the samples of `name` whose labels satisfy `keep`.
    #[must_use]
    pub fn sum_where(&self, name: &str, keep: impl Fn(&BTreeMap<String, String>) -> bool) -> f64 {
        self.0
            .iter()
            .filter(|(n, l, _)| n == name && keep(l))
            .map(|(_, _, v)| v)
            .sum()
    }

    /// [`Scrape::sum`] as a count.
    #[must_use]
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        reason = "counters are non-negative integers"
    )]
    pub fn count(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        self.sum(name, labels).round() as u64
    }

    /// The value of the sample written `sample` (e.g. `medic_records_out_total{kind="log_record",
    /// stage="ingest"}`: the same name and exactly those labels, in any order), if it is there.
    #[must_use]
    pub fn get(&self, sample: &str) -> Option<f64> {
        let (name, labels) = parse_series(sample);
        self.0
            .iter()
            .find(|(n, l, _)| n == name && *l == labels)
            .map(|(_, _, v)| *v)
    }

    /// [`Scrape::get`], 0 when the sample is not there (a counter not incremented yet).
    #[must_use]
    pub fn value(&self, sample: &str) -> f64 {
        self.get(sample).unwrap_or(0.0)
    }
}

/// The value of one sample on medic's `/metrics` at 127.0.0.1:`admin_port` (see [`Scrape::value`]);
/// `None` when medic does not answer, 0 when the sample is not there yet.
#[must_use]
pub fn metric(admin_port: u16, sample: &str) -> Option<f64> {
    Scrape::fetch(admin_port).map(|scrape| scrape.value(sample))
}

/// `name{a="x",b="y"}` → (name, {a: x, b: y}).
fn parse_series(series: &str) -> (&str, BTreeMap<String, String>) {
    match series.split_once('{') {
        Some((name, rest)) => (name, parse_labels(rest.trim_end_matches('}'))),
        None => (series, BTreeMap::new()),
    }
}

/// `a="x",b="y"` → {a: x, b: y} (escaped quotes and backslashes in values understood).
#[must_use]
pub fn parse_labels(text: &str) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    let mut rest = text;
    while let Some((key, after)) = rest.split_once("=\"") {
        let mut value = String::new();
        let mut chars = after.char_indices();
        let mut end = after.len();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(if escaped == 'n' { '\n' } else { escaped });
                    }
                }
                '"' => {
                    end = i + 1;
                    break;
                }
                c => value.push(c),
            }
        }
        labels.insert(key.trim_start_matches(',').trim().to_owned(), value);
        rest = &after[end..];
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_text_is_read_with_labels() {
        let scrape = Scrape::parse(
            "# HELP x\nmedic_records_out_total{kind=\"log_record\",stage=\"ingest\"} 7\n\
             medic_records_out_total{kind=\"window_features\",stage=\"ingest\"} 2\n\
             medic_stage_events_total{event=\"windows.late_dropped\",stage=\"enrich\"} 3\n\
             medic_batch_duration_seconds_sum{stage=\"ingest\"} 0.5\n",
        );
        assert_eq!(scrape.count("medic_records_out_total", &[]), 9);
        assert_eq!(
            scrape.count("medic_records_out_total", &[("kind", "log_record")]),
            7
        );
        let late = scrape.sum_where("medic_stage_events_total", |l| {
            l.get("event").is_some_and(|e| e.ends_with("late_dropped"))
        });
        assert!((late - 3.0).abs() < 1e-9);
        assert!((scrape.sum("medic_batch_duration_seconds_sum", &[]) - 0.5).abs() < 1e-9);
        assert!(
            (scrape.value(r#"medic_records_out_total{stage="ingest",kind="log_record"}"#) - 7.0)
                .abs()
                < 1e-9
        );
        assert!(
            scrape
                .value(r#"medic_records_out_total{stage="ingest"}"#)
                .abs()
                < 1e-9
        );
        assert_eq!(
            scrape.get(r#"medic_records_out_total{stage="ingest"}"#),
            None
        );
        assert_eq!(
            parse_labels(r#"a="x\"y",b="z""#),
            BTreeMap::from([("a".into(), "x\"y".into()), ("b".into(), "z".into())])
        );
    }
}
