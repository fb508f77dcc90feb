//! [`OhlcvDataProvider`].

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use axia_domain::{
    Clock, Completeness, DailyAlignment, Grid, MarketCalendar, MarketData, MarketDataError,
    OhlcvFrame, OhlcvStore, StoreError, Symbol, SystemClock, TimeRange, Timeframe, UseCase,
    default_calendar, lock,
};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::breaker::Breaker;
use crate::routing::{Role, Step, plan};
use crate::stats::ProviderStats;

/// The period asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Window {
    /// The bars that opened in the last `duration` up to now (the forming bar included).
    Last(#[serde(with = "millis")] chrono::Duration),
    /// The bars that open in a fixed range.
    Range(TimeRange),
    /// The last `count` bars that open before `before` (now, the forming bar included, when
    /// `None`), counted on the instrument's calendar and grid: a weekend or a holiday holds
    /// none, so on a Sunday the last 24 H1 bars of an FX pair are Friday's. The answer's range
    /// starts at the oldest of them (or where the calendar has `count + 1` slots, when the
    /// sources hold fewer bars: fewer are returned, never older ones from beyond).
    Bars {
        /// How many bars (at least 1).
        count: usize,
        /// Bars opening before this instant; `None`: up to now.
        #[serde(default)]
        before: Option<chrono::DateTime<chrono::Utc>>,
    },
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

    /// The last `count` bars up to now.
    #[must_use]
    pub const fn last_bars(count: usize) -> Self {
        Self::Bars {
            count,
            before: None,
        }
    }

    /// The window's length, which picks the plan (a [`Window::Bars`] is as long as the range
    /// it resolves to).
    #[must_use]
    pub fn length(&self) -> chrono::Duration {
        match self {
            Self::Last(d) => *d,
            Self::Range(r) => r.duration(),
            Self::Bars { count, .. } => chrono::Duration::milliseconds(
                Timeframe::M1
                    .max_millis()
                    .saturating_mul(i64::try_from(*count).unwrap_or(i64::MAX)),
            ),
        }
    }

    /// The range the window covers at `now`, for a series on `grid` traded on `calendar`.
    fn range(
        &self,
        now: chrono::DateTime<chrono::Utc>,
        symbol: &Symbol,
        grid: Grid,
        calendar: &dyn MarketCalendar,
    ) -> TimeRange {
        match self {
            // `now` itself included: the bar opening at now is the forming one.
            Self::Last(d) => TimeRange::last(*d, now).through_end(),
            Self::Range(r) => *r,
            Self::Bars { count, before } => {
                let end = before.unwrap_or_else(|| {
                    now.checked_add_signed(chrono::Duration::milliseconds(1))
                        .unwrap_or(now)
                });
                // One slot more: the newest (the forming one at now) may hold no bar yet.
                bars_range(
                    (*count).max(1).saturating_add(1),
                    end,
                    symbol,
                    grid,
                    calendar,
                )
            }
        }
    }
}

/// The range that ends at `end` and holds `count` slots of `grid` in which `calendar` has the
/// market open: from `count` periods back, doubling until it holds them (at most about ten
/// years back).
fn bars_range(
    count: usize,
    end: chrono::DateTime<chrono::Utc>,
    symbol: &Symbol,
    grid: Grid,
    calendar: &dyn MarketCalendar,
) -> TimeRange {
    let period = grid.timeframe().max_millis();
    let floor = end
        .checked_sub_signed(chrono::Duration::days(3_660))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC);
    let empty = OhlcvFrame::builder(symbol.clone(), grid.timeframe(), 0)
        .aligned(grid.alignment())
        .map(axia_domain::OhlcvFrameBuilder::finish)
        .unwrap_or_else(|_| OhlcvFrame::empty(symbol.clone(), grid.timeframe()));
    let mut span = period.saturating_mul(i64::try_from(count).unwrap_or(i64::MAX));
    loop {
        let start = end
            .checked_sub_signed(chrono::Duration::milliseconds(span))
            .unwrap_or(floor)
            .max(floor);
        let Ok(range) = TimeRange::new(start, end) else {
            return TimeRange::last(chrono::Duration::zero(), end);
        };
        if start <= floor || empty.completeness(calendar, range).expected >= count {
            return range;
        }
        span = span.saturating_mul(2);
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

/// What kind of failure a source had (the metadata names kinds, not messages; the message is
/// logged).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorKind {
    /// Could not be reached.
    Unavailable,
    /// Stored data could not be decoded.
    Corrupt,
    /// Concurrent writers kept conflicting.
    Conflict,
    /// The request is invalid for this source.
    InvalidRequest,
    /// The source asked us to slow down.
    RateLimited,
    /// The source does not know the symbol.
    SymbolNotFound,
    /// The source cannot serve this request (too long, too old, a timeframe it lacks).
    Unsupported,
    /// The source answered something that could not be understood.
    InvalidResponse,
    /// The source's bars start their days at another time than the series' alignment
    /// (mixing two alignments in one series is refused).
    Misaligned,
    /// The source refused the credentials.
    Unauthorized,
    /// Anything else.
    Backend,
}

