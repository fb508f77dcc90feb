//! [`OhlcvDataProvider`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use axia_domain::{
    Clock, Completeness, MarketCalendar, MarketData, MarketDataError, OhlcvFrame, OhlcvStore,
    StoreError, Symbol, TimeRange, Timeframe, UseCase, default_calendar,
};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::breaker::Breaker;
use crate::routing::{Source, Step, plan};
use crate::stats::ProviderStats;

/// The period asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Window {
    /// The bars that opened in the last `duration` up to now (the forming bar included).
    Last(#[serde(with = "millis")] chrono::Duration),
    /// The bars that open in a fixed range.
    Range(TimeRange),
}

mod millis {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(d: &chrono::Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(d.num_milliseconds())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<chrono::Duration, D::Error> {
        i64::deserialize(d).map(chrono::Duration::milliseconds)
    }
}

impl Window {
    /// The last `hours` hours.
    #[must_use]
    pub fn last_hours(hours: i64) -> Self {
        Self::Last(chrono::Duration::hours(hours))
    }

    /// The last `days` days.
    #[must_use]
    pub fn last_days(days: i64) -> Self {
        Self::Last(chrono::Duration::days(days))
    }

    /// The window's length, which picks the plan.
    #[must_use]
    pub fn length(&self) -> chrono::Duration {
        match self {
            Self::Last(d) => *d,
            Self::Range(r) => r.duration(),
        }
    }

    fn range(&self, now: chrono::DateTime<chrono::Utc>) -> TimeRange {
        match self {
            // `now` itself included: the bar opening at now is the forming one.
            Self::Last(d) => TimeRange::last(
                *d + chrono::Duration::milliseconds(1),
                now + chrono::Duration::milliseconds(1),
            ),
            Self::Range(r) => *r,
        }
    }
}

/// One request.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OhlcvRequest {
    /// The instrument.
    pub symbol: Symbol,
    /// The bar length.
    pub timeframe: Timeframe,
    /// The period.
    pub window: Window,
    /// What the bars are for.
    pub use_case: UseCase,
}

impl OhlcvRequest {
    /// A request.
    #[must_use]
    pub const fn new(
        symbol: Symbol,
        timeframe: Timeframe,
        window: Window,
        use_case: UseCase,
    ) -> Self {
        Self {
            symbol,
            timeframe,
            window,
            use_case,
        }
    }
}

/// What one source did for a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// Its bars covered the window on their own.
    Hit,
    /// It had bars, but not all of the window.
    Partial,
    /// It had no bars for the window.
    Miss,
    /// It failed; the detail names the error kind.
    Error(String),
    /// It did not answer within its timeout.
    Timeout,
    /// Skipped: its circuit is open after repeated failures.
    CircuitOpen,
}

/// One source's part in an answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The source.
    pub source: Source,
    /// What it did.
    pub outcome: Outcome,
    /// How long it took.
    pub latency: Duration,
    /// Bars it returned for the window.
    pub bars: usize,
}

/// How an answer was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseMeta {
    /// The range the window resolved to.
    pub range: TimeRange,
    /// The first source whose bars are in the answer.
    pub served_by: Option<Source>,
    /// Every source asked, in order, with its outcome and latency.
    pub attempts: Vec<Attempt>,
    /// Bars in the answer.
    pub bars: usize,
    /// Expected and present bar slots against the symbol's market calendar, and the gaps.
    pub completeness: Completeness,
    /// True when no expected bar is missing.
    pub complete: bool,
    /// The open time of the forming bar (the newest, still provisional), when there is one.
    pub forming: Option<chrono::DateTime<chrono::Utc>>,
    /// True when this answer was shared from a concurrent identical request's fetch.
    pub shared: bool,
}

/// Bars and how they were found.
#[derive(Debug, Clone, PartialEq)]
pub struct OhlcvResponse {
    /// The bars.
    pub frame: OhlcvFrame,
    /// The metadata.
    pub meta: ResponseMeta,
}

/// Why the provider could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// No source of the plan for this use case and window is configured.
    #[error("no source is configured for {use_case} requests of this window")]
    NoSource {
        /// The use case.
        use_case: UseCase,
    },
    /// Every source asked failed, timed out or was skipped.
    #[error("every source failed: {}", describe(attempts))]
    AllFailed {
        /// What each did.
        attempts: Vec<Attempt>,
    },
}

fn describe(attempts: &[Attempt]) -> String {
    attempts
        .iter()
        .map(|a| format!("{}={:?}", a.source, a.outcome))
        .collect::<Vec<_>>()
        .join(", ")
}

