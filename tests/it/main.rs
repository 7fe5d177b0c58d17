//! medic's integration tests, in one binary (one link of DataFusion, candle, kube and rdkafka instead of
//! one per file), one module per area. Tests that need the external services (the test broker, the test
//! Kubernetes API server, Chromium) are started by the README's test command, `scripts/test.sh`.

mod bench_e2e;
mod cli_act;
mod cli_classify;
mod cli_decode;
mod cli_parse;
mod cli_policy;
mod cli_validate;
mod common;
mod deploy_dashboard;
mod deploy_manifests;
mod dockerfile;
mod e2e_actuator;
mod e2e_crash;
mod e2e_demo;
mod e2e_kafka;
mod e2e_policy;
mod hostile_sequences;
mod kafka_acls;
mod receive;
mod replay;
mod runner_at_least_once;
mod runner_checkpoint;
mod runner_rebalance;
mod twin_actuator;
mod twin_logs;
