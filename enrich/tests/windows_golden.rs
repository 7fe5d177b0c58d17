//! Window outputs are a function of the records, not of their arrival order or batching: shuffled input
//! (disordered within the allowed lateness) split into random micro-batches gives exactly the golden
//! output of sorted input. `MEDIC_BLESS=1 cargo test -p medic-enrich --test windows_golden` rewrites
//! the golden files after an intended change (review the diff).

use medic_enrich::span::Span;
use medic_enrich::windows::{WindowInput, WindowOperator, WindowSpec};
use schemas::{LogSeverity, ObjectKind, Target, WindowFeatures};
use std::path::PathBuf;

const S: i64 = 1_000_000_000;

/// A tiny deterministic generator (xorshift), so the test needs no dependency and never changes.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

struct Record {
    target: usize,
    event_time_ns: i64,
    severity: LogSeverity,
    template: usize,
}

const TEMPLATES: [&str; 6] = [
    "GET <*> took <*>",
    "user <*> logged in",
    "connection refused to <*>:<*>",
    "OOMKilled container <*>",
    "cache miss for key <*>",
    "Back-off restarting failed container <*>",
];

fn targets() -> Vec<Target> {
    ["checkout", "cart", "payments"]
        .iter()
        .map(|name| Target {
            cluster: Some("prod".into()),
            namespace: Some("shop".into()),
            kind: ObjectKind::Deployment,
            name: (*name).into(),
            pod: None,
            node: None,
        })
        .collect()
}

/// 3000 records over 10 minutes; payments starts failing after minute 6.
fn records() -> Vec<Record> {
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    let mut records: Vec<Record> = (0..3000)
        .map(|_| {
            let event_time_ns = i64::try_from(rng.below(600_000)).expect("small") * 1_000_000;
            let target = usize::try_from(rng.below(3)).expect("small");
            let failing = target == 2 && event_time_ns > 360 * S;
            let template = if failing {
                [2, 3, 5][usize::try_from(rng.below(3)).expect("small")]
            } else {
                usize::try_from(rng.below(3)).expect("small") * 2 % 5
            };
            let severity = match (failing, rng.below(10)) {
                (true, 0..=6) => LogSeverity::Error,
                (_, 0) => LogSeverity::Warning,
                _ => LogSeverity::Info,
            };
            Record {
                target,
                event_time_ns,
                severity,
                template,
            }
        })
        .collect();
    records.sort_by_key(|r| r.event_time_ns);
    records
}

fn run(
    spec: &WindowSpec,
    order: &[&Record],
    batch_sizes: &mut dyn FnMut() -> usize,
) -> Vec<WindowFeatures> {
    let targets = targets();
    let ids: Vec<String> = (0..TEMPLATES.len()).map(|i| format!("tpl-{i}")).collect();
    let mut operator = WindowOperator::new(spec.clone()).expect("plans");
    let mut out = Vec::new();
    let mut rest = order;
    while !rest.is_empty() {
        let n = batch_sizes().clamp(1, rest.len());
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        let read = order.len() - rest.len() - batch.len();
        let inputs: Vec<WindowInput<'_>> = batch
            .iter()
            .zip(read..)
            .map(|(r, offset)| WindowInput {
                target: &targets[r.target],
                event_time_ns: r.event_time_ns,
                severity: r.severity,
                template_id: &ids[r.template],
                template: TEMPLATES[r.template],
                partition: 0,
                // One message per record, in the order read.
                message: i64::try_from(offset).expect("small"),
                evidence: None,
            })
            .collect();
        // A wall clock after every event time here (it only bounds event times far ahead of it).
        let output = operator.add_batch(&inputs, i64::MAX).expect("query runs");
        assert_eq!(
            output.late_dropped, 0,
            "no record is later than the allowed lateness"
        );
        out.extend(output.windows);
    }
    out.extend(operator.flush());
    out
}

fn check(name: &str, spec: &WindowSpec) {
    let records = records();
    let sorted: Vec<&Record> = records.iter().collect();
    let expected = run(spec, &sorted, &mut || usize::MAX);

    // Arrival order: event time plus a random delay below the allowed lateness.
    let mut rng = Rng(42);
    let lateness = u64::try_from(spec.allowed_lateness.as_nanos()).expect("positive");
    let mut shuffled: Vec<(i64, &Record)> = records
        .iter()
        .map(|r| {
            (
                r.event_time_ns + i64::try_from(rng.below(lateness)).expect("small"),
                r,
            )
        })
        .collect();
    shuffled.sort_by_key(|(arrival, _)| *arrival);
    let shuffled: Vec<&Record> = shuffled.into_iter().map(|(_, r)| r).collect();
    let mut sizes = Rng(7);
    let actual = run(spec, &shuffled, &mut || {
        usize::try_from(sizes.below(200)).expect("small") + 1
    });
    assert_eq!(
        actual, expected,
        "{name}: output depends on arrival order or batching"
    );

    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/{name}.json"));
    let rendered = serde_json::to_string_pretty(&expected).expect("encodes") + "\n";
    if std::env::var_os("MEDIC_BLESS").is_some() {
        std::fs::write(&path, rendered).expect("write golden");
    } else {
        let golden = std::fs::read_to_string(&path).expect("golden file (MEDIC_BLESS=1 writes it)");
        assert!(
            golden == rendered,
            "{name}: output differs from {}",
            path.display()
        );
    }
}

#[test]
fn tumbling_windows_match_the_golden_output_in_any_arrival_order() {
    check("tumbling_1m", &WindowSpec::default());
}

#[test]
fn hopping_per_template_windows_match_the_golden_output_in_any_arrival_order() {
    check(
        "hopping_2m_by_template",
        &WindowSpec {
            name: "template_2m".into(),
            size: Span::secs(120),
            slide: Some(Span::secs(30)),
            allowed_lateness: Span::secs(20),
            by_template: true,
            ..WindowSpec::default()
        },
    );
}
