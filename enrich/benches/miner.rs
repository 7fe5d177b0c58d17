//! Template-miner throughput (lines/s) on the visible Loghub HDFS and Spark samples, repeated. The data
//! is read from `../shared/data` (research-only licence: never copied into the repository); the bench
//! panics with a clear message when it is missing.
#![allow(
    missing_docs,
    reason = "criterion's macros generate undocumented items"
)]

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use medic_enrich::drain::{Drain, DrainConfig};
use medic_enrich::log_format::LogFormat;

fn contents(system: &str, header: &str) -> Vec<String> {
    let path = format!(
        "{}/../../shared/data/loghub/{system}/{system}_2k.log",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (the Loghub samples live in shared/data)"));
    let format = LogFormat::new(header).expect("valid header");
    text.lines()
        .map(|l| format.content(l.trim_end_matches('\r')).to_owned())
        .collect()
}

fn miner(c: &mut Criterion) {
    let mut group = c.benchmark_group("drain");
    group.sample_size(10);
    for (system, header) in [
        ("HDFS", "<Date> <Time> <Pid> <Level> <Component>: <Content>"),
        ("Spark", "<Date> <Time> <Level> <Component>: <Content>"),
    ] {
        let lines: Vec<String> = contents(system, header)
            .into_iter()
            .cycle()
            .take(100_000)
            .collect();
        group.throughput(Throughput::Elements(lines.len() as u64));
        group.bench_function(system, |b| {
            b.iter_batched(
                || Drain::new(DrainConfig::default()),
                |mut drain| {
                    for line in &lines {
                        drain.add_message(line);
                    }
                    drain
                },
                BatchSize::LargeInput,
            );
        });
    }
    group.finish();
}

/// The cost of a grok rule per record (compiled once): a matching and a non-matching line.
fn grok(c: &mut Criterion) {
    use medic_enrich::grok_rules::{GrokRule, GrokRules};
    let mut group = c.benchmark_group("grok");
    let rules = GrokRules::compile(&[GrokRule {
        topic: None,
        pattern: "%{NGINX_ACCESS}".into(),
        anchored: true,
    }])
    .expect("compiles");
    let hit = r#"10.1.2.3 - - [14/Mar/2026:09:00:01 +0000] "GET /api/v1/orders HTTP/1.1" 503 162 "-" "curl/8.5.0""#;
    let miss = "2026-03-14 09:00:01.123  INFO 1 --- [main] c.s.checkout.CheckoutApplication : Started in 6.4 seconds";
    group.throughput(Throughput::Elements(1));
    group.bench_function("nginx_match", |b| {
        b.iter(|| rules.extract("t", std::hint::black_box(hit)))
    });
    group.bench_function("nginx_miss", |b| {
        b.iter(|| rules.extract("t", std::hint::black_box(miss)))
    });
    group.finish();
}

criterion_group!(benches, miner, grok);
criterion_main!(benches);
