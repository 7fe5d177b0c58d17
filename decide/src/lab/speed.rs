//! `medic bench twin`: how fast the digital twin simulates.

use crate::lab::arbitration::SafetyConfig;
use crate::lab::baselines::{Hpa, HpaConfig};
use crate::lab::control::{EpisodeSpec, run_episode_recording};
use crate::lab::twin::Scenario;

/// `medic bench twin`: simulated minutes per second of a 3-deployment cluster over a day of a diurnal
/// trace with random faults, without and with log emission.
#[must_use]
pub fn bench_twin() -> serde_json::Value {
    let scenario: Scenario = toml::from_str("[random]\nmean_interval = \"2h\"").unwrap_or_default();
    let run = |record_events: bool| {
        let mut spec = EpisodeSpec::diurnal_day(&scenario, 1);
        spec.options.record_events = record_events;
        let mut hpa = Hpa::new(HpaConfig::default());
        let started = std::time::Instant::now();
        let (_, events) =
            run_episode_recording(&spec, &mut hpa, &SafetyConfig::default(), |_, _| {});
        let secs = started.elapsed().as_secs_f64();
        (1_440.0 / secs, events.len())
    };
    let (plain, _) = run(false);
    let (logged, events) = run(true);
    serde_json::json!({
        "cluster": "3 deployments, 4 nodes, 30 s steps, HPA controller, 1 simulated day",
        "simulated_minutes_per_s": plain,
        "simulated_minutes_per_s_with_events": logged,
        "events_per_day": events,
        "target_minutes_per_s": 10_000,
    })
}
