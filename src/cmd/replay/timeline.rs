//! The timeline as text: one line (or two) per output record, for `medic demo` and `medic replay`.

use super::recording::Observed;

/// `HH:MM:SS` (UTC) of `ns`.
#[must_use]
pub fn clock(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns)
        .format("%H:%M:%S")
        .to_string()
}

/// The timeline line of `observed`; `None` for records the timeline leaves out (windows).
#[must_use]
pub fn line(observed: Observed<'_>) -> Option<String> {
    Some(match observed {
        Observed::Window(_) => return None,
        Observed::Diagnosis(d) => {
            let evidence = d
                .evidence
                .first()
                .map(|e| e.message.as_str())
                .unwrap_or_default();
            format!(
                "{}  DIAGNOSIS  {:<34} {} (severity {:?}, confidence {:.2}{})\n          evidence: {:?}",
                clock(d.window_end_ns),
                d.target.to_string(),
                d.fault,
                d.severity,
                d.confidence,
                if d.uncertain { ", uncertain" } else { "" },
                evidence.chars().take(110).collect::<String>()
            )
        }
        Observed::Decision(d) => format!(
            "{}  DECISION   {:<34} {} [{}]\n          why: {}",
            clock(d.decided_at_ns),
            d.target.to_string(),
            d.action,
            d.policy_id,
            d.reason
        ),
        Observed::Shadow(d) => format!(
            "          SHADOW     {:<34} {} [{}], not acted on\n          why: {}",
            d.target.to_string(),
            d.action,
            d.policy_id,
            d.reason
        ),
        Observed::Command(c) => format!(
            "          COMMAND    {:<34} {} (key {}, expires in {}s)",
            c.target.to_string(),
            c.action,
            c.idempotency_key,
            (c.expires_at_ns - c.issued_at_ns) / 1_000_000_000
        ),
        Observed::Result(r) => format!(
            "          RESULT     {:<34} {:?}: {}",
            r.target.to_string(),
            r.outcome,
            r.message
        ),
        Observed::DeadLetter(d) => format!(
            "          DEAD-LETTER from {} ({}): {}",
            d.stage, d.kind, d.reason
        ),
    })
}