type Flight = Arc<OnceCell<Result<OhlcvResponse, ProviderError>>>;
type CalendarFn = Arc<dyn Fn(&Symbol) -> Arc<dyn MarketCalendar> + Send + Sync>;

/// Builds an [`OhlcvDataProvider`] from any subset of sources.
#[must_use]
pub struct ProviderBuilder {
    clock: Arc<dyn Clock>,
    broker: Option<Arc<dyn MarketData>>,
    hot: Option<Arc<dyn OhlcvStore>>,
    cold: Option<Arc<dyn OhlcvStore>>,
    yahoo: Option<Arc<dyn MarketData>>,
    timeouts: HashMap<Source, Duration>,
    threshold: u32,
    cooldown: chrono::Duration,
    hot_retention: chrono::Duration,
    write_through: bool,
    calendar: CalendarFn,
}

impl ProviderBuilder {
    /// The broker.
    pub fn broker(mut self, source: Arc<dyn MarketData>) -> Self {
        self.broker = Some(source);
        self
    }
    /// The hot cache.
    pub fn hot_cache(mut self, store: Arc<dyn OhlcvStore>) -> Self {
        self.hot = Some(store);
        self
    }
    /// The cold archive.
    pub fn cold_archive(mut self, store: Arc<dyn OhlcvStore>) -> Self {
        self.cold = Some(store);
        self
    }
    /// Yahoo Finance.
    pub fn yahoo(mut self, source: Arc<dyn MarketData>) -> Self {
        self.yahoo = Some(source);
        self
    }
    /// The timeout of one call to `source` (defaults: broker 3 s, hot cache 500 ms, cold archive
    /// 10 s, Yahoo 15 s).
    pub fn timeout(mut self, source: Source, timeout: Duration) -> Self {
        self.timeouts.insert(source, timeout);
        self
    }
    /// Open a source's circuit after `failures` consecutive failures, for `cooldown`
    /// (default 5 failures, 30 s).
    pub fn circuit_breaker(mut self, failures: u32, cooldown: Duration) -> Self {
        self.threshold = failures.max(1);
        self.cooldown =
            chrono::Duration::from_std(cooldown).unwrap_or(chrono::Duration::seconds(30));
        self
    }
    /// Whether bars fetched from the broker or Yahoo for the last 24 h are written to the hot
    /// cache (default on).
    pub const fn write_through(mut self, on: bool) -> Self {
        self.write_through = on;
        self
    }
    /// The market calendar of a symbol, for completeness (default:
    /// [`axia_domain::default_calendar`]).
    pub fn calendar(
        mut self,
        f: impl Fn(&Symbol) -> Arc<dyn MarketCalendar> + Send + Sync + 'static,
    ) -> Self {
        self.calendar = Arc::new(f);
        self
    }

    /// The provider.
    pub fn build(self) -> OhlcvDataProvider {
        let breakers = [
            Source::Broker,
            Source::HotCache,
            Source::ColdArchive,
            Source::Yahoo,
        ]
        .into_iter()
        .map(|s| (s, Breaker::new(self.threshold, self.cooldown)))
        .collect();
        OhlcvDataProvider {
            inner: Arc::new(Inner {
                clock: self.clock,
                broker: self.broker,
                hot: self.hot,
                cold: self.cold,
                yahoo: self.yahoo,
                timeouts: self.timeouts,
                hot_retention: self.hot_retention,
                write_through: self.write_through,
                calendar: self.calendar,
                breakers: Mutex::new(breakers),
                stats: Mutex::new(ProviderStats::default()),
                flights: Mutex::new(HashMap::new()),
            }),
        }
    }
}

struct Inner {
    clock: Arc<dyn Clock>,
    broker: Option<Arc<dyn MarketData>>,
    hot: Option<Arc<dyn OhlcvStore>>,
    cold: Option<Arc<dyn OhlcvStore>>,
    yahoo: Option<Arc<dyn MarketData>>,
    timeouts: HashMap<Source, Duration>,
    hot_retention: chrono::Duration,
    write_through: bool,
    calendar: CalendarFn,
    breakers: Mutex<HashMap<Source, Breaker>>,
    stats: Mutex<ProviderStats>,
    flights: Mutex<HashMap<OhlcvRequest, Flight>>,
}

