//! [`Collect`]: the collect run (gap-driven catch-up) and the types every mode reports with.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axia_domain::{
    Backoff, BarArchive, Clock, DailyAlignment, Grid, LivePresence, MarketCalendar, MarketData,
    OhlcvStore, QuarantinedFile, SourceLimits, Symbol, TimeRange, Timeframe, default_calendar,
};
use chrono::{DateTime, Utc};
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::archiving::{Archiver, Failure, fetch};

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
    /// The minimum window of a run (default 24 h); see [`lookback`]. Milliseconds in JSON.
    #[serde(rename = "lookback_ms", with = "axia_domain::millis::chrono")]
    pub lookback: chrono::Duration,
    /// How far back a run catches up on what the archive lacks (default 31 days, never less
    /// than two bars of the timeframe). Older holes are reported unreachable: backfill them.
    /// Milliseconds in JSON.
    #[serde(rename = "catch_up_ms", with = "axia_domain::millis::chrono")]
    pub catch_up: chrono::Duration,
    /// Archived bars fetched again before the newest one, in case the source revised them
    /// (default 1).
    pub overlap: u32,
    /// Tasks at once (default 8).
    pub concurrency: usize,
    /// Retries after the first attempt (default 3).
    pub retries: u32,
    /// The delay between retries (default from 200 ms doubling to at most 10 s, with jitter).
    pub backoff: Backoff,
}

impl CollectPlan {
    /// Every symbol x timeframe with the defaults.
    #[must_use]
    pub fn new(symbols: Vec<Symbol>, timeframes: Vec<Timeframe>) -> Self {
        Self {
            symbols,
            timeframes,
            lookback: chrono::Duration::hours(24),
            catch_up: chrono::Duration::days(31),
            overlap: 1,
            concurrency: 8,
            retries: 3,
            backoff: Backoff::new(Duration::from_millis(200), Duration::from_secs(10)),
        }
    }

    /// Every (symbol, timeframe) task, in plan order.
    pub(crate) fn tasks(&self) -> Vec<(Symbol, Timeframe)> {
        self.symbols
            .iter()
            .flat_map(|s| self.timeframes.iter().map(move |tf| (s.clone(), *tf)))
            .collect()
    }
}

/// The window a run fetches for one series, and what it could not reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CatchUp {
    /// What to fetch: from the newest archived bar (minus the overlap), or from the horizon
    /// for a series the archive lacks, and never less than the lookback, up to now (the
    /// forming bar included).
    pub fetch: TimeRange,
    /// Closed bars the archive lacks that this run cannot fetch: older than the catch-up
    /// horizon or than the source's reach.
    pub unreachable: Option<TimeRange>,
}

/// The catch-up window of one series at `now`, given the open time of the newest bar the
/// archive holds and what the source can serve.
#[must_use]
pub fn catch_up_window(
    plan: &CollectPlan,
    timeframe: impl Into<Grid>,
    now: DateTime<Utc>,
    newest: Option<DateTime<Utc>>,
    limits: SourceLimits,
) -> CatchUp {
    let grid: Grid = timeframe.into();
    let timeframe = grid.timeframe();
    let end = now + chrono::Duration::milliseconds(1);
    let min_window = lookback(plan.lookback, timeframe);
    let two_bars = chrono::Duration::milliseconds(timeframe.max_millis().saturating_mul(2));
    let horizon = now - plan.catch_up.max(min_window).max(two_bars);
    // The first bar the archive lacks, and where the overlap starts.
    let (first_missing, from_newest) = match newest {
        Some(t) => {
            let mut from = t;
            for _ in 0..plan.overlap {
                from = grid.prev_open(from);
            }
            (grid.next_open(t), from)
        }
        None => (grid.ceil(horizon), horizon),
    };
    let wanted = from_newest.min(now - min_window);
    let earliest = limits.earliest(now).map_or(horizon, |e| e.max(horizon));
    let start = wanted.max(earliest).min(end);
    let unreachable = TimeRange::new(first_missing, earliest.min(end))
        .ok()
        .filter(|r| !r.is_empty());
    CatchUp {
        fetch: TimeRange::new(start, end)
            .unwrap_or_else(|_| TimeRange::last(chrono::Duration::zero(), end)),
        unreachable,
    }
}

