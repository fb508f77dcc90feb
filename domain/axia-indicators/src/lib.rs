//! Technical indicators, exactly as TA-Lib 0.8 defines them: [`Sma`], [`Ema`], [`Rsi`] (Wilder),
//! [`Macd`] (12/26/9 by default), [`Bollinger`] (20/2, population standard deviation) and
//! [`Atr`] (14, Wilder). Pure computation: no I/O, no clock, no allocation per update.
//!
//! One code path for streaming and batch. [`Indicator::update`] takes a **closed** bar and
//! moves the state; [`Indicator::peek`] evaluates a **forming** bar without moving it;
//! [`Indicator::value`] is the latest value; [`Indicator::lookback`] is the number of leading
//! bars that have no value (TA-Lib's lookback: 19 for SMA 20, 33 for MACD 12/26/9 …). [`batch`]
//! is repeated `update`, so batch and streaming agree by construction. [`Timed`] adds bar times:
//! a revised bar (same open time as the last) replaces the last one; an older bar, like a
//! non-finite value, is an error and leaves the state unchanged.
//!
//! TA-Lib's seeding is kept: an EMA starts from the SMA of its first `n` values; MACD's fast EMA
//! is seeded on the same bar as the slow one (from bar `slow - fast`), its signal from the SMA
//! of the first `signal` MACD values; RSI and ATR use Wilder's smoothing seeded by a plain mean,
//! and RSI is 0 on a flat series. The Bollinger deviation comes from sums shifted by an anchor
//! that is re-set exactly every four periods, so it does not drift on FX prices the way a
//! running sum of squares does.
//!
//! ```
//! use axia_indicators::{batch, Indicator, Rsi, Sma};
//!
//! let closes = [1.10, 1.11, 1.12, 1.11, 1.13];
//! let mut sma = Sma::new(3)?;
//! assert_eq!(sma.lookback(), 2);
//! let out = batch(sma.clone(), closes)?;
//! assert_eq!(out[..2], [None, None]);
//! for x in closes {
//!     sma.update(x)?;
//! }
//! assert_eq!(sma.value(), *out.last().unwrap());
//! // A forming bar: evaluated, not committed.
//! let peeked = sma.peek(1.20)?;
//! assert_ne!(peeked, sma.value());
//! assert!(Rsi::new(1).is_err()); // periods are checked
//! # Ok::<(), axia_indicators::IndicatorError>(())
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

mod set;

pub use set::{FeatureSet, FeatureSpec};

/// Why an indicator cannot be built, or refused an input.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum IndicatorError {
    /// A period or parameter out of its range.
    #[error("{indicator}: {parameter} = {value} is invalid ({expected})")]
    InvalidParameter {
        /// The indicator.
        indicator: &'static str,
        /// The parameter.
        parameter: &'static str,
        /// Its value, as given.
        value: String,
        /// What is accepted.
        expected: &'static str,
    },
    /// A NaN or infinite input; the state is unchanged.
    #[error("non-finite input: {0}")]
    NonFinite(String),
    /// A bar older than the last one; the state is unchanged.
    #[error("bar at {time_ms} ms is older than the last one ({last_ms} ms)")]
    OutOfOrder {
        /// The refused bar's open time.
        time_ms: i64,
        /// The last bar's open time.
        last_ms: i64,
    },
}

/// An indicator input that can be checked for NaN and infinities.
pub trait Input: Copy + fmt::Debug {
    /// True when every value is finite.
    fn is_finite(&self) -> bool;
}

impl Input for f64 {
    fn is_finite(&self) -> bool {
        f64::is_finite(*self)
    }
}

/// The high, low and close of a bar: the input of [`Atr`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Hlc {
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
}

impl Input for Hlc {
    fn is_finite(&self) -> bool {
        self.high.is_finite() && self.low.is_finite() && self.close.is_finite()
    }
}

/// A streaming indicator. `update` and `peek` check their input; [`batch`] is repeated
/// `update`.
pub trait Indicator: Clone + fmt::Debug + Send + Sync {
    /// What it reads per bar.
    type Input: Input;
    /// What it gives per bar once warmed up.
    type Output: Copy + fmt::Debug + PartialEq;

