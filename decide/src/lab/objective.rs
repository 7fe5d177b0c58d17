//! The objective every policy is tuned or trained for: SLA-violation minutes plus prices on replicas,
//! pages and the minutes faults stay open.

use crate::lab::twin::EpisodeReport;

/// Cost of one replica-minute, in SLA-violation minutes: 50 replica-minutes cost as much as one minute
/// of one deployment out of SLA.
pub const REPLICA_MINUTE_COST: f64 = 0.02;

/// Cost of paging a human, in SLA-violation minutes.
pub const ESCALATION_COST: f64 = 2.0;

/// Cost of one minute a fault stays unrecovered (the MTTR term), in SLA-violation minutes.
pub const FAULT_MINUTE_COST: f64 = 0.5;

/// The cost of a run (lower is better).
#[must_use]
pub fn cost(report: &EpisodeReport) -> f64 {
    report.sla_violation_minutes
        + REPLICA_MINUTE_COST * report.replica_minutes
        + ESCALATION_COST * report.escalations as f64
        + FAULT_MINUTE_COST * report.fault_minutes
}
