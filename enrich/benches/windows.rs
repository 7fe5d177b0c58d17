//! Window operator throughput: records/s through DataFusion micro-batches (500 records each, the
//! runner's default batch) into carried window state, for a tumbling per-workload window and a hopping
//! per-template one. Windows emitted per run are printed so windows/s can be derived from the time.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use medic_enrich::span::Span;
use medic_enrich::windows::{LineEvidence, WindowInput, WindowOperator, WindowSpec};
use schemas::{LogSeverity, ObjectKind, SourceCoordinates, Target};

const RECORDS: usize = 50_000;
const BATCH: usize = 500;

fn inputs(targets: &[Target], ids: &[String]) -> Vec<WindowInput<'static>> {
    // Leaked once per bench run so inputs can borrow them for 'static.
    let targets: &'static [Target] = Box::leak(targets.to_vec().into_boxed_slice());
    let ids: &'static [String] = Box::leak(ids.to_vec().into_boxed_slice());
    let sources: &'static [SourceCoordinates] = Box::leak(
        (0..RECORDS)
            .map(|offset| SourceCoordinates {
                topic: "medic.logs.normalized".into(),
                partition: 0,
                offset: i64::try_from(offset).expect("small"),
                index: 0,
            })
            .collect(),
    );
    (0..RECORDS)
        .map(|i| WindowInput {
            target: &targets[i % targets.len()],
            // 1000 records/s of event time: 50 s per run, many windows closing along the way.
            event_time_ns: i64::try_from(i).expect("small") * 1_000_000,
            severity: if i % 17 == 0 {
                LogSeverity::Error
            } else {
                LogSeverity::Info
            },
            template_id: &ids[(i * 7) % ids.len()],
            template: "GET <*> took <*>",
            partition: 0,
            message: i64::try_from(i).expect("small"),
            // As enrich gathers it for diagnose (the default window carries evidence).
            evidence: Some(LineEvidence {
                message: "GET /api/items took 12ms",
                source: sources[i].view(),
                pod: Some("web-1"),
                node: None,
                event: None,
                normal_event: false,
                error: i % 17 == 0,
                informational: i % 17 != 0,
            }),
        })
        .collect()
}

fn windows(c: &mut Criterion) {
    let targets: Vec<Target> = (0..20)
        .map(|i| Target {
            cluster: None,
            namespace: Some("shop".into()),
            kind: ObjectKind::Deployment,
            name: format!("service-{i}"),
            pod: None,
            node: None,
        })
        .collect();
    let ids: Vec<String> = (0..50).map(|i| format!("tpl-{i:04}")).collect();
    let records = inputs(&targets, &ids);
    let specs = [
        (
            "tumbling_5s_workload",
            WindowSpec {
                size: Span::secs(5),
                allowed_lateness: Span::secs(1),
                ..WindowSpec::default()
            },
        ),
        (
            "hopping_10s_by_2s_template",
            WindowSpec {
                size: Span::secs(10),
                slide: Some(Span::secs(2)),
                allowed_lateness: Span::secs(1),
                by_template: true,
                ..WindowSpec::default()
            },
        ),
    ];
    let mut group = c.benchmark_group("windows");
    group.sample_size(10);
    group.throughput(Throughput::Elements(RECORDS as u64));
    for (name, spec) in specs {
        let mut emitted = 0;
        group.bench_function(name, |b| {
            b.iter_batched(
                || WindowOperator::new(spec.clone()).expect("plans"),
                |mut operator| {
                    emitted = 0;
                    for batch in records.chunks(BATCH) {
                        emitted += operator
                            .add_batch(batch, i64::MAX)
                            .expect("runs")
                            .windows
                            .len();
                    }
                    operator
                },
                BatchSize::LargeInput,
            );
        });
        println!("windows/{name}: {emitted} windows emitted per {RECORDS} records");
    }
    group.finish();
}

criterion_group!(benches, windows);
criterion_main!(benches);
