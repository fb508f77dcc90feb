//! [`Collect`].

use std::sync::Arc;
use std::time::Duration;

use axia_domain::{
    Clock, MarketData, MarketDataError, OhlcvStore, StoreError, Symbol, TimeRange, Timeframe,
};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

/// The lookback of `timeframe` given the configured `base`: never less than one bar, so the
/// current D1, W1 or MN1 bar's open is inside the window.
#[must_use]
pub fn lookback(base: chrono::Duration, timeframe: Timeframe) -> chrono::Duration {
    base.max(chrono::Duration::milliseconds(timeframe.max_millis()))
}

/// What to collect and how hard to try.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectPlan {
    /// The symbols.
    pub symbols: Vec<Symbol>,
    /// The timeframes.
    pub timeframes: Vec<Timeframe>,
    /// The base lookback (default 24 h); see [`lookback`].
    pub lookback: chrono::Duration,
    /// Tasks at once (default 8).
    pub concurrency: usize,
    /// Retries after the first attempt (default 3).
    pub retries: u32,
    /// The first backoff, doubled each retry (default 200 ms).
    pub backoff: Duration,
}

impl CollectPlan {
    /// Every symbol x timeframe with the defaults.
    #[must_use]
    pub fn new(symbols: Vec<Symbol>, timeframes: Vec<Timeframe>) -> Self {
        Self {
            symbols,
            timeframes,
            lookback: chrono::Duration::hours(24),
            concurrency: 8,
            retries: 3,
            backoff: Duration::from_millis(200),
        }
    }
}

/// How a task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Fetched, archived and cached.
    Ok,
    /// The source had no bar in the window (a closed market); nothing to store.
    NoData,
    /// Gave up; see the error.
    Failed,
}

/// One symbol x timeframe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskReport {
    /// The symbol.
    pub symbol: Symbol,
    /// The timeframe.
    pub timeframe: Timeframe,
    /// The window fetched.
    pub range: TimeRange,
    /// Bars the source returned (after its validation).
    pub fetched: usize,
    /// Bars written to the archive (and the hot cache, when there is one).
    pub stored: usize,
    /// Bars the source's validation dropped.
    pub rejected: usize,
    /// How it ended.
    pub status: TaskStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// How long it took, milliseconds.
    pub duration_ms: u64,
}

/// A whole run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CollectReport {
    /// When it started (the clock's now).
    pub started_at: DateTime<Utc>,
    /// Wall time, milliseconds.
    pub duration_ms: u64,
    /// Every task, in plan order (symbols, then timeframes).
    pub tasks: Vec<TaskReport>,
}

impl CollectReport {
    /// Tasks that did not fail.
    #[must_use]
    pub fn succeeded(&self) -> usize {
        self.tasks
            .iter()
            .filter(|t| t.status != TaskStatus::Failed)
            .count()
    }

    /// Tasks that failed.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.tasks.len() - self.succeeded()
    }
}

/// The collect use case over ports.
#[derive(Clone)]
pub struct Collect {
    source: Arc<dyn MarketData>,
    archive: Arc<dyn OhlcvStore>,
    hot: Option<Arc<dyn OhlcvStore>>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for Collect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collect")
            .field("hot_cache", &self.hot.is_some())
            .finish_non_exhaustive()
    }
}

/// A failure, and whether trying again may help.
struct Failure {
    text: String,
    transient: bool,
}

fn market_failure(e: &MarketDataError) -> Failure {
    let transient = matches!(
        e,
        MarketDataError::Unavailable(_)
            | MarketDataError::Timeout(_)
            | MarketDataError::RateLimited { .. }
            | MarketDataError::Backend(_)
    );
    Failure {
        text: format!("source: {e}"),
        transient,
    }
}

fn store_failure(what: &str, e: &StoreError) -> Failure {
    let transient = matches!(
        e,
        StoreError::Unavailable(_)
            | StoreError::Timeout(_)
            | StoreError::Conflict(_)
            | StoreError::Backend(_)
    );
    Failure {
        text: format!("{what}: {e}"),
        transient,
    }
}

