//! # medic-testkit
//!
//! What medic's tests and benchmarks share to run medic for real (not published): `medic` child
//! processes, the external test broker and the test Kubernetes API server, their scraped metrics, and
//! real-format inputs. Nothing here imports the `medic` binary's crate, so the bench in it can use the
//! same harness as the tests.
//!
//! | module | what it holds |
//! |---|---|
//! | [`process`] | `medic run` children: start, ready, SIGTERM, kill on drop; CPU seconds and memory |
//! | [`http`], [`scrape`] | the admin server's endpoints; one Prometheus text parser |
//! | [`kafka`] | the test broker: address, topics, producing, observing, checkpoints, per-run topic names |
//! | [`durable`] | a private broker whose data survives a SIGKILL (the broker-restart test) |
//! | [`cluster`] | the test API server and a simulated kubelet |
//! | [`prometheus`] | a real Prometheus server scraping a workload's exporters, as a test plays them |
//! | [`commands`] | signed commands and actuator settings for the actuation tests |
//! | [`incident`] | the bundled incident as keyed records, and renamed copies of it |
//! | [`scratch`] | run ids, scratch directories, free ports |

pub mod cluster;
pub mod commands;
pub mod durable;
pub mod http;
pub mod incident;
pub mod kafka;
pub mod process;
pub mod prometheus;
pub mod scrape;
pub mod scratch;

use std::path::{Path, PathBuf};

/// The repository's root (the workspace this crate belongs to).
#[must_use]
pub fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("testkit/ is inside the repository")
        .to_owned()
}
