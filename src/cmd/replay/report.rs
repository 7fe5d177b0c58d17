//! The replay report: one self-contained HTML file (inline CSS and SVG, no external resource) that
//! shows the incident — log volume, faults, diagnoses, decisions, and each counterfactual policy's
//! replicas, SLA violations, actions and recovery on the twin — with the JSON summary embedded.

use super::bundle::{Bundle, TimelineKind};
use super::compare::{AFTER_SECS, Counterfactual, WARM_UP_SECS};
use super::recording::Recording;
use super::summary::ReplaySummary;
use super::svg::{Chart, escape};
use std::collections::BTreeMap;
use std::fmt::Write;

const FAULT: &str = "#d62728";
const NOTE: &str = "#7f7f7f";
const PALETTE: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
];

/// Renders the report of `summary` (the replay of `bundle`, whose outputs are `recording`).
#[must_use]
pub fn render(bundle: &Bundle, recording: &Recording, summary: &ReplaySummary) -> String {
    let origin = bundle
        .fault_start_ns()
        .or_else(|| bundle.inputs.first().map(|i| i.event_time_ns))
        .unwrap_or_default();
    let secs = |ns: i64| (ns - origin) as f64 / 1e9;
    let first = bundle.inputs.first().map_or(0.0, |i| secs(i.event_time_ns));
    let last = bundle.inputs.last().map_or(0.0, |i| secs(i.event_time_ns));
    let range = (first - 10.0, last + 70.0);
    let mut plots = vec![
        log_volume(bundle, recording, range, &secs),
        diagnoses(bundle, recording, range, &secs),
        decisions(bundle, recording, range, &secs),
    ];
    plots.extend(summary.counterfactual.iter().map(twin_run));
    let json = serde_json::to_string_pretty(summary).unwrap_or_default();
    let mut html = String::new();
    let _ = write!(
        html,
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>medic replay: {title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; color: #222; max-width: 1000px; }}
h1 {{ font-size: 20px; }} h2 {{ font-size: 16px; margin-top: 28px; }}
table {{ border-collapse: collapse; font-size: 13px; }} td, th {{ border: 1px solid #ccc; padding: 3px 8px; text-align: left; }}
.ok {{ color: #2ca02c; font-weight: bold; }} .bad {{ color: #d62728; font-weight: bold; }}
svg.plot {{ display: block; margin: 8px 0 18px; border: 1px solid #ddd; }}
pre {{ background: #f6f6f6; padding: 8px; font-size: 11px; overflow-x: auto; }}
</style></head>
<body data-plots="{n}">
<h1>{title}</h1>
<p>{summary_text}</p>
<p><small>Incident <code>{name}</code> · {source} · {inputs} records replayed ({pace}) in {elapsed:.1} s ·
times are seconds from the fault's start.</small></p>
"#,
        title = escape(&summary.title),
        n = plots.len(),
        summary_text = escape(&bundle.manifest.summary),
        name = escape(&summary.incident),
        source = escape(&summary.source),
        inputs = summary.inputs,
        pace = escape(&summary.pace),
        elapsed = summary.elapsed_s,
    );
    verdict_section(&mut html, summary);
    html.push_str("<h2>What the pipeline saw and did</h2>\n");
    for plot in &plots[..3] {
        html.push_str(plot);
        html.push('\n');
    }
    timeline_table(&mut html, bundle, summary);
    if !summary.counterfactual.is_empty() {
        counterfactual_section(&mut html, summary, &plots[3..]);
    }
    let _ = write!(
        html,
        r#"<h2>Summary (JSON)</h2>
<pre id="summary-json">{}</pre>
<script type="application/json" id="summary">{}</script>
<script>
// Counts the plots the browser laid out with a size: a test reads it back from the rendered DOM.
window.addEventListener('load', function () {{
  var drawn = Array.prototype.filter.call(document.querySelectorAll('svg.plot'), function (s) {{
    var box = s.getBoundingClientRect(); return box.width > 0 && box.height > 0 && s.querySelector('path, circle, rect');
  }});
  document.body.setAttribute('data-rendered-plots', String(drawn.length));
}});
</script>
</body></html>
"#,
        escape(&json),
        json.replace("</", "<\\/"),
    );
    html
}

fn verdict_section(html: &mut String, summary: &ReplaySummary) {
    let Some(v) = &summary.verdict else {
        return;
    };
    let mark = |ok: bool| {
        if ok {
            r#"<span class="ok">yes</span>"#
        } else {
            r#"<span class="bad">no</span>"#
        }
    };
    let delay = |d: Option<f64>| d.map_or_else(|| "—".to_owned(), |d| format!("{d:.0} s"));
    let wrong = if v.wrong_actions.is_empty() {
        r#"<span class="ok">none</span>"#.to_owned()
    } else {
        format!(
            r#"<span class="bad">{}</span>: {}"#,
            v.wrong_actions.len(),
            escape(&v.wrong_actions.join("; "))
        )
    };
    let _ = write!(
        html,
        "<h2>Verdict</h2>\n<table><tr><th>fault on</th><td>{}</td><th>at</th><td>{}</td></tr>\
         <tr><th>detected</th><td>{} {}</td><th>after</th><td>{}</td></tr>\
         <tr><th>remedied</th><td>{} {}</td><th>after</th><td>{}</td></tr>\
         <tr><th>other alarms</th><td colspan=\"3\">{} non-normal diagnoses of other workloads or before the fault</td></tr>\
         <tr><th>wrong actions</th><td colspan=\"3\">{}</td></tr></table>\n",
        escape(&v.workload),
        escape(&v.fault_at),
        mark(v.detected),
        escape(v.detected_as.as_deref().unwrap_or("")),
        delay(v.detection_delay_s),
        mark(v.remedied),
        escape(v.remedy.as_deref().unwrap_or("")),
        delay(v.remedy_delay_s),
        v.other_alarms,
        wrong
    );
}

fn mark_timeline(chart: &mut Chart, bundle: &Bundle, secs: &dyn Fn(i64) -> f64) {
    for entry in &bundle.manifest.timeline {
        let Some(ns) = entry.at.timestamp_nanos_opt() else {
            continue;
        };
        match entry.kind {
            TimelineKind::Fault => chart.instant(secs(ns), FAULT, "fault (ground truth)"),
            TimelineKind::Recovery => {
                chart.instant(secs(ns), PALETTE[2], "recovery (ground truth)")
            }
            TimelineKind::Note => {}
        }
    }
}

fn log_volume(
    bundle: &Bundle,
    recording: &Recording,
    range: (f64, f64),
    secs: &dyn Fn(i64) -> f64,
) -> String {
    let mut per_window: BTreeMap<i64, (u64, u64, u64)> = BTreeMap::new();
    for w in &recording.windows {
        let entry = per_window.entry(w.window_start_ns).or_default();
        entry.0 += w.record_count;
        entry.1 += w.warning_count;
        entry.2 += w.error_count;
    }
    let peak = per_window.values().map(|v| v.0).max().unwrap_or(1) as f64;
    let mut chart = Chart::new(
        "Log lines per one-minute window (all workloads), by severity",
        range,
        (0.0, peak * 1.15),
        200.0,
    );
    let series = |f: fn(&(u64, u64, u64)) -> u64| -> Vec<(f64, f64)> {
        per_window
            .iter()
            .map(|(start, v)| (secs(*start) + 30.0, f(v) as f64))
            .collect()
    };
    chart.line(&series(|v| v.0), PALETTE[0], "all lines");
    chart.line(&series(|v| v.1), PALETTE[1], "warnings");
    chart.line(&series(|v| v.2), FAULT, "errors");
    mark_timeline(&mut chart, bundle, secs);
    chart.render()
}

fn diagnoses(
    bundle: &Bundle,
    recording: &Recording,
    range: (f64, f64),
    secs: &dyn Fn(i64) -> f64,
) -> String {
    let mut lanes: Vec<String> = recording
        .diagnoses
        .iter()
        .map(|d| d.target.to_string())
        .collect();
    lanes.sort();
    lanes.dedup();
    let mut chart = Chart::lanes(
        "Diagnoses per workload (marker at the end of the evidence window; hover for details)",
        range,
        lanes,
    );
    let mut classes: Vec<String> = recording
        .diagnoses
        .iter()
        .map(|d| d.fault.to_string())
        .collect();
    classes.sort();
    classes.dedup();
    for (i, class) in classes.iter().enumerate() {
        let color = if class == "normal" {
            NOTE
        } else {
            PALETTE[i % PALETTE.len()]
        };
        let points: Vec<(f64, f64, String)> = recording
            .diagnoses
            .iter()
            .filter(|d| d.fault.as_str() == class)
            .filter_map(|d| {
                let target = d.target.to_string();
                let tip = format!(
                    "{target}: {} ({:.2}{}) — {}",
                    d.fault,
                    d.confidence,
                    if d.uncertain { ", uncertain" } else { "" },
                    d.evidence.first().map_or("", |e| e.message.as_str())
                );
                Some((secs(d.window_end_ns), chart.lane(&target)?, tip))
            })
            .collect();
        chart.markers(&points, color, class);
    }
    mark_timeline(&mut chart, bundle, secs);
    chart.render()
}

fn decisions(
    bundle: &Bundle,
    recording: &Recording,
    range: (f64, f64),
    secs: &dyn Fn(i64) -> f64,
) -> String {
    let acted: Vec<_> = recording
        .decisions
        .iter()
        .filter(|d| d.action != schemas::Action::Noop)
        .collect();
    let mut lanes: Vec<String> = acted.iter().map(|d| d.target.to_string()).collect();
    lanes.sort();
    lanes.dedup();
    let mut chart = Chart::lanes(
        "Decisions that act (noops left out; the actuator ran in log mode)",
        range,
        lanes,
    );
    let points: Vec<(f64, f64, String)> = acted
        .iter()
        .filter_map(|d| {
            let target = d.target.to_string();
            let tip = format!("{target}: {} [{}] — {}", d.action, d.policy_id, d.reason);
            Some((secs(d.decided_at_ns), chart.lane(&target)?, tip))
        })
        .collect();
    for (x, y, tip) in &points {
        chart.label(
            *x,
            *y,
            tip.split(" — ")
                .next()
                .unwrap_or_default()
                .rsplit(": ")
                .next()
                .unwrap_or_default(),
        );
    }
    chart.markers(&points, PALETTE[3], "decision");
    mark_timeline(&mut chart, bundle, secs);
    chart.render()
}

fn twin_run(run: &Counterfactual) -> String {
    let peak = run
        .steps
        .iter()
        .map(|s| s.desired.max(s.serving) + s.crashing)
        .max()
        .unwrap_or(1) as f64;
    let mut chart = Chart::new(
        &format!(
            "{} on the twin: replicas of the workload, SLA violations, actions, recovery",
            run.policy
        ),
        (-WARM_UP_SECS, AFTER_SECS),
        (0.0, peak * 1.3 + 1.0),
        220.0,
    );
    let step = run
        .steps
        .windows(2)
        .map(|w| w[1].t_secs - w[0].t_secs)
        .next()
        .unwrap_or(30.0);
    for s in run.steps.iter().filter(|s| s.violated) {
        chart.span(s.t_secs - step, s.t_secs, FAULT, "SLA violated");
    }
    let series = |f: fn(&super::compare::Step) -> u32| -> Vec<(f64, f64)> {
        run.steps
            .iter()
            .map(|s| (s.t_secs, f64::from(f(s))))
            .collect()
    };
    chart.steps(&series(|s| s.desired), PALETTE[0], "desired");
    chart.steps(&series(|s| s.serving), PALETTE[2], "serving");
    chart.steps(&series(|s| s.crashing), FAULT, "crash-looping");
    chart.instant(0.0, FAULT, "fault");
    if run.recovered {
        chart.instant(run.mttr_s, PALETTE[2], "recovered");
    }
    let points: Vec<(f64, f64, String)> = run
        .taken
        .iter()
        .map(|a| {
            let desired = run
                .steps
                .iter()
                .rev()
                .find(|s| s.t_secs <= a.t_secs)
                .map_or(0.0, |s| f64::from(s.desired));
            (a.t_secs, desired, format!("{}: {}", a.action, a.why))
        })
        .collect();
    for (x, y, tip) in points.iter().take(12) {
        chart.label(*x, *y, tip.split(':').next().unwrap_or_default());
    }
    chart.markers(&points, PALETTE[3], "action");
    chart.x_label("simulated seconds from the fault").render()
}

fn timeline_table(html: &mut String, bundle: &Bundle, summary: &ReplaySummary) {
    let mut rows: Vec<(String, &str, String)> = bundle
        .manifest
        .timeline
        .iter()
        .map(|e| {
            let kind = match e.kind {
                TimelineKind::Fault => "FAULT",
                TimelineKind::Recovery => "RECOVERY",
                TimelineKind::Note => "note",
            };
            (
                e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                kind,
                e.what.clone(),
            )
        })
        .collect();
    rows.extend(
        summary
            .diagnoses
            .iter()
            .filter(|d| d.fault != "normal")
            .map(|d| {
                let what = format!(
                    "{} {} ({:.2}): {}",
                    d.target, d.fault, d.confidence, d.evidence
                );
                (d.at.clone(), "diagnosis", what)
            }),
    );
    rows.extend(
        summary
            .decisions
            .iter()
            .filter(|d| d.action != "noop")
            .map(|d| {
                let what = format!("{} {} [{}]: {}", d.target, d.action, d.policy, d.reason);
                (d.at.clone(), "decision", what)
            }),
    );
    rows.sort_by(|a, b| a.0.cmp(&b.0));
    html.push_str("<h2>Timeline</h2>\n<table><tr><th>time (UTC)</th><th>what</th><th></th></tr>\n");
    for (at, kind, what) in rows {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{kind}</td><td>{}</td></tr>",
            escape(&at),
            escape(&what)
        );
    }
    html.push_str("</table>\n");
}

fn counterfactual_section(html: &mut String, summary: &ReplaySummary, plots: &[String]) {
    html.push_str(
        "<h2>Counterfactual: the same incident under each policy (digital twin)</h2>\n\
         <p>The incident re-enacted on the twin, with the pipeline's real diagnoses of the workload over \
         the recorded span (the twin's own diagnosis model after it); same seed, same load, every policy \
         through the arbiter.</p>\n<table><tr><th>policy</th><th>detection delay</th><th>first action</th>\
         <th>MTTR</th><th>recovered</th><th>SLA-violation minutes</th><th>actions</th><th>escalations</th></tr>\n",
    );
    let secs = |v: Option<f64>| v.map_or_else(|| "—".to_owned(), |v| format!("{v:.0} s"));
    for run in &summary.counterfactual {
        let _ = writeln!(
            html,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.0} s</td><td>{}</td><td>{:.1}</td><td>{}</td><td>{}</td></tr>",
            escape(&run.policy),
            secs(run.detection_delay_s),
            secs(run.first_action_s),
            run.mttr_s,
            if run.recovered { "yes" } else { "no" },
            run.sla_violation_minutes,
            run.actions,
            run.escalations
        );
    }
    html.push_str("</table>\n");
    for plot in plots {
        html.push_str(plot);
        html.push('\n');
    }
}
