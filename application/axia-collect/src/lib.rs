//! The collect use cases: keep the cold archive equal to the source's **closed** bars, and the
//! hot cache fresh, for every symbol x timeframe.
//!
//! - **Run** ([`Collect::run`], the cron job). Gap-driven: for each series it asks the archive
//!   for its newest bar and fetches from there (minus a small overlap) up to now, never less
//!   than the lookback (24 h; one bar of the timeframe at least, [`lookback`]). A missed run,
//!   a failed task, a source outage or a new symbol is caught up on the next run, as far back
//!   as the catch-up horizon (31 days) and the source's reach allow; what lies beyond is
//!   reported unreachable ([`catch_up_window`]).
//! - **Closed bars only in the archive.** A bar is archived once its period has ended
//!   ([`axia_domain::Timeframe::is_closed_at`]); the forming bar goes to the hot cache only,
//!   labelled as such, and is replaced there when it closes.
//! - **Order.** The archive is written before the cache (oldest partition first), so a bar is
//!   never in the hot tier without its closed predecessors archived, and a run killed half-way
//!   leaves the archive a prefix of what it fetched: the next run resumes from its newest bar.
//! - **Degraded, not failed.** A task whose archive write succeeded but whose cache write
//!   failed is [`TaskStatus::Degraded`]: the data is safe. [`CollectReport::exit_code`]: 0 all
//!   ok, 1 some failed or degraded, 2 none succeeded.
//! - **Damaged partitions** met on the way are moved aside ([`axia_domain::BarArchive::quarantine`])
//!   and rebuilt from the source; never overwritten blind, never deleted.
//! - **Backfill** ([`Collect::backfill`]) fills a historical range in whole-partition chunks
//!   within the source's limits, skipping chunks the archive already holds complete: resumable.
//! - **Audit** ([`Audit`]) reports the closed bars missing against the market calendar, the
//!   damaged and quarantined files and, against a source, the bars that differ;
//!   [`Audit::repair`] rewrites exactly those.
//! - **Concurrency and retries.** At most `concurrency` tasks run at once; a task retries
//!   transient failures (source unavailable, timeout, rate limited; store unavailable,
//!   timeout, conflict) with exponential backoff, and gives up on permanent ones (unknown symbol,
//!   unsupported request) at once. A source with no bars in the window is a success with 0 bars.
//! - **Jobs** ([`JobRunner`]): each of these as a job on a job engine
//!   ([`axia_domain::JobQueue`]): one series collected, a backfill split into chunk jobs (its
//!   progress counted as they end), an audit; permanent failures told apart from transient ones.
//!   [`Scheduler`] enqueues schedules' ticks, once per tick however many hosts run it.
//!
//! ```
//! use std::sync::Arc;
//! use axia_collect::{Collect, CollectPlan, TaskStatus};
//! use axia_domain::{ManualClock, MarketDataError, MockBarArchive, MockMarketData, NewestBar, SourceLimits, Timeframe};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! // Any MarketData source and BarArchive (here: mocks; an empty archive and a closed market).
//! let mut source = MockMarketData::new();
//! source.expect_limits().return_const(SourceLimits::UNLIMITED);
//! source.expect_bars().returning(|_, _, range| Err(MarketDataError::NoData(range)));
//! let mut archive = MockBarArchive::new();
//! archive.expect_newest().returning(|_, _| Ok(NewestBar { open: None, damaged: vec![] }));
//! let collect = Collect::new(source, archive).clock(ManualClock::new(chrono::Utc::now()));
//! let report = collect.run(&CollectPlan::new(vec!["USDJPY".parse().unwrap()], Timeframe::ALL.to_vec())).await;
//! assert_eq!(report.tasks.len(), 9);
//! assert!(report.tasks.iter().all(|t| t.status == TaskStatus::NoData));
//! # }
//! ```

mod archiving;
mod audit;
mod backfill;
mod collect;
mod jobs;
mod paced;
mod scheduler;

pub use audit::{Audit, AuditError, AuditReport, BarDiff, RepairReport, SourceCheck};
pub use backfill::{Chunks, backfill_chunks};
pub use collect::{
    CatchUp, Collect, CollectPlan, CollectReport, TaskReport, TaskStatus, catch_up_window, lookback,
};
pub use jobs::JobRunner;
pub use paced::Paced;
pub use scheduler::Scheduler;
