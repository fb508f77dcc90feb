//! [`BarAccumulator`]: the one rule for folding finer bars into coarser ones, shared by
//! [`OhlcvFrame::resample`](crate::OhlcvFrame::resample) and every source that builds bars
//! from finer ones (the simulated broker's minutes, a vendor's 30-minute bars).

use crate::{DailyAlignment, Grid, Timeframe};

/// The six values of one bar, before validation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BarValues {
    /// Open time, epoch milliseconds, UTC.
    pub time_millis: i64,
    /// Open price.
    pub open: f64,
    /// High price.
    pub high: f64,
    /// Low price.
    pub low: f64,
    /// Close price.
    pub close: f64,
    /// Volume.
    pub volume: f64,
}

/// Folds bars, given in time order, into bars of a coarser `target` timeframe: open of the
/// first, highest high, lowest low, close of the last, summed volume, stamped with the target
/// bar's open time.
///
/// ```
/// use axia_domain::{BarAccumulator, BarValues, Timeframe};
///
/// let m = |minute: i64, close: f64| BarValues {
///     time_millis: minute * 60_000, open: close, high: close + 1.0, low: close - 1.0, close, volume: 2.0,
/// };
/// let mut acc = BarAccumulator::new(Timeframe::M5);
/// assert_eq!(acc.add(m(0, 10.0)), None);
/// assert_eq!(acc.add(m(4, 12.0)), None);
/// let first = acc.add(m(5, 11.0)).unwrap(); // a new M5 bar starts: the first is done
/// assert_eq!((first.time_millis, first.open, first.high, first.close, first.volume), (0, 10.0, 13.0, 12.0, 4.0));
/// assert_eq!(acc.finish().unwrap().time_millis, 5 * 60_000);
/// ```
#[derive(Debug, Clone)]
pub struct BarAccumulator {
    target: Grid,
    current: Option<BarValues>,
    /// The open and the next open of the target bar last looked up: a bar inside it needs no
    /// grid arithmetic (under the New York close that is a time zone conversion).
    span: Option<(i64, i64)>,
}

impl BarAccumulator {
    /// Nothing accumulated yet; target bars on the UTC grid.
    #[must_use]
    pub const fn new(target: Timeframe) -> Self {
        Self::on(target.aligned(DailyAlignment::UtcMidnight))
    }

    /// Nothing accumulated yet; target bars on `grid` (a timeframe under a daily alignment).
    #[must_use]
    pub const fn on(grid: Grid) -> Self {
        Self {
            target: grid,
            current: None,
            span: None,
        }
    }

    /// The open time of the target bar that `time_millis` falls in (`None` out of range).
    #[must_use]
    pub fn bucket(&self, time_millis: i64) -> Option<i64> {
        match self.span {
            Some((open, next)) if open <= time_millis && time_millis < next => Some(open),
            _ => self.target.floor_millis(time_millis),
        }
    }

    /// Adds the next bar. Returns the finished target bar when `bar` starts a new one. A bar
    /// outside the representable time range is skipped.
    pub fn add(&mut self, bar: BarValues) -> Option<BarValues> {
        let t = bar.time_millis;
        let bucket = match self.span {
            Some((open, next)) if open <= t && t < next => open,
            _ => {
                let open = self.target.floor_millis(t)?;
                let next = self.target.next_open_millis(t)?;
                self.span = Some((open, next));
                open
            }
        };
        match &mut self.current {
            Some(c) if c.time_millis == bucket => {
                c.high = c.high.max(bar.high);
                c.low = c.low.min(bar.low);
                c.close = bar.close;
                c.volume += bar.volume;
                None
            }
            _ => self.current.replace(BarValues {
                time_millis: bucket,
                ..bar
            }),
        }
    }

    /// The target bar still being built, if any.
    #[must_use]
    pub fn finish(self) -> Option<BarValues> {
        self.current
    }
}
