//! [`OhlcvFrame`]: a columnar series of bars for one symbol and timeframe.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::bar::{Bar, BarError, check_time, check_values, millis_to_time};
use crate::calendar::MarketCalendar;
use crate::{BarAccumulator, BarValues, DailyAlignment, Grid, Symbol, TimeRange, Timeframe};

/// The columns of a frame, moved in and out of [`OhlcvFrame`] without copying.
///
/// Timestamps are bar **open** times in epoch milliseconds (UTC).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OhlcvColumns {
    /// Open times, epoch milliseconds, UTC.
    pub timestamps: Vec<i64>,
    /// Open prices.
    pub open: Vec<f64>,
    /// High prices.
    pub high: Vec<f64>,
    /// Low prices.
    pub low: Vec<f64>,
    /// Close prices.
    pub close: Vec<f64>,
    /// Volumes.
    pub volume: Vec<f64>,
}

impl OhlcvColumns {
    /// Empty columns.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            timestamps: Vec::new(),
            open: Vec::new(),
            high: Vec::new(),
            low: Vec::new(),
            close: Vec::new(),
            volume: Vec::new(),
        }
    }

    /// Empty columns with room for `n` bars.
    #[must_use]
    pub fn with_capacity(n: usize) -> Self {
        Self {
            timestamps: Vec::with_capacity(n),
            open: Vec::with_capacity(n),
            high: Vec::with_capacity(n),
            low: Vec::with_capacity(n),
            close: Vec::with_capacity(n),
            volume: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, ts: i64, o: f64, h: f64, l: f64, c: f64, v: f64) {
        self.timestamps.push(ts);
        self.open.push(o);
        self.high.push(h);
        self.low.push(l);
        self.close.push(c);
        self.volume.push(v);
    }

    fn push_values(&mut self, b: BarValues) {
        self.push(b.time_millis, b.open, b.high, b.low, b.close, b.volume);
    }

    fn extend_from(&mut self, src: &Self, lo: usize, hi: usize) {
        fn part<T>(col: &[T], lo: usize, hi: usize) -> &[T] {
            col.get(lo..hi).unwrap_or(&[])
        }
        self.timestamps
            .extend_from_slice(part(&src.timestamps, lo, hi));
        self.open.extend_from_slice(part(&src.open, lo, hi));
        self.high.extend_from_slice(part(&src.high, lo, hi));
        self.low.extend_from_slice(part(&src.low, lo, hi));
        self.close.extend_from_slice(part(&src.close, lo, hi));
        self.volume.extend_from_slice(part(&src.volume, lo, hi));
    }
}

/// Why columns or bars do not make an [`OhlcvFrame`], or why an operation on frames is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The columns differ in length.
    #[error(
        "columns differ in length: {timestamps} timestamps, {open} open, {high} high, {low} low, {close} close, {volume} volume"
    )]
    LengthMismatch {
        /// Timestamps.
        timestamps: usize,
        /// Open.
        open: usize,
        /// High.
        high: usize,
        /// Low.
        low: usize,
        /// Close.
        close: usize,
        /// Volume.
        volume: usize,
    },
    /// The bar at `index` has bad values.
    #[error("bar {index} ({time_millis} ms): {source}")]
    InvalidBar {
        /// Its position.
        index: usize,
        /// Its open time.
        time_millis: i64,
        /// What is wrong.
        #[source]
        source: BarError,
    },
    /// The timestamp at `index` is not after the one before it.
    #[error(
        "bar {index}: timestamp {time_millis} ms is not after the previous one ({previous_millis} ms)"
    )]
    NotIncreasing {
        /// Its position.
        index: usize,
        /// Its timestamp.
        time_millis: i64,
        /// The timestamp before it.
        previous_millis: i64,
    },
    /// The timestamp at `index` is not a bar open time of the frame's timeframe.
    #[error("bar {index}: timestamp {time_millis} ms is not aligned to {timeframe}")]
    Misaligned {
        /// Its position.
        index: usize,
        /// Its timestamp.
        time_millis: i64,
        /// The frame's timeframe.
        timeframe: Timeframe,
    },
    /// Two frames of one series whose daily bars start at different times were combined.
    #[error("frames of {symbol} {timeframe} differ in alignment: {left} vs {right}")]
    AlignmentMismatch {
        /// The symbol.
        symbol: Symbol,
        /// The timeframe.
        timeframe: Timeframe,
        /// The receiver's alignment.
        left: DailyAlignment,
        /// The argument's alignment.
        right: DailyAlignment,
    },
    /// Two frames of different series were combined.
    #[error("frames differ: {left_symbol} {left_timeframe} vs {right_symbol} {right_timeframe}")]
    SeriesMismatch {
        /// The receiver's symbol.
        left_symbol: Symbol,
        /// The receiver's timeframe.
        left_timeframe: Timeframe,
        /// The argument's symbol.
        right_symbol: Symbol,
        /// The argument's timeframe.
        right_timeframe: Timeframe,
    },
    /// A resample to a timeframe that the source's bars do not fit into.
    #[error("cannot resample {from} to {to}")]
    IncompatibleResample {
        /// The frame's timeframe.
        from: Timeframe,
        /// The target.
        to: Timeframe,
    },
}

/// Checks one row against every frame invariant, given the timestamp before it.
fn check_row(
    grid: Grid,
    index: usize,
    previous: Option<i64>,
    ts: i64,
    [o, h, l, c, v]: [f64; 5],
) -> Result<(), FrameError> {
    check_time(ts)
        .and_then(|()| check_values(o, h, l, c, v))
        .map_err(|source| FrameError::InvalidBar {
            index,
            time_millis: ts,
            source,
        })?;
    if !grid.is_aligned_millis(ts) {
        return Err(FrameError::Misaligned {
            index,
            time_millis: ts,
            timeframe: grid.timeframe(),
        });
    }
    match previous {
        Some(p) if ts <= p => Err(FrameError::NotIncreasing {
            index,
            time_millis: ts,
            previous_millis: p,
        }),
        _ => Ok(()),
    }
}

/// Checks that every open time is on `grid`, naming the first that is not.
fn on_grid(grid: Grid, ts: &[i64]) -> Result<(), FrameError> {
    match ts.iter().position(|&t| !grid.is_aligned_millis(t)) {
        None => Ok(()),
        Some(index) => Err(FrameError::Misaligned {
            index,
            time_millis: ts.get(index).copied().unwrap_or_default(),
            timeframe: grid.timeframe(),
        }),
    }
}

/// True when every bar's values hold the invariants: `0 < low <= min(open, close)`,
/// `max(open, close) <= high < inf`, `0 <= volume < inf` (a NaN fails every comparison).
fn values_hold(c: &OhlcvColumns) -> bool {
    c.open
        .iter()
        .zip(&c.high)
        .zip(&c.low)
        .zip(&c.close)
        .zip(&c.volume)
        .fold(true, |ok, ((((&o, &h), &l), &cl), &v)| {
            ok & (l > 0.0)
                & (l <= o)
                & (l <= cl)
                & (o <= h)
                & (cl <= h)
                & (h < f64::INFINITY)
                & (0.0..f64::INFINITY).contains(&v)
        })
}

/// True when the first and the last open time are in range (all are, when they increase).
fn in_range(ts: &[i64]) -> bool {
    match (ts.first(), ts.last()) {
        (Some(&first), Some(&last)) => check_time(first).is_ok() && check_time(last).is_ok(),
        _ => true,
    }
}

/// True when the open times are in range, strictly increasing and aligned to `grid`.
fn times_hold(grid: Grid, ts: &[i64]) -> bool {
    /// Every time a multiple of `LEN` (a constant, so the remainder is a multiplication).
    fn multiples<const LEN: i64>(ts: &[i64]) -> bool {
        ts.iter().fold(true, |ok, &t| ok & (t.rem_euclid(LEN) == 0))
    }
    if ts.is_empty() {
        return true;
    }
    let in_range = in_range(ts);
    let increasing = ts
        .windows(2)
        .fold(true, |ok, w| ok & matches!(w, [a, b] if b > a));
    let aligned = match grid.timeframe() {
        _ if grid.is_shifted() => ts.iter().all(|&t| grid.is_aligned_millis(t)),
        Timeframe::M1 => multiples::<60_000>(ts),
        Timeframe::M5 => multiples::<300_000>(ts),
        Timeframe::M15 => multiples::<900_000>(ts),
        Timeframe::M30 => multiples::<1_800_000>(ts),
        Timeframe::H1 => multiples::<3_600_000>(ts),
        Timeframe::H4 => multiples::<14_400_000>(ts),
        Timeframe::D1 => multiples::<86_400_000>(ts),
        Timeframe::W1 | Timeframe::MN1 => ts.iter().all(|&t| grid.is_aligned_millis(t)),
    };
    in_range && increasing && aligned
}

