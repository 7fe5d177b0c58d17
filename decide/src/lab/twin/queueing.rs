//! Latency from utilisation: each ready pod is an M/M/1 server, so a request's time in the pod is
//! exponential with rate `μ − λ` and its p95 is `ln 20 / (μ − λ)`.

/// Utilisation above which a pod is saturated: the excess is refused (fails) and latency stays at the
/// saturated value.
pub const SATURATION: f64 = 0.98;

/// What the pods of one deployment did with one step's demand.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Served {
    /// Requests per second served.
    pub served_rps: f64,
    /// Requests per second refused for lack of capacity.
    pub refused_rps: f64,
    /// Utilisation of the serving capacity, in [0, SATURATION].
    pub utilisation: f64,
    /// p95 latency, milliseconds (`timeout_ms` when nothing serves).
    pub p95_ms: f64,
}

/// Serves `demand_rps` with `capacity_rps` spread over `pods` pods, each idle request taking
/// `base_latency_ms`; nothing served answers after `timeout_ms`.
#[must_use]
pub fn serve(
    demand_rps: f64,
    capacity_rps: f64,
    pods: f64,
    base_latency_ms: f64,
    timeout_ms: f64,
) -> Served {
    if capacity_rps <= 0.0 || pods <= 0.0 {
        return Served {
            refused_rps: demand_rps,
            p95_ms: if demand_rps > 0.0 {
                timeout_ms
            } else {
                base_latency_ms
            },
            ..Served::default()
        };
    }
    let served = demand_rps.min(capacity_rps * SATURATION);
    let utilisation = served / capacity_rps;
    let per_pod_rate = capacity_rps / pods;
    let wait_ms = 1_000.0 * 20f64.ln() / (per_pod_rate * (1.0 - utilisation));
    Served {
        served_rps: served,
        refused_rps: demand_rps - served,
        utilisation,
        p95_ms: (base_latency_ms + wait_ms).min(timeout_ms),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_grows_with_load_and_excess_fails() {
        let light = serve(100.0, 1_000.0, 10.0, 20.0, 5_000.0);
        let heavy = serve(900.0, 1_000.0, 10.0, 20.0, 5_000.0);
        assert!(light.p95_ms < heavy.p95_ms);
        assert!((light.p95_ms - (20.0 + 1_000.0 * 20f64.ln() / 90.0)).abs() < 1e-9);
        let over = serve(2_000.0, 1_000.0, 10.0, 20.0, 5_000.0);
        assert!((over.refused_rps - 1_020.0).abs() < 1e-9);
        assert_eq!(serve(5.0, 0.0, 0.0, 20.0, 5_000.0).p95_ms, 5_000.0);
    }
}