/// How a task ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskStatus {
    /// Fetched, archived and cached.
    Ok,
    /// The source had no bar in the window (a closed market); nothing to store.
    NoData,
    /// Archived (the data is safe), but the hot cache could not be updated: see the warning.
    Degraded,
    /// Gave up; see the error.
    #[default]
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
    pub range: Option<TimeRange>,
    /// The newest bar the archive held before the task, when it held one.
    pub newest_archived: Option<DateTime<Utc>>,
    /// Closed bars the archive lacks that the task could not fetch (beyond the catch-up
    /// horizon or the source's reach, or a damaged partition's period out of reach).
    pub unreachable: Vec<TimeRange>,
    /// Bars the source returned (after its validation).
    pub fetched: usize,
    /// Bars the source's validation dropped.
    pub rejected: usize,
    /// Closed bars written to the archive (forming bars never are).
    pub archived: usize,
    /// Bars merged into the hot cache, the forming one included.
    pub cached: usize,
    /// A live feed writes this symbol's bars into the hot cache: the task fetched only what the
    /// archive lacks and left the hot cache to the feed.
    #[serde(default)]
    pub live_feed: bool,
    /// The open time of the forming bar, when the source returned one.
    pub forming: Option<DateTime<Utc>>,
    /// Damaged archive partitions moved aside (and rebuilt from the source).
    pub quarantined: Vec<QuarantinedFile>,
    /// A backfill's chunks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chunks: Option<crate::Chunks>,
    /// How it ended.
    pub status: TaskStatus,
    /// Why it failed.
    pub error: Option<String>,
    /// The failure does not go away by trying again (an unknown symbol, refused credentials):
    /// a job engine does not retry it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permanent: bool,
    /// What went wrong without losing data (the hot cache could not be updated).
    pub warning: Option<String>,
    /// Attempts made.
    pub attempts: u32,
    /// How long it took, milliseconds.
    pub duration_ms: u64,
}

impl TaskReport {
    pub(crate) fn new(symbol: Symbol, timeframe: Timeframe) -> Self {
        Self {
            symbol,
            timeframe,
            range: None,
            newest_archived: None,
            unreachable: Vec::new(),
            fetched: 0,
            rejected: 0,
            archived: 0,
            cached: 0,
            live_feed: false,
            forming: None,
            quarantined: Vec::new(),
            chunks: None,
            status: TaskStatus::Failed,
            error: None,
            permanent: false,
            warning: None,
            attempts: 0,
            duration_ms: 0,
        }
    }
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
    fn count(&self, status: TaskStatus) -> usize {
        self.tasks.iter().filter(|t| t.status == status).count()
    }

    /// Tasks that did not fail (degraded ones included: their data is archived).
    #[must_use]
    pub fn succeeded(&self) -> usize {
        self.tasks.len() - self.failed()
    }

    /// Tasks that failed.
    #[must_use]
    pub fn failed(&self) -> usize {
        self.count(TaskStatus::Failed)
    }

    /// Tasks that archived but could not update the hot cache.
    #[must_use]
    pub fn degraded(&self) -> usize {
        self.count(TaskStatus::Degraded)
    }

    /// The exit code a job reports: 0 every task ok, 1 some failed or degraded (data archived
    /// elsewhere is safe), 2 none succeeded.
    #[must_use]
    pub fn exit_code(&self) -> u8 {
        match (self.succeeded(), self.failed(), self.degraded()) {
            (_, 0, 0) => 0,
            (0, _, _) => 2,
            _ => 1,
        }
    }
}

pub(crate) type CalendarFn = Arc<dyn Fn(&Symbol) -> Arc<dyn MarketCalendar> + Send + Sync>;
pub(crate) type AlignmentFn = Arc<dyn Fn(&Symbol) -> DailyAlignment + Send + Sync>;

/// The daily alignment of a built-in instrument (UTC midnight for all of them).
pub(crate) fn builtin_alignment(symbol: &Symbol) -> DailyAlignment {
    axia_domain::InstrumentRegistry::shared_builtin()
        .resolve(symbol)
        .alignment()
}

/// The collect use case over ports: runs (gap-driven catch-up), backfills
/// ([`Collect::backfill`]).
#[derive(Clone)]
pub struct Collect {
    pub(crate) source: Arc<dyn MarketData>,
    pub(crate) archive: Arc<dyn BarArchive>,
    pub(crate) hot: Option<Arc<dyn OhlcvStore>>,
    pub(crate) presence: Option<Arc<dyn LivePresence>>,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) calendar: CalendarFn,
    pub(crate) alignment: AlignmentFn,
}