    /// The number of leading bars with no value (TA-Lib's lookback).
    fn lookback(&self) -> usize;

    /// Adds a closed bar, trusting it is finite; use [`Indicator::update`].
    #[doc(hidden)]
    fn step(&mut self, x: Self::Input) -> Option<Self::Output>;

    /// The value after the last bar, `None` during the warm-up.
    fn value(&self) -> Option<Self::Output>;

    /// Adds a closed bar and returns the value after it (`None` during the warm-up).
    ///
    /// # Errors
    /// [`NonFinite`] (a small error, so that checking costs the hot path next to nothing;
    /// it converts into [`IndicatorError::NonFinite`]); the state is unchanged.
    #[inline]
    fn update(&mut self, x: Self::Input) -> Result<Option<Self::Output>, NonFinite> {
        if !x.is_finite() {
            return Err(NonFinite);
        }
        Ok(self.step(x))
    }

    /// The value if `x` (a forming bar) were the next closed bar; the state is unchanged.
    ///
    /// # Errors
    /// [`NonFinite`].
    fn peek(&self, x: Self::Input) -> Result<Option<Self::Output>, NonFinite> {
        self.clone().update(x)
    }
}

/// A NaN or infinite input, refused by [`Indicator::update`] and [`Indicator::peek`]; the
/// state is unchanged. Converts into [`IndicatorError::NonFinite`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("non-finite input")]
pub struct NonFinite;

impl From<NonFinite> for IndicatorError {
    fn from(e: NonFinite) -> Self {
        Self::NonFinite(e.to_string())
    }
}

/// Feeds `inputs` through `indicator` one [`Indicator::update`] at a time: the value after each.
///
/// # Errors
/// [`IndicatorError::NonFinite`] naming the first refused input.
pub fn batch<I: Indicator>(
    mut indicator: I,
    inputs: impl IntoIterator<Item = I::Input>,
) -> Result<Vec<Option<I::Output>>, IndicatorError> {
    inputs
        .into_iter()
        .map(|x| indicator.update(x).map_err(|_| non_finite(&x)))
        .collect()
}

/// The error of a non-finite input, made out of line (the hot path only tests).
#[cold]
#[inline(never)]
fn non_finite(x: &dyn fmt::Debug) -> IndicatorError {
    IndicatorError::NonFinite(format!("{x:?}"))
}

fn check_period(
    indicator: &'static str,
    parameter: &'static str,
    value: usize,
    min: usize,
    expected: &'static str,
) -> Result<(), IndicatorError> {
    if value >= min && value <= 100_000 {
        Ok(())
    } else {
        Err(IndicatorError::InvalidParameter {
            indicator,
            parameter,
            value: value.to_string(),
            expected,
        })
    }
}

/// A period as f64 (periods are at most 100,000: exact).
#[allow(clippy::cast_precision_loss)]
const fn as_f64(n: usize) -> f64 {
    n as f64
}

/// Wilder's smoothing `(previous * (n - 1) + x) / n` as the factors of `previous * keep + x *
/// take`: `((n - 1) / n, 1 / n)`, so an update is a multiplication and an addition away from
/// the next (TA-Lib's form adds a division to that chain). Within an ulp or two of TA-Lib's
/// form per update, and the smoothing shrinks old differences by `(n - 1) / n` each time, so
/// they never build up.
fn wilder(period: usize) -> (f64, f64) {
    let n = as_f64(period);
    ((n - 1.0) / n, 1.0 / n)
}

/// Running sums are recomputed from their window every this many periods: between two, the
/// sum of a window of FX prices drifts by a few units in the last place at most (well below
/// the 1e-12 of the golden tests), and the recomputation costs less than one addition an update.
const RESUM_PERIODS: usize = 16;

/// The last `capacity` values, in a fixed buffer.
#[derive(Debug, Clone, PartialEq)]
struct Ring {
    buf: Box<[f64]>,
    /// Where the next value goes (the oldest, once full).
    pos: usize,
    len: usize,
}