impl Collect {
    /// The use case: bars from `source` into `archive`, then into `hot` when given.
    #[must_use]
    pub fn new(
        source: Arc<dyn MarketData>,
        archive: Arc<dyn OhlcvStore>,
        hot: Option<Arc<dyn OhlcvStore>>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            source,
            archive,
            hot,
            clock,
        }
    }

    /// Runs every task of `plan` and reports each; never fails as a whole.
    pub async fn run(&self, plan: &CollectPlan) -> CollectReport {
        self.run_with_progress(plan, |_| {}).await
    }

    /// As [`Collect::run`], calling `on_done` as each task finishes (for progress bars).
    pub async fn run_with_progress(
        &self,
        plan: &CollectPlan,
        on_done: impl Fn(&TaskReport),
    ) -> CollectReport {
        let started = Instant::now();
        let now = self.clock.now();
        let tasks: Vec<(usize, Symbol, Timeframe)> = plan
            .symbols
            .iter()
            .flat_map(|s| plan.timeframes.iter().map(move |tf| (s.clone(), *tf)))
            .enumerate()
            .map(|(i, (s, tf))| (i, s, tf))
            .collect();
        let mut done: Vec<(usize, TaskReport)> = stream::iter(tasks)
            .map(|(i, symbol, timeframe)| async move {
                (i, self.task(plan, symbol, timeframe, now).await)
            })
            .buffer_unordered(plan.concurrency.max(1))
            .inspect(|(_, r)| on_done(r))
            .collect()
            .await;
        done.sort_by_key(|(i, _)| *i);
        CollectReport {
            started_at: now,
            duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            tasks: done.into_iter().map(|(_, r)| r).collect(),
        }
    }

    async fn task(
        &self,
        plan: &CollectPlan,
        symbol: Symbol,
        timeframe: Timeframe,
        now: DateTime<Utc>,
    ) -> TaskReport {
        let started = Instant::now();
        let range = TimeRange::last(
            lookback(plan.lookback, timeframe),
            now + chrono::Duration::milliseconds(1),
        );
        let mut report = TaskReport {
            symbol: symbol.clone(),
            timeframe,
            range,
            fetched: 0,
            stored: 0,
            rejected: 0,
            status: TaskStatus::Failed,
            error: None,
            attempts: 0,
            duration_ms: 0,
        };
        let mut delay = plan.backoff;
        loop {
            report.attempts += 1;
            match self.attempt(&symbol, timeframe, range, &mut report).await {
                Ok(status) => {
                    report.status = status;
                    report.error = None;
                    break;
                }
                Err(f) => {
                    tracing::warn!(%symbol, %timeframe, attempt = report.attempts, error = %f.text, "collect task failed");
                    report.error = Some(f.text);
                    if !f.transient || report.attempts > plan.retries {
                        break;
                    }
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2);
                }
            }
        }
        report.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        report
    }

    async fn attempt(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
        report: &mut TaskReport,
    ) -> Result<TaskStatus, Failure> {
        let fetched = match self.source.bars(symbol, timeframe, range).await {
            Ok(f) => f,
            Err(MarketDataError::NoData(_)) => return Ok(TaskStatus::NoData),
            Err(e) => return Err(market_failure(&e)),
        };
        report.fetched = fetched.frame.len();
        report.rejected = fetched.report.dropped.len();
        if fetched.frame.is_empty() {
            return Ok(TaskStatus::NoData);
        }
        self.archive
            .save(&fetched.frame)
            .await
            .map_err(|e| store_failure("archive", &e))?;
        if let Some(hot) = &self.hot {
            hot.save(&fetched.frame)
                .await
                .map_err(|e| store_failure("hot cache", &e))?;
        }
        report.stored = fetched.frame.len();
        Ok(TaskStatus::Ok)
    }
}
