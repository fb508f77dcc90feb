//! [`FeatureEngine`]: the feature engine use case.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use axia_domain::{
    Alert, AlertLog, AlertRecorded, Bar, Clock, FeaturePublished, FeatureSnapshot, FeatureStore,
    OhlcvFrame, StoreError, Symbol, SystemClock, TimeRange, Timeframe, lock,
};
use axia_indicators::{FeatureSet, FeatureSpec, Hlc, IndicatorError};
use chrono::{DateTime, Duration, Utc};

use crate::{AlertEvaluator, AlertRules, Anchoring, BarHistory, HistoryError};

/// Which indicators run on which series, and where they start.
///
/// ```
/// use axia_features::FeatureConfig;
/// use axia_domain::Timeframe;
///
/// let config = FeatureConfig::standard()
///     .series_indicators("USDJPY".parse()?, Timeframe::M1, &["ema_50".parse()?, "rsi_7".parse()?])?;
/// assert_eq!(config.specs_for(&"USDJPY".parse()?, Timeframe::M1).len(), 2);
/// assert_eq!(config.specs_for(&"EURUSD".parse()?, Timeframe::M1).len(), 6);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct FeatureConfig {
    indicators: Vec<FeatureSpec>,
    per_series: BTreeMap<(Symbol, Timeframe), Vec<FeatureSpec>>,
    anchor_bars: u32,
    anchor_min_span: Duration,
    max_backfill: u32,
}

impl Default for FeatureConfig {
    fn default() -> Self {
        Self::standard()
    }
}

impl FeatureConfig {
    /// Spans of missed values a series catches up on when it starts, by default.
    pub const DEFAULT_MAX_BACKFILL: u32 = 4;

    /// [`FeatureSpec::STANDARD`] on every series, [`Anchoring`]'s defaults.
    #[must_use]
    pub fn standard() -> Self {
        Self {
            indicators: FeatureSpec::STANDARD.to_vec(),
            per_series: BTreeMap::new(),
            anchor_bars: Anchoring::DEFAULT_BARS,
            anchor_min_span: Duration::days(Anchoring::DEFAULT_MIN_DAYS),
            max_backfill: Self::DEFAULT_MAX_BACKFILL,
        }
    }

    /// The indicators of every series without its own list.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] for a spec out of range.
    pub fn indicators(mut self, specs: &[FeatureSpec]) -> Result<Self, IndicatorError> {
        FeatureSet::new(specs)?;
        self.indicators = specs.to_vec();
        Ok(self)
    }

