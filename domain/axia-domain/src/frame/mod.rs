//! [`OhlcvFrame`]: a columnar series of bars for one symbol and timeframe. By concern: its
//! columns and their invariants ([`columns`]), errors ([`error`]), building one bar by bar
//! ([`builder`]) or from columns and bars ([`build`]), merging ([`merge`]), resampling
//! ([`resample`]) and completeness against a calendar ([`completeness`]).

use chrono::{DateTime, Utc};

use crate::bar::{Bar, millis_to_time};
use crate::{DailyAlignment, Grid, Symbol, TimeRange, Timeframe};

mod build;
mod builder;
mod columns;
mod completeness;
mod error;
mod merge;
mod resample;
#[cfg(test)]
mod tests;

pub use builder::OhlcvFrameBuilder;
pub use columns::OhlcvColumns;
pub use completeness::Completeness;
pub use error::FrameError;

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
            && (self.alignment == other.alignment || self.timeframe.is_alignment_free())
            && self.forming == other.forming
            && self.cols == other.cols
    }
}

impl OhlcvFrame {
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

    pub(super) fn index_at_or_after(&self, ms: i64) -> usize {
        self.cols.timestamps.partition_point(|&t| t < ms)
    }

    pub(super) fn sub(&self, lo: usize, hi: usize) -> Self {
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
}

impl<'a> IntoIterator for &'a OhlcvFrame {
    type Item = Bar;
    type IntoIter = Box<dyn ExactSizeIterator<Item = Bar> + 'a>;
    fn into_iter(self) -> Self::IntoIter {
        Box::new(self.iter())
    }
}
