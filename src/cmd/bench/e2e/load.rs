//! The load: the bundled incident as templates, replayed by staggered synthetic workloads in event-time
//! order and ending about now.

use super::*;
use chrono::{Datelike, Timelike};
use testkit::incident;

/// The deployment of the bundled incident; replica `i` is `checkout-w<i>`.
pub(super) const INCIDENT_WORKLOAD: &str = "checkout";
/// The pod-template hash in the incident's pod names (`<deployment>-<hash>-<suffix>`).
pub(super) const INCIDENT_POD_HASH: &str = "6b8f7d9c4d";
/// The node the incident's pods run on; replica `i` runs on the node numbered `i % NODES`.
pub(super) const INCIDENT_NODE: &str = "aks-nodepool1-31415926-vmss000002";
/// Nodes the synthetic workloads are spread over.
pub(super) const NODES: usize = 16;

/// One line of the incident: its offset from the incident's first line, Kafka key and payload.
#[derive(Debug, Clone)]
pub(super) struct TemplateLine {
    pub(super) offset_ns: i64,
    pub(super) key: String,
    pub(super) payload: String,
}

/// The bundled incident as a template, ordered by event time.
#[derive(Debug, Clone)]
pub(super) struct Incident {
    /// Event time of the first line, ns since the epoch.
    pub(super) start_ns: i64,
    pub(super) lines: Vec<TemplateLine>,
}

impl Incident {
    /// The incident embedded in the binary (`medic demo`'s): CRI lines keyed by their kubelet log path,
    /// with partial (`P`) chunks joined into their final line so that every line fed is one record, and
    /// Events keyed by their object's name.
    pub(super) fn bundled() -> Self {
        let mut lines: Vec<(i64, String, String)> = Vec::new();
        let time = |line: &str| incident::try_event_time_ns(line.as_bytes()).unwrap_or(0);
        for (path, text) in crate::cmd::demo::POD_LOGS {
            for line in incident::join_partials(text) {
                lines.push((time(&line), format!("/var/log/{path}"), line));
            }
        }
        for line in crate::cmd::demo::EVENTS
            .lines()
            .filter(|l| !l.trim().is_empty())
        {
            let value: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
            let key = value["involvedObject"]["name"].as_str().unwrap_or_default();
            lines.push((time(line), key.to_owned(), line.to_owned()));
        }
        // Stable: lines of equal time keep their file order.
        lines.sort_by_key(|l| l.0);
        let start_ns = lines.first().map_or(0, |l| l.0);
        let lines = lines
            .into_iter()
            .map(|(time, key, payload)| TemplateLine {
                offset_ns: time - start_ns,
                key,
                payload,
            })
            .collect();
        Self { start_ns, lines }
    }

    /// From the first line to one second past the last, whole seconds.
    pub(super) fn span_s(&self) -> i64 {
        self.lines.last().map_or(0, |l| l.offset_ns) / 1_000_000_000 + 1
    }
}

/// `text` with every `YYYY-MM-DDTHH:MM:SS` or `YYYY-MM-DD HH:MM:SS` in it moved by `shift_s` seconds;
/// fractions and zones after it are kept.
pub(super) fn shift_timestamps(text: &str, shift_s: i64) -> String {
    const LEN: usize = 19;
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len() + 8);
    let (mut copied, mut at) = (0, 0);
    while at + LEN <= bytes.len() {
        match shifted(&bytes[at..at + LEN], shift_s) {
            // A match starts and ends on ASCII, so both slices fall on character boundaries.
            Some(moved) => {
                out.push_str(&text[copied..at]);
                out.push_str(&moved);
                at += LEN;
                copied = at;
            }
            None => at += 1,
        }
    }
    out.push_str(&text[copied..]);
    out
}

