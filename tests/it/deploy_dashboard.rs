//! `deploy/grafana/medic-dashboard.json` cannot drift from what medic exports: every PromQL query of the
//! dashboard (panels and template variables) names only metrics a medic process exposes, and groups or
//! filters only by labels those metrics carry. The exported names and labels are read from a
//! [`Metrics`] registry's exposition after every family has been touched.

use runtime::telemetry::metrics::{Metrics, OutputTally, PartitionLag};
use schemas::{ErrorKind, FaultClass, RecordKind};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

const DASHBOARD: &str = include_str!("../../deploy/grafana/medic-dashboard.json");

/// A tiny PromQL reader: enough of the lexical grammar to find metric names, label matchers and
/// `by`/`without` label lists in medic's dashboard queries.
mod promql {
    /// What a query references.
    #[derive(Debug, Default, PartialEq, Eq)]
    pub struct References {
        /// Metric names, each with the labels matched in its selector.
        pub selectors: Vec<(String, Vec<String>)>,
        /// Labels of `by (…)` and `without (…)` clauses.
        pub grouping: Vec<String>,
    }

    #[derive(Debug, PartialEq)]
    enum Token {
        Ident(String),
        Str,
        Punct(char),
    }

    fn tokens(query: &str) -> Vec<Token> {
        let chars: Vec<char> = query.chars().collect();
        let mut out = Vec::new();
        let mut i = 0;
        let mut in_range = false;
        while i < chars.len() {
            let c = chars[i];
            if in_range {
                // `[5m]`, `[$__rate_interval]`: durations, skipped.
                in_range = c != ']';
                i += 1;
            } else if c == '[' {
                in_range = true;
                i += 1;
            } else if c == '"' || c == '\'' {
                i += 1;
                while i < chars.len() && chars[i] != c {
                    i += if chars[i] == '\\' { 2 } else { 1 };
                }
                i += 1;
                out.push(Token::Str);
            } else if c == '$' {
                // A Grafana variable.
                i += 1;
                while i < chars.len() && (chars[i].is_alphanumeric() || "_{}".contains(chars[i])) {
                    i += 1;
                }
            } else if c.is_ascii_alphabetic() || c == '_' || c == ':' {
                let start = i;
                while i < chars.len()
                    && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i]))
                {
                    i += 1;
                }
                out.push(Token::Ident(chars[start..i].iter().collect()));
            } else if c.is_ascii_digit() || c == '.' {
                while i < chars.len() && (chars[i].is_ascii_alphanumeric() || chars[i] == '.') {
                    i += 1;
                }
            } else {
                if !c.is_whitespace() {
                    out.push(Token::Punct(c));
                }
                i += 1;
            }
        }
        out
    }

    /// The metric selectors (names starting with `prefix`) and grouping labels of `query`.
    pub fn references(query: &str, prefix: &str) -> References {
        let tokens = tokens(query);
        let mut refs = References::default();
        let mut i = 0;
        while i < tokens.len() {
            match &tokens[i] {
                Token::Ident(name) if name.starts_with(prefix) => {
                    let mut labels = Vec::new();
                    if tokens.get(i + 1) == Some(&Token::Punct('{')) {
                        i += 2;
                        while i < tokens.len() && tokens[i] != Token::Punct('}') {
                            // label, operator (= != =~ !~), string, optional comma
                            if let Token::Ident(label) = &tokens[i]
                                && matches!(tokens.get(i + 1), Some(Token::Punct('=' | '!')))
                            {
                                labels.push(label.clone());
                            }
                            i += 1;
                        }
                    }
                    refs.selectors.push((name.clone(), labels));
                }
                Token::Ident(word)
                    if (word == "by" || word == "without")
                        && tokens.get(i + 1) == Some(&Token::Punct('(')) =>
                {
                    i += 2;
                    while i < tokens.len() && tokens[i] != Token::Punct(')') {
                        if let Token::Ident(label) = &tokens[i] {
                            refs.grouping.push(label.clone());
                        }
                        i += 1;
                    }
                }
                _ => {}
            }
            i += 1;
        }
        refs
    }

    #[test]
    fn reads_selectors_grouping_and_skips_durations_strings_and_variables() {
        let refs = references(
            r#"histogram_quantile(0.99, sum by (stage, le) (rate(medic_x_bucket{stage=~"$stage", event=~"a\"b,c"}[$__rate_interval]))) / sum without(kind) (increase(medic_y[5m]))"#,
            "medic_",
        );
        assert_eq!(
            refs,
            References {
                selectors: vec![
                    (
                        "medic_x_bucket".into(),
                        vec!["stage".into(), "event".into()]
                    ),
                    ("medic_y".into(), vec![]),
                ],
                grouping: vec!["stage".into(), "le".into(), "kind".into()],
            }
        );
    }
}

