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
//!
//! The `axia-features` binary drives it from the hot tier's update messages; a service can
//! call [`FeatureEngine::refresh`] itself after it writes bars.
//!
//! ```
//! use std::sync::Arc;
//! use axia_domain::{ManualClock, OhlcvStore, OhlcvFrame, Timeframe, UseCase};
//! use axia_features::{FeatureEngine, FeatureConfig};
//! use axia_memory::{MemoryFeatureStore, MemoryStore};
//! use axia_provider::OhlcvDataProvider;
//! use chrono::{TimeZone, Utc};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
//! let archive = Arc::new(MemoryStore::new());
//! let mut b = OhlcvFrame::builder("EURUSD".parse()?, Timeframe::H1, 100);
//! for i in 0..100 {
//!     let c = 1.10 + f64::from(i % 7) * 0.001;
//!     b.push((t0 + chrono::Duration::hours(i.into())).timestamp_millis(), c, c + 0.002, c - 0.002, c, 100.0)?;
//! }
//! archive.save(&b.finish()).await?;
//! let clock = Arc::new(ManualClock::new(t0 + chrono::Duration::hours(100)));
//! let provider = OhlcvDataProvider::builder().cold_archive(Arc::clone(&archive)).clock(Arc::clone(&clock)).build();
//! let store = Arc::new(MemoryFeatureStore::new());
//! let engine = FeatureEngine::new(provider, Arc::clone(&store)).clock(clock);
//! let done = engine.refresh(&"EURUSD".parse()?, Timeframe::H1).await?;
//! let latest = done.latest.expect("values");
//! assert!(!latest.forming);
//! assert!(latest.values.contains_key("macd_12_26_9"));
//! # Ok(()) }
//! ```

mod anchor;
mod engine;
mod history;

pub use anchor::Anchoring;
pub use axia_indicators::{FeatureSet, FeatureSpec};
pub use engine::{FeatureConfig, FeatureEngine, FeatureError, Refreshed};
pub use history::BarHistory;