    /// The indicators of one series.
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`] for a spec out of range.
    pub fn series_indicators(
        mut self,
        symbol: Symbol,
        timeframe: Timeframe,
        specs: &[FeatureSpec],
    ) -> Result<Self, IndicatorError> {
        FeatureSet::new(specs)?;
        self.per_series.insert((symbol, timeframe), specs.to_vec());
        Ok(self)
    }

    /// Anchors every `bars` bars, spaced at least `min_span` apart (see [`Anchoring`]).
    #[must_use]
    pub fn anchoring(mut self, bars: u32, min_span: Duration) -> Self {
        self.anchor_bars = bars;
        self.anchor_min_span = min_span;
        self
    }

    /// How far back a starting series publishes the values it missed: at most `spans` anchor
    /// spans (default 4: 28 days of M1, 2,000 bars of H1) before now. Older missed values are
    /// not published (reading years of bars to fill a history nobody kept up is a decision for
    /// a person); [`FeatureEngine::compute_at`] still gives them.
    #[must_use]
    pub fn max_backfill(mut self, spans: u32) -> Self {
        self.max_backfill = spans.max(1);
        self
    }

    /// The indicators of a series.
    #[must_use]
    pub fn specs_for(&self, symbol: &Symbol, timeframe: Timeframe) -> &[FeatureSpec] {
        self.per_series
            .get(&(symbol.clone(), timeframe))
            .unwrap_or(&self.indicators)
    }

    /// The anchoring of a timeframe.
    #[must_use]
    pub fn anchoring_for(&self, timeframe: Timeframe) -> Anchoring {
        Anchoring::new(timeframe, self.anchor_bars, self.anchor_min_span)
    }

    fn feature_set(&self, symbol: &Symbol, timeframe: Timeframe) -> FeatureSet {
        // Every list was checked when it was configured.
        FeatureSet::new(self.specs_for(symbol, timeframe))
            .unwrap_or_else(|_| FeatureSet::standard())
    }
}

/// Why the engine could not bring a series up to date. The series is rebuilt from history on
/// its next refresh; nothing published is lost (the history refuses duplicates).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FeatureError {
    /// Its bars could not be read.
    #[error("bars of {symbol} {timeframe}: {message}")]
    History {
        /// The symbol.
        symbol: Symbol,
        /// The timeframe.
        timeframe: Timeframe,
        /// Why.
        message: String,
    },
    /// Bars of the history behind the values could not be read from any source (the archive
    /// lacks them and no market source serves the use case, or those asked failed): values
    /// computed without them would not be the documented ones, so none is given.
    #[error(
        "bars of {symbol} {timeframe} from {} to {} are missing from the history its values are computed from (every bar since their anchor): {why}",
        missing.start().to_rfc3339(),
        missing.end().to_rfc3339()
    )]
    IncompleteHistory {
        /// The symbol.
        symbol: Symbol,
        /// The timeframe.
        timeframe: Timeframe,
        /// The first run of missing bar slots.
        missing: TimeRange,
        /// Which sources were asked and what they said.
        why: String,
    },
    /// The feature store failed.
    #[error("feature store: {0}")]
    Store(#[from] StoreError),
    /// The alert log failed: the bar's values were not published either, so the bar is
    /// evaluated again when the series is rebuilt.
    #[error("alert log: {0}")]
    AlertLog(StoreError),
    /// A bar the indicators refused (a non-finite price).
    #[error("{symbol} {timeframe} bar at {time}: {source}")]
    Indicator {
        /// The symbol.
        symbol: Symbol,
        /// The timeframe.
        timeframe: Timeframe,
        /// The bar's open time.
        time: DateTime<Utc>,
        /// What the indicator said.
        source: IndicatorError,
    },
}

/// What one [`FeatureEngine::refresh`] did.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Refreshed {
    /// The series was (re)built from history: its first refresh, after an error, or because
    /// its newest closed bar changed.
    pub warmed_up: bool,
    /// Closed bars whose values were published.
    pub closed: usize,
    /// Of those, the ones the store's history did not hold yet.
    pub appended: usize,
    /// A forming bar's provisional values were published.
    pub forming: bool,
    /// The newest values published, if any.
    pub latest: Option<FeatureSnapshot>,
    /// The alerts fired and recorded for the first time (see [`FeatureEngine::alerts`]).
    pub alerts: Vec<Alert>,
}

/// One series' running indicators: one set per anchor (at most two).
#[derive(Debug, Clone)]
struct Series {
    symbol: Symbol,
    timeframe: Timeframe,
    anchoring: Anchoring,
    template: FeatureSet,
    sets: Vec<(i64, FeatureSet)>,
    /// Every bar opening at or after this instant has been applied.
    start_ms: i64,
    /// The newest closed bar applied.
    last: Option<Bar>,
}

fn hlc(bar: &Bar) -> Hlc {
    Hlc {
        high: bar.high(),
        low: bar.low(),
        close: bar.close(),
    }
}

impl Series {
    fn indicator_error(&self, bar: &Bar, source: IndicatorError) -> FeatureError {
        FeatureError::Indicator {
            symbol: self.symbol.clone(),
            timeframe: self.timeframe,
            time: bar.time(),
            source,
        }
    }

    /// True when the values at `bar_ms` have their whole history behind them.
    fn trusted(&self, bar_ms: i64) -> bool {
        self.anchoring.start_for(bar_ms) >= self.start_ms
    }

    /// Adds a closed bar to the sets of its anchor and of the next one.
    fn apply(&mut self, bar: &Bar) -> Result<(), FeatureError> {
        let k = self.anchoring.index(bar.time_millis());
        let input = hlc(bar);
        // Checked once, so that neither set moves when the bar is refused.
        if !(input.high.is_finite() && input.low.is_finite() && input.close.is_finite()) {
            return Err(self.indicator_error(bar, IndicatorError::NonFinite(format!("{input:?}"))));
        }
        self.sets.retain(|(i, _)| *i >= k - 1);
        for idx in [k - 1, k] {
            if !self.sets.iter().any(|(i, _)| *i == idx) {
                self.sets.push((idx, self.template.clone()));
            }
        }
        self.sets.sort_by_key(|(i, _)| *i);
        for (_, set) in &mut self.sets {
            set.update(input).map_err(|e| FeatureError::Indicator {
                symbol: self.symbol.clone(),
                timeframe: self.timeframe,
                time: bar.time(),
                source: e,
            })?;
        }
        self.last = Some(*bar);
        Ok(())
    }

    /// The values at the closed bar opening at `bar_ms`, the last one applied: those of the set
    /// of the anchor before its own. Made only for the bars published.
    fn values_at(&self, bar_ms: i64) -> BTreeMap<String, f64> {
        let k = self.anchoring.index(bar_ms);
        self.sets
            .iter()
            .find(|(i, _)| *i == k - 1)
            .map(|(_, s)| s.values())
            .unwrap_or_default()
    }

    /// The values if the forming `bar` closed as it is; nothing moves.
    fn peek(&self, bar: &Bar) -> Result<BTreeMap<String, f64>, FeatureError> {
        let k = self.anchoring.index(bar.time_millis());
        let set = self
            .sets
            .iter()
            .find(|(i, _)| *i == k - 1)
            .map_or(&self.template, |(_, s)| s);
        set.peek(hlc(bar)).map_err(|e| self.indicator_error(bar, e))
    }

    fn snapshot(&self, bar: &Bar, forming: bool, values: BTreeMap<String, f64>) -> FeatureSnapshot {
        FeatureSnapshot {
            symbol: self.symbol.clone(),
            timeframe: self.timeframe,
            bar_open: bar.time(),
            forming,
            values,
        }
    }
}

/// The closed bars of `frame` at `now`, and the forming one (the newest, when its period has
/// not ended or its source says it is forming).
fn split(frame: &OhlcvFrame, now: DateTime<Utc>) -> (OhlcvFrame, Option<Bar>) {
    let closed = frame.closed_at(now);
    let forming = frame.get(closed.len()).filter(|b| b.time() <= now);
    (closed, forming)
}

type Cell = Arc<tokio::sync::Mutex<Option<Series>>>;

/// Where a series whose alert rules read points back reads its history from, for its first
/// evaluated bar at `first_ms`: one anchor span before where its values need it (see
/// [`Anchoring::start_for`]), so a whole span of bars before `first_ms` (at least the
/// anchoring's bars and days) has trusted values to prime the rules with.
fn primed_start(anchoring: Anchoring, first_ms: i64) -> i64 {
    anchoring.at(anchoring.index(first_ms) - 2)
}

/// The rules evaluated as values are published, and where their alerts go.
struct Alerting {
    evaluator: Mutex<AlertEvaluator>,
    log: Arc<dyn AlertLog>,
}

/// The feature engine: for each series it is asked about, the configured indicators warmed up
/// from history from the series' [`Anchoring`], then brought up to date on each
/// [`refresh`](FeatureEngine::refresh) (after every write the hot tier announces) and published
/// to a [`FeatureStore`].
///
/// - **Live equals recomputed.** The values at a bar are defined from a fixed anchor (see
///   [`Anchoring`]); [`compute_at`](FeatureEngine::compute_at) recomputes them from history and
///   gives the same numbers, bit for bit, as the ones published live.
/// - **No bar skipped.** A refresh reads every bar since the newest one applied (not just the
///   one announced), so a lost notification costs latency, never a value.
/// - **Closed vs forming.** A closed bar is applied to the indicators and appended to the
///   store's history; the forming bar's values are computed with `peek` (nothing moves) and
///   published as provisional. A closed bar that changed after it was applied (a late
///   correction) rebuilds the series from history.
/// - **Restart continues exactly.** On its first refresh a series reads its history from the
///   anchor and publishes every closed bar after the newest one the store holds (up to
///   [`FeatureConfig::max_backfill`] spans back), with the same values the engine would have
///   published had it never stopped.
/// - **Errors** leave the series to be rebuilt on its next refresh.
///
/// Refreshes of one series run one at a time; different series run concurrently.
#[derive(Clone)]
pub struct FeatureEngine {
    history: Arc<dyn BarHistory>,
    store: Arc<dyn FeatureStore>,
    clock: Arc<dyn Clock>,
    config: Arc<FeatureConfig>,
    series: Arc<Mutex<HashMap<(Symbol, Timeframe), Cell>>>,
    alerting: Option<Arc<Alerting>>,
}

impl std::fmt::Debug for FeatureEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FeatureEngine")
            .field("config", &self.config)
            .field("series", &lock(&self.series).len())
            .finish_non_exhaustive()
    }
}

impl FeatureEngine {
    /// An engine reading bars from `history` (the provider, in a service) and publishing to
    /// `store`, with the standard indicators on every series and the system clock.
    pub fn new(history: impl BarHistory + 'static, store: impl FeatureStore + 'static) -> Self {
        Self {
            history: Arc::new(history),
            store: Arc::new(store),
            clock: Arc::new(SystemClock),
            config: Arc::new(FeatureConfig::standard()),
            series: Arc::default(),
            alerting: None,
        }
    }

    /// Evaluates `rules` on every value the engine publishes (before publishing it) and
    /// records the alerts they fire in `log`: closed bars for every rule, forming updates for
    /// the rules that ask for them. The rules must have been checked against this engine's
    /// [`config`](FeatureEngine::config) (give it first). A series whose rules read points
    /// back warms up from far enough back to have them (see [`AlertEvaluator`]).
    ///
    /// An alert is recorded before the values of its bar are published: when the log fails,
    /// the bar is not published and is evaluated again when the series is rebuilt, so no
    /// alert is lost; the log keeps one alert per id, so none is repeated.
    #[must_use]
    pub fn alerts(mut self, rules: AlertRules, log: impl AlertLog + 'static) -> Self {
        self.alerting = Some(Arc::new(Alerting {
            evaluator: Mutex::new(AlertEvaluator::new(rules)),
            log: Arc::new(log),
        }));
        self
    }

    /// How many points back the series' alert rules read (0 without any).
    fn alert_depth(&self, symbol: &Symbol, timeframe: Timeframe) -> usize {
        self.alerting
            .as_ref()
            .map_or(0, |a| lock(&a.evaluator).rules().depth(symbol, timeframe))
    }

    /// The alerts `rules` fire at the closed bars of a series that open in `range`, as the
    /// engine would have fired them live (the same values, the same points before the first):
    /// `axia alerts test`. Records nothing; a `once` rule fires at its first bar in `range`.
    ///
    /// # Errors
    /// As [`compute_at`](FeatureEngine::compute_at).
    pub async fn alerts_over(
        &self,
        rules: &AlertRules,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<Alert>, FeatureError> {
        if rules.of(symbol, timeframe).is_empty() {
            return Ok(Vec::new());
        }
        let depth = rules.depth(symbol, timeframe);
        let anchoring = self.config.anchoring_for(timeframe);
        let now = self.clock.now();
        let (start, frame) = self
            .read_primed(
                symbol,
                timeframe,
                anchoring,
                range.start_millis(),
                depth > 0,
                range.end().min(now),
            )
            .await?;
        let (closed, _) = split(&frame, now);
        let first = closed
            .iter()
            .position(|b| b.time() >= range.start())
            .unwrap_or(closed.len());
        let mut series = self.series(symbol, timeframe, start);
        let mut evaluator = AlertEvaluator::new(rules.clone());
        let mut fired = Vec::new();
        for (i, bar) in closed.iter().enumerate() {
            if bar.time() >= range.end() {
                break;
            }
            series.apply(&bar)?;
            if !series.trusted(bar.time_millis()) || i + depth < first {
                continue;
            }
            let values = series.values_at(bar.time_millis());
            if i < first {
                evaluator.prime(symbol, timeframe, &bar, &values);
            } else {
                fired.extend(evaluator.closed(symbol, timeframe, &bar, &values));
            }
        }
        Ok(fired)
    }

    /// The clock that says which bars are closed.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Which indicators run on which series.
    #[must_use]
    pub fn config(mut self, config: FeatureConfig) -> Self {
        self.config = Arc::new(config);
        self
    }

    /// The configuration.
    #[must_use]
    pub fn feature_config(&self) -> &FeatureConfig {
        &self.config
    }

    /// The latest values the store holds for a series.
    ///
    /// # Errors
    /// [`FeatureError::Store`].
    pub async fn latest(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Option<FeatureSnapshot>, FeatureError> {
        Ok(self.store.latest(symbol, timeframe).await?)
    }

    /// Brings a series up to date: reads the bars since the newest one applied (its whole
    /// history from the anchor on its first refresh), applies the closed ones, publishes their
    /// values and the forming bar's.
    ///
    /// # Errors
    /// [`FeatureError`]; the series is rebuilt from history on its next refresh.
    pub async fn refresh(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Refreshed, FeatureError> {
        self.bring_up_to_date(symbol, timeframe, None).await
    }

    /// Brings a series up to date from bars a writer has just stored, without reading them:
    /// `tail` is the series as stored from `tail`'s first bar on (the tail of the hot tier's
    /// update message; its newest bar labelled forming when it forms). The closed bars newer
    /// than the newest one applied are applied and their values published, then the forming
    /// bar's. A series not running yet is warmed up from history instead (which holds these
    /// bars), and so is one whose newest applied bar the tail contradicts (changed, or gone
    /// from a range the tail covers).
    ///
    /// The caller answers for continuity: every bar stored between the newest one applied and
    /// `tail` came in an earlier tail (the hot tier's update feed guarantees it while its
    /// connection holds); after a gap in what it was given, it calls
    /// [`refresh`](FeatureEngine::refresh).
    ///
    /// # Errors
    /// [`FeatureError`]; the series is rebuilt from history on its next call.
    pub async fn update(&self, tail: &OhlcvFrame) -> Result<Refreshed, FeatureError> {
        self.bring_up_to_date(tail.symbol(), tail.timeframe(), Some(tail))
            .await
    }

    async fn bring_up_to_date(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        tail: Option<&OhlcvFrame>,
    ) -> Result<Refreshed, FeatureError> {
        let cell = Arc::clone(
            lock(&self.series)
                .entry((symbol.clone(), timeframe))
                .or_default(),
        );
        let mut guard = cell.lock().await;
        let now = self.clock.now();
        let result = match guard.take() {
            Some(series) => self.advance(series, now, tail).await,
            None => self.warm_up(symbol, timeframe, now, None).await,
        };
        match result {
            Ok((series, refreshed)) => {
                *guard = Some(series);
                Ok(refreshed)
            }
            Err(e) => {
                tracing::warn!(%symbol, %timeframe, error = %e, "feature refresh failed; the series is rebuilt from history next time");
                Err(e)
            }
        }
    }

    /// Forgets a series' running state: its next refresh rebuilds it from history.
    pub fn reset(&self, symbol: &Symbol, timeframe: Timeframe) {
        lock(&self.series).remove(&(symbol.clone(), timeframe));
    }

    /// The values at the last bar opening at or before `at`, recomputed from history from that
    /// bar's anchor: the same numbers the engine publishes live. `forming` is set when that
    /// bar's period has not ended (or its source says it is forming). `None` when the series
    /// has no bar there.
    ///
    /// # Errors
    /// [`FeatureError::History`] or [`FeatureError::Indicator`].
    pub async fn compute_at(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        at: DateTime<Utc>,
    ) -> Result<Option<FeatureSnapshot>, FeatureError> {
        let anchoring = self.config.anchoring_for(timeframe);
        let at_ms = at.timestamp_millis();
        // The bar at or before `at` opens after the anchor before `at`'s, minus one span.
        let start = anchoring.at(anchoring.index(at_ms) - 2);
        let frame = self.read(symbol, timeframe, start, at).await?;
        let now = self.clock.now();
        let Some(target) = frame.last() else {
            return Ok(None);
        };
        let (closed, forming) = split(&frame, now);
        let from = anchoring.start_for(target.time_millis());
        let mut series = self.series(symbol, timeframe, from);
        for bar in closed.iter().filter(|b| b.time_millis() >= from) {
            series.apply(&bar)?;
        }
        let is_forming = forming.is_some_and(|f| f.time() == target.time());
        let values = if is_forming {
            series.peek(&target)?
        } else {
            series.values_at(target.time_millis())
        };
        Ok(Some(series.snapshot(&target, is_forming, values)))
    }

    /// A series with no bar applied yet, whose history starts at `start_ms`.
    fn series(&self, symbol: &Symbol, timeframe: Timeframe, start_ms: i64) -> Series {
        Series {
            symbol: symbol.clone(),
            timeframe,
            anchoring: self.config.anchoring_for(timeframe),
            template: self.config.feature_set(symbol, timeframe),
            sets: Vec::new(),
            start_ms,
            last: None,
        }
    }

    async fn read(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        start_ms: i64,
        end: DateTime<Utc>,
    ) -> Result<OhlcvFrame, FeatureError> {
        let history_error = |message: String| FeatureError::History {
            symbol: symbol.clone(),
            timeframe,
            message,
        };
        // No bar opens before 1900 (`axia_domain::MIN_TIME_MILLIS`): a history reaching further
        // back (decades of MN1 anchors) starts there.
        let start_ms = start_ms.max(axia_domain::MIN_TIME_MILLIS);
        let start = DateTime::from_timestamp_millis(start_ms)
            .ok_or_else(|| history_error(format!("no instant at {start_ms} ms")))?;
        let range = TimeRange::new(start.min(end), end)
            .map_err(|e| history_error(e.to_string()))?
            .through_end();
        self.history
            .bars(symbol, timeframe, range)
            .await
            .map_err(|e| match e {
                HistoryError::Missing { missing, why } => FeatureError::IncompleteHistory {
                    symbol: symbol.clone(),
                    timeframe,
                    missing,
                    why,
                },
                HistoryError::Unreadable(message) => history_error(message),
            })
    }

    /// Reads the history behind the values from `first_ms` on, and with `primed`, one span
    /// more ([`primed_start`]) when the sources have it: without it, fewer points (maybe none)
    /// prime the rules, which is logged. Returns where the read started.
    async fn read_primed(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        anchoring: Anchoring,
        first_ms: i64,
        primed: bool,
        end: DateTime<Utc>,
    ) -> Result<(i64, OhlcvFrame), FeatureError> {
        let start = anchoring.start_for(first_ms);
        if primed {
            let wide = primed_start(anchoring, first_ms);
            match self.read(symbol, timeframe, wide, end).await {
                Err(FeatureError::IncompleteHistory { missing, .. }) => {
                    tracing::info!(%symbol, %timeframe, missing_from = %missing.start(), "the span before the history of the values is missing: the alert rules reading bars back start with fewer points");
                }
                read => return Ok((wide, read?)),
            }
        }
        Ok((start, self.read(symbol, timeframe, start, end).await?))
    }

    /// Builds a series from its history. Publishes every closed bar from `since` (the newest
    /// bar the store holds, when not given) on, and only the newest when the store holds none.
    async fn warm_up(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        now: DateTime<Utc>,
        since: Option<i64>,
    ) -> Result<(Series, Refreshed), FeatureError> {
        let anchoring = self.config.anchoring_for(timeframe);
        let since = match since {
            Some(s) => Some(s),
            None => self
                .store
                .latest(symbol, timeframe)
                .await?
                .map(|l| l.bar_open.timestamp_millis()),
        };
        let now_ms = now.timestamp_millis();
        let span_ms = anchoring.span().num_milliseconds();
        // Catch up on at most `max_backfill` spans of values missed while stopped.
        let first_needed = since.unwrap_or(now_ms - timeframe.max_millis()).clamp(
            now_ms.saturating_sub(span_ms.saturating_mul(i64::from(self.config.max_backfill))),
            now_ms,
        );
        let depth = self.alert_depth(symbol, timeframe);
        let (start, frame) = self
            .read_primed(symbol, timeframe, anchoring, first_needed, depth > 0, now)
            .await?;
        let (closed, forming) = split(&frame, now);
        let mut series = self.series(symbol, timeframe, start);
        let publish_from =
            since.unwrap_or_else(|| closed.last().map_or(i64::MAX, |b| b.time_millis()));
        let mut refreshed = Refreshed {
            warmed_up: true,
            ..Refreshed::default()
        };
        // The rules' points before the first bar published.
        let first_published = closed
            .iter()
            .position(|b| b.time_millis() >= publish_from)
            .unwrap_or(closed.len());
        let primed_from = first_published.saturating_sub(depth);
        for (i, bar) in closed.iter().enumerate() {
            series.apply(&bar)?;
            if i >= primed_from && i < first_published && series.trusted(bar.time_millis()) {
                self.prime(&series, &bar);
            }
            if bar.time_millis() >= publish_from && series.trusted(bar.time_millis()) {
                let values = series.values_at(bar.time_millis());
                self.publish(&series, &bar, false, values, &mut refreshed)
                    .await?;
            }
        }
        if let Some(f) = forming {
            let values = series.peek(&f)?;
            self.publish(&series, &f, true, values, &mut refreshed)
                .await?;
        }
        tracing::debug!(%symbol, %timeframe, bars = frame.len(), closed = refreshed.closed, "features warmed up");
        Ok((series, refreshed))
    }

    async fn advance(
        &self,
        mut series: Series,
        now: DateTime<Utc>,
        tail: Option<&OhlcvFrame>,
    ) -> Result<(Series, Refreshed), FeatureError> {
        let frame = match tail {
            Some(t) => t.clone(),
            None => {
                let from = series.last.map_or(series.start_ms, |b| b.time_millis());
                self.read(&series.symbol, series.timeframe, from, now)
                    .await?
            }
        };
        let (closed, forming) = split(&frame, now);
        if let Some(last) = series.last {
            let held = closed
                .iter()
                .chain(forming)
                .find(|b| b.time() == last.time());
            // A tail covering the newest applied bar must hold it as it was applied.
            let covered = tail.is_some() && frame.first().is_some_and(|b| b.time() <= last.time());
            let changed = match held {
                Some(b) => b != last,
                None => covered,
            };
            if changed {
                tracing::info!(symbol = %series.symbol, timeframe = %series.timeframe, bar = %last.time(), "a closed bar changed after its values were published; rebuilding from history");
                return self
                    .warm_up(
                        &series.symbol.clone(),
                        series.timeframe,
                        now,
                        Some(last.time_millis()),
                    )
                    .await;
            }
        }
        let newest = series.last.map_or(i64::MIN, |b| b.time_millis());
        let mut refreshed = Refreshed::default();
        for bar in closed.iter().filter(|b| b.time_millis() > newest) {
            series.apply(&bar)?;
            if series.trusted(bar.time_millis()) {
                let values = series.values_at(bar.time_millis());
                self.publish(&series, &bar, false, values, &mut refreshed)
                    .await?;
            }
        }
        if let Some(f) = forming.filter(|f| f.time_millis() > newest) {
            let values = series.peek(&f)?;
            self.publish(&series, &f, true, values, &mut refreshed)
                .await?;
        }
        Ok((series, refreshed))
    }

    fn prime(&self, series: &Series, bar: &Bar) {
        if let Some(alerting) = &self.alerting {
            let values = series.values_at(bar.time_millis());
            lock(&alerting.evaluator).prime(&series.symbol, series.timeframe, bar, &values);
        }
    }

    /// Evaluates the rules at a bar about to be published and records what they fire.
    async fn evaluate(
        &self,
        series: &Series,
        bar: &Bar,
        forming: bool,
        values: &BTreeMap<String, f64>,
        refreshed: &mut Refreshed,
    ) -> Result<(), FeatureError> {
        let Some(alerting) = &self.alerting else {
            return Ok(());
        };
        let fired = {
            let mut evaluator = lock(&alerting.evaluator);
            if forming {
                evaluator.forming(&series.symbol, series.timeframe, bar, values)
            } else {
                evaluator.closed(&series.symbol, series.timeframe, bar, values)
            }
        };
        for alert in fired {
            match alerting
                .log
                .record(&alert)
                .await
                .map_err(FeatureError::AlertLog)?
            {
                AlertRecorded::New(_) => {
                    tracing::info!(alert = %alert.id, rule = %alert.rule, symbol = %alert.symbol, timeframe = %alert.timeframe, message = %alert.message, "alert fired");
                    refreshed.alerts.push(alert);
                }
                AlertRecorded::Duplicate => {
                    tracing::debug!(alert = %alert.id, "alert recorded before");
                }
            }
        }
        Ok(())
    }

    async fn publish(
        &self,
        series: &Series,
        bar: &Bar,
        forming: bool,
        values: BTreeMap<String, f64>,
        refreshed: &mut Refreshed,
    ) -> Result<(), FeatureError> {
        self.evaluate(series, bar, forming, &values, refreshed)
            .await?;
        let snapshot = series.snapshot(bar, forming, values);
        match self.store.publish(&snapshot).await? {
            FeaturePublished::Appended => {
                refreshed.closed += 1;
                refreshed.appended += 1;
            }
            FeaturePublished::AlreadyInHistory => refreshed.closed += 1,
            FeaturePublished::Forming => refreshed.forming = true,
        }
        refreshed.latest = Some(snapshot);
        Ok(())
    }
}

#[cfg(test)]
mod tests;
