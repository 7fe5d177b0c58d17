//! The policies the learned ones are measured against: Kubernetes' own behaviour ([`Hpa`]), a calibrated
//! threshold-rule policy ([`ThresholdRules`]) and a human on call ([`Manual`]).

mod hpa;
mod manual;
mod rules;

pub use hpa::{Hpa, HpaConfig};
pub use manual::{ALERT_FOR_STEPS, Manual};
pub use rules::{ThresholdRules, calibrate_rules};