/// Picks, asks, falls back, combines, and caches. Cheap to clone; clones share breakers, stats
/// and in-flight requests.
#[derive(Clone)]
pub struct OhlcvDataProvider {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for OhlcvDataProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OhlcvDataProvider")
            .field("broker", &self.inner.broker.is_some())
            .field("hot_cache", &self.inner.hot.is_some())
            .field("cold_archive", &self.inner.cold.is_some())
            .field("yahoo", &self.inner.yahoo.is_some())
            .finish_non_exhaustive()
    }
}

/// A source's answer, before it is judged against the window.
enum Fetched {
    Bars(OhlcvFrame),
    Failed(Outcome),
}

/// The smallest range that covers every gap: what a later source is asked for.
fn missing_span(gaps: &[TimeRange]) -> Option<TimeRange> {
    let (first, last) = (gaps.first()?, gaps.last()?);
    TimeRange::new(first.start(), last.end()).ok()
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn store_outcome(e: &StoreError) -> Outcome {
    match e {
        StoreError::Timeout(_) => Outcome::Timeout,
        StoreError::Unavailable(_) => Outcome::Error("unavailable".into()),
        StoreError::Corrupt { .. } => Outcome::Error("corrupt".into()),
        StoreError::Conflict(_) => Outcome::Error("conflict".into()),
        StoreError::InvalidRequest(_) => Outcome::Error("invalid_request".into()),
        _ => Outcome::Error("backend".into()),
    }
}

fn market_outcome(e: &MarketDataError) -> Option<Outcome> {
    Some(match e {
        // The source answered: it has nothing there.
        MarketDataError::NoData(_) => return None,
        MarketDataError::Timeout(_) => Outcome::Timeout,
        MarketDataError::RateLimited { .. } => Outcome::Error("rate_limited".into()),
        MarketDataError::SymbolNotFound(_) => Outcome::Error("symbol_not_found".into()),
        MarketDataError::Unsupported(_) => Outcome::Error("unsupported".into()),
        MarketDataError::Unavailable(_) => Outcome::Error("unavailable".into()),
        MarketDataError::InvalidResponse(_) => Outcome::Error("invalid_response".into()),
        _ => Outcome::Error("backend".into()),
    })
}

impl OhlcvDataProvider {
    /// A builder with no source; add the ones you have.
    pub fn builder(clock: Arc<dyn Clock>) -> ProviderBuilder {
        ProviderBuilder {
            clock,
            broker: None,
            hot: None,
            cold: None,
            yahoo: None,
            timeouts: HashMap::new(),
            threshold: 5,
            cooldown: chrono::Duration::seconds(30),
            hot_retention: chrono::Duration::hours(24),
            write_through: true,
            calendar: Arc::new(default_calendar),
        }
    }

    /// What the provider has done so far.
    #[must_use]
    pub fn stats(&self) -> ProviderStats {
        lock(&self.inner.stats).clone()
    }

    /// The bars of `request`, from the first sources of its plan that have them.
    ///
    /// Concurrent calls with an identical request share one fetch.
    ///
    /// # Errors
    /// [`ProviderError::NoSource`] when none of the plan's sources is configured;
    /// [`ProviderError::AllFailed`] when every source asked failed (a source that answers with no
    /// bars is not a failure: the answer is then empty and incomplete).
    pub async fn get(&self, request: OhlcvRequest) -> Result<OhlcvResponse, ProviderError> {
        let (cell, leader) = {
            let mut flights = lock(&self.inner.flights);
            match flights.get(&request) {
                Some(c) => (Arc::clone(c), false),
                None => {
                    let c: Flight = Arc::default();
                    flights.insert(request.clone(), Arc::clone(&c));
                    (c, true)
                }
            }
        };
        cell.get_or_init(|| self.fetch(&request)).await;
        if leader {
            let mut flights = lock(&self.inner.flights);
            if flights.get(&request).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
                flights.remove(&request);
            }
        }
        // The last holder of the flight takes its answer; the others copy it.
        let result = match Arc::try_unwrap(cell) {
            Ok(cell) => cell.into_inner(),
            Err(cell) => cell.get().cloned(),
        }
        .unwrap_or_else(|| {
            Err(ProviderError::AllFailed {
                attempts: Vec::new(),
            })
        });
        let mut stats = lock(&self.inner.stats);
        stats.requests += 1;
        if !leader {
            stats.shared += 1;
        }
        drop(stats);
        result.map(|mut r| {
            r.meta.shared = !leader;
            r
        })
    }

    fn timeout(&self, source: Source) -> Duration {
        self.inner
            .timeouts
            .get(&source)
            .copied()
            .unwrap_or(match source {
                Source::Broker => Duration::from_secs(3),
                Source::HotCache => Duration::from_millis(500),
                Source::ColdArchive => Duration::from_secs(10),
                Source::Yahoo => Duration::from_secs(15),
            })
    }

    fn configured(&self, source: Source) -> bool {
        match source {
            Source::Broker => self.inner.broker.is_some(),
            Source::HotCache => self.inner.hot.is_some(),
            Source::ColdArchive => self.inner.cold.is_some(),
            Source::Yahoo => self.inner.yahoo.is_some(),
        }
    }

    /// Asks one source, under its breaker and timeout.
    async fn ask(
        &self,
        source: Source,
        req: &OhlcvRequest,
        range: TimeRange,
    ) -> (Fetched, Duration) {
        let now = self.inner.clock.now();
        if !lock(&self.inner.breakers)
            .get(&source)
            .is_none_or(|b| b.allows(now))
        {
            return (Fetched::Failed(Outcome::CircuitOpen), Duration::ZERO);
        }
        let started = Instant::now();
        let limit = self.timeout(source);
        let (sym, tf) = (&req.symbol, req.timeframe);
        let fetched = match source {
            Source::Broker | Source::Yahoo => {
                let src = if source == Source::Broker {
                    &self.inner.broker
                } else {
                    &self.inner.yahoo
                };
                match src {
                    None => Fetched::Bars(OhlcvFrame::empty(sym.clone(), tf)),
                    Some(s) => match tokio::time::timeout(limit, s.bars(sym, tf, range)).await {
                        Err(_) => Fetched::Failed(Outcome::Timeout),
                        Ok(Ok(b)) => Fetched::Bars(b.frame),
                        Ok(Err(e)) => match market_outcome(&e) {
                            None => Fetched::Bars(OhlcvFrame::empty(sym.clone(), tf)),
                            Some(o) => {
                                tracing::warn!(%source, symbol = %sym, timeframe = %tf, error = %e, "source failed");
                                Fetched::Failed(o)
                            }
                        },
                    },
                }
            }
            Source::HotCache | Source::ColdArchive => {
                let store = if source == Source::HotCache {
                    &self.inner.hot
                } else {
                    &self.inner.cold
                };
                match store {
                    None => Fetched::Bars(OhlcvFrame::empty(sym.clone(), tf)),
                    Some(s) => match tokio::time::timeout(limit, s.get(sym, tf, range)).await {
                        Err(_) => Fetched::Failed(Outcome::Timeout),
                        Ok(Ok(f)) => Fetched::Bars(f),
                        Ok(Err(e)) => {
                            tracing::warn!(%source, symbol = %sym, timeframe = %tf, error = %e, "store failed");
                            Fetched::Failed(store_outcome(&e))
                        }
                    },
                }
            }
        };
        let elapsed = started.elapsed();
        let mut breakers = lock(&self.inner.breakers);
        if let Some(b) = breakers.get_mut(&source) {
            match &fetched {
                Fetched::Bars(_) => b.success(),
                Fetched::Failed(_) => b.failure(self.inner.clock.now()),
            }
        }
        (fetched, elapsed)
    }

    fn write_through(&self, frame: &OhlcvFrame) {
        let Some(hot) = self.inner.hot.clone().filter(|_| self.inner.write_through) else {
            return;
        };
        let recent = frame.keep_since(self.inner.clock.now() - self.inner.hot_retention);
        if recent.is_empty() {
            return;
        }
        tokio::spawn(async move {
            if let Err(e) = hot.save(&recent).await {
                tracing::warn!(symbol = %recent.symbol(), timeframe = %recent.timeframe(), error = %e,
                    "write-through to the hot cache failed");
            }
        });
    }

    async fn fetch(&self, req: &OhlcvRequest) -> Result<OhlcvResponse, ProviderError> {
        let now = self.inner.clock.now();
        let range = req.window.range(now);
        // Analysis is research over history: closed bars only, up to the forming bar's open.
        let range = if req.use_case == UseCase::Analysis {
            let closed_end = req.timeframe.floor(now).max(range.start());
            TimeRange::new(range.start(), range.end().min(closed_end)).unwrap_or(range)
        } else {
            range
        };
        let calendar = (self.inner.calendar)(&req.symbol);
        let steps: Vec<Step> = plan(req.use_case, req.window.length())
            .iter()
            .copied()
            .filter(|s| match s {
                Step::Ask(src) => self.configured(*src),
                Step::ColdWithHot => {
                    self.configured(Source::ColdArchive) || self.configured(Source::HotCache)
                }
            })
            .collect();
        if steps.is_empty() {
            return Err(ProviderError::NoSource {
                use_case: req.use_case,
            });
        }
        let mut combined = OhlcvFrame::empty(req.symbol.clone(), req.timeframe);
        let mut attempts = Vec::new();
        let mut served_by = None;
        let mut answered = false;
        let mut completeness: Option<Completeness> = None;
        for step in steps {
            // Later sources are asked only for what is still missing: the span of the gaps.
            let wanted = completeness
                .as_ref()
                .and_then(|c| missing_span(&c.gaps))
                .and_then(|span| span.intersect(&range))
                .unwrap_or(range);
            let parts: Vec<(Source, TimeRange)> = match step {
                Step::Ask(s) => vec![(s, wanted)],
                Step::ColdWithHot => {
                    let mut v = Vec::new();
                    if self.configured(Source::ColdArchive) {
                        v.push((Source::ColdArchive, wanted));
                    }
                    let recent = TimeRange::last(
                        self.inner.hot_retention,
                        now + chrono::Duration::milliseconds(1),
                    );
                    if self.configured(Source::HotCache)
                        && let Some(r) = wanted.intersect(&recent)
                    {
                        v.push((Source::HotCache, r));
                    }
                    v
                }
            };
            let mut step_frame = OhlcvFrame::empty(req.symbol.clone(), req.timeframe);
            // The completeness of `step_frame` over the whole window, when already known.
            let mut step_completeness = None;
            for (source, part_range) in parts {
                let (fetched, latency) = self.ask(source, req, part_range).await;
                let (outcome, bars) = match fetched {
                    Fetched::Failed(o) => (o, 0),
                    Fetched::Bars(f) => {
                        answered = true;
                        let alone = f.completeness(calendar.as_ref(), part_range);
                        let outcome = if f.is_empty() {
                            Outcome::Miss
                        } else if alone.is_complete() {
                            Outcome::Hit
                        } else {
                            Outcome::Partial
                        };
                        if !f.is_empty() && matches!(source, Source::Broker | Source::Yahoo) {
                            self.write_through(&f);
                        }
                        let n = f.len();
                        // Within a step later parts win (the hot cache over the archive).
                        if step_frame.is_empty() {
                            step_completeness = (part_range == range).then_some(alone);
                            step_frame = f;
                        } else if n > 0 {
                            step_completeness = None;
                            step_frame = step_frame.merge(&f).unwrap_or(step_frame);
                        }
                        if n > 0 && served_by.is_none() {
                            served_by = Some(source);
                        }
                        (outcome, n)
                    }
                };
                self.record(source, &outcome, latency);
                attempts.push(Attempt {
                    source,
                    outcome,
                    latency,
                    bars,
                });
            }
            // Across steps earlier sources win.
            if combined.is_empty() {
                combined = step_frame;
                completeness = step_completeness;
            } else if !step_frame.is_empty() {
                combined = step_frame.merge(&combined).unwrap_or(combined);
                completeness = None;
            }
            if combined.is_empty() {
                continue;
            }
            let c = completeness
                .take()
                .unwrap_or_else(|| combined.completeness(calendar.as_ref(), range));
            let done = c.is_complete();
            completeness = Some(c);
            if done {
                break;
            }
        }
        if !answered {
            return Err(ProviderError::AllFailed { attempts });
        }
        if req.use_case == UseCase::Analysis && combined.forming().is_some() {
            combined = combined.closed();
            completeness = None;
        }
        // Measured once per change of `combined`.
        let completeness =
            completeness.unwrap_or_else(|| combined.completeness(calendar.as_ref(), range));
        Ok(OhlcvResponse {
            meta: ResponseMeta {
                range,
                served_by,
                bars: combined.len(),
                complete: completeness.is_complete(),
                completeness,
                attempts,
                forming: combined.forming().map(|b| b.time()),
                shared: false,
            },
            frame: combined,
        })
    }

    fn record(&self, source: Source, outcome: &Outcome, latency: Duration) {
        let mut stats = lock(&self.inner.stats);
        let s = stats.sources.entry(source).or_default();
        match outcome {
            Outcome::Hit => s.hits += 1,
            Outcome::Partial => s.partials += 1,
            Outcome::Miss => s.misses += 1,
            Outcome::Error(_) => s.errors += 1,
            Outcome::Timeout => s.timeouts += 1,
            Outcome::CircuitOpen => {
                s.skipped += 1;
                return;
            }
        }
        s.latency.record(latency);
    }
}
