//! What a medic process tells its operators about itself: Prometheus metrics, stage health, and the admin
//! HTTP server that serves both.

pub mod admin;
pub mod health;
pub mod metrics;
