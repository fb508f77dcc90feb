//! [`QuotesToBars`]: the quote-to-bar state machine of the live feed.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use axia_domain::{
    BarValues, DailyAlignment, Grid, Instrument, MarketCalendar, PriceComponent, Quote, Symbol,
    Timeframe,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// When a quote is too far from the recent prices to be believed.
///
/// With at least [`OutlierRule::MIN_HISTORY`] accepted prices of the instrument, a price more
/// than `max(mads × MAD, min_fraction × median)` from the median of the last `window` accepted
/// prices (MAD: their median absolute deviation from that median) is an outlier and dropped,
/// unless each of the `confirm` quotes just before it was such an outlier too and within that
/// distance of it: then the market has moved (news), the price is accepted and the recent
/// prices start over from those quotes. They also start over at each session's open (the
/// market closed since the last accepted quote: a stock's overnight gap is no outlier). A
/// `window` of 0 turns the rule off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OutlierRule {
    /// Accepted prices the median is taken over (default 50).
    pub window: usize,
    /// Median absolute deviations a price may be away (default 10).
    pub mads: f64,
    /// The smallest distance always allowed, as a fraction of the median (default 0.002: 0.2 %,
    /// 20 pips of EURUSD), so a quiet market's tiny MAD does not drop its next tick.
    pub min_fraction: f64,
    /// Outliers in a row, close to each other, that make a new level (default 2).
    pub confirm: usize,
}

impl OutlierRule {
    /// Accepted prices needed before the rule applies.
    pub const MIN_HISTORY: usize = 5;

    /// No outlier filter.
    pub const OFF: Self = Self {
        window: 0,
        mads: 10.0,
        min_fraction: 0.002,
        confirm: 2,
    };
}

impl Default for OutlierRule {
    fn default() -> Self {
        Self {
            window: 50,
            mads: 10.0,
            min_fraction: 0.002,
            confirm: 2,
        }
    }
}

/// What a feed builds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct LiveBarsConfig {
    /// The timeframes built for every instrument (default: all nine).
    pub timeframes: Vec<Timeframe>,
    /// The price of a quote bars are built from (default: mid).
    pub component: PriceComponent,
    /// The outlier filter.
    pub outliers: OutlierRule,
}

impl Default for LiveBarsConfig {
    fn default() -> Self {
        Self {
            timeframes: Timeframe::ALL.to_vec(),
            component: PriceComponent::Mid,
            outliers: OutlierRule::default(),
        }
    }
}

/// Why a quote was dropped (see the crate's table).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuoteDrop {
    /// Not an instrument of the feed.
    Unconfigured,
    /// A bid or ask that is not a positive number.
    Invalid,
    /// Bid above ask.
    Crossed,
    /// The same time and prices as the last accepted quote.
    Duplicate,
    /// Not after the last accepted quote.
    Stale,
    /// Outside the instrument's trading hours.
    MarketClosed,
    /// For a bar the timer has closed.
    Late,
    /// Too far from the recent prices.
    Outlier,
}

impl QuoteDrop {
    /// Every reason, in the order of the checks.
    pub const ALL: [Self; 8] = [
        Self::Unconfigured,
        Self::Invalid,
        Self::Crossed,
        Self::Duplicate,
        Self::Stale,
        Self::MarketClosed,
        Self::Late,
        Self::Outlier,
    ];

    /// The reason's name in metrics and logs.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Unconfigured => "unconfigured",
            Self::Invalid => "invalid",
            Self::Crossed => "crossed",
            Self::Duplicate => "duplicate",
            Self::Stale => "stale",
            Self::MarketClosed => "market_closed",
            Self::Late => "late",
            Self::Outlier => "outlier",
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// Quotes accepted and dropped so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QuoteCounts {
    /// Quotes that became part of bars.
    pub accepted: u64,
    dropped: [u64; 8],
}

impl QuoteCounts {
    /// Quotes dropped for `reason`.
    #[must_use]
    pub fn dropped(&self, reason: QuoteDrop) -> u64 {
        self.dropped.get(reason.index()).copied().unwrap_or(0)
    }

