//! The feature engine use case: technical indicators per series, kept up to date as bars
//! arrive and published to a feature store.
//!
//! - [`FeatureEngine`]: warms each series up from history (the provider's analysis use case,
//!   through [`BarHistory`]) from a documented anchor ([`Anchoring`]), then on each
//!   [`refresh`](FeatureEngine::refresh) applies the closed bars since the last one, computes
//!   the forming bar's provisional values, and publishes both to a
//!   [`FeatureStore`](axia_domain::FeatureStore). Live values equal the values recomputed from
//!   history ([`FeatureEngine::compute_at`]), bit for bit.
//! - [`FeatureConfig`]: which indicators run on which series.
//! - Alerts: [`AlertRules`] checked against that configuration, evaluated by
//!   [`AlertEvaluator`] on every value the engine publishes
//!   ([`FeatureEngine::alerts`]) or over history ([`FeatureEngine::alerts_over`]).
//!
//! The `axia-features` binary drives it from the hot tier's update messages; a service can
//! call [`FeatureEngine::refresh`] itself after it writes bars.
//!
//! A runnable example over the simulated broker and an in-memory store: `axia`'s
//! `examples/features.rs` (`cargo run -p axia --example features`).

mod alerts;
mod anchor;
mod dispatch;
mod engine;
mod history;

pub use alerts::{AlertEvaluator, AlertRules};
pub use anchor::Anchoring;
pub use axia_indicators::{FeatureSet, FeatureSpec};
pub use dispatch::{Dispatched, WebhookDispatcher};
pub use engine::{FeatureConfig, FeatureEngine, FeatureError, Refreshed};
pub use history::{BarHistory, HistoryError};
