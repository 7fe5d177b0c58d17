//! The load: the bundled incident as templates, replayed by staggered synthetic workloads in event-time
//! order and ending about now.

use super::template::Template;
use super::*;
use testkit::incident;

/// The deployment of the bundled incident; replica `i` is `checkout-w<i>`.
pub(super) const INCIDENT_WORKLOAD: &str = "checkout";
/// The pod-template hash in the incident's pod names (`<deployment>-<hash>-<suffix>`).
pub(super) const INCIDENT_POD_HASH: &str = "6b8f7d9c4d";
/// The node the incident's pods run on; replica `i` runs on the node numbered `i % NODES`.
pub(super) const INCIDENT_NODE: &str = "aks-nodepool1-31415926-vmss000002";
/// Nodes the synthetic workloads are spread over.
pub(super) const NODES: usize = 16;

/// One line of the incident: its offset from the incident's first line, Kafka key and payload (read
/// into [`Template`]s).
#[derive(Debug, Clone)]
pub(super) struct TemplateLine {
    pub(super) offset_ns: i64,
    pub(super) key: Template,
    pub(super) payload: Template,
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
                key: Template::new(&key),
                payload: Template::new(&payload),
            })
            .collect();
        Self { start_ns, lines }
    }

    /// From the first line to one second past the last, whole seconds.
    pub(super) fn span_s(&self) -> i64 {
        self.lines.last().map_or(0, |l| l.offset_ns) / 1_000_000_000 + 1
    }
}

/// Line `line` as replica `replica` logs it: pods renamed to its workload and node, times moved by
/// `shift_s`. Returns the key and the payload.
pub(super) fn render(line: &TemplateLine, replica: usize, shift_s: i64) -> (String, String) {
    (
        line.key.render(replica, shift_s),
        line.payload.render(replica, shift_s),
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
    fn the_incident_is_a_template_with_the_names_the_bench_renames() {
        let incident = Incident::bundled();
        assert!(incident.lines.len() > 400);
        assert!(
            incident
                .lines
                .windows(2)
                .all(|w| w[0].offset_ns <= w[1].offset_ns)
        );
        assert!(
            incident
                .lines
                .iter()
                .all(|l| !l.payload.text().contains(" P "))
        );
        let pods = format!("{INCIDENT_WORKLOAD}-{INCIDENT_POD_HASH}");
        // CRI lines are keyed by their pod's log path, Events by their object (a pod or the node).
        assert!(
            incident
                .lines
                .iter()
                .all(|l| l.key.text().contains(&pods) || l.key.text() == INCIDENT_NODE)
        );
        assert!(
            incident
                .lines
                .iter()
                .any(|l| l.payload.text().contains(INCIDENT_NODE))
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