    /// Quotes dropped for any reason.
    #[must_use]
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }

    /// These counts and `other`'s, added (the feeds of one process, one after the other).
    #[must_use]
    pub fn plus(&self, other: &Self) -> Self {
        let mut sum = self.clone();
        sum.accepted = sum.accepted.saturating_add(other.accepted);
        for (a, b) in sum.dropped.iter_mut().zip(other.dropped) {
            *a = a.saturating_add(b);
        }
        sum
    }
}

/// A series (instrument × timeframe) of a [`QuotesToBars`]; [`QuotesToBars::series`] names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SeriesId(u32);

impl SeriesId {
    pub(crate) fn new(index: usize) -> Self {
        Self(u32::try_from(index).unwrap_or(u32::MAX))
    }

    /// The index, from 0 to [`QuotesToBars::series_count`].
    #[must_use]
    pub const fn index(self) -> usize {
        self.0 as usize
    }
}

/// A bar that changed: the forming bar's new state, or a bar that closed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarChange {
    /// Its series.
    pub series: SeriesId,
    /// The bar (volume: accepted quotes).
    pub bar: BarValues,
    /// True while its period has not ended.
    pub forming: bool,
}

struct InstrumentState {
    symbol: Symbol,
    alignment: DailyAlignment,
    hours: Hours,
    /// Time (ms), bid and ask of the last accepted quote.
    last: Option<(i64, f64, f64)>,
    /// When the session of the last accepted quote ends (ms).
    session_end: i64,
    recent: Recent,
    suspects: VecDeque<f64>,
}

/// A calendar with its last answer kept: the stretch `[from, until)` in which the market is
/// `open` (or closed) throughout, so quotes inside it need no calendar call.
struct Hours {
    calendar: Arc<dyn MarketCalendar>,
    from: i64,
    until: i64,
    open: bool,
}

impl Hours {
    fn new(calendar: Arc<dyn MarketCalendar>) -> Self {
        Self {
            calendar,
            from: 0,
            until: 0,
            open: false,
        }
    }

    /// Whether the market is open at `t`, and when that stops being so (ms).
    fn at(&mut self, t: DateTime<Utc>, ms: i64) -> (bool, i64) {
        if !(self.from <= ms && ms < self.until) {
            self.open = self.calendar.is_open(t);
            let change = if self.open {
                self.calendar.next_close(t)
            } else {
                self.calendar.next_open(t)
            };
            self.from = ms;
            self.until = change.timestamp_millis().max(ms.saturating_add(1));
        }
        (self.open, self.until)
    }
}

/// The last accepted prices of an instrument, in arrival order and sorted, so the median and
/// the median absolute deviation cost no sort.
struct Recent {
    arrival: VecDeque<f64>,
    sorted: Vec<f64>,
}

impl Recent {
    const fn new() -> Self {
        Self {
            arrival: VecDeque::new(),
            sorted: Vec::new(),
        }
    }

    fn len(&self) -> usize {
        self.arrival.len()
    }

    fn clear(&mut self) {
        self.arrival.clear();
        self.sorted.clear();
    }

    /// Adds `p`, dropping the oldest beyond `window`.
    fn push(&mut self, p: f64, window: usize) {
        self.arrival.push_back(p);
        let at = self.sorted.partition_point(|x| x.total_cmp(&p).is_lt());
        self.sorted.insert(at, p);
        while self.arrival.len() > window {
            let Some(old) = self.arrival.pop_front() else {
                break;
            };
            if let Ok(i) = self.sorted.binary_search_by(|x| x.total_cmp(&old)) {
                self.sorted.remove(i);
            }
        }
    }

    /// The median (the mean of the two middle values for an even count).
    fn median(&self) -> f64 {
        let s = &self.sorted;
        let n = s.len();
        let pick = |k: usize| s.get(k).copied().unwrap_or(f64::NAN);
        if n % 2 == 1 {
            pick(n / 2)
        } else {
            f64::midpoint(pick(n / 2 - 1), pick(n / 2))
        }
    }