impl ErrorKind {
    fn of_store(e: &StoreError) -> Self {
        match e {
            StoreError::Unavailable(_) => Self::Unavailable,
            StoreError::Corrupt { .. } => Self::Corrupt,
            StoreError::Conflict(_) => Self::Conflict,
            StoreError::InvalidRequest(_) => Self::InvalidRequest,
            StoreError::Frame(axia_domain::FrameError::AlignmentMismatch { .. }) => {
                Self::Misaligned
            }
            _ => Self::Backend,
        }
    }

    fn of_market(e: &MarketDataError) -> Self {
        match e {
            MarketDataError::RateLimited { .. } => Self::RateLimited,
            MarketDataError::SymbolNotFound(_) => Self::SymbolNotFound,
            MarketDataError::Unsupported(_) => Self::Unsupported,
            MarketDataError::Unavailable(_) => Self::Unavailable,
            MarketDataError::InvalidResponse(_) => Self::InvalidResponse,
            MarketDataError::Unauthorized(_) => Self::Unauthorized,
            _ => Self::Backend,
        }
    }
}

/// What one source did for a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Outcome {
    /// Its bars covered what it was asked for on their own.
    Hit,
    /// It had bars, but not all of what it was asked for.
    Partial,
    /// It had no bars for what it was asked for.
    Miss,
    /// It failed.
    Error(ErrorKind),
    /// It did not answer within its timeout.
    Timeout,
    /// Skipped: its circuit is open after repeated failures.
    CircuitOpen,
}

/// One source's part in an answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attempt {
    /// The role of the source asked.
    pub source: Role,
    /// What it did.
    pub outcome: Outcome,
    /// How long it took, milliseconds to the microsecond ([`axia_domain::millis::measured`]).
    pub latency_ms: f64,
    /// Bars it returned.
    pub bars: usize,
    /// The range it was asked for (later sources are asked only for what is missing).
    pub asked: TimeRange,
}

/// How an answer was made.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseMeta {
    /// The range the window resolved to.
    pub range: TimeRange,
    /// The first source whose bars are in the answer.
    pub served_by: Option<Role>,
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
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// No source of the plan for this use case and window is configured.
    #[error("no source is configured for {use_case} requests of this window")]
    NoSource {
        /// The use case.
        use_case: UseCase,
    },
    /// Every source asked failed, timed out or was skipped.
    #[error("no source could give the bars of {}: {}", series(symbol.as_ref(), *timeframe), describe(attempts))]
    AllFailed {
        /// What each did.
        attempts: Vec<Attempt>,
        /// The series asked for (`None` only where no request is known).
        symbol: Option<Symbol>,
        /// Its timeframe.
        timeframe: Option<Timeframe>,
    },
}

fn series(symbol: Option<&Symbol>, timeframe: Option<Timeframe>) -> String {
    match (symbol, timeframe) {
        (Some(s), Some(tf)) => format!("{s} {tf}"),
        (Some(s), None) => s.to_string(),
        _ => "the series".to_owned(),
    }
}