/// Builds an [`OhlcvFrame`] bar by bar, checking each bar as it is pushed, so building a large
/// frame makes one pass over the data rather than two.
///
/// ```
/// use axia_domain::{OhlcvFrame, Timeframe};
///
/// let mut b = OhlcvFrame::builder("EURUSD".parse()?, Timeframe::M1, 2);
/// b.push(0, 1.08, 1.081, 1.079, 1.0805, 12.0)?;
/// assert!(b.push(0, 1.08, 1.081, 1.079, 1.0805, 12.0).is_err()); // not after the previous
/// b.push(60_000, 1.0805, 1.0806, 1.0801, 1.0802, 9.0)?;
/// assert_eq!(b.finish().len(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use]
pub struct OhlcvFrameBuilder {
    symbol: Symbol,
    grid: Grid,
    cols: OhlcvColumns,
}

impl OhlcvFrameBuilder {
    /// The builder for a series whose daily bars start at `alignment` (default: UTC midnight).
    /// Bars pushed before are checked again.
    ///
    /// # Errors
    /// [`FrameError::Misaligned`] when a bar already pushed is off the new grid.
    pub fn aligned(mut self, alignment: DailyAlignment) -> Result<Self, FrameError> {
        self.grid = self.grid.timeframe().aligned(alignment);
        on_grid(self.grid, &self.cols.timestamps)?;
        Ok(self)
    }

    /// Appends a bar (open time in epoch milliseconds).
    ///
    /// # Errors
    /// [`FrameError`] when the bar breaks an invariant; the builder is unchanged.
    pub fn push(
        &mut self,
        time_millis: i64,
        open: f64,
        high: f64,
        low: f64,
        close: f64,
        volume: f64,
    ) -> Result<(), FrameError> {
        let index = self.cols.timestamps.len();
        let previous = self.cols.timestamps.last().copied();
        check_row(
            self.grid,
            index,
            previous,
            time_millis,
            [open, high, low, close, volume],
        )?;
        self.cols.push(time_millis, open, high, low, close, volume);
        Ok(())
    }

    /// Appends a copy of `bar` (another frame's, say).
    ///
    /// # Errors
    /// As [`OhlcvFrameBuilder::push`].
    pub fn push_bar(&mut self, bar: &Bar) -> Result<(), FrameError> {
        self.push(
            bar.time_millis(),
            bar.open(),
            bar.high(),
            bar.low(),
            bar.close(),
            bar.volume(),
        )
    }

    /// Appends a bar given as [`BarValues`] (what a [`BarAccumulator`] yields).
    ///
    /// # Errors
    /// As [`OhlcvFrameBuilder::push`].
    pub fn push_values(&mut self, b: BarValues) -> Result<(), FrameError> {
        self.push(b.time_millis, b.open, b.high, b.low, b.close, b.volume)
    }

    /// Bars pushed so far.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cols.timestamps.len()
    }

    /// True before the first push.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cols.timestamps.is_empty()
    }

    /// The frame.
    #[must_use]
    pub fn finish(self) -> OhlcvFrame {
        OhlcvFrame::trusted(self.symbol, self.grid, self.cols)
    }

    /// The frame, its newest bar labelled forming when its period has not ended at `now`
    /// (see [`OhlcvFrame::with_forming_at`]).
    #[must_use]
    pub fn finish_at(self, now: DateTime<Utc>) -> OhlcvFrame {
        self.finish().with_forming_at(now)
    }
}

/// A columnar series of bars of one symbol and one timeframe.
///
/// Invariants, held by construction:
/// - timestamps (bar **open** times, epoch milliseconds, UTC) strictly increase, so they are
///   unique, and each is aligned to the timeframe ([`Timeframe::floor`]);
/// - prices are finite and `> 0`, `low <= min(open, close) <= max(open, close) <= high`;
/// - volumes are finite and `>= 0`;
/// - only the newest bar can be labelled **forming** ([`OhlcvFrame::forming`]): captured before
///   its period ended, so its values are provisional. Every operation keeps the label on that
///   bar, and [`OhlcvFrame::closed`] drops it: a forming bar never passes for a closed one.
///
/// ```
/// use axia_domain::{Bar, OhlcvFrame, Symbol, Timeframe};
/// use chrono::{Duration, TimeZone, Utc};
///
/// let sym: Symbol = "USDJPY".parse()?;
/// let t0 = Utc.with_ymd_and_hms(2026, 1, 5, 10, 0, 0).unwrap();
/// let bars = (0..10).map(|i| {
///     let p = 150.0 + f64::from(i) * 0.01;
///     Bar::new(t0 + Duration::minutes(i.into()), p, p + 0.02, p - 0.01, p + 0.01, 10.0).unwrap()
/// });
/// let m1 = OhlcvFrame::from_bars(sym, Timeframe::M1, bars)?;
/// let m5 = m1.resample(Timeframe::M5)?;
/// assert_eq!(m5.len(), 2);
/// assert_eq!(m5.first().unwrap().volume(), 50.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct OhlcvFrame {
    symbol: Symbol,
    timeframe: Timeframe,
    /// Where the series' daily bars start; every bar is on `timeframe`'s grid under it.
    alignment: DailyAlignment,
    cols: OhlcvColumns,
    /// True when the newest bar is forming: it was captured before its period ended, so its
    /// values are provisional (see [`OhlcvFrame::forming`]). Always false for an empty frame.
    forming: bool,
}

/// Two frames are equal when they hold the same bars of the same series, the same bar
/// forming. Their alignments are compared from `H4` up; up to `H1`, where both alignments give
/// the same bars, the label is not.
impl PartialEq for OhlcvFrame {
    fn eq(&self, other: &Self) -> bool {
        self.symbol == other.symbol
            && self.timeframe == other.timeframe
            && (self.alignment == other.alignment
                || !self
                    .timeframe
                    .aligned(DailyAlignment::NewYorkClose)
                    .is_shifted())
            && self.forming == other.forming
            && self.cols == other.cols
    }
}

/// How much of a window a frame covers, measured against a market calendar.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Completeness {
    /// Bar slots in the window during which the market was open.
    pub expected: usize,
    /// Of those, the slots the frame has a bar for.
    pub present: usize,
    /// The missing slots, merged into runs.
    pub gaps: Vec<TimeRange>,
}

impl Completeness {
    /// `present / expected`, and `1.0` for a window with no expected bar.
    #[must_use]
    pub fn ratio(&self) -> f64 {
        if self.expected == 0 {
            1.0
        } else {
            // Counts of bars are far below 2^52: exact in f64.
            #[allow(clippy::cast_precision_loss)]
            let r = self.present as f64 / self.expected as f64;
            r
        }
    }

    /// True when no expected bar is missing.
    #[must_use]
    pub fn is_complete(&self) -> bool {
        self.gaps.is_empty()
    }
}

impl OhlcvFrame {
    /// A frame with no bars.
    #[must_use]
    pub fn empty(symbol: Symbol, timeframe: Timeframe) -> Self {
        Self {
            symbol,
            timeframe,
            alignment: DailyAlignment::UtcMidnight,
            cols: OhlcvColumns::default(),
            forming: false,
        }
    }

    /// A frame with no bars on `grid` (a timeframe under a daily alignment).
    #[must_use]
    pub const fn empty_on(symbol: Symbol, grid: Grid) -> Self {
        Self::trusted(symbol, grid, OhlcvColumns::new())
    }

    /// A frame from columns, checking every invariant; bars on the UTC grid.
    ///
    /// # Errors
    /// [`FrameError`] naming the first bar that breaks an invariant.
    pub fn from_columns(
        symbol: Symbol,
        timeframe: Timeframe,
        cols: OhlcvColumns,
    ) -> Result<Self, FrameError> {
        Self::from_columns_on(symbol, timeframe.aligned(DailyAlignment::UtcMidnight), cols)
    }

    /// A frame from columns on `grid` (a timeframe under a daily alignment), checking every
    /// invariant.
    ///
    /// # Errors
    /// [`FrameError`] naming the first bar that breaks an invariant.
    pub fn from_columns_on(
        symbol: Symbol,
        grid: Grid,
        cols: OhlcvColumns,
    ) -> Result<Self, FrameError> {
        Self::checked(symbol, grid, cols, true, true)
    }

