//! [`OhlcvFrameBuilder`]: a frame bar by bar, each bar checked as it is pushed.

use chrono::{DateTime, Utc};

use super::columns::{check_row, on_grid};
use super::{FrameError, OhlcvColumns, OhlcvFrame};
use crate::bar::Bar;
use crate::{BarValues, DailyAlignment, Grid, Symbol};

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
    pub(super) symbol: Symbol,
    pub(super) grid: Grid,
    pub(super) cols: OhlcvColumns,
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

    /// Appends a bar given as [`BarValues`] (what a
    /// [`BarAccumulator`](crate::BarAccumulator) yields).
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