impl Ring {
    fn new(capacity: usize) -> Self {
        Self {
            buf: vec![0.0; capacity.max(1)].into_boxed_slice(),
            pos: 0,
            len: 0,
        }
    }

    const fn is_full(&self) -> bool {
        self.len == self.buf.len()
    }

    /// Adds `x`; the value it pushed out, once full.
    #[inline]
    fn push(&mut self, x: f64) -> Option<f64> {
        let slot = self.buf.get_mut(self.pos)?;
        let old = std::mem::replace(slot, x);
        self.pos += 1;
        if self.pos == self.buf.len() {
            self.pos = 0;
        }
        if self.len == self.buf.len() {
            Some(old)
        } else {
            self.len += 1;
            None
        }
    }

    /// Puts `x` in place of the oldest value of a full ring and returns that value: the
    /// steady-state path, a load, a store and a wrap.
    #[inline]
    fn replace(&mut self, x: f64) -> f64 {
        let old = self
            .buf
            .get_mut(self.pos)
            .map_or(0.0, |slot| std::mem::replace(slot, x));
        let next = self.pos + 1;
        self.pos = if next == self.buf.len() { 0 } else { next };
        old
    }

    /// The values, oldest first.
    fn iter(&self) -> impl Iterator<Item = f64> + '_ {
        let (newer, older) = self.buf.split_at(self.pos);
        let older = if self.is_full() { older } else { &[] };
        older.iter().chain(newer).copied()
    }
}

mod atr;
mod bollinger;
mod ema;
mod macd;
mod rsi;
mod sma;

pub use atr::Atr;
pub use bollinger::{Bands, Bollinger};
pub use ema::Ema;
pub use macd::{Macd, MacdValue};
pub use rsi::Rsi;
pub use sma::Sma;

/// An indicator fed bars with their open times (epoch milliseconds): a bar with the same time
/// as the last one **revises** it (the state goes back to before the last bar, then takes the
/// new one), a newer one is added, an older one is refused. For a forming bar that is revised
/// as it forms, and for a source that corrects a closed bar.
#[derive(Debug, Clone, PartialEq)]
pub struct Timed<I: Indicator> {
    current: I,
    before_last: Option<I>,
    last_ms: Option<i64>,
}

impl<I: Indicator> Timed<I> {
    /// `indicator`, with no bar yet.
    pub const fn new(indicator: I) -> Self {
        Self {
            current: indicator,
            before_last: None,
            last_ms: None,
        }
    }

    /// The open time of the last bar taken.
    #[must_use]
    pub const fn last_ms(&self) -> Option<i64> {
        self.last_ms
    }

    /// The indicator as of the last bar.
    pub const fn indicator(&self) -> &I {
        &self.current
    }

    /// The value after the last bar.
    #[must_use]
    pub fn value(&self) -> Option<I::Output> {
        self.current.value()
    }

    /// Adds the bar that opens at `time_ms`, or revises the last one if it opens then.
    ///
    /// # Errors
    /// [`IndicatorError::NonFinite`], [`IndicatorError::OutOfOrder`]; the state is unchanged.
    pub fn update(
        &mut self,
        time_ms: i64,
        x: I::Input,
    ) -> Result<Option<I::Output>, IndicatorError> {
        if !x.is_finite() {
            return Err(IndicatorError::NonFinite(format!("{x:?}")));
        }
        match self.last_ms {
            Some(last) if time_ms < last => Err(IndicatorError::OutOfOrder {
                time_ms,
                last_ms: last,
            }),
            Some(last) if time_ms == last => {
                let mut base = self
                    .before_last
                    .clone()
                    .unwrap_or_else(|| self.current.clone());
                let out = base.step(x);
                self.current = base;
                Ok(out)
            }
            _ => {
                self.before_last = Some(self.current.clone());
                self.last_ms = Some(time_ms);
                Ok(self.current.step(x))
            }
        }
    }

    /// The value if the bar that opens at `time_ms` were `x`; the state is unchanged.
    ///
    /// # Errors
    /// As [`Timed::update`].
    pub fn peek(&self, time_ms: i64, x: I::Input) -> Result<Option<I::Output>, IndicatorError> {
        self.clone().update(time_ms, x)
    }
}
