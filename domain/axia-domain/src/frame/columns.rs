//! [`OhlcvColumns`] and the invariants every frame holds.

use serde::{Deserialize, Serialize};

use super::FrameError;
use crate::bar::{check_time, check_values};
use crate::{BarValues, Grid, Timeframe};

/// The columns of a frame, moved in and out of [`OhlcvFrame`](crate::OhlcvFrame) without
/// copying.
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

    pub(super) fn push(&mut self, ts: i64, o: f64, h: f64, l: f64, c: f64, v: f64) {
        self.timestamps.push(ts);
        self.open.push(o);
        self.high.push(h);
        self.low.push(l);
        self.close.push(c);
        self.volume.push(v);
    }

    pub(super) fn push_values(&mut self, b: BarValues) {
        self.push(b.time_millis, b.open, b.high, b.low, b.close, b.volume);
    }

    pub(super) fn extend_from(&mut self, src: &Self, lo: usize, hi: usize) {
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

/// Checks one row against every frame invariant, given the timestamp before it.
pub(super) fn check_row(
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
pub(super) fn on_grid(grid: Grid, ts: &[i64]) -> Result<(), FrameError> {
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
pub(super) fn values_hold(c: &OhlcvColumns) -> bool {
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
pub(super) fn in_range(ts: &[i64]) -> bool {
    match (ts.first(), ts.last()) {
        (Some(&first), Some(&last)) => check_time(first).is_ok() && check_time(last).is_ok(),
        _ => true,
    }
}

/// True when the open times are in range, strictly increasing and aligned to `grid`.
pub(super) fn times_hold(grid: Grid, ts: &[i64]) -> bool {
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