/// Every series name a medic process exposes, with its labels (histograms as `_bucket` with `le`,
/// `_sum` and `_count`), every metric family touched first so none is missing from the exposition.
fn exported() -> BTreeMap<String, BTreeSet<String>> {
    let metrics = Metrics::new();
    let stage = metrics.stage("ingest");
    stage.records_in.inc();
    stage.dropped.inc();
    stage.batches.inc();
    stage.commit_errors.inc();
    stage.produce_retries.inc();
    stage.batch_duration.observe(0.1);
    stage.checkpoints.inc();
    stage.checkpoint_bytes.set(1);
    stage.add_event("rejected.malformed_json", 1);
    stage.add_dlq(ErrorKind::Decode, 1);
    stage.add_outputs(&OutputTally {
        by_kind: [(RecordKind::Log, 1)].into(),
        diagnoses: [(FaultClass::Oom, 1)].into(),
        results: [("verified", 1)].into(),
        recovered_secs: vec![3.0],
        unreadable: 0,
    });
    metrics.consumer_lag("ingest").update(&[PartitionLag {
        topic: "medic.logs.k8s".into(),
        partition: 0,
        lag: 1,
    }]);

    let mut series: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let text = metrics.encode();
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (name, rest) = line.split_once(['{', ' ']).expect("a sample line");
        let labels = series.entry(name.to_owned()).or_default();
        if let Some((inside, _)) = rest.split_once('}') {
            for pair in inside.split(',') {
                if let Some((label, _)) = pair.split_once('=') {
                    labels.insert(label.to_owned());
                }
            }
        }
    }
    series
}

/// Every query of the dashboard: `(where, expr)`.
fn queries(dashboard: &Value) -> Vec<(String, String)> {
    fn panels(panel: &Value, out: &mut Vec<(String, String)>) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            if let Some(expr) = target["expr"].as_str() {
                out.push((
                    format!("panel {:?}", panel["title"].as_str().unwrap_or_default()),
                    expr.to_owned(),
                ));
            }
        }
        for inner in panel["panels"].as_array().into_iter().flatten() {
            panels(inner, out);
        }
    }
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        panels(panel, &mut out);
    }
    for variable in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let query = &variable["query"];
        let text = query["query"]
            .as_str()
            .or(query.as_str())
            .unwrap_or_default();
        out.push((
            format!(
                "variable {:?}",
                variable["name"].as_str().unwrap_or_default()
            ),
            text.to_owned(),
        ));
    }
    out
}

#[test]
fn every_query_names_only_exported_metrics_and_labels() {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    let exported = exported();
    let queries = queries(&dashboard);
    assert!(queries.len() >= 15, "{} queries", queries.len());
    let mut problems = Vec::new();
    for (place, query) in &queries {
        let refs = promql::references(query, "medic_");
        if refs.selectors.is_empty() {
            problems.push(format!("{place}: no medic metric in {query}"));
        }
        let mut known_labels = BTreeSet::new();
        for (metric, labels) in &refs.selectors {
            let Some(has) = exported.get(metric) else {
                problems.push(format!("{place}: medic exports no {metric}"));
                continue;
            };
            known_labels.extend(has.iter().cloned());
            for label in labels {
                if !has.contains(label) {
                    problems.push(format!("{place}: {metric} has no label {label}"));
                }
            }
        }
        for label in &refs.grouping {
            if !known_labels.contains(label) {
                problems.push(format!(
                    "{place}: groups by {label}, which none of its metrics carries"
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{}\nexported: {exported:#?}",
        problems.join("\n")
    );
}

#[test]
fn the_dashboard_covers_what_operators_watch() {
    let dashboard: Value = serde_json::from_str(DASHBOARD).expect("the dashboard is JSON");
    assert!(
        dashboard["schemaVersion"].as_u64().is_some_and(|v| v >= 36),
        "a current Grafana schema"
    );
    assert_eq!(dashboard["__inputs"][0]["name"], "DS_PROMETHEUS");
    assert_eq!(dashboard["__inputs"][0]["pluginId"], "prometheus");
    let queries = queries(&dashboard);
    let all: String = queries
        .iter()
        .map(|(_, q)| q.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    for needle in [
        "medic_records_in_total",
        "medic_records_out_total",
        "medic_consumer_lag",
        "medic_dlq_records_total",
        "sum by (class)",
        "sum by (outcome)",
        "histogram_quantile(0.5, sum by (le) (rate(medic_time_to_recover_seconds_bucket",
        "medic_time_to_recover_seconds_sum",
        "histogram_quantile(0.99, sum by (stage, le) (rate(medic_batch_duration_seconds_bucket",
        "medic_checkpoint_bytes",
    ] {
        assert!(all.contains(needle), "no panel queries {needle}");
    }
    // Every panel and query reads the datasource chosen at import.
    let mut datasources = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        if panel["type"] != "row" {
            datasources.push(&panel["datasource"]["uid"]);
            for target in panel["targets"].as_array().into_iter().flatten() {
                datasources.push(&target["datasource"]["uid"]);
            }
        }
    }
    assert!(
        datasources.iter().all(|uid| *uid == "${DS_PROMETHEUS}"),
        "{datasources:?}"
    );
}

#[test]
fn a_misspelt_metric_or_label_is_caught() {
    // The check is not vacuous.
    let exported = exported();
    let refs = promql::references(
        r#"sum by (stage, clas) (rate(medic_diagnose_total{stage="diagnose"}[5m]))"#,
        "medic_",
    );
    assert!(!exported.contains_key(&refs.selectors[0].0));
    assert!(!exported["medic_diagnoses_total"].contains(&refs.grouping[1]));
    assert!(exported["medic_diagnoses_total"].contains("class"));
    assert!(exported["medic_time_to_recover_seconds_bucket"].contains("le"));
}