    /// A frame from columns whose **values** the caller has established by construction (every
    /// price finite and above zero, `low <= open, close <= high`, every volume finite and not
    /// negative), such as a decoder whose format cannot express anything else; the lengths and
    /// the times are checked here, and debug builds check the values too. Values that break
    /// them make a frame that answers wrongly, never one that panics.
    ///
    /// # Errors
    /// [`FrameError`] naming the first bar that breaks a checked invariant.
    pub fn from_columns_with_valid_values(
        symbol: Symbol,
        grid: Grid,
        cols: OhlcvColumns,
    ) -> Result<Self, FrameError> {
        Self::checked(symbol, grid, cols, cfg!(debug_assertions), true)
    }

    /// A frame from columns whose values **and times** the caller has established by
    /// construction (the values as for [`OhlcvFrame::from_columns_with_valid_values`]; the
    /// times strictly increasing and on `grid`); only the lengths and the range of the first
    /// and last times are checked here, and debug builds check everything. Columns that break the invariants make a frame that
    /// answers wrongly, never one that panics.
    ///
    /// # Errors
    /// [`FrameError`] for columns of different lengths or times out of range (and, in debug
    /// builds, any invariant).
    pub fn from_valid_columns(
        symbol: Symbol,
        grid: Grid,
        cols: OhlcvColumns,
    ) -> Result<Self, FrameError> {
        let debug = cfg!(debug_assertions);
        Self::checked(symbol, grid, cols, debug, debug)
    }

    fn checked(
        symbol: Symbol,
        grid: Grid,
        cols: OhlcvColumns,
        check_values: bool,
        check_times: bool,
    ) -> Result<Self, FrameError> {
        let n = cols.timestamps.len();
        if [&cols.open, &cols.high, &cols.low, &cols.close, &cols.volume]
            .iter()
            .any(|c| c.len() != n)
        {
            return Err(FrameError::LengthMismatch {
                timestamps: n,
                open: cols.open.len(),
                high: cols.high.len(),
                low: cols.low.len(),
                close: cols.close.len(),
                volume: cols.volume.len(),
            });
        }
        // One branch-free pass over the columns; only a frame that fails it is walked row by
        // row, to name the first bad bar.
        let times_ok = if check_times {
            times_hold(grid, &cols.timestamps)
        } else {
            in_range(&cols.timestamps)
        };
        if !((!check_values || values_hold(&cols)) && times_ok) {
            let mut previous: Option<i64> = None;
            let rows = cols
                .timestamps
                .iter()
                .zip(&cols.open)
                .zip(&cols.high)
                .zip(&cols.low)
                .zip(&cols.close)
                .zip(&cols.volume);
            for (index, (((((&ts, &o), &h), &l), &c), &v)) in rows.enumerate() {
                check_row(grid, index, previous, ts, [o, h, l, c, v])?;
                previous = Some(ts);
            }
        }
        Ok(Self::trusted(symbol, grid, cols))
    }

    /// This frame with its daily bars starting at `alignment`. Up to `H1` that changes only the
    /// label; from `H4` every bar must be on the new grid.
    ///
    /// # Errors
    /// [`FrameError::Misaligned`] naming the first bar off the new grid.
    pub fn with_alignment(self, alignment: DailyAlignment) -> Result<Self, FrameError> {
        if alignment == self.alignment {
            return Ok(self);
        }
        on_grid(self.timeframe.aligned(alignment), &self.cols.timestamps)?;
        Ok(Self { alignment, ..self })
    }

    /// A builder with room for `capacity` bars.
    pub fn builder(symbol: Symbol, timeframe: Timeframe, capacity: usize) -> OhlcvFrameBuilder {
        OhlcvFrameBuilder {
            symbol,
            grid: timeframe.aligned(DailyAlignment::UtcMidnight),
            cols: OhlcvColumns::with_capacity(capacity),
        }
    }

    /// A frame from bars in increasing time order.
    ///
    /// # Errors
    /// [`FrameError`] when the bars are not strictly increasing or not aligned to `timeframe`.
    pub fn from_bars(
        symbol: Symbol,
        timeframe: Timeframe,
        bars: impl IntoIterator<Item = Bar>,
    ) -> Result<Self, FrameError> {
        let bars = bars.into_iter();
        let mut cols = OhlcvColumns::with_capacity(bars.size_hint().0);
        for b in bars {
            cols.push(
                b.time_millis(),
                b.open(),
                b.high(),
                b.low(),
                b.close(),
                b.volume(),
            );
        }
        Self::from_columns(symbol, timeframe, cols)
    }

    /// Builds a frame from columns known to hold the invariants (results of frame operations).
    const fn trusted(symbol: Symbol, grid: Grid, cols: OhlcvColumns) -> Self {
        Self {
            symbol,
            timeframe: grid.timeframe(),
            alignment: grid.alignment(),
            cols,
            forming: false,
        }
    }