    /// The median (the mean of the two middle values for an even count) and the median of the
    /// absolute deviations from it (likewise), walking outwards from the middle.
    fn median_and_mad(&self) -> (f64, f64) {
        let s = &self.sorted;
        let n = s.len();
        let m = self.median();
        // Deviations in increasing order: the nearer of the next below and the next above.
        let mut hi = s.partition_point(|x| *x < m);
        let mut lo = hi; // s[..lo] are below m, walked from lo - 1 down
        let mut wanted = [f64::NAN; 2];
        let (first, second) = if n % 2 == 1 {
            (n / 2, n / 2)
        } else {
            (n / 2 - 1, n / 2)
        };
        for k in 0..=second {
            let below = lo
                .checked_sub(1)
                .and_then(|i| s.get(i))
                .map(|x| (x - m).abs());
            let above = s.get(hi).map(|x| (x - m).abs());
            let d = match (below, above) {
                (Some(b), Some(a)) if b <= a => {
                    lo -= 1;
                    b
                }
                (_, Some(a)) => {
                    hi += 1;
                    a
                }
                (Some(b), None) => {
                    lo -= 1;
                    b
                }
                (None, None) => f64::NAN,
            };
            if k == first {
                wanted[0] = d;
            }
            if k == second {
                wanted[1] = d;
            }
        }
        let mad = if first == second {
            wanted[1]
        } else {
            f64::midpoint(wanted[0], wanted[1])
        };
        (m, mad)
    }
}

struct SeriesState {
    instrument: usize,
    timeframe: Timeframe,
    grid: Grid,
    forming: Option<BarValues>,
    /// The forming bar's end (the next bar's open), ms.
    end: i64,
    /// Quotes before this instant (ms) belong to closed bars.
    closed_through: i64,
}

/// The quotes of a set of instruments made into bars of every configured timeframe.
pub struct QuotesToBars {
    component: PriceComponent,
    outliers: OutlierRule,
    per_instrument: usize,
    index: HashMap<Symbol, usize>,
    instruments: Vec<InstrumentState>,
    series: Vec<SeriesState>,
    counts: QuoteCounts,
}

impl std::fmt::Debug for QuotesToBars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QuotesToBars")
            .field("instruments", &self.instruments.len())
            .field("series", &self.series.len())
            .field("counts", &self.counts)
            .finish_non_exhaustive()
    }
}

impl QuotesToBars {
    /// Bars of `config`'s timeframes for each of `instruments` (a symbol given twice counts
    /// once; timeframes given twice are built once).
    #[must_use]
    pub fn new(config: &LiveBarsConfig, instruments: impl IntoIterator<Item = Instrument>) -> Self {
        let mut timeframes: Vec<Timeframe> = Vec::new();
        for tf in &config.timeframes {
            if !timeframes.contains(tf) {
                timeframes.push(*tf);
            }
        }
        let mut out = Self {
            component: config.component,
            outliers: config.outliers,
            per_instrument: timeframes.len(),
            index: HashMap::new(),
            instruments: Vec::new(),
            series: Vec::new(),
            counts: QuoteCounts::default(),
        };
        for instrument in instruments {
            if out.index.contains_key(instrument.symbol()) {
                continue;
            }
            out.index
                .insert(instrument.symbol().clone(), out.instruments.len());
            let alignment = instrument.alignment();
            for tf in &timeframes {
                out.series.push(SeriesState {
                    instrument: out.instruments.len(),
                    timeframe: *tf,
                    grid: tf.aligned(alignment),
                    forming: None,
                    end: i64::MIN,
                    closed_through: i64::MIN,
                });
            }
            out.instruments.push(InstrumentState {
                symbol: instrument.symbol().clone(),
                alignment,
                hours: Hours::new(instrument.calendar()),
                last: None,
                session_end: i64::MIN,
                recent: Recent::new(),
                suspects: VecDeque::new(),
            });
        }
        out
    }

