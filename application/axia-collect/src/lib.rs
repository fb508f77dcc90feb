//! The collect use case: for every symbol x timeframe, fetch the recent bars from a source,
//! write them to the cold archive, then merge them into the hot cache (which trims itself to
//! its retention on every write).
//!
//! - **Lookback.** 24 h by default, and never shorter than one bar of the timeframe, so D1, W1
//!   and MN1 tasks always reach their current bar's open ([`lookback`]).
//! - **Order.** The archive is written before the cache: a bar is never in the hot tier
//!   without being archived. A task whose archive write fails does not touch the cache.
//! - **Concurrency and retries.** At most `concurrency` tasks run at once; a task retries
//!   transient failures (source unavailable, timeout, rate limited; store unavailable,
//!   timeout, conflict) with exponential backoff, and gives up on permanent ones (unknown symbol,
//!   unsupported request) at once. A source with no bars in the window is a success with 0 bars.
//! - **Reports.** One [`TaskReport`] per task (bars fetched, stored, rejected by validation,
//!   status, error, attempts, duration) in a [`CollectReport`]. Partial success is allowed.
//! - **Idempotent.** Stores merge by open time, so running again, or re-running a run killed
//!   half-way, leaves exactly what one clean run leaves.
//!
//! ```
//! use std::sync::Arc;
//! use axia_collect::{Collect, CollectPlan, TaskStatus};
//! use axia_domain::{ManualClock, MarketDataError, MockMarketData, MockOhlcvStore, Timeframe};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // Any MarketData source and OhlcvStore archive (here: mocks; a closed market, nothing to store).
//! let mut source = MockMarketData::new();
//! source.expect_bars().returning(|_, _, range| Err(MarketDataError::NoData(range)));
//! let archive = MockOhlcvStore::new();
//! let collect = Collect::new(Arc::new(source), Arc::new(archive), None, Arc::new(ManualClock::new(chrono::Utc::now())));
//! let report = collect.run(&CollectPlan::new(vec!["USDJPY".parse().unwrap()], Timeframe::ALL.to_vec())).await;
//! assert_eq!(report.tasks.len(), 9);
//! assert!(report.tasks.iter().all(|t| t.status == TaskStatus::NoData));
//! # }
//! ```

mod collect;

pub use collect::{Collect, CollectPlan, CollectReport, TaskReport, TaskStatus, lookback};
