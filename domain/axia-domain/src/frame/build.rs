//! Frames from columns and bars: the constructors, each checking the invariants.

use super::columns::{check_row, in_range, on_grid, times_hold, values_hold};
use super::{FrameError, OhlcvColumns, OhlcvFrame, OhlcvFrameBuilder};
use crate::bar::Bar;
use crate::{DailyAlignment, Grid, Symbol, Timeframe};

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
    pub(super) const fn trusted(symbol: Symbol, grid: Grid, cols: OhlcvColumns) -> Self {
        Self {
            symbol,
            timeframe: grid.timeframe(),
            alignment: grid.alignment(),
            cols,
            forming: false,
        }
    }
}