    /// How many series there are (instruments × timeframes).
    #[must_use]
    pub fn series_count(&self) -> usize {
        self.series.len()
    }

    /// A series' symbol, timeframe and daily alignment; `None` for an id of another value.
    #[must_use]
    pub fn series(&self, id: SeriesId) -> Option<(&Symbol, Timeframe, DailyAlignment)> {
        let s = self.series.get(id.index())?;
        let inst = self.instruments.get(s.instrument)?;
        Some((&inst.symbol, s.timeframe, inst.alignment))
    }

    /// What was accepted and dropped so far.
    #[must_use]
    pub fn counts(&self) -> &QuoteCounts {
        &self.counts
    }

    /// Applies one quote: on success `out` receives, per timeframe, the bar it closed (if its
    /// time is in a later period) and the forming bar as it now is.
    ///
    /// # Errors
    /// The [`QuoteDrop`] reason when the quote is dropped (counted; nothing changes).
    pub fn on_quote(&mut self, quote: &Quote, out: &mut Vec<BarChange>) -> Result<(), QuoteDrop> {
        let result = self.apply(quote, out);
        match result {
            Ok(()) => self.counts.accepted += 1,
            Err(reason) => {
                if let Some(c) = self.counts.dropped.get_mut(reason.index()) {
                    *c += 1;
                }
            }
        }
        result
    }

    fn apply(&mut self, quote: &Quote, out: &mut Vec<BarChange>) -> Result<(), QuoteDrop> {
        let &i = self
            .index
            .get(&quote.symbol)
            .ok_or(QuoteDrop::Unconfigured)?;
        let (bid, ask) = (quote.bid, quote.ask);
        if !(bid.is_finite() && ask.is_finite() && bid > 0.0 && ask > 0.0) {
            return Err(QuoteDrop::Invalid);
        }
        if bid > ask {
            return Err(QuoteDrop::Crossed);
        }
        let t = quote.time.timestamp_millis();
        let per = self.per_instrument;
        let Some(inst) = self.instruments.get_mut(i) else {
            return Err(QuoteDrop::Unconfigured);
        };
        if let Some((lt, lb, la)) = inst.last
            && t <= lt
        {
            // Bit-for-bit the same prices: the same quote again.
            #[allow(clippy::float_cmp)]
            let same = t == lt && bid == lb && ask == la;
            return Err(if same {
                QuoteDrop::Duplicate
            } else {
                QuoteDrop::Stale
            });
        }
        let (open, session_end) = inst.hours.at(quote.time, t);
        if !open {
            return Err(QuoteDrop::MarketClosed);
        }
        let series = self
            .series
            .get_mut(i * per..(i + 1) * per)
            .unwrap_or_default();
        if series.iter().any(|s| t < s.closed_through) {
            return Err(QuoteDrop::Late);
        }
        let price = quote.price(self.component);
        if !price.is_finite() || price <= 0.0 {
            return Err(QuoteDrop::Invalid);
        }
        // A new session (the market closed since the last accepted quote) may open anywhere:
        // the recent prices start over.
        if inst.last.is_some() && t >= inst.session_end {
            inst.recent.clear();
            inst.suspects.clear();
        }
        if !believable(&self.outliers, inst, price) {
            return Err(QuoteDrop::Outlier);
        }
        inst.last = Some((t, bid, ask));
        inst.session_end = session_end;
        for (k, s) in series.iter_mut().enumerate() {
            let id = SeriesId::new(i * per + k);
            match s.forming.as_mut() {
                Some(bar) if t < s.end => {
                    bar.high = bar.high.max(price);
                    bar.low = bar.low.min(price);
                    bar.close = price;
                    bar.volume += 1.0;
                    out.push(BarChange {
                        series: id,
                        bar: *bar,
                        forming: true,
                    });
                    continue;
                }
                Some(bar) => {
                    out.push(BarChange {
                        series: id,
                        bar: *bar,
                        forming: false,
                    });
                    s.closed_through = s.end;
                    s.forming = None;
                }
                None => {}
            }
            let (Some(open), Some(end)) = (s.grid.floor_millis(t), s.grid.next_open_millis(t))
            else {
                continue;
            };
            let bar = BarValues {
                time_millis: open,
                open: price,
                high: price,
                low: price,
                close: price,
                volume: 1.0,
            };
            s.forming = Some(bar);
            s.end = end;
            out.push(BarChange {
                series: id,
                bar,
                forming: true,
            });
        }
        Ok(())
    }