    /// The newest bar when it is **forming**: captured before its period ended, so its values
    /// are provisional and will change. `None` when every bar is closed.
    ///
    /// A bar is closed once its period has ended: `open + length <= now`, for `D1`, `W1` and
    /// `MN1` the end of that day, week or month ([`Timeframe::is_closed_at`]). A bar labelled
    /// forming stays labelled after its period ends until a closed copy replaces it, because
    /// its values are still the snapshot taken while it formed.
    ///
    /// ```
    /// use axia_domain::{OhlcvFrame, Timeframe};
    /// use chrono::{TimeZone, Utc};
    ///
    /// let mut b = OhlcvFrame::builder("EURUSD".parse()?, Timeframe::H1, 2);
    /// b.push(0, 1.08, 1.081, 1.079, 1.0805, 12.0)?;
    /// b.push(3_600_000, 1.0805, 1.0806, 1.0801, 1.0802, 9.0)?;
    /// // At 01:30 the 01:00 bar is still forming.
    /// let f = b.finish_at(Utc.timestamp_opt(5_400, 0).unwrap());
    /// assert_eq!(f.forming().map(|b| b.time_millis()), Some(3_600_000));
    /// assert_eq!(f.closed().len(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn forming(&self) -> Option<Bar> {
        if self.forming { self.last() } else { None }
    }

    /// The open time of the forming bar, epoch milliseconds (see [`OhlcvFrame::forming`]).
    #[must_use]
    pub fn forming_millis(&self) -> Option<i64> {
        self.cols
            .timestamps
            .last()
            .copied()
            .filter(|_| self.forming)
    }

    /// This frame with its newest bar labelled forming when that bar's period has not ended at
    /// `now`. A label already set stays.
    #[must_use]
    pub fn with_forming_at(mut self, now: DateTime<Utc>) -> Self {
        if let Some(&last) = self.cols.timestamps.last() {
            self.forming |= !self
                .grid()
                .is_closed_at_millis(last, now.timestamp_millis());
        }
        self
    }

    /// This frame with its newest bar labelled forming (`true`) or closed (`false`), whatever
    /// the time: for adapters restoring a label they stored. No effect on an empty frame.
    #[must_use]
    pub fn with_forming(mut self, forming: bool) -> Self {
        self.forming = forming && !self.is_empty();
        self
    }

    /// The closed bars: this frame without its forming bar.
    #[must_use]
    pub fn closed(&self) -> Self {
        let n = self.len() - usize::from(self.forming);
        self.sub(0, n)
    }

    /// The bars closed at `now`: without the forming bar, and without any bar whose period has
    /// not ended at `now`.
    #[must_use]
    pub fn closed_at(&self, now: DateTime<Utc>) -> Self {
        let now_ms = now.timestamp_millis();
        let grid = self.grid();
        let mut n = self
            .cols
            .timestamps
            .partition_point(|&t| grid.is_closed_at_millis(t, now_ms));
        if self.forming && n == self.len() {
            n -= 1;
        }
        self.sub(0, n)
    }

    /// The symbol.
    #[must_use]
    pub const fn symbol(&self) -> &Symbol {
        &self.symbol
    }

    /// The timeframe.
    #[must_use]
    pub const fn timeframe(&self) -> Timeframe {
        self.timeframe
    }

    /// Where the series' daily bars start (UTC midnight unless set).
    #[must_use]
    pub const fn alignment(&self) -> DailyAlignment {
        self.alignment
    }

    /// The bar grid: the timeframe under the alignment.
    #[must_use]
    pub const fn grid(&self) -> Grid {
        self.timeframe.aligned(self.alignment)
    }

    /// The number of bars.
    #[must_use]
    pub fn len(&self) -> usize {
        self.cols.timestamps.len()
    }

    /// True when there is no bar.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.cols.timestamps.is_empty()
    }

    /// The columns, read-only.
    #[must_use]
    pub const fn columns(&self) -> &OhlcvColumns {
        &self.cols
    }

    /// The columns, by value.
    #[must_use]
    pub fn into_columns(self) -> OhlcvColumns {
        self.cols
    }

    /// The open times, epoch milliseconds.
    #[must_use]
    pub fn timestamps_millis(&self) -> &[i64] {
        &self.cols.timestamps
    }

    /// The bar at `index`.
    #[must_use]
    pub fn get(&self, index: usize) -> Option<Bar> {
        let c = &self.cols;
        Some(Bar::from_parts(
            *c.timestamps.get(index)?,
            *c.open.get(index)?,
            *c.high.get(index)?,
            *c.low.get(index)?,
            *c.close.get(index)?,
            *c.volume.get(index)?,
        ))
    }

    /// The oldest bar.
    #[must_use]
    pub fn first(&self) -> Option<Bar> {
        self.get(0)
    }

    /// The newest bar.
    #[must_use]
    pub fn last(&self) -> Option<Bar> {
        self.get(self.len().checked_sub(1)?)
    }

    /// The oldest bar's open time.
    #[must_use]
    pub fn first_time(&self) -> Option<DateTime<Utc>> {
        self.cols.timestamps.first().map(|&t| millis_to_time(t))
    }

    /// The newest bar's open time.
    #[must_use]
    pub fn last_time(&self) -> Option<DateTime<Utc>> {
        self.cols.timestamps.last().map(|&t| millis_to_time(t))
    }

    /// The bars, oldest first.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = Bar> + '_ {
        let c = &self.cols;
        c.timestamps
            .iter()
            .zip(&c.open)
            .zip(&c.high)
            .zip(&c.low)
            .zip(&c.close)
            .zip(&c.volume)
            .map(|(((((&t, &o), &h), &l), &cl), &v)| Bar::from_parts(t, o, h, l, cl, v))
    }

    fn index_at_or_after(&self, ms: i64) -> usize {
        self.cols.timestamps.partition_point(|&t| t < ms)
    }

    fn sub(&self, lo: usize, hi: usize) -> Self {
        let mut cols = OhlcvColumns::with_capacity(hi.saturating_sub(lo));
        cols.extend_from(&self.cols, lo, hi);
        let keeps_last = hi >= self.len() && lo < hi;
        Self::trusted(self.symbol.clone(), self.grid(), cols)
            .with_forming(self.forming && keeps_last)
    }

    /// The bars whose open time is in `range`.
    #[must_use]
    pub fn slice(&self, range: TimeRange) -> Self {
        let lo = self.index_at_or_after(range.start_millis());
        let hi = self.index_at_or_after(range.end_millis()).max(lo);
        self.sub(lo, hi)
    }

    /// As [`OhlcvFrame::slice`], reusing this frame's memory (no copy when `range` covers it).
    #[must_use]
    pub fn into_slice(mut self, range: TimeRange) -> Self {
        let lo = self.index_at_or_after(range.start_millis());
        let hi = self.index_at_or_after(range.end_millis()).max(lo);
        if lo == 0 && hi == self.len() {
            return self;
        }
        self.forming &= hi >= self.len() && lo < hi;
        let c = &mut self.cols;
        c.timestamps.truncate(hi);
        c.timestamps.drain(..lo);
        for col in [
            &mut c.open,
            &mut c.high,
            &mut c.low,
            &mut c.close,
            &mut c.volume,
        ] {
            col.truncate(hi);
            col.drain(..lo);
        }
        self
    }

    /// The bars that open at or after `since`.
    #[must_use]
    pub fn keep_since(&self, since: DateTime<Utc>) -> Self {
        self.sub(self.index_at_or_after(since.timestamp_millis()), self.len())
    }

    /// The newest `n` bars.
    #[must_use]
    pub fn last_n(&self, n: usize) -> Self {
        self.sub(self.len().saturating_sub(n), self.len())
    }

    fn check_same_series(&self, other: &Self) -> Result<(), FrameError> {
        if self.symbol == other.symbol && self.timeframe == other.timeframe {
            // Up to H1 both alignments give the same bars: only the label differs.
            let same_bars = !self
                .timeframe
                .aligned(DailyAlignment::NewYorkClose)
                .is_shifted();
            if self.alignment == other.alignment || same_bars || self.is_empty() || other.is_empty()
            {
                return Ok(());
            }
            Err(FrameError::AlignmentMismatch {
                symbol: self.symbol.clone(),
                timeframe: self.timeframe,
                left: self.alignment,
                right: other.alignment,
            })
        } else {
            Err(FrameError::SeriesMismatch {
                left_symbol: self.symbol.clone(),
                left_timeframe: self.timeframe,
                right_symbol: other.symbol.clone(),
                right_timeframe: other.timeframe,
            })
        }
    }

    /// Upserts `incoming` into this frame by timestamp: the union of both, and where both have a
    /// bar for the same open time, `incoming`'s bar wins.
    ///
    /// The forming label follows the newest bar: it is forming when the frame it came from said
    /// so. A forming bar that newer bars of the other frame overtake is not kept as if it were
    /// closed: this frame's forming bar is dropped when `incoming` has newer bars and does not
    /// replace it (its slot becomes a gap to fill again), and `incoming`'s forming bar is not
    /// taken when this frame already has newer bars (this frame's bar at that time, if any,
    /// stays).
    ///
    /// An empty frame takes the other's alignment. Up to `H1`, where both alignments give the
    /// same bars, frames labelled with different alignments merge and the result keeps this
    /// frame's label.
    ///
    /// # Errors
    /// [`FrameError::SeriesMismatch`] when the frames are of another symbol or timeframe;
    /// [`FrameError::AlignmentMismatch`] when both hold bars of `H4` or longer and their daily
    /// bars start at different times (mixing two alignments in one series is refused).
    pub fn merge(&self, incoming: &Self) -> Result<Self, FrameError> {
        self.check_same_series(incoming)?;
        if let Some(stale) = self.forming_millis()
            && incoming.cols.timestamps.last().is_some_and(|&t| t > stale)
            && incoming.cols.timestamps.binary_search(&stale).is_err()
        {
            return self.closed().merge(incoming);
        }
        if let Some(stale) = incoming.forming_millis()
            && self.cols.timestamps.last().is_some_and(|&t| t > stale)
        {
            return self.merge(&incoming.closed());
        }
        let newest_from_incoming =
            match (self.cols.timestamps.last(), incoming.cols.timestamps.last()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(a), Some(b)) => b >= a,
            };
        let forming = if newest_from_incoming {
            incoming.forming
        } else {
            self.forming
        };
        let grid = if self.is_empty() {
            incoming.grid()
        } else {
            self.grid()
        };
        let (a, b) = (&self.cols, &incoming.cols);
        let mut out = OhlcvColumns::with_capacity(a.timestamps.len() + b.timestamps.len());
        let (na, nb) = (a.timestamps.len(), b.timestamps.len());
        let (mut i, mut j) = (0, 0);
        while i < na || j < nb {
            // The run of existing bars strictly before the next incoming bar.
            let a_end = match b.timestamps.get(j) {
                Some(&tb) => {
                    i + a
                        .timestamps
                        .get(i..)
                        .unwrap_or(&[])
                        .partition_point(|&t| t < tb)
                }
                None => na,
            };
            out.extend_from(a, i, a_end);
            i = a_end;
            // The run of incoming bars up to and including the next existing bar's time.
            let b_end = match a.timestamps.get(i) {
                Some(&ta) => {
                    j + b
                        .timestamps
                        .get(j..)
                        .unwrap_or(&[])
                        .partition_point(|&t| t <= ta)
                }
                None => nb,
            };
            out.extend_from(b, j, b_end);
            // An existing bar replaced by an incoming one is skipped.
            if b_end > j
                && a.timestamps.get(i).is_some()
                && b.timestamps.get(b_end - 1) == a.timestamps.get(i)
            {
                i += 1;
            }
            j = b_end;
        }
        Ok(Self::trusted(self.symbol.clone(), grid, out).with_forming(forming))
    }

    /// Aggregates the bars into bars of the coarser `target`: open of the first, highest high,
    /// lowest low, close of the last, summed volume, stamped with the target bar's open time.
    ///
    /// A target bar is built from whatever source bars it has: a still-forming or partly missing
    /// period gives a bar from the bars present (use [`OhlcvFrame::completeness`] to tell). The
    /// newest target bar is forming when the newest source bar is; a target bar whose period
    /// has not ended yet is labelled by [`OhlcvFrame::with_forming_at`].
    ///
    /// # Errors
    /// [`FrameError::IncompatibleResample`] unless `self.timeframe().can_resample_to(target)`.
    pub fn resample(&self, target: Timeframe) -> Result<Self, FrameError> {
        if !self.timeframe.can_resample_to(target) {
            return Err(FrameError::IncompatibleResample {
                from: self.timeframe,
                to: target,
            });
        }
        let mut out = OhlcvColumns::default();
        let grid = target.aligned(self.alignment);
        let mut acc = BarAccumulator::on(grid);
        for bar in self.iter() {
            if let Some(done) = acc.add(BarValues {
                time_millis: bar.time_millis(),
                open: bar.open(),
                high: bar.high(),
                low: bar.low(),
                close: bar.close(),
                volume: bar.volume(),
            }) {
                out.push_values(done);
            }
        }
        if let Some(done) = acc.finish() {
            out.push_values(done);
        }
        Ok(Self::trusted(self.symbol.clone(), grid, out).with_forming(self.forming))
    }

    /// Measures how much of `range` the frame covers: the bar slots that open inside `range`
    /// during which `calendar` has the market open, which of them have a bar, and the runs of
    /// missing ones. A closed market (an FX weekend) is not a gap.
    #[must_use]
    pub fn completeness(&self, calendar: &dyn MarketCalendar, range: TimeRange) -> Completeness {
        let tf = self.grid();
        let (start, end) = (range.start_millis(), range.end_millis());
        let mut result = Completeness {
            expected: 0,
            present: 0,
            gaps: Vec::new(),
        };
        // The first slot that opens in the range.
        let mut slot = match tf.floor_millis(start) {
            Some(f) if f == start => Some(f),
            _ => tf.next_open_millis(start),
        };
        let mut gap: Option<(i64, i64)> = None;
        let mut j = self.index_at_or_after(start);
        // Walk the calendar's open stretches, not every slot: a slot is expected when it overlaps
        // a stretch, and consecutive slots inside one stretch need no calendar call.
        while let Some(open_at) = slot.filter(|&o| o < end) {
            let Some(next) = tf.next_open_millis(open_at) else {
                break;
            };
            let stretch_open = calendar
                .next_open(millis_to_time(open_at))
                .timestamp_millis();
            if stretch_open >= next {
                // Closed for this whole slot: jump to the slot holding the reopening.
                slot = tf.floor_millis(stretch_open).map(|f| f.max(next));
                continue;
            }
            let stretch_close = calendar
                .next_close(millis_to_time(stretch_open))
                .timestamp_millis()
                .max(next);
            // Every slot from here that opens before the stretch closes (and in range) is expected.
            let mut o = open_at;
            let limit = end.min(stretch_close);
            // Fast path for fixed-length bars: the frame's bars are aligned and unique, so when
            // as many of them fall in the stretch's slots as there are slots, all are present.
            if let Some(len) = self.timeframe.fixed_millis().filter(|_| !tf.is_shifted()) {
                let slots = limit.saturating_sub(o).saturating_add(len - 1) / len;
                let stop = o.saturating_add(slots.saturating_mul(len));
                let hi = j + self
                    .cols
                    .timestamps
                    .get(j..)
                    .unwrap_or(&[])
                    .partition_point(|&t| t < stop);
                let lo = j + self
                    .cols
                    .timestamps
                    .get(j..hi)
                    .unwrap_or(&[])
                    .partition_point(|&t| t < o);
                if usize::try_from(slots).is_ok_and(|k| k == hi - lo) {
                    result.expected += hi - lo;
                    result.present += hi - lo;
                    j = hi;
                    slot = Some(stop);
                    continue;
                }
            }
            while o < end && o < stretch_close {
                let Some(n) = tf.next_open_millis(o) else {
                    break;
                };
                result.expected += 1;
                while self.cols.timestamps.get(j).is_some_and(|&t| t < o) {
                    j += 1;
                }
                if self.cols.timestamps.get(j) == Some(&o) {
                    result.present += 1;
                } else {
                    gap = match gap {
                        Some((s, e)) if e == o => Some((s, n)),
                        Some((s, e)) => {
                            push_gap(&mut result.gaps, s, e);
                            Some((o, n))
                        }
                        None => Some((o, n)),
                    };
                }
                o = n;
            }
            slot = Some(o);
        }
        if let Some((s, e)) = gap {
            push_gap(&mut result.gaps, s, e);
        }
        result
    }

    /// The runs of missing bars in `range`; see [`OhlcvFrame::completeness`].
    #[must_use]
    pub fn gaps(&self, calendar: &dyn MarketCalendar, range: TimeRange) -> Vec<TimeRange> {
        self.completeness(calendar, range).gaps
    }
}

