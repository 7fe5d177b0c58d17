//! The incident as stories: one per target (the workload or node whose evidence was diagnosed), each in
//! event time — every diagnosis followed by the decision on it, the command that decision became and
//! that command's result — instead of the records in the order the stages happened to emit them.

use super::recording::{Observed, Recording};
use super::timeline;
use schemas::{ActionResult, Decision, Diagnosis, RemediationCommand, Target};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

/// One diagnosis and what followed from it.
#[derive(Debug, Clone)]
pub struct Chapter<'a> {
    /// The diagnosis.
    pub diagnosis: &'a Diagnosis,
    /// The decision on it, when one was made.
    pub decision: Option<&'a Decision>,
    /// A learned policy's shadow decision on it, in shadow mode.
    pub shadow: Option<&'a Decision>,
    /// The command the decision became, when it acted.
    pub command: Option<&'a RemediationCommand>,
    /// The command's results (a retried command can have several).
    pub results: Vec<&'a ActionResult>,
}

/// Everything that happened to one target, in event time.
#[derive(Debug, Clone)]
pub struct Story<'a> {
    /// The target (without the evidence's pod and node hints).
    pub target: Target,
    /// One chapter per diagnosis, by window end.
    pub chapters: Vec<Chapter<'a>>,
}

/// The stories of `recording`, by target name; decisions, commands and results are joined to their
/// diagnosis through their ids.
#[must_use]
pub fn stories(recording: &Recording) -> Vec<Story<'_>> {
    let decision_of: BTreeMap<&str, &Decision> = recording
        .decisions
        .iter()
        .map(|d| (d.diagnosis_id.as_str(), d))
        .collect();
    let shadow_of: BTreeMap<&str, &Decision> = recording
        .shadow_decisions
        .iter()
        .map(|d| (d.0.diagnosis_id.as_str(), &d.0))
        .collect();
    let command_of: BTreeMap<&str, &RemediationCommand> = recording
        .commands
        .iter()
        .map(|c| (c.provenance.decision_id.as_str(), c))
        .collect();
    let mut results_of: BTreeMap<&str, Vec<&ActionResult>> = BTreeMap::new();
    for result in &recording.results {
        results_of
            .entry(result.command_id.as_str())
            .or_default()
            .push(result);
    }
    let mut by_target: BTreeMap<String, Story<'_>> = BTreeMap::new();
    for diagnosis in &recording.diagnoses {
        let target = diagnosis.target.clone().with_pod(None).with_node(None);
        let decision = decision_of.get(diagnosis.diagnosis_id.as_str()).copied();
        let command = decision.and_then(|d| command_of.get(d.decision_id.as_str()).copied());
        let results = command
            .and_then(|c| results_of.get(c.command_id.as_str()))
            .cloned()
            .unwrap_or_default();
        by_target
            .entry(target.to_string())
            .or_insert_with(|| Story {
                target,
                chapters: Vec::new(),
            })
            .chapters
            .push(Chapter {
                diagnosis,
                decision,
                shadow: shadow_of.get(diagnosis.diagnosis_id.as_str()).copied(),
                command,
                results,
            });
    }
    let mut stories: Vec<Story<'_>> = by_target.into_values().collect();
    for story in &mut stories {
        story
            .chapters
            .sort_by_key(|c| (c.diagnosis.window_end_ns, c.diagnosis.diagnosis_id.clone()));
    }
    stories
}

/// Decisions, commands and results that no story holds (their diagnosis, decision or command is not in
/// the recording), in arrival order by kind.
fn untraced(recording: &Recording) -> Vec<Observed<'_>> {
    let diagnoses: BTreeSet<&str> = recording
        .diagnoses
        .iter()
        .map(|d| d.diagnosis_id.as_str())
        .collect();
    let decisions: Vec<&Decision> = recording
        .decisions
        .iter()
        .filter(|d| !diagnoses.contains(d.diagnosis_id.as_str()))
        .collect();
    let traced_decisions: BTreeSet<&str> = recording
        .decisions
        .iter()
        .filter(|d| diagnoses.contains(d.diagnosis_id.as_str()))
        .map(|d| d.decision_id.as_str())
        .collect();
    let commands: Vec<&RemediationCommand> = recording
        .commands
        .iter()
        .filter(|c| !traced_decisions.contains(c.provenance.decision_id.as_str()))
        .collect();
    let traced_commands: BTreeSet<&str> = recording
        .commands
        .iter()
        .filter(|c| traced_decisions.contains(c.provenance.decision_id.as_str()))
        .map(|c| c.command_id.as_str())
        .collect();
    decisions
        .into_iter()
        .map(Observed::Decision)
        .chain(commands.into_iter().map(Observed::Command))
        .chain(
            recording
                .results
                .iter()
                .filter(|r| !traced_commands.contains(r.command_id.as_str()))
                .map(Observed::Result),
        )
        .collect()
}