    /// Closes every forming bar whose period ended at or before `t` (the timer: call it with
    /// the clock's now, less a delay for quotes in flight), appending them to `out`; from then
    /// on a quote for a period that ended by `t` is [`QuoteDrop::Late`].
    pub fn close_until(&mut self, t: DateTime<Utc>, out: &mut Vec<BarChange>) {
        let t = t.timestamp_millis();
        for (k, s) in self.series.iter_mut().enumerate() {
            if let Some(bar) = s.forming.filter(|_| s.end <= t) {
                out.push(BarChange {
                    series: SeriesId::new(k),
                    bar,
                    forming: false,
                });
                s.closed_through = s.closed_through.max(s.end);
                s.forming = None;
            }
            if let Some(open) = s.grid.floor_millis(t) {
                s.closed_through = s.closed_through.max(open);
            }
        }
    }

    /// The forming bars now (to flush on shutdown, or to seed a subscriber).
    pub fn forming(&self) -> impl Iterator<Item = BarChange> + '_ {
        self.series.iter().enumerate().filter_map(|(k, s)| {
            s.forming.map(|bar| BarChange {
                series: SeriesId::new(k),
                bar,
                forming: true,
            })
        })
    }

    /// When the next forming bar's period ends (the timer's next deadline), if one is forming.
    #[must_use]
    pub fn next_end(&self) -> Option<DateTime<Utc>> {
        self.series
            .iter()
            .filter(|s| s.forming.is_some())
            .map(|s| s.end)
            .min()
            .and_then(DateTime::from_timestamp_millis)
    }

    /// The newest accepted quote's time of `symbol`.
    #[must_use]
    pub fn last_quote(&self, symbol: &Symbol) -> Option<DateTime<Utc>> {
        let i = *self.index.get(symbol)?;
        let (t, _, _) = self.instruments.get(i)?.last?;
        DateTime::from_timestamp_millis(t)
    }
}

/// The outlier rule for one price: true to accept it (and remember it).
fn believable(rule: &OutlierRule, inst: &mut InstrumentState, price: f64) -> bool {
    if rule.window == 0 {
        return true;
    }
    if inst.recent.len() < OutlierRule::MIN_HISTORY.min(rule.window) {
        inst.recent.push(price, rule.window);
        return true;
    }
    // Within the smallest band always allowed: no need for the deviation (most quotes).
    let m = inst.recent.median();
    let within = |band: f64| (price - m).abs() <= band;
    if within(rule.min_fraction * m.abs()) {
        inst.suspects.clear();
        inst.recent.push(price, rule.window);
        return true;
    }
    let (m, mad) = inst.recent.median_and_mad();
    let band = (rule.mads * mad).max(rule.min_fraction * m.abs());
    if (price - m).abs() <= band {
        inst.suspects.clear();
        inst.recent.push(price, rule.window);
        return true;
    }
    let confirmed = inst.suspects.len() >= rule.confirm
        && inst
            .suspects
            .iter()
            .rev()
            .take(rule.confirm)
            .all(|s| (s - price).abs() <= band);
    if confirmed {
        // A new level: the recent prices start over from the quotes that made it.
        let kept = inst.suspects.len().min(rule.confirm);
        let start = inst.suspects.len() - kept;
        inst.recent.clear();
        for s in inst.suspects.drain(..).skip(start) {
            inst.recent.push(s, rule.window);
        }
        inst.recent.push(price, rule.window);
        return true;
    }
    inst.suspects.push_back(price);
    while inst.suspects.len() > rule.confirm.max(1) {
        inst.suspects.pop_front();
    }
    false
}

#[cfg(test)]
mod tests;