/// `window` (19 bytes) moved by `shift_s` seconds, when it is a date and time.
pub(super) fn shifted(window: &[u8], shift_s: i64) -> Option<String> {
    const SHAPE: &[u8; 19] = b"dddd-dd-dd_dd:dd:dd";
    let fits = SHAPE.iter().zip(window).all(|(&shape, &b)| match shape {
        b'd' => b.is_ascii_digit(),
        b'_' => b == b'T' || b == b' ',
        _ => b == shape,
    });
    if !fits {
        return None;
    }
    // Read and written field by field: a strftime format was parsed twice per line, about a tenth of
    // the feeder's CPU.
    let number = |at: usize, len: usize| {
        window[at..at + len]
            .iter()
            .fold(0_u32, |n, &digit| n * 10 + u32::from(digit - b'0'))
    };
    let year = i32::try_from(number(0, 4)).ok()?;
    let time = chrono::NaiveDate::from_ymd_opt(year, number(5, 2), number(8, 2))?.and_hms_opt(
        number(11, 2),
        number(14, 2),
        number(17, 2),
    )?;
    let moved = time.checked_add_signed(chrono::TimeDelta::try_seconds(shift_s)?)?;
    Some(format!(
        "{:04}-{:02}-{:02}{}{:02}:{:02}:{:02}",
        moved.year(),
        moved.month(),
        moved.day(),
        char::from(window[10]),
        moved.hour(),
        moved.minute(),
        moved.second()
    ))
}

/// Line `line` as replica `replica` logs it: pods renamed to its workload and node, times moved by
/// `shift_s`. Returns the key and the payload.
pub(super) fn render(line: &TemplateLine, replica: usize, shift_s: i64) -> (String, String) {
    let pods = format!("{INCIDENT_WORKLOAD}-{INCIDENT_POD_HASH}");
    let renamed_pods = format!("{INCIDENT_WORKLOAD}-w{replica}-{INCIDENT_POD_HASH}");
    let node_prefix = INCIDENT_NODE.trim_end_matches(|c: char| c.is_ascii_digit());
    let node = format!("{node_prefix}{:06}", replica % NODES);
    let rename = |text: &str| {
        text.replace(&pods, &renamed_pods)
            .replace(INCIDENT_NODE, &node)
    };
    (
        rename(&line.key),
        shift_timestamps(&rename(&line.payload), shift_s),
    )
}

/// The load: the incident replayed by replica after replica, each starting `stagger_s` after the previous
/// one, merged in event-time order (endless: take what is needed). Yields `(key, payload)`.
pub(super) struct Load<'a> {
    pub(super) incident: &'a Incident,
    /// Shift of replica 0, seconds.
    pub(super) first_shift_s: i64,
    pub(super) stagger_s: i64,
    pub(super) next_replica: usize,
    /// The next line of every started replica: (ns after replica 0's start, replica, line index).
    pub(super) heads: BinaryHeap<Reverse<(i64, usize, usize)>>,
}

impl<'a> Load<'a> {
    /// About `workloads` replicas mid-incident at a time; shifted so that the first `lines` lines end
    /// about `now_ns`.
    pub(super) fn new(incident: &'a Incident, workloads: usize, lines: u64, now_ns: i64) -> Self {
        let span_s = incident.span_s();
        let stagger_s = (span_s / i64::try_from(workloads).unwrap_or(i64::MAX)).max(1);
        let per_replica = incident.lines.len().max(1) as u64;
        let replicas = i64::try_from(lines / per_replica + 1).unwrap_or(i64::MAX);
        let timeline_s = replicas.saturating_mul(stagger_s).saturating_add(span_s);
        let first_start_ns = now_ns - timeline_s.saturating_mul(1_000_000_000);
        Self {
            incident,
            first_shift_s: (first_start_ns - incident.start_ns).div_euclid(1_000_000_000),
            stagger_s,
            next_replica: 0,
            heads: BinaryHeap::new(),
        }
    }

    /// Lines of `seconds` of event time once the load is in full swing (about `workloads` replicas at once).
    pub(super) fn lines_per_event_time(&self, seconds: u64) -> u64 {
        let per_replica = self.incident.lines.len() as u64;
        let stagger_s = u64::try_from(self.stagger_s).unwrap_or(1).max(1);
        (per_replica * seconds).div_ceil(stagger_s).max(1)
    }