fn push_gap(gaps: &mut Vec<TimeRange>, start: i64, end: i64) {
    if let Ok(r) = TimeRange::new(millis_to_time(start), millis_to_time(end)) {
        gaps.push(r);
    }
}

impl<'a> IntoIterator for &'a OhlcvFrame {
    type Item = Bar;
    type IntoIter = Box<dyn ExactSizeIterator<Item = Bar> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use chrono::{Duration, TimeZone};
    use proptest::prelude::*;

    use super::*;
    use crate::{AlwaysOpen, FxCalendar, bar::Field};

    fn sym() -> Symbol {
        "USDJPY".parse().unwrap()
    }

    fn t(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn bar(ms: i64, p: f64) -> Bar {
        Bar::new(millis_to_time(ms), p, p + 0.5, p - 0.5, p + 0.25, 10.0).unwrap()
    }

    fn m1_frame(start: DateTime<Utc>, n: i64) -> OhlcvFrame {
        let s = start.timestamp_millis();
        OhlcvFrame::from_bars(
            sym(),
            Timeframe::M1,
            (0..n).map(|i| bar(s + i * 60_000, 150.0 + i as f64 * 0.01)),
        )
        .unwrap()
    }

    fn cols(ts: Vec<i64>) -> OhlcvColumns {
        let n = ts.len();
        OhlcvColumns {
            timestamps: ts,
            open: vec![1.0; n],
            high: vec![2.0; n],
            low: vec![0.5; n],
            close: vec![1.5; n],
            volume: vec![0.0; n],
        }
    }

    #[test]
    fn construction_enforces_every_invariant() {
        let tf = Timeframe::M1;
        let base = t(2026, 1, 5, 0, 0).timestamp_millis();
        assert!(OhlcvFrame::from_columns(sym(), tf, cols(vec![base, base + 60_000])).is_ok());

        let mut c = cols(vec![base]);
        c.volume.clear();
        assert!(matches!(
            OhlcvFrame::from_columns(sym(), tf, c),
            Err(FrameError::LengthMismatch { volume: 0, .. })
        ));
        assert!(matches!(
            OhlcvFrame::from_columns(sym(), tf, cols(vec![base, base])),
            Err(FrameError::NotIncreasing { index: 1, .. })
        ));
        assert!(matches!(
            OhlcvFrame::from_columns(sym(), tf, cols(vec![base + 60_000, base])),
            Err(FrameError::NotIncreasing { index: 1, .. })
        ));
        assert!(matches!(
            OhlcvFrame::from_columns(sym(), tf, cols(vec![base + 1_000])),
            Err(FrameError::Misaligned { index: 0, .. })
        ));
        let bad = |f: fn(&mut OhlcvColumns)| {
            let mut c = cols(vec![base]);
            f(&mut c);
            OhlcvFrame::from_columns(sym(), tf, c)
        };
        assert!(matches!(
            bad(|c| c.open[0] = f64::NAN),
            Err(FrameError::InvalidBar {
                source: BarError::NotFinite { field: Field::Open },
                ..
            })
        ));
        assert!(matches!(
            bad(|c| c.high[0] = f64::INFINITY),
            Err(FrameError::InvalidBar {
                source: BarError::NotFinite { .. },
                ..
            })
        ));
        assert!(matches!(
            bad(|c| c.low[0] = 0.0),
            Err(FrameError::InvalidBar {
                source: BarError::NonPositivePrice {
                    field: Field::Low,
                    ..
                },
                ..
            })
        ));
        assert!(matches!(
            bad(|c| c.high[0] = 0.9),
            Err(FrameError::InvalidBar {
                source: BarError::Inconsistent { .. },
                ..
            })
        ));
        assert!(matches!(
            bad(|c| c.close[0] = 0.4),
            Err(FrameError::InvalidBar {
                source: BarError::Inconsistent { .. },
                ..
            })
        ));
        assert!(matches!(
            bad(|c| c.volume[0] = -1.0),
            Err(FrameError::InvalidBar {
                source: BarError::NegativeVolume(_),
                ..
            })
        ));
        assert!(matches!(
            bad(|c| c.timestamps[0] = MAX_TIME_MILLIS_FOR_TEST),
            Err(FrameError::InvalidBar {
                source: BarError::TimeOutOfRange(_),
                ..
            })
        ));
    }

    const MAX_TIME_MILLIS_FOR_TEST: i64 = crate::MAX_TIME_MILLIS;

    #[test]
    fn slicing_by_open_time() {
        let f = m1_frame(t(2026, 1, 5, 10, 0), 60);
        let r = TimeRange::new(t(2026, 1, 5, 10, 10), t(2026, 1, 5, 10, 20)).unwrap();
        let s = f.slice(r);
        assert_eq!(s.len(), 10);
        assert_eq!(s.first_time(), Some(t(2026, 1, 5, 10, 10)));
        assert_eq!(s.last_time(), Some(t(2026, 1, 5, 10, 19)));
        assert_eq!(f.keep_since(t(2026, 1, 5, 10, 55)).len(), 5);
        assert_eq!(f.keep_since(t(2026, 1, 5, 9, 0)).len(), 60);
        assert_eq!(f.last_n(3).first_time(), Some(t(2026, 1, 5, 10, 57)));
        assert_eq!(f.last_n(100).len(), 60);
        assert!(
            f.slice(TimeRange::new(t(2026, 1, 6, 0, 0), t(2026, 1, 7, 0, 0)).unwrap())
                .is_empty()
        );
        assert_eq!(f.iter().len(), 60);
        assert_eq!(f.get(59), f.last());
        assert_eq!(f.get(60), None);
    }

    #[test]
    fn merge_refuses_another_series() {
        let a = m1_frame(t(2026, 1, 5, 10, 0), 2);
        let b = OhlcvFrame::empty("EURUSD".parse().unwrap(), Timeframe::M1);
        assert!(matches!(
            a.merge(&b),
            Err(FrameError::SeriesMismatch { .. })
        ));
        let c = OhlcvFrame::empty(sym(), Timeframe::M5);
        assert!(matches!(
            a.merge(&c),
            Err(FrameError::SeriesMismatch { .. })
        ));
    }

    #[test]
    fn resample_refuses_incompatible_targets() {
        let f = m1_frame(t(2026, 1, 5, 10, 0), 2)
            .resample(Timeframe::W1)
            .unwrap();
        assert!(matches!(
            f.resample(Timeframe::MN1),
            Err(FrameError::IncompatibleResample {
                from: Timeframe::W1,
                to: Timeframe::MN1
            })
        ));
        assert!(f.resample(Timeframe::D1).is_err());
    }

    #[test]
    fn completeness_skips_the_fx_weekend_and_finds_gaps() {
        // Friday 2026-01-09 18:00 UTC to Monday 2026-01-12 02:00 UTC, H1. Winter: closes Friday
        // 22:00 UTC, reopens Sunday 22:00 UTC. Expected slots: Fri 18..22 (4), Sun 22..Mon 02 (4).
        let start = t(2026, 1, 9, 18, 0);
        let range = TimeRange::new(start, t(2026, 1, 12, 2, 0)).unwrap();
        let hours = [18, 19, 21]; // Friday 20:00 missing
        let mut bars: Vec<Bar> = hours
            .iter()
            .map(|&h| bar(t(2026, 1, 9, h, 0).timestamp_millis(), 150.0))
            .collect();
        bars.extend([22, 23].map(|h| bar(t(2026, 1, 11, h, 0).timestamp_millis(), 151.0)));
        bars.push(bar(t(2026, 1, 12, 1, 0).timestamp_millis(), 151.0)); // Monday 00:00 missing
        let f = OhlcvFrame::from_bars(sym(), Timeframe::H1, bars).unwrap();
        let c = f.completeness(&FxCalendar, range);
        assert_eq!(c.expected, 8);
        assert_eq!(c.present, 6);
        assert_eq!(
            c.gaps,
            vec![
                TimeRange::new(t(2026, 1, 9, 20, 0), t(2026, 1, 9, 21, 0)).unwrap(),
                TimeRange::new(t(2026, 1, 12, 0, 0), t(2026, 1, 12, 1, 0)).unwrap(),
            ]
        );
        assert!((c.ratio() - 0.75).abs() < 1e-12);
        // Unaligned start: the first slot is the next bar open.
        let r2 = TimeRange::new(t(2026, 1, 9, 18, 30), t(2026, 1, 9, 20, 0)).unwrap();
        assert_eq!(f.completeness(&FxCalendar, r2).expected, 1);
        // Always open: 56 hourly slots, 6 present, one run of gaps from Friday 20:00 merged.
        let all = f.completeness(&AlwaysOpen, range);
        assert_eq!((all.expected, all.present), (56, 6));
    }

    /// Every FX minute of the weeks around a DST change, as a NY-close M1 frame.
    fn fx_minutes(first_sunday: DateTime<Utc>, weeks: i64) -> OhlcvFrame {
        let ny = DailyAlignment::NewYorkClose;
        let mut b = OhlcvFrame::builder(sym(), Timeframe::M1, 0)
            .aligned(ny)
            .unwrap();
        let end = first_sunday + Duration::weeks(weeks);
        let mut m = first_sunday;
        let mut i = 0_i64;
        while m < end {
            if FxCalendar.is_open(m) {
                let p = 150.0 + (i % 97) as f64 * 0.01;
                b.push(m.timestamp_millis(), p, p + 0.02, p - 0.01, p + 0.01, 1.0)
                    .unwrap();
            }
            i += 1;
            m += Duration::minutes(1);
        }
        b.finish()
    }

    #[test]
    fn new_york_close_frames_resample_and_measure_on_their_own_grid() {
        let ny = DailyAlignment::NewYorkClose;
        // The weeks around the spring change of 2026 (Sunday 2026-03-08) and the autumn one.
        for first_sunday in [t(2026, 3, 1, 0, 0), t(2026, 10, 25, 0, 0)] {
            let m1 = fx_minutes(first_sunday, 2);
            let range = TimeRange::new(first_sunday, first_sunday + Duration::weeks(2)).unwrap();
            let d1 = m1.resample(Timeframe::D1).unwrap();
            assert_eq!(d1.alignment(), ny);
            // Five daily bars a week, each from 17:00 New York, holding 1,440 minutes.
            assert_eq!(d1.len(), 10, "{first_sunday}");
            for b in d1.iter() {
                let local = b.time().with_timezone(&chrono_tz::America::New_York);
                assert_eq!(local.format("%H:%M").to_string(), "17:00");
                assert_eq!(b.volume(), 1_440.0, "{}", b.time());
            }
            let c = d1.completeness(&FxCalendar, range);
            assert_eq!((c.expected, c.present), (10, 10), "{first_sunday}");
            let h4 = m1.resample(Timeframe::H4).unwrap();
            assert_eq!(h4.len(), 60);
            assert!(h4.iter().all(|b| b.volume() == 240.0));
            assert_eq!(h4.completeness(&FxCalendar, range).expected, 60);
            assert_eq!(h4.resample(Timeframe::D1).unwrap(), d1);
            let w1 = d1.resample(Timeframe::W1).unwrap();
            assert_eq!(w1.len(), 2);
            assert!(w1.iter().all(|b| b.volume() == 5.0 * 1_440.0));
            // A day missing from the frame is one gap of one trading day.
            let wed = d1.get(2).unwrap().time();
            let holed = OhlcvFrame::from_columns_on(sym(), Timeframe::D1.aligned(ny), {
                let mut c = OhlcvColumns::default();
                for b in d1.iter().filter(|b| b.time() != wed) {
                    c.push(
                        b.time_millis(),
                        b.open(),
                        b.high(),
                        b.low(),
                        b.close(),
                        b.volume(),
                    );
                }
                c
            })
            .unwrap();
            let c = holed.completeness(&FxCalendar, range);
            assert_eq!(c.gaps.len(), 1);
            assert_eq!(c.gaps[0].start(), wed);
            assert_eq!(c.gaps[0].end(), Timeframe::D1.aligned(ny).next_open(wed));
        }
    }

    #[test]
    fn mixing_two_alignments_in_one_series_is_refused() {
        let ny = DailyAlignment::NewYorkClose;
        let m1 = fx_minutes(t(2026, 3, 1, 0, 0), 2);
        let ny_d1 = m1.resample(Timeframe::D1).unwrap();
        let utc_m1 = m1
            .clone()
            .with_alignment(DailyAlignment::UtcMidnight)
            .unwrap();
        let utc_d1 = utc_m1.resample(Timeframe::D1).unwrap();
        assert_ne!(ny_d1.first_time(), utc_d1.first_time());
        assert!(matches!(
            ny_d1.merge(&utc_d1),
            Err(FrameError::AlignmentMismatch { .. })
        ));
        // Up to H1 the bars are the same under both: they merge, under this frame's label.
        let merged = m1.merge(&utc_m1).unwrap();
        assert_eq!(merged.alignment(), ny);
        assert_eq!(merged.timestamps_millis(), m1.timestamps_millis());
        assert_eq!(
            utc_m1.merge(&m1).unwrap().alignment(),
            DailyAlignment::UtcMidnight
        );
        let h4 = m1.resample(Timeframe::H4).unwrap();
        assert!(matches!(
            h4.merge(&utc_m1.resample(Timeframe::H4).unwrap()),
            Err(FrameError::AlignmentMismatch { .. })
        ));
        // An empty frame takes the other's alignment.
        let merged = OhlcvFrame::empty(sym(), Timeframe::D1)
            .merge(&ny_d1)
            .unwrap();
        assert_eq!(merged.alignment(), ny);
        // NY bars are not on the UTC grid, and the reverse.
        assert!(
            ny_d1
                .clone()
                .with_alignment(DailyAlignment::UtcMidnight)
                .is_err()
        );
        assert!(utc_d1.with_alignment(ny).is_err());
        assert!(
            OhlcvFrame::from_columns(sym(), Timeframe::D1, ny_d1.clone().into_columns()).is_err()
        );
        // Which bars are closed follows the grid: at 23:00 UTC on a summer Tuesday the day that
        // opened at 21:00 UTC is forming.
        let at = t(2026, 3, 10, 23, 0);
        let f = ny_d1
            .slice(TimeRange::new(t(2026, 3, 1, 0, 0), at).unwrap())
            .with_forming_at(at);
        assert_eq!(f.forming().map(|b| b.time()), Some(t(2026, 3, 10, 21, 0)));
    }

    #[test]
    fn a_holiday_expects_no_bars() {
        let nyse = crate::SessionCalendar::new_york();
        let empty = OhlcvFrame::empty(sym(), Timeframe::H1);
        let day = |d| TimeRange::new(t(2026, 1, d, 0, 0), t(2026, 1, d + 1, 0, 0)).unwrap();
        // Martin Luther King Jr. Day 2026: nothing expected, so nothing missing.
        let holiday = empty.completeness(&nyse, day(19));
        assert_eq!((holiday.expected, holiday.present), (0, 0));
        assert!(holiday.gaps.is_empty());
        // The next day: 09:30 - 16:00 EST is 14:30 - 21:00 UTC, seven H1 slots from 14:00.
        let tuesday = empty.completeness(&nyse, day(20));
        assert_eq!(tuesday.expected, 7);
        assert_eq!(
            tuesday.gaps,
            vec![TimeRange::new(t(2026, 1, 20, 14, 0), t(2026, 1, 20, 21, 0)).unwrap()]
        );
    }

    // ---- property tests -----------------------------------------------------------------

    /// Compares `completeness` with a walk over every H1 slot, gaps included.
    fn check_completeness(f: &OhlcvFrame, len_h: i64, offset_m: i64) -> Result<(), TestCaseError> {
        let start = t(2026, 1, 5, 0, 0) + Duration::minutes(offset_m);
        let range = TimeRange::new(start, start + Duration::hours(len_h)).unwrap();
        let tokyo = crate::SessionCalendar::tokyo();
        // From 2026-01-05 over up to 400 h: Martin Luther King Jr. Day (01-19) closes New York.
        let new_york = crate::SessionCalendar::new_york();
        let calendars: [&dyn MarketCalendar; 4] = [&FxCalendar, &tokyo, &new_york, &AlwaysOpen];
        for cal in calendars {
            let c = f.completeness(cal, range);
            let mut expected = 0;
            let mut present = 0;
            let mut gaps: Vec<TimeRange> = Vec::new();
            let mut slot = Timeframe::H1.floor(start);
            if slot < start {
                slot += Duration::hours(1);
            }
            while slot < range.end() {
                let next = slot + Duration::hours(1);
                if cal.is_open_during(TimeRange::new(slot, next).unwrap()) {
                    expected += 1;
                    if f.timestamps_millis().contains(&slot.timestamp_millis()) {
                        present += 1;
                    } else if let Some(g) = gaps.last_mut().filter(|g| g.end() == slot) {
                        *g = TimeRange::new(g.start(), next).unwrap();
                    } else {
                        gaps.push(TimeRange::new(slot, next).unwrap());
                    }
                }
                slot = next;
            }
            prop_assert_eq!((c.expected, c.present), (expected, present), "{:?}", cal);
            prop_assert_eq!(&c.gaps, &gaps, "{:?}", cal);
        }
        Ok(())
    }

    /// A valid frame of `tf` with random holes, starting near 2026-01-05.
    fn arb_frame(tf: Timeframe, max_len: usize) -> impl Strategy<Value = OhlcvFrame> {
        let step = tf.fixed_millis().unwrap_or(31 * 86_400_000);
        prop::collection::vec(
            (
                1i64..4,
                1.0f64..200.0,
                0.0f64..1.0,
                0.0f64..1.0,
                0.0f64..1.0,
                0.0f64..1e6,
            ),
            0..max_len,
        )
        .prop_map(move |rows| {
            let mut ts = t(2026, 1, 5, 0, 0).timestamp_millis();
            let mut bars = Vec::new();
            for (skip, low, span, o, c, v) in rows {
                ts = tf.floor_millis(ts + skip * step).unwrap();
                let high = low + span * low * 0.01;
                let open = low + o * (high - low);
                let close = low + c * (high - low);
                bars.push(Bar::new(millis_to_time(ts), open, high, low, close, v).unwrap());
            }
            OhlcvFrame::from_bars(sym(), tf, bars).unwrap()
        })
    }

    fn assert_invariants(f: &OhlcvFrame) {
        let again =
            OhlcvFrame::from_columns(f.symbol().clone(), f.timeframe(), f.columns().clone())
                .map(|g| g.with_forming(f.forming().is_some()));
        assert_eq!(
            again.as_ref(),
            Ok(f),
            "a frame operation broke an invariant"
        );
    }

    /// Merge by a map: insert existing, then incoming (overwriting).
    fn naive_merge(a: &OhlcvFrame, b: &OhlcvFrame) -> Vec<Bar> {
        let mut m = BTreeMap::new();
        for x in a.iter().chain(b.iter()) {
            m.insert(x.time_millis(), x);
        }
        m.into_values().collect()
    }

    /// Resample by grouping on the target's floor.
    fn naive_resample(f: &OhlcvFrame, to: Timeframe) -> Vec<(i64, f64, f64, f64, f64, f64)> {
        let mut groups: BTreeMap<i64, Vec<Bar>> = BTreeMap::new();
        for b in f.iter() {
            groups
                .entry(to.floor_millis(b.time_millis()).unwrap())
                .or_default()
                .push(b);
        }
        groups
            .into_iter()
            .map(|(k, g)| {
                let high = g.iter().map(Bar::high).fold(f64::MIN, f64::max);
                let low = g.iter().map(Bar::low).fold(f64::MAX, f64::min);
                let vol: f64 = g.iter().map(Bar::volume).sum();
                (k, g[0].open(), high, low, g[g.len() - 1].close(), vol)
            })
            .collect()
    }

    fn tf_and_coarser() -> impl Strategy<Value = (Timeframe, Timeframe)> {
        let pairs: Vec<_> = Timeframe::ALL
            .iter()
            .flat_map(|&a| Timeframe::ALL.iter().map(move |&b| (a, b)))
            .filter(|(a, b)| a.can_resample_to(*b))
            .collect();
        proptest::sample::select(pairs)
    }

    proptest! {
        /// The one-pass check accepts exactly the columns the row-by-row check accepts.
        #[test]
        fn the_fast_column_check_agrees_with_the_row_check(
            tf in proptest::sample::select(Timeframe::ALL.to_vec()),
            ny in any::<bool>(),
            rows in proptest::collection::vec((0u8..12, 0.5f64..2.0, 0u8..6), 0..40),
        ) {
            let alignment = if ny { DailyAlignment::NewYorkClose } else { DailyAlignment::UtcMidnight };
            let tf = tf.aligned(alignment);
            let mut t = tf.floor(chrono::Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap());
            let mut cols = OhlcvColumns::default();
            for (i, &(corrupt, p, step)) in rows.iter().enumerate() {
                for _ in 0..step.max(1) {
                    t = tf.next_open(t);
                }
                let mut ts = t.timestamp_millis();
                let (mut o, mut h, mut l, mut c, mut v) = (p, p * 1.01, p * 0.99, p * 1.005, 10.0);
                // Only some rows are corrupted, one way each.
                match corrupt {
                    0 => o = f64::NAN,
                    1 => h = p * 0.5,
                    2 => l = -1.0,
                    3 => v = -1.0,
                    4 => v = f64::INFINITY,
                    5 => ts += 1,
                    6 if i > 0 => ts = cols.timestamps[i - 1],
                    7 => { h = f64::INFINITY; }
                    8 => { c = l * 0.9; }
                    _ => {}
                }
                cols.push(ts, o, h, l, c, v);
            }
            let mut previous = None;
            let rows_ok = (0..cols.timestamps.len()).all(|i| {
                let ok = check_row(tf, i, previous, cols.timestamps[i],
                    [cols.open[i], cols.high[i], cols.low[i], cols.close[i], cols.volume[i]]).is_ok();
                previous = Some(cols.timestamps[i]);
                ok
            });
            let fast_ok = values_hold(&cols) && times_hold(tf, &cols.timestamps);
            prop_assert_eq!(fast_ok, rows_ok);
            prop_assert_eq!(OhlcvFrame::from_columns_on("EURUSD".parse().unwrap(), tf, cols).is_ok(), rows_ok);
        }
    }

    proptest! {
        #[test]
        fn merge_is_idempotent_and_incoming_wins(
            a in arb_frame(Timeframe::M1, 200),
            b in arb_frame(Timeframe::M1, 200),
        ) {
            let m = a.merge(&b).unwrap();
            assert_invariants(&m);
            prop_assert_eq!(m.iter().collect::<Vec<_>>(), naive_merge(&a, &b));
            // Merging the same bars again changes nothing.
            prop_assert_eq!(&m.merge(&b).unwrap(), &m);
            prop_assert_eq!(&m.merge(&m).unwrap(), &m);
            prop_assert_eq!(&a.merge(&a).unwrap(), &a);
            // Every incoming bar is in the result as given.
            for bar in b.iter() {
                let i = m.timestamps_millis().binary_search(&bar.time_millis()).unwrap();
                prop_assert_eq!(m.get(i), Some(bar));
            }
        }

        #[test]
        fn a_forming_bar_never_passes_for_a_closed_one(
            a in arb_frame(Timeframe::M1, 120),
            b in arb_frame(Timeframe::M1, 120),
            fa in any::<bool>(),
            fb in any::<bool>(),
            cut in 0i64..3_000,
        ) {
            let (a, b) = (a.with_forming(fa), b.with_forming(fb));
            let m = a.merge(&b).unwrap();
            assert_invariants(&m);
            // Every closed bar of the result is a closed bar of `b`, or a closed bar of `a` at a
            // time `b` has no bar for (`b`'s forming bar does not count once `a` has newer bars).
            let b_overtaken = b.forming().is_some()
                && a.last().zip(b.last()).is_some_and(|(x, y)| x.time_millis() > y.time_millis());
            let b_eff = if b_overtaken { b.closed() } else { b.clone() };
            let b_times: std::collections::BTreeSet<i64> = b_eff.iter().map(|x| x.time_millis()).collect();
            let b_closed: Vec<Bar> = b.closed().iter().collect();
            let a_closed: Vec<Bar> = a.closed().iter().collect();
            for bar in m.closed().iter() {
                let from_b = b_closed.contains(&bar);
                let from_a = !b_times.contains(&bar.time_millis()) && a_closed.contains(&bar);
                prop_assert!(from_b || from_a, "{bar:?} is not a closed bar of either frame");
            }
            // The label sits on the newest bar, and only when the frame it came from said so.
            if let Some(f) = m.forming() {
                prop_assert_eq!(Some(f), m.last());
                prop_assert!(a.forming() == Some(f) || b.forming() == Some(f));
            }
            // Incoming closed bars all arrive; its forming one too, with its label, unless this
            // frame already had newer bars.
            for bar in b.closed().iter() {
                prop_assert!(m.iter().any(|x| x == bar));
            }
            if let Some(f) = b.forming() {
                let overtaken = a.last().is_some_and(|l| l.time_millis() > f.time_millis());
                prop_assert_eq!(m.forming() == Some(f), !overtaken);
            }
            // Only the forming bar separates a frame from its closed part.
            prop_assert_eq!(m.closed().forming(), None);
            prop_assert_eq!(m.closed().len() + usize::from(m.forming().is_some()), m.len());
            // Slices keep the label exactly when they keep the newest bar.
            let start = t(2026, 1, 5, 0, 0) + Duration::minutes(cut);
            let head = m.slice(TimeRange::new(t(2026, 1, 1, 0, 0), start).unwrap());
            prop_assert_eq!(head.forming().is_some(), m.forming().is_some() && head.last() == m.last());
            let tail = m.keep_since(start);
            prop_assert_eq!(tail.forming(), if tail.is_empty() { None } else { m.forming() });
            // Resampling keeps it on the newest bar.
            let h1 = m.resample(Timeframe::H1).unwrap();
            prop_assert_eq!(h1.forming().is_some(), m.forming().is_some());
        }

        #[test]
        fn closed_at_keeps_exactly_the_ended_bars(
            f in arb_frame(Timeframe::M5, 200), forming in any::<bool>(), at in 0i64..3_000,
        ) {
            let f = f.with_forming(forming);
            let now = t(2026, 1, 5, 0, 0) + Duration::minutes(at);
            let c = f.closed_at(now);
            prop_assert_eq!(c.forming(), None);
            let expected: Vec<Bar> = f
                .closed()
                .iter()
                .filter(|b| b.time() + Duration::minutes(5) <= now)
                .collect();
            prop_assert_eq!(c.iter().collect::<Vec<_>>(), expected);
            let labelled = f.clone().with_forming_at(now);
            prop_assert_eq!(
                labelled.forming().is_some(),
                f.forming().is_some() || f.last().is_some_and(|b| b.time() + Duration::minutes(5) > now)
            );
        }

        #[test]
        fn resample_equals_naive_grouping(
            (f, to) in tf_and_coarser().prop_flat_map(|(from, to)| (arb_frame(from, 300), Just(to)))
        ) {
            let r = f.resample(to).unwrap();
            assert_invariants(&r);
            let got: Vec<_> = r
                .iter()
                .map(|b| (b.time_millis(), b.open(), b.high(), b.low(), b.close(), b.volume()))
                .collect();
            prop_assert_eq!(got, naive_resample(&f, to));
        }

        #[test]
        fn slice_and_keep_since_agree_with_filtering(f in arb_frame(Timeframe::M5, 200), a in 0i64..2_000, len in 0i64..2_000) {
            let start = t(2026, 1, 5, 0, 0) + Duration::minutes(a);
            let range = TimeRange::new(start, start + Duration::minutes(len)).unwrap();
            let s = f.slice(range);
            assert_invariants(&s);
            prop_assert_eq!(&f.clone().into_slice(range), &s);
            let expected: Vec<_> = f.iter().filter(|b| range.contains(b.time())).collect();
            prop_assert_eq!(s.iter().collect::<Vec<_>>(), expected);
            let k = f.keep_since(start);
            prop_assert_eq!(k.len(), f.iter().filter(|b| b.time() >= start).count());
        }

        #[test]
        fn completeness_counts_match_a_slot_walk(f in arb_frame(Timeframe::H1, 200), len_h in 0i64..400, offset_m in 0i64..120) {
            check_completeness(&f, len_h, offset_m)?;
        }

        #[test]
        fn completeness_of_dense_frames_with_a_few_holes(
            holes in prop::collection::btree_set(0i64..400, 0..4), len_h in 0i64..400, offset_m in 0i64..120,
        ) {
            // Whole stretches present (the fast path) next to runs of missing bars.
            let bars: Vec<_> = (0..400)
                .filter(|h| !holes.contains(h))
                .map(|h| bar((t(2026, 1, 5, 0, 0) + Duration::hours(h)).timestamp_millis(), 150.0))
                .collect();
            let f = OhlcvFrame::from_bars(sym(), Timeframe::H1, bars).unwrap();
            check_completeness(&f, len_h, offset_m)?;
        }
    }
}