/// Each attempt as a sentence: the role, what happened, and what to do where there is
/// something to do.
fn describe(attempts: &[Attempt]) -> String {
    if attempts.is_empty() {
        return "no source was asked".to_owned();
    }
    attempts
        .iter()
        .map(|a| {
            format!(
                "the {} {}",
                a.source.as_str().replace('_', " "),
                a.outcome.sentence()
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

impl ErrorKind {
    /// What happened, as the end of a sentence that starts with the source.
    #[must_use]
    pub const fn sentence(self) -> &'static str {
        match self {
            Self::Unavailable => "could not be reached",
            Self::Corrupt => "holds data that could not be decoded (see its quarantine)",
            Self::Conflict => "kept conflicting with other writers",
            Self::InvalidRequest => "refused the request as invalid",
            Self::RateLimited => "is rate limiting requests; try again later",
            Self::SymbolNotFound => {
                "does not know the symbol; check its spelling, or the source's own name for it in the source's settings section"
            }
            Self::Unsupported => {
                "cannot serve this request (too long, too old, or a timeframe it lacks)"
            }
            Self::InvalidResponse => "answered something that could not be understood",
            Self::Misaligned => "has bars on another daily alignment than the series",
            Self::Unauthorized => {
                "refused the credentials; check the source's token and account (its settings section or environment)"
            }
            Self::Backend => "failed (the log says how)",
        }
    }
}

impl Outcome {
    /// What happened, as the end of a sentence that starts with the source.
    #[must_use]
    pub const fn sentence(&self) -> &'static str {
        match self {
            Self::Hit => "had the bars",
            Self::Partial => "had some of the bars",
            Self::Miss => "had no bars",
            Self::Error(kind) => kind.sentence(),
            Self::Timeout => "did not answer in time",
            Self::CircuitOpen => "was skipped after repeated failures (circuit open)",
        }
    }
}

type Flight = Arc<OnceCell<Result<OhlcvResponse, ProviderError>>>;
type CalendarFn = Arc<dyn Fn(&Symbol) -> Arc<dyn MarketCalendar> + Send + Sync>;
type AlignmentFn = Arc<dyn Fn(&Symbol) -> DailyAlignment + Send + Sync>;

/// What fills a role: a market-data source or a store.
#[derive(Clone)]
enum Backend {
    Market(Arc<dyn MarketData>),
    Store(Arc<dyn OhlcvStore>),
}

/// A role's source, its timeout and its breaker: everything per role in one place.
struct Slot {
    backend: Backend,
    timeout: Duration,
    breaker: Mutex<Breaker>,
}

/// Builds an [`OhlcvDataProvider`] from any subset of sources, each in its role. Adapters are
/// taken by value (an `Arc` of one is one too); the clock defaults to the system's.
#[must_use]
pub struct ProviderBuilder {
    clock: Arc<dyn Clock>,
    backends: BTreeMap<Role, Backend>,
    timeouts: HashMap<Role, Duration>,
    threshold: u32,
    cooldown: chrono::Duration,
    hot_retention: chrono::Duration,
    write_through: bool,
    calendar: CalendarFn,
    alignment: AlignmentFn,
}

impl ProviderBuilder {
    /// The broker: any [`MarketData`].
    pub fn broker(self, source: impl MarketData + 'static) -> Self {
        self.market(Role::Broker, source)
    }

    /// The hot cache: any [`OhlcvStore`].
    pub fn hot_cache(self, store: impl OhlcvStore + 'static) -> Self {
        self.store(Role::HotCache, store)
    }

    /// The cold archive: any [`OhlcvStore`].
    pub fn cold_archive(self, store: impl OhlcvStore + 'static) -> Self {
        self.store(Role::ColdArchive, store)
    }

    /// The source of last resort: any [`MarketData`].
    pub fn fallback(self, source: impl MarketData + 'static) -> Self {
        self.market(Role::Fallback, source)
    }

    fn market(mut self, role: Role, source: impl MarketData + 'static) -> Self {
        self.backends
            .insert(role, Backend::Market(Arc::new(source)));
        self
    }

    fn store(mut self, role: Role, store: impl OhlcvStore + 'static) -> Self {
        self.backends.insert(role, Backend::Store(Arc::new(store)));
        self
    }

    /// The clock (default: the system's).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The timeout of one call to the source in `role` (defaults: [`Role::default_timeout`]).
    pub fn timeout(mut self, role: Role, timeout: Duration) -> Self {
        self.timeouts.insert(role, timeout);
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

    /// Bars fetched from the broker or the fallback for the last 24 h are not written to the
    /// hot cache (by default they are, in the background).
    pub const fn without_write_through(mut self) -> Self {
        self.write_through = false;
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

    /// Where a symbol's daily bars start (default: the built-in instruments': the New York
    /// close for FX pairs and futures, UTC midnight otherwise). A source whose bars come on the other alignment is refused for that request
    /// ([`ErrorKind::Misaligned`]); analysis windows end at the open of the bar forming on
    /// this grid.
    pub fn alignment(
        mut self,
        f: impl Fn(&Symbol) -> DailyAlignment + Send + Sync + 'static,
    ) -> Self {
        self.alignment = Arc::new(f);
        self
    }

    /// The provider.
    pub fn build(self) -> OhlcvDataProvider {
        let slots = self
            .backends
            .into_iter()
            .map(|(role, backend)| {
                let slot = Slot {
                    backend,
                    timeout: self
                        .timeouts
                        .get(&role)
                        .copied()
                        .unwrap_or_else(|| role.default_timeout()),
                    breaker: Mutex::new(Breaker::new(self.threshold, self.cooldown)),
                };
                (role, slot)
            })
            .collect();
        OhlcvDataProvider {
            inner: Arc::new(Inner {
                clock: self.clock,
                slots,
                hot_retention: self.hot_retention,
                write_through: self.write_through,
                calendar: self.calendar,
                alignment: self.alignment,
                stats: Mutex::new(ProviderStats::default()),
                flights: Mutex::new(HashMap::new()),
            }),
        }
    }
}

struct Inner {
    clock: Arc<dyn Clock>,
    slots: BTreeMap<Role, Slot>,
    hot_retention: chrono::Duration,
    write_through: bool,
    calendar: CalendarFn,
    alignment: AlignmentFn,
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
            .field("roles", &self.inner.slots.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

/// What a source answered, before it is judged against what it was asked.
enum Answer {
    Bars(OhlcvFrame),
    Failed(Outcome),
}

/// The answer being built: the bars so far, their completeness when known, and what each
/// source did.
struct Gathered {
    frame: OhlcvFrame,
    /// The completeness of `frame` over the whole range, when measured since it last changed.
    completeness: Option<Completeness>,
    attempts: Vec<Attempt>,
    served_by: Option<Role>,
    answered: bool,
}

impl Gathered {
    fn new(req: &OhlcvRequest, alignment: DailyAlignment) -> Self {
        Self {
            frame: OhlcvFrame::empty_on(req.symbol.clone(), req.timeframe.aligned(alignment)),
            completeness: None,
            attempts: Vec::new(),
            served_by: None,
            answered: false,
        }
    }

    /// What a later source is asked for: the span of the gaps so far, or the whole range.
    fn wanted(&self, range: TimeRange) -> TimeRange {
        self.completeness
            .as_ref()
            .and_then(|c| missing_span(&c.gaps))
            .and_then(|span| span.intersect(&range))
            .unwrap_or(range)
    }

    /// Merges a step's bars under what earlier steps found (earlier sources win).
    fn absorb(&mut self, step: OhlcvFrame, step_completeness: Option<Completeness>) {
        if self.frame.is_empty() {
            self.frame = step;
            self.completeness = step_completeness;
        } else if !step.is_empty() {
            self.frame = step
                .merge(&self.frame)
                .unwrap_or_else(|_| self.frame.clone());
            self.completeness = None;
        }
    }

    /// True once nothing expected is missing (measured once per change of the frame).
    fn complete(&mut self, calendar: &dyn MarketCalendar, range: TimeRange) -> bool {
        if self.frame.is_empty() {
            return false;
        }
        let c = self
            .completeness
            .take()
            .unwrap_or_else(|| self.frame.completeness(calendar, range));
        let done = c.is_complete();
        self.completeness = Some(c);
        done
    }
}

/// The smallest range that covers every gap: what a later source is asked for.
fn missing_span(gaps: &[TimeRange]) -> Option<TimeRange> {
    let (first, last) = (gaps.first()?, gaps.last()?);
    TimeRange::new(first.start(), last.end()).ok()
}

impl OhlcvDataProvider {
    /// A builder with no source and the system clock; add the sources you have.
    pub fn builder() -> ProviderBuilder {
        ProviderBuilder {
            clock: Arc::new(SystemClock),
            backends: BTreeMap::new(),
            timeouts: HashMap::new(),
            threshold: 5,
            cooldown: chrono::Duration::seconds(30),
            hot_retention: chrono::Duration::hours(24),
            write_through: true,
            calendar: Arc::new(default_calendar),
            alignment: Arc::new(|s: &Symbol| {
                axia_domain::InstrumentRegistry::shared_builtin()
                    .resolve(s)
                    .alignment()
            }),
        }
    }

    /// What the provider has done so far.
    #[must_use]
    pub fn stats(&self) -> ProviderStats {
        lock(&self.inner.stats).clone()
    }

    /// The trading calendar the provider counts `symbol`'s bars on (its completeness).
    #[must_use]
    pub fn calendar_of(&self, symbol: &Symbol) -> Arc<dyn MarketCalendar> {
        (self.inner.calendar)(symbol)
    }

    /// The bar grid of `symbol` `timeframe`: the timeframe under the symbol's daily alignment.
    #[must_use]
    pub fn grid(&self, symbol: &Symbol, timeframe: Timeframe) -> Grid {
        timeframe.aligned((self.inner.alignment)(symbol))
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
                symbol: Some(request.symbol.clone()),
                timeframe: Some(request.timeframe),
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

    /// Asks the source in `role` for `range`, under its breaker and timeout.
    async fn ask(&self, role: Role, req: &OhlcvRequest, range: TimeRange) -> (Answer, Duration) {
        let Some(slot) = self.inner.slots.get(&role) else {
            return (
                Answer::Bars(OhlcvFrame::empty(req.symbol.clone(), req.timeframe)),
                Duration::ZERO,
            );
        };
        if !lock(&slot.breaker).allows(self.inner.clock.now()) {
            return (Answer::Failed(Outcome::CircuitOpen), Duration::ZERO);
        }
        let started = Instant::now();
        let (sym, tf) = (&req.symbol, req.timeframe);
        let answer = match &slot.backend {
            Backend::Market(s) => {
                match tokio::time::timeout(slot.timeout, s.bars(sym, tf, range)).await {
                    Err(_) => Answer::Failed(Outcome::Timeout),
                    Ok(Ok(b)) => Answer::Bars(b.frame),
                    // The source answered: it has nothing there.
                    Ok(Err(MarketDataError::NoData(_))) => {
                        Answer::Bars(OhlcvFrame::empty(sym.clone(), tf))
                    }
                    Ok(Err(MarketDataError::Timeout(_))) => Answer::Failed(Outcome::Timeout),
                    Ok(Err(e)) => {
                        tracing::warn!(%role, symbol = %sym, timeframe = %tf, error = %e, "source failed");
                        Answer::Failed(Outcome::Error(ErrorKind::of_market(&e)))
                    }
                }
            }
            Backend::Store(s) => {
                match tokio::time::timeout(slot.timeout, s.get(sym, tf, range)).await {
                    Err(_) | Ok(Err(StoreError::Timeout(_))) => Answer::Failed(Outcome::Timeout),
                    Ok(Ok(f)) => Answer::Bars(f),
                    Ok(Err(e)) => {
                        tracing::warn!(%role, symbol = %sym, timeframe = %tf, error = %e, "store failed");
                        Answer::Failed(Outcome::Error(ErrorKind::of_store(&e)))
                    }
                }
            }
        };
        let expected = (self.inner.alignment)(sym);
        let answer = match answer {
            Answer::Bars(f) if !f.is_empty() && f.alignment() != expected => {
                let label = f.alignment();
                // Up to H1 both alignments give the same bars: only the label is taken.
                match f.with_alignment(expected) {
                    Ok(f) => Answer::Bars(f),
                    Err(_) => {
                        tracing::warn!(%role, symbol = %sym, timeframe = %tf, bars = %label,
                            series = %expected, "source answered bars of another daily alignment");
                        Answer::Failed(Outcome::Error(ErrorKind::Misaligned))
                    }
                }
            }
            a => a,
        };
        let mut breaker = lock(&slot.breaker);
        match &answer {
            Answer::Bars(_) => breaker.success(),
            Answer::Failed(_) => breaker.failure(self.inner.clock.now()),
        }
        (answer, started.elapsed())
    }

    /// Merges recent bars from a market-data source into the hot cache, in the background.
    fn write_through(&self, role: Role, frame: &OhlcvFrame) {
        let is_market = self
            .inner
            .slots
            .get(&role)
            .is_some_and(|s| matches!(s.backend, Backend::Market(_)));
        let hot = match self.inner.slots.get(&Role::HotCache).map(|s| &s.backend) {
            Some(Backend::Store(h)) if self.inner.write_through && is_market => Arc::clone(h),
            _ => return,
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

    /// The parts of a step: which role is asked for which range.
    fn parts(
        &self,
        step: Step,
        req: &OhlcvRequest,
        wanted: TimeRange,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Vec<(Role, TimeRange)> {
        match step {
            Step::Ask(role) => vec![(role, wanted)],
            Step::ColdWithHot => {
                let mut v = Vec::new();
                if self.inner.slots.contains_key(&Role::ColdArchive) {
                    v.push((Role::ColdArchive, wanted));
                }
                // From the open of the bar forming now when that is older: the hot tier keeps
                // a series' newest bar however old, so a forming W1 or MN1 bar that opened days
                // ago is read from it.
                let recent = TimeRange::last_through(self.inner.hot_retention, now);
                let forming = self.grid(&req.symbol, req.timeframe).floor(now);
                let recent =
                    TimeRange::new(recent.start().min(forming), recent.end()).unwrap_or(recent);
                if self.inner.slots.contains_key(&Role::HotCache)
                    && let Some(r) = wanted.intersect(&recent)
                {
                    v.push((Role::HotCache, r));
                }
                v
            }
        }
    }

    fn configured(&self, step: Step) -> bool {
        match step {
            Step::Ask(role) => self.inner.slots.contains_key(&role),
            Step::ColdWithHot => {
                self.inner.slots.contains_key(&Role::ColdArchive)
                    || self.inner.slots.contains_key(&Role::HotCache)
            }
        }
    }

    /// Runs one step: asks its parts in order (later parts win within a step: the hot cache
    /// over the archive), recording each attempt. Returns the step's bars and, when one part
    /// covered the whole range, their completeness.
    async fn step(
        &self,
        step: Step,
        req: &OhlcvRequest,
        range: TimeRange,
        calendar: &dyn MarketCalendar,
        got: &mut Gathered,
    ) -> (OhlcvFrame, Option<Completeness>) {
        let now = self.inner.clock.now();
        let mut step_frame = OhlcvFrame::empty(req.symbol.clone(), req.timeframe);
        let mut step_completeness = None;
        for (role, asked) in self.parts(step, req, got.wanted(range), now) {
            let (answer, latency) = self.ask(role, req, asked).await;
            let (outcome, bars) = match answer {
                Answer::Failed(o) => (o, 0),
                Answer::Bars(f) => {
                    got.answered = true;
                    let alone = f.completeness(calendar, asked);
                    let outcome = if f.is_empty() {
                        Outcome::Miss
                    } else if alone.is_complete() {
                        Outcome::Hit
                    } else {
                        Outcome::Partial
                    };
                    if !f.is_empty() {
                        self.write_through(role, &f);
                        got.served_by.get_or_insert(role);
                    }
                    let n = f.len();
                    if step_frame.is_empty() {
                        step_completeness = (asked == range).then_some(alone);
                        step_frame = f;
                    } else if n > 0 {
                        step_completeness = None;
                        step_frame = step_frame.merge(&f).unwrap_or(step_frame);
                    }
                    (outcome, n)
                }
            };
            self.record(role, &outcome, latency);
            got.attempts.push(Attempt {
                source: role,
                outcome,
                latency_ms: axia_domain::millis::measured(latency),
                bars,
                asked,
            });
        }
        (step_frame, step_completeness)
    }

    async fn fetch(&self, req: &OhlcvRequest) -> Result<OhlcvResponse, ProviderError> {
        let now = self.inner.clock.now();
        let calendar = (self.inner.calendar)(&req.symbol);
        let grid = req.timeframe.aligned((self.inner.alignment)(&req.symbol));
        let range = req.window.range(now, &req.symbol, grid, calendar.as_ref());
        // Analysis is research over history: closed bars only, up to the forming bar's open.
        let range = if req.use_case == UseCase::Analysis {
            range.clipped_to(
                req.timeframe
                    .aligned((self.inner.alignment)(&req.symbol))
                    .floor(now),
            )
        } else {
            range
        };
        // The plan follows how far back the window reaches from now, from the first instant
        // its calendar lets a bar exist in it: a short window that starts more than 24 h ago is
        // out of the hot tier's reach, and a day that starts in a closure (Monday morning's
        // last 24 h reach into the weekend) is within it when the market opened since.
        let from = calendar.next_open(range.start()).min(range.end());
        let length = match req.window {
            Window::Bars { .. } => range.duration(),
            _ => req.window.length(),
        };
        let reach = length.min(range.end() - from).max(now - from);
        let steps: Vec<Step> = plan(req.use_case, reach)
            .iter()
            .copied()
            .filter(|s| self.configured(*s))
            .collect();
        if steps.is_empty() {
            return Err(ProviderError::NoSource {
                use_case: req.use_case,
            });
        }
        let mut got = Gathered::new(req, (self.inner.alignment)(&req.symbol));
        for step in steps {
            let (frame, completeness) = self
                .step(step, req, range, calendar.as_ref(), &mut got)
                .await;
            got.absorb(frame, completeness);
            if got.complete(calendar.as_ref(), range) {
                break;
            }
        }
        if !got.answered {
            return Err(ProviderError::AllFailed {
                attempts: got.attempts,
                symbol: Some(req.symbol.clone()),
                timeframe: Some(req.timeframe),
            });
        }
        if req.use_case == UseCase::Analysis && got.frame.forming().is_some() {
            got.frame = got.frame.closed();
            got.completeness = None;
        }
        // The last `count` bars: the range starts at the oldest kept.
        let mut range = range;
        if let Window::Bars { count, .. } = req.window
            && got.frame.len() >= count.max(1)
        {
            got.frame = got.frame.last_n(count.max(1));
            if let Some(first) = got.frame.first_time()
                && let Ok(narrowed) = TimeRange::new(first, range.end())
            {
                range = narrowed;
                got.completeness = None;
            }
        }
        let completeness = got
            .completeness
            .take()
            .unwrap_or_else(|| got.frame.completeness(calendar.as_ref(), range));
        Ok(OhlcvResponse {
            meta: ResponseMeta {
                range,
                served_by: got.served_by,
                bars: got.frame.len(),
                complete: completeness.is_complete(),
                completeness,
                attempts: got.attempts,
                forming: got.frame.forming().map(|b| b.time()),
                shared: false,
            },
            frame: got.frame,
        })
    }

    fn record(&self, role: Role, outcome: &Outcome, latency: Duration) {
        let mut stats = lock(&self.inner.stats);
        let s = stats.sources.entry(role).or_default();
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
