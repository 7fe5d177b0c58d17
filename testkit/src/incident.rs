//! Real-format inputs from the bundled incident (`incidents/checkout-oom-crashloop/`): CRI container
//! lines keyed by their kubelet log path, as node agents key them, and Kubernetes Events; and what the
//! tests and `medic bench e2e` (which replays the copy embedded in the binary) both need to read them:
//! a record's event time and CRI partial chunks joined.

use std::path::PathBuf;

/// The bundled incident's directory.
#[must_use]
pub fn dir() -> PathBuf {
    crate::repository().join("incidents/checkout-oom-crashloop")
}

/// Every complete CRI line of each pod (pods in directory order) and then every Event, each keyed like a
/// node agent keys it (the kubelet log path; `events` for Events).
pub fn records() -> Vec<(String, Vec<u8>)> {
    let mut records = Vec::new();
    for entry in std::fs::read_dir(dir().join("pods")).expect("incident pods") {
        let dir = entry.expect("entry").path();
        let key = format!(
            "/var/log/pods/{}/app/0.log",
            dir.file_name().and_then(|n| n.to_str()).expect("name")
        );
        let text = std::fs::read_to_string(dir.join("app/0.log")).expect("pod log");
        // Partial (P) chunks join their final chunk; keep whole lines so each input maps to one output.
        records.extend(
            text.lines()
                .filter(|l| !l.contains(" P "))
                .map(|l| (key.clone(), l.as_bytes().to_vec())),
        );
    }
    let events = std::fs::read_to_string(dir().join("events.jsonl")).expect("events");
    records.extend(
        events
            .lines()
            .map(|l| ("events".to_owned(), l.as_bytes().to_vec())),
    );
    records
}

/// When a record of [`records`] happened (the CRI timestamp, or the Event's last timestamp), in ns.
///
/// # Panics
/// When the record has no readable time (see [`try_event_time_ns`]).
pub fn event_time_ns(payload: &[u8]) -> i64 {
    try_event_time_ns(payload).expect("a CRI line or an Event with an RFC 3339 time")
}

/// When a CRI line or a Kubernetes Event happened, in ns: the CRI timestamp, or the Event's
/// `lastTimestamp`, `eventTime` or `firstTimestamp` (the first present); `None` when there is none.
pub fn try_event_time_ns(payload: &[u8]) -> Option<i64> {
    let text = std::str::from_utf8(payload).ok()?;
    let stamp = if text.starts_with('{') {
        let event: serde_json::Value = serde_json::from_str(text).ok()?;
        ["lastTimestamp", "eventTime", "firstTimestamp"]
            .iter()
            .find_map(|k| event[k].as_str().map(str::to_owned))?
    } else {
        text.split(' ').next()?.to_owned()
    };
    chrono::DateTime::parse_from_rfc3339(&stamp)
        .ok()?
        .timestamp_nanos_opt()
}

/// CRI lines with each run of partial chunks (`<time> <stream> P <text>`) joined into one full line (`F`)
/// at the time of its first chunk, as ingest would reassemble it.
#[must_use]
pub fn join_partials(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending: Option<String> = None;
    for line in text.lines().filter(|l| !l.is_empty()) {
        let mut fields = line.splitn(4, ' ');
        let (time, stream, tag) = (fields.next(), fields.next(), fields.next());
        let content = fields.next().unwrap_or_default();
        let partial = tag == Some("P");
        match pending.take() {
            Some(mut head) => {
                head.push_str(content);
                if partial {
                    pending = Some(head);
                } else {
                    lines.push(head);
                }
            }
            None if partial => {
                pending = Some(format!(
                    "{} {} F {content}",
                    time.unwrap_or_default(),
                    stream.unwrap_or_default()
                ))
            }
            None => lines.push(line.to_owned()),
        }
    }
    lines.extend(pending);
    lines
}

/// `copies` copies of the incident (at most 26), copy `i` about Deployment `checkout-<word i>` (`alpha`,
/// `bravo`, …; its pods, their ReplicaSet and its loggers' package renamed, so its messages differ from
/// the other copies' in a word a template miner generalises), merged in event-time order with the copies interleaved at equal times:
/// the stream of one cluster's node agents in which `copies` Deployments leak memory and crash-loop at
/// once.
pub fn copies(copies: usize) -> Vec<(String, Vec<u8>)> {
    const REPLICA_SET: &str = "checkout-6b8f7d9c4d";
    const WORDS: [&str; 26] = [
        "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
        "juliett", "kilo", "lima", "mike", "november", "oscar", "papa", "quebec", "romeo",
        "sierra", "tango", "uniform", "victor", "whiskey", "xray", "yankee", "zulu",
    ];
    let originals: Vec<(String, Vec<u8>, i64)> = records()
        .into_iter()
        .map(|(key, payload)| {
            let at = event_time_ns(&payload);
            (key, payload, at)
        })
        .collect();
    let mut merged = Vec::with_capacity(originals.len() * copies);
    for (copy, word) in WORDS.iter().enumerate().take(copies) {
        let renamed = format!("checkout-{word}-6b8f7d9c4d");
        for (index, (key, payload, at)) in originals.iter().enumerate() {
            // Each Deployment runs its own build: its loggers' package names carry the word too.
            let payload = String::from_utf8_lossy(payload)
                .replace(REPLICA_SET, &renamed)
                .replace("c.s.checkout.", &format!("c.s.checkout.{word}."));
            merged.push((
                (*at, index, copy),
                key.replace(REPLICA_SET, &renamed),
                payload.into_bytes(),
            ));
        }
    }
    merged.sort_by_key(|(order, _, _)| *order);
    merged
        .into_iter()
        .map(|(_, key, payload)| (key, payload))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_chunks_join_into_one_full_line() {
        let text = "2026-01-01T00:00:00.1Z stdout P abc\n2026-01-01T00:00:00.2Z stdout P def\n\
                    2026-01-01T00:00:00.3Z stdout F ghi\n2026-01-01T00:00:01Z stderr F x y\n";
        assert_eq!(
            join_partials(text),
            [
                "2026-01-01T00:00:00.1Z stdout F abcdefghi",
                "2026-01-01T00:00:01Z stderr F x y"
            ]
        );
    }

    #[test]
    fn event_times_of_cri_lines_and_events() {
        assert_eq!(
            try_event_time_ns(b"1970-01-01T00:00:01.5Z stdout F x"),
            Some(1_500_000_000)
        );
        assert_eq!(
            try_event_time_ns(br#"{"eventTime":null,"firstTimestamp":"1970-01-01T00:00:02Z"}"#),
            Some(2_000_000_000)
        );
        assert_eq!(try_event_time_ns(b"not a time"), None);
        assert_eq!(try_event_time_ns(b"{}"), None);
    }
}