/// The stories as text: a heading per target, then its chapters, each record as the timeline writes it;
/// then what no story holds, and the dead letters.
#[must_use]
pub fn render(recording: &Recording) -> String {
    let mut text = String::new();
    for story in stories(recording) {
        let _ = writeln!(text, "── {} ──", story.target);
        for chapter in &story.chapters {
            let observed = std::iter::once(Observed::Diagnosis(chapter.diagnosis))
                .chain(chapter.decision.map(Observed::Decision))
                .chain(chapter.shadow.map(Observed::Shadow))
                .chain(chapter.command.map(Observed::Command))
                .chain(chapter.results.iter().map(|r| Observed::Result(r)));
            for record in observed {
                if let Some(line) = timeline::line(record) {
                    let _ = writeln!(text, "{line}");
                }
            }
        }
        text.push('\n');
    }
    let untraced = untraced(recording);
    if !untraced.is_empty() {
        let _ = writeln!(text, "── not traced to a diagnosis of this run ──");
        for record in untraced {
            if let Some(line) = timeline::line(record) {
                let _ = writeln!(text, "{line}");
            }
        }
        text.push('\n');
    }
    for dead in &recording.dead_letters {
        if let Some(line) = timeline::line(Observed::DeadLetter(dead)) {
            let _ = writeln!(text, "{line}");
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::{Action, FaultClass, fixtures};

    #[test]
    fn each_target_reads_diagnosis_decision_command_result_in_event_time() {
        let mut recording = Recording::default();
        let checkout = Target::deployment("shop", "checkout");
        let cart = Target::deployment("shop", "cart");
        // Arrival order as the stages emit them: every diagnosis first, the later one first.
        let late = fixtures::diagnosis("d-late", &checkout, FaultClass::Oom, 120);
        let early = fixtures::diagnosis("d-early", &checkout, FaultClass::ImagePull, 60);
        let other = fixtures::diagnosis("d-cart", &cart, FaultClass::Oom, 90);
        recording.diagnoses = vec![late.clone(), other, early.clone()];
        let decision = fixtures::decision(&late, Action::RolloutRestart);
        let command = fixtures::command(&decision);
        recording.results = vec![fixtures::result(&command)];
        recording.decisions = vec![decision, fixtures::decision(&early, Action::Noop)];
        recording.commands = vec![command];

        let stories = stories(&recording);
        assert_eq!(
            stories
                .iter()
                .map(|s| s.target.to_string())
                .collect::<Vec<_>>(),
            ["shop/Deployment/cart", "shop/Deployment/checkout"]
        );
        let checkout = &stories[1];
        assert_eq!(
            checkout
                .chapters
                .iter()
                .map(|c| c.diagnosis.diagnosis_id.as_str())
                .collect::<Vec<_>>(),
            ["d-early", "d-late"]
        );
        let last = &checkout.chapters[1];
        assert_eq!(
            last.decision.map(|d| d.action),
            Some(Action::RolloutRestart)
        );
        assert!(last.command.is_some() && last.results.len() == 1);
        assert!(checkout.chapters[0].command.is_none());

        let text = render(&recording);
        let at = |needle: &str| {
            text.find(needle)
                .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
        };
        assert!(at("── shop/Deployment/checkout") < at("image_pull"));
        assert!(at("image_pull") < at("noop"));
        assert!(at("noop") < at("DIAGNOSIS  shop/Deployment/checkout           oom"));
        assert!(at("rollout_restart [") < at("COMMAND") && at("COMMAND") < at("RESULT"));
        assert!(!text.contains("not traced"), "{text}");
        // A result whose command is not in the recording is still shown.
        let mut stray = fixtures::result(&fixtures::command(&fixtures::decision(
            &fixtures::diagnosis("d-gone", &cart, FaultClass::Oom, 10),
            Action::Rollback,
        )));
        stray.message = "stray result".into();
        recording.results.push(stray);
        let text = render(&recording);
        assert!(
            text.find("not traced") < text.find("stray result"),
            "{text}"
        );
    }
}