    /// Starts every replica whose first line comes before the earliest pending line.
    pub(super) fn start_due_replicas(&mut self) {
        loop {
            let replica = i64::try_from(self.next_replica).unwrap_or(i64::MAX);
            let start_ns = replica * self.stagger_s * 1_000_000_000;
            if self
                .heads
                .peek()
                .is_some_and(|Reverse((next, _, _))| *next < start_ns)
            {
                return;
            }
            self.heads.push(Reverse((start_ns, self.next_replica, 0)));
            self.next_replica += 1;
        }
    }
}

impl Iterator for Load<'_> {
    type Item = (String, String);

    fn next(&mut self) -> Option<Self::Item> {
        let lines = &self.incident.lines;
        if lines.is_empty() {
            return None;
        }
        self.start_due_replicas();
        let Reverse((at_ns, replica, index)) = self.heads.pop()?;
        if let Some(following) = lines.get(index + 1) {
            let next_ns = at_ns - lines[index].offset_ns + following.offset_ns;
            self.heads.push(Reverse((next_ns, replica, index + 1)));
        }
        let shift_s = self.first_shift_s + i64::try_from(replica).ok()? * self.stagger_s;
        Some(render(&lines[index], replica, shift_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_move_and_keep_their_shape() {
        let line =
            "2026-03-14T09:00:02.585000000Z stdout F 2026-03-14 09:00:02.585  INFO ü 2026-03-14";
        assert_eq!(
            shift_timestamps(line, 86_400 + 3_600),
            "2026-03-15T10:00:02.585000000Z stdout F 2026-03-15 10:00:02.585  INFO ü 2026-03-14"
        );
        assert_eq!(shift_timestamps("no time 12:00:00", 5), "no time 12:00:00");
        assert_eq!(
            shift_timestamps("2026-12-31 23:59:59", 1),
            "2027-01-01 00:00:00"
        );
        assert_eq!(
            shift_timestamps("2026-13-01T00:00:00", 1),
            "2026-13-01T00:00:00",
            "not a date: left as it is"
        );
    }

    #[test]
    fn the_incident_is_a_template_with_the_names_the_bench_renames() {
        let incident = Incident::bundled();
        assert!(incident.lines.len() > 400);
        assert!(
            incident
                .lines
                .windows(2)
                .all(|w| w[0].offset_ns <= w[1].offset_ns)
        );
        assert!(incident.lines.iter().all(|l| !l.payload.contains(" P ")));
        let pods = format!("{INCIDENT_WORKLOAD}-{INCIDENT_POD_HASH}");
        // CRI lines are keyed by their pod's log path, Events by their object (a pod or the node).
        assert!(
            incident
                .lines
                .iter()
                .all(|l| l.key.contains(&pods) || l.key == INCIDENT_NODE)
        );
        assert!(
            incident
                .lines
                .iter()
                .any(|l| l.payload.contains(INCIDENT_NODE))
        );
        assert!((500..700).contains(&incident.span_s()));
    }

    #[test]
    fn the_load_is_in_event_time_order_across_renamed_workloads_ending_about_now() {
        let incident = Incident::bundled();
        let now_ns = incident::event_time_ns(b"2026-11-30T12:00:00Z stdout F now");
        let lines: Vec<(String, String)> =
            Load::new(&incident, 8, 3000, now_ns).take(3000).collect();
        assert_eq!(lines.len(), 3000);
        let time = |(_, payload): &(String, String)| incident::event_time_ns(payload.as_bytes());
        let times: Vec<i64> = lines.iter().map(time).collect();
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "event-time order");
        assert!(*times.last().expect("lines") <= now_ns);
        assert!(
            now_ns - times[0] < 3 * 3_600 * 1_000_000_000,
            "ends about now"
        );
        let workloads: std::collections::BTreeSet<&str> = lines
            .iter()
            .filter_map(|(key, _)| key.split("checkout-w").nth(1)?.split('-').next())
            .collect();
        assert!(workloads.len() >= 5, "{workloads:?}");
        assert!(
            lines
                .iter()
                .all(|(key, payload)| !key.contains("checkout-6b8f7d9c4d")
                    && !payload.contains("checkout-6b8f7d9c4d"))
        );
    }
}