impl std::fmt::Debug for Collect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Collect")
            .field("hot_cache", &self.hot.is_some())
            .finish_non_exhaustive()
    }
}

/// Runs `attempt` until it succeeds, fails for good, or the retries run out, waiting
/// `backoff` in between. Returns the last result and the attempts made.
pub(crate) async fn with_retries<T, F, Fut>(
    retries: u32,
    backoff: Backoff,
    what: &str,
    mut attempt: F,
) -> (Result<T, Failure>, u32)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut attempts = 0;
    loop {
        attempts += 1;
        match attempt().await {
            Ok(v) => return (Ok(v), attempts),
            Err(f) => {
                tracing::warn!(task = what, attempt = attempts, error = %f.text, "collect task failed");
                if !f.transient || attempts > retries {
                    return (Err(f), attempts);
                }
                tokio::time::sleep(backoff.delay(attempts - 1)).await;
            }
        }
    }
}

pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Collect {
    /// The use case: bars from `source` into `archive` (closed bars only), on the system
    /// clock, with no hot cache; add one with [`Collect::hot_cache`].
    #[must_use]
    pub fn new(source: impl MarketData + 'static, archive: impl BarArchive + 'static) -> Self {
        Self {
            source: Arc::new(source),
            archive: Arc::new(archive),
            hot: None,
            presence: None,
            clock: Arc::new(axia_domain::SystemClock),
            calendar: Arc::new(default_calendar),
            alignment: Arc::new(builtin_alignment),
        }
    }

    /// The hot cache the bars of the lookback go to after the archive (the forming one too).
    #[must_use]
    pub fn hot_cache(mut self, store: impl OhlcvStore + 'static) -> Self {
        self.hot = Some(Arc::new(store));
        self
    }

    /// Where live feeds announce the instruments they write: for those, a run fetches only
    /// what the archive lacks and leaves the hot cache to the feed (without: the last
    /// `lookback` of every series is fetched and cached on every run).
    #[must_use]
    pub fn live_presence(mut self, presence: Arc<dyn LivePresence>) -> Self {
        self.presence = Some(presence);
        self
    }

    /// The clock "now" comes from (default: the system's).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The market calendar of a symbol, for the completeness checks of backfill (default:
    /// [`axia_domain::default_calendar`]).
    #[must_use]
    pub fn calendar(
        mut self,
        f: impl Fn(&Symbol) -> Arc<dyn MarketCalendar> + Send + Sync + 'static,
    ) -> Self {
        self.calendar = Arc::new(f);
        self
    }

    /// Where a symbol's daily bars start, for the catch-up windows and which bars are closed
    /// (default: the built-in instruments', UTC midnight).
    #[must_use]
    pub fn alignment(
        mut self,
        f: impl Fn(&Symbol) -> DailyAlignment + Send + Sync + 'static,
    ) -> Self {
        self.alignment = Arc::new(f);
        self
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
        let now = self.clock.now();
        self.for_each_task(plan, now, on_done, |symbol, timeframe| {
            self.task(plan, symbol, timeframe, now)
        })
        .await
    }

    /// Runs `task` for every (symbol, timeframe) of `plan`, `concurrency` at once, and
    /// reports in plan order.
    pub(crate) async fn for_each_task<'a, Fut>(
        &'a self,
        plan: &'a CollectPlan,
        now: DateTime<Utc>,
        on_done: impl Fn(&TaskReport),
        task: impl Fn(Symbol, Timeframe) -> Fut,
    ) -> CollectReport
    where
        Fut: Future<Output = TaskReport> + 'a,
    {
        let started = Instant::now();
        let task = &task;
        let mut done: Vec<(usize, TaskReport)> = stream::iter(plan.tasks().into_iter().enumerate())
            .map(|(i, (symbol, timeframe))| async move { (i, task(symbol, timeframe).await) })
            .buffer_unordered(plan.concurrency.max(1))
            .inspect(|(_, r)| on_done(r))
            .collect()
            .await;
        done.sort_by_key(|(i, _)| *i);
        CollectReport {
            started_at: now,
            duration_ms: elapsed_ms(started),
            tasks: done.into_iter().map(|(_, r)| r).collect(),
        }
    }

    pub(crate) fn archiver<'a>(
        &'a self,
        now: DateTime<Utc>,
        quarantined: &'a Mutex<Vec<QuarantinedFile>>,
    ) -> Archiver<'a> {
        Archiver {
            archive: self.archive.as_ref(),
            source: self.source.as_ref(),
            now,
            quarantined,
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
        let mut report = TaskReport::new(symbol.clone(), timeframe);
        let label = format!("{symbol} {timeframe}");
        // Quarantines are reported whichever attempt made them.
        let quarantined = Mutex::new(Vec::new());
        let archiver = self.archiver(now, &quarantined);
        let (result, attempts) = with_retries(plan.retries, plan.backoff, &label, || {
            self.attempt(plan, &archiver, &symbol, timeframe)
        })
        .await;
        report.attempts = attempts;
        match result {
            Ok(done) => done.into_report(&mut report),
            Err(f) => {
                report.permanent = !f.transient;
                report.error = Some(f.text);
            }
        }
        report.quarantined = axia_domain::locks::into_inner(quarantined);
        report.duration_ms = elapsed_ms(started);
        report
    }

    /// One attempt: find what the archive lacks, fetch it, archive the closed bars, cache.
    async fn attempt(
        &self,
        plan: &CollectPlan,
        archiver: &Archiver<'_>,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Attempted, Failure> {
        let now = archiver.now;
        let mut done = Attempted::default();
        let newest = archiver.newest(symbol, timeframe).await?;
        done.newest_archived = newest;
        let grid = timeframe.aligned((self.alignment)(symbol));
        // A live feed keeps this symbol's hot bars: only what the archive lacks is fetched.
        let live = match (&self.hot, &self.presence) {
            (Some(_), Some(p)) => p.is_live(symbol).await.unwrap_or_else(|e| {
                tracing::warn!(%symbol, error = %e, "cannot tell whether a live feed runs; refreshing the hot cache");
                false
            }),
            _ => false,
        };
        done.live_feed = live;
        let narrow;
        let plan = if live {
            narrow = CollectPlan {
                lookback: chrono::Duration::zero(),
                ..plan.clone()
            };
            &narrow
        } else {
            plan
        };
        let window = catch_up_window(plan, grid, now, newest, self.source.limits(timeframe));
        done.unreachable.extend(window.unreachable);
        done.range = Some(window.fetch);
        let Some(fetched) = fetch(self.source.as_ref(), symbol, timeframe, window.fetch).await?
        else {
            done.status = TaskStatus::NoData;
            return Ok(done);
        };
        done.fetched = fetched.frame.len();
        done.rejected = fetched.report.dropped.len();
        done.forming = fetched.frame.forming().map(|b| b.time());
        let saved = archiver.save_closed(&fetched.frame).await?;
        done.archived = saved.archived;
        done.unreachable.extend(saved.unreachable);
        done.status = TaskStatus::Ok;
        if let Some(hot) = self.hot.as_ref().filter(|_| !live) {
            let recent = fetched
                .frame
                .keep_since(now - lookback(plan.lookback, timeframe));
            match hot.save(&recent).await {
                Ok(()) => done.cached = recent.len(),
                Err(e) => {
                    tracing::warn!(%symbol, %timeframe, error = %e, "archived, but the hot cache was not updated");
                    done.status = TaskStatus::Degraded;
                    done.warning = Some(format!("hot cache: {e}"));
                }
            }
        }
        Ok(done)
    }
}

/// What a successful attempt did.
#[derive(Debug, Default)]
struct Attempted {
    status: TaskStatus,
    range: Option<TimeRange>,
    newest_archived: Option<DateTime<Utc>>,
    unreachable: Vec<TimeRange>,
    fetched: usize,
    rejected: usize,
    archived: usize,
    cached: usize,
    live_feed: bool,
    forming: Option<DateTime<Utc>>,
    warning: Option<String>,
}

impl Attempted {
    fn into_report(self, r: &mut TaskReport) {
        r.status = self.status;
        r.range = self.range;
        r.newest_archived = self.newest_archived;
        r.unreachable = self.unreachable;
        r.fetched = self.fetched;
        r.rejected = self.rejected;
        r.archived = self.archived;
        r.cached = self.cached;
        r.live_feed = self.live_feed;
        r.forming = self.forming;
        r.warning = self.warning;
        r.error = None;
    }
}
