//! [`ExternalDiagnoses`]: diagnoses made outside the twin — by the pipeline, on an incident's recorded
//! logs — replayed in simulated time in place of the twin's own diagnosis channel, so policies are
//! compared on what the pipeline really concluded.

use crate::observation::Signal;
use std::collections::BTreeMap;

/// What the pipeline concluded about one deployment over the span its recording covers.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecordedSpan {
    /// Simulated second the recording starts.
    pub from_secs: f64,
    /// Simulated second the recording ends.
    pub to_secs: f64,
    /// `(simulated second, signal)` in time order: the pipeline's diagnoses.
    pub diagnoses: Vec<(f64, Signal)>,
}

/// Recorded diagnoses per deployment index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ExternalDiagnoses {
    /// Per deployment.
    pub deployments: BTreeMap<usize, RecordedSpan>,
    /// How long a diagnosis stands (one window), seconds.
    pub hold_secs: f64,
}

impl ExternalDiagnoses {
    /// The signal for deployment `d` at `now`: inside its recorded span, the latest diagnosis made in
    /// the last `hold_secs` (or `normal` when the pipeline said nothing); `None` outside the span, where
    /// the twin's own diagnosis channel speaks.
    #[must_use]
    pub fn signal(&self, d: usize, now: f64) -> Option<Signal> {
        let span = self.deployments.get(&d)?;
        if now < span.from_secs || now > span.to_secs + self.hold_secs {
            return None;
        }
        let latest = span
            .diagnoses
            .iter()
            .rev()
            .find(|(at, _)| *at <= now && now - at < self.hold_secs);
        Some(latest.map_or(
            Signal {
                fault: schemas::FaultClass::Normal,
                confidence: 1.0,
                node: None,
            },
            |(_, signal)| *signal,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use schemas::FaultClass;

    #[test]
    fn a_recorded_diagnosis_holds_for_one_window_inside_the_span_only() {
        let oom = Signal {
            fault: FaultClass::Oom,
            confidence: 0.9,
            node: None,
        };
        let external = ExternalDiagnoses {
            deployments: BTreeMap::from([(
                1,
                RecordedSpan {
                    from_secs: 100.0,
                    to_secs: 400.0,
                    diagnoses: vec![(200.0, oom)],
                },
            )]),
            hold_secs: 60.0,
        };
        assert_eq!(external.signal(0, 200.0), None, "another deployment");
        assert_eq!(external.signal(1, 50.0), None, "before the recording");
        assert_eq!(
            external.signal(1, 150.0).map(|s| s.fault),
            Some(FaultClass::Normal)
        );
        assert_eq!(external.signal(1, 230.0), Some(oom));
        assert_eq!(
            external.signal(1, 270.0).map(|s| s.fault),
            Some(FaultClass::Normal)
        );
        assert_eq!(external.signal(1, 1_000.0), None, "after the recording");
    }
}
