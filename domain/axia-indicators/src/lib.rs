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

/// Simple moving average: the mean of the last `period` values. Lookback `period - 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Sma {
    period: usize,
    /// `1 / period`: a multiplication per value instead of a division (within an ulp of
    /// TA-Lib's quotient).
    inv_period: f64,
    /// The newest `period` values (zeros in the slots the warm-up has not reached).
    window: Ring,
    /// Their sum, kept by adding each new value less the one leaving, and re-summed from the
    /// window every `RESUM_PERIODS` turns of the window (about `RESUM_PERIODS * period`
    /// updates) so it never drifts. The value is `sum / period` once the window is full:
    /// nothing else is stored per update.
    sum: f64,
    /// Turns of the window left until the next re-sum.
    turns_left: usize,
}

impl Sma {
    /// An SMA over `period` values (2 ..= 100,000).
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`].
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("SMA", "period", period, 2, "2 to 100000")?;
        Ok(Self::unchecked(period))
    }

    fn unchecked(period: usize) -> Self {
        Self {
            period,
            inv_period: 1.0 / as_f64(period),
            // From the second slot: see `step`.
            window: Ring {
                pos: 1,
                ..Ring::new(period)
            },
            sum: 0.0,
            turns_left: RESUM_PERIODS,
        }
    }
}

impl Indicator for Sma {
    type Input = f64;
    type Output = f64;

    fn lookback(&self) -> usize {
        self.period - 1
    }

    #[inline]
    fn step(&mut self, x: f64) -> Option<f64> {
        // The warm-up and the steady state alike: the slot's value out (0 until the window's
        // first turn, and `x - 0.0` is `x`), the new one in; one addition on the chain from
        // update to update. The slot's bounds check is the check for the turn of the window.
        let w = &mut self.window;
        let old = if let Some(slot) = w.buf.get_mut(w.pos) {
            std::mem::replace(slot, x)
        } else {
            // Past the last slot: a turn of the window, once every `period` updates. The
            // window started at its second slot, so the first turn is the `period`-th
            // update, which fills the first slot and ends the warm-up. Once every
            // `RESUM_PERIODS` turns the sum is recomputed from the window first.
            w.pos = 0;
            w.len = w.buf.len();
            self.turns_left -= 1;
            if self.turns_left == 0 {
                self.turns_left = RESUM_PERIODS;
                self.sum = w.buf.iter().sum();
            }
            w.buf.first_mut().map_or(0.0, |s| std::mem::replace(s, x))
        };
        self.sum += x - old;
        w.pos += 1;
        self.value()
    }

    fn value(&self) -> Option<f64> {
        self.window.is_full().then_some(self.sum * self.inv_period)
    }
}

/// Exponential moving average, `k = 2 / (period + 1)`, seeded by the SMA of the first `period`
/// values. Lookback `period - 1`. Each update is `previous * (1 - k) + x * k`, TA-Lib's
/// `(x - previous) * k + previous` rearranged so that one multiplication and one addition
/// (not three operations) separate an update from the next; the two differ by an ulp or two.
#[derive(Debug, Clone, PartialEq)]
pub struct Ema {
    period: usize,
    k: f64,
    /// `1 - k`.
    keep: f64,
    seen: usize,
    seed_sum: f64,
    value: Option<f64>,
}

impl Ema {
    /// An EMA over `period` values (2 ..= 100,000).
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`].
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("EMA", "period", period, 2, "2 to 100000")?;
        Ok(Self::unchecked(period))
    }

    const fn unchecked(period: usize) -> Self {
        Self {
            period,
            k: 2.0 / (as_f64(period) + 1.0),
            keep: 1.0 - 2.0 / (as_f64(period) + 1.0),
            seen: 0,
            seed_sum: 0.0,
            value: None,
        }
    }
}

impl Indicator for Ema {
    type Input = f64;
    type Output = f64;

    fn lookback(&self) -> usize {
        self.period - 1
    }

    fn step(&mut self, x: f64) -> Option<f64> {
        self.step_weighted(x, x * self.k)
    }

    /// As the provided method, with the check made on `x * k`, which is finite exactly when
    /// `x` is (`0 < k < 1`): the product is then made before the branch, off the chain from
    /// update to update, which stays one multiplication and one addition. (Made after it, the
    /// compiler packs both multiplications into one and puts two shuffles on that chain.)
    #[inline]
    fn update(&mut self, x: f64) -> Result<Option<f64>, NonFinite> {
        let weighted = x * self.k;
        if !weighted.is_finite() {
            return Err(NonFinite);
        }
        Ok(self.step_weighted(x, weighted))
    }

    fn value(&self) -> Option<f64> {
        self.value
    }
}

impl Ema {
    /// One update, given `x * k`.
    #[inline]
    fn step_weighted(&mut self, x: f64, weighted: f64) -> Option<f64> {
        self.value = match self.value {
            Some(prev) => Some(prev * self.keep + weighted),
            None => self.seed(x),
        };
        self.value
    }

    /// One update in TA-Lib's own form, `(x - previous) * k + previous`, with the
    /// multiplication and the addition fused (one rounding), as the reference build of TA-Lib
    /// computes it (the library in the `ta-lib` 0.8.2 wheel is compiled with FMA contraction:
    /// its EMA step is a `vfmadd`). For MACD, whose difference of two EMAs cancels most of their
    /// digits and so magnifies an ulp of either twenty thousand times on FX prices: with two
    /// roundings, MACD 19/39/9 and 5/35/5 differed from TA-Lib by up to 4e-12 relative
    /// (`tests/golden/sweep.csv`). On the baseline x86-64 target `mul_add` calls the C
    /// library's `fma` (about 2 ns a call; exact in software on a CPU without FMA); a build for
    /// `x86-64-v3` makes it one instruction. The values are the same either way.
    #[inline]
    fn step_exact(&mut self, x: f64) -> Option<f64> {
        self.value = match self.value {
            Some(prev) => Some((x - prev).mul_add(self.k, prev)),
            None => self.seed(x),
        };
        self.value
    }

    /// A warm-up update: the seed, once `period` values are in.
    fn seed(&mut self, x: f64) -> Option<f64> {
        self.seed_sum += x;
        self.seen += 1;
        (self.seen == self.period).then(|| self.seed_sum / as_f64(self.period))
    }
}

/// Relative strength index with Wilder's smoothing, seeded by the mean gain and loss of the
/// first `period` changes; 0 when there was neither gain nor loss. Lookback `period`.
#[derive(Debug, Clone, PartialEq)]
pub struct Rsi {
    period: usize,
    /// [`wilder`] of the period.
    smoothing: (f64, f64),
    previous: Option<f64>,
    changes: usize,
    gain: f64,
    loss: f64,
    value: Option<f64>,
}

impl Rsi {
    /// An RSI over `period` changes (2 ..= 100,000).
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`].
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("RSI", "period", period, 2, "2 to 100000")?;
        Ok(Self {
            period,
            smoothing: wilder(period),
            previous: None,
            changes: 0,
            gain: 0.0,
            loss: 0.0,
            value: None,
        })
    }

    fn of(gain: f64, loss: f64) -> f64 {
        let total = gain + loss;
        if total == 0.0 {
            0.0
        } else {
            100.0 * (gain / total)
        }
    }
}

impl Indicator for Rsi {
    type Input = f64;
    type Output = f64;

    fn lookback(&self) -> usize {
        self.period
    }

    #[inline]
    fn step(&mut self, x: f64) -> Option<f64> {
        let previous = self.previous.replace(x)?;
        let change = x - previous;
        let (up, down) = (change.max(0.0), (-change).max(0.0));
        if self.changes < self.period {
            self.gain += up;
            self.loss += down;
            self.changes += 1;
            if self.changes < self.period {
                return None;
            }
            let n = as_f64(self.period);
            self.gain /= n;
            self.loss /= n;
        } else {
            // Wilder: `(previous * (n - 1) + change) / n`, as `previous * (n - 1) / n +
            // change / n`: a multiplication and an addition on each chain instead of a
            // division too.
            let (keep, take) = self.smoothing;
            self.gain = self.gain * keep + up * take;
            self.loss = self.loss * keep + down * take;
        }
        self.value = Some(Self::of(self.gain, self.loss));
        self.value
    }

    fn value(&self) -> Option<f64> {
        self.value
    }
}

/// One MACD value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MacdValue {
    /// Fast EMA minus slow EMA.
    pub macd: f64,
    /// The EMA of `macd`.
    pub signal: f64,
    /// `macd - signal`.
    pub hist: f64,
}

/// Moving average convergence/divergence (TA-Lib's MACD): fast and slow EMAs, the fast one
/// seeded on the same bar as the slow one, and a signal EMA of their difference. Lookback
/// `(slow - 1) + (signal - 1)`: 33 for 12/26/9.
#[derive(Debug, Clone, PartialEq)]
pub struct Macd {
    fast: Ema,
    slow: Ema,
    signal: Ema,
    /// Bars the fast EMA skips so that its seed ends on the slow EMA's first bar.
    fast_skip: usize,
    seen: usize,
    value: Option<MacdValue>,
}

impl Macd {
    /// MACD 12/26/9.
    #[must_use]
    pub const fn standard() -> Self {
        Self::unchecked(12, 26, 9)
    }

    /// MACD with `2 <= fast < slow` and `signal >= 2` (a signal of 1 would read the future in
    /// TA-Lib's alignment).
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`].
    pub fn new(fast: usize, slow: usize, signal: usize) -> Result<Self, IndicatorError> {
        check_period("MACD", "fast", fast, 2, "2 to 100000, below slow")?;
        check_period("MACD", "slow", slow, 2, "2 to 100000, above fast")?;
        check_period("MACD", "signal", signal, 2, "2 to 100000")?;
        if fast >= slow {
            return Err(IndicatorError::InvalidParameter {
                indicator: "MACD",
                parameter: "fast",
                value: fast.to_string(),
                expected: "below slow",
            });
        }
        Ok(Self::unchecked(fast, slow, signal))
    }

    const fn unchecked(fast: usize, slow: usize, signal: usize) -> Self {
        Self {
            fast: Ema::unchecked(fast),
            slow: Ema::unchecked(slow),
            signal: Ema::unchecked(signal),
            fast_skip: slow - fast,
            seen: 0,
            value: None,
        }
    }
}

impl Indicator for Macd {
    type Input = f64;
    type Output = MacdValue;

    fn lookback(&self) -> usize {
        (self.slow.period - 1) + (self.signal.period - 1)
    }

    #[inline]
    fn step(&mut self, x: f64) -> Option<MacdValue> {
        let slow = self.slow.step_exact(x);
        let fast = if self.seen >= self.fast_skip {
            self.fast.step_exact(x)
        } else {
            None
        };
        self.seen = self.seen.saturating_add(1);
        let macd = fast? - slow?;
        let signal = self.signal.step_exact(macd)?;
        self.value = Some(MacdValue {
            macd,
            signal,
            hist: macd - signal,
        });
        self.value
    }

    fn value(&self) -> Option<MacdValue> {
        self.value
    }
}

/// One set of Bollinger Bands.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bands {
    /// `middle + k * sigma`.
    pub upper: f64,
    /// The SMA.
    pub middle: f64,
    /// `middle - k * sigma`.
    pub lower: f64,
}

/// Bollinger Bands: the SMA of `period` values plus and minus `k` population standard
/// deviations. Lookback `period - 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Bollinger {
    period: usize,
    k: f64,
    /// `1 / period`.
    inv_period: f64,
    /// The last `period` values.
    window: Ring,
    /// Sums of `x - anchor` and of its square over the window; the middle band is `anchor +
    /// s1 / period`. The anchor is moved to the window's mean, and both sums recomputed,
    /// every `RESUM_PERIODS / 4 * period` updates (FX prices move little against their spread
    /// in that time, so the sums never cancel much, unlike a running sum of squares).
    anchor: f64,
    s1: f64,
    s2: f64,
    /// Updates left until the anchor moves.
    until_anchor: usize,
    value: Option<Bands>,
}

impl Bollinger {
    /// Bollinger Bands 20/2.
    #[must_use]
    pub fn standard() -> Self {
        Self::unchecked(20, 2.0)
    }

    /// Bands over `period` values (2 ..= 100,000), `k` deviations wide (finite, >= 0).
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`].
    pub fn new(period: usize, k: f64) -> Result<Self, IndicatorError> {
        check_period("BBANDS", "period", period, 2, "2 to 100000")?;
        if !(k.is_finite() && k >= 0.0) {
            return Err(IndicatorError::InvalidParameter {
                indicator: "BBANDS",
                parameter: "k",
                value: k.to_string(),
                expected: "a finite number >= 0",
            });
        }
        Ok(Self::unchecked(period, k))
    }

    fn unchecked(period: usize, k: f64) -> Self {
        Self {
            period,
            k,
            inv_period: 1.0 / as_f64(period),
            window: Ring::new(period),
            anchor: 0.0,
            s1: 0.0,
            s2: 0.0,
            until_anchor: RESUM_PERIODS / 4 * period,
            value: None,
        }
    }

    /// Moves the anchor to the window's mean and recomputes both sums from the window
    /// (inlined, like [`Sma`]'s re-sum).
    #[inline]
    fn reanchor(&mut self) {
        self.until_anchor = RESUM_PERIODS / 4 * self.period;
        self.anchor += self.s1 * self.inv_period;
        let anchor = self.anchor;
        (self.s1, self.s2) = self.window.iter().fold((0.0, 0.0), |(a, b), v| {
            let d = v - anchor;
            (a + d, b + d * d)
        });
    }

    fn bands(&self) -> Bands {
        let mean = self.s1 * self.inv_period;
        let variance = self.s2 * self.inv_period - mean * mean;
        let sigma = if variance > 0.0 { variance.sqrt() } else { 0.0 };
        let middle = self.anchor + mean;
        let width = self.k * sigma;
        Bands {
            upper: middle + width,
            middle,
            lower: middle - width,
        }
    }
}

impl Indicator for Bollinger {
    type Input = f64;
    type Output = Bands;

    fn lookback(&self) -> usize {
        self.period - 1
    }

    #[inline]
    fn step(&mut self, x: f64) -> Option<Bands> {
        if !self.window.is_full() {
            if self.window.len == 0 {
                self.anchor = x;
            }
            let d = x - self.anchor;
            self.window.push(x);
            self.s1 += d;
            self.s2 += d * d;
            if !self.window.is_full() {
                return None;
            }
        } else {
            let d = x - self.anchor;
            let old = self.window.replace(x) - self.anchor;
            self.s1 += d - old;
            self.s2 += (d - old) * (d + old);
            self.until_anchor -= 1;
            if self.until_anchor == 0 {
                self.reanchor();
            }
        }
        self.value = Some(self.bands());
        self.value
    }

    fn value(&self) -> Option<Bands> {
        self.value
    }
}

/// Average true range with Wilder's smoothing, seeded by the mean of the first `period` true
/// ranges (from the second bar: a true range needs the previous close). Lookback `period`.
#[derive(Debug, Clone, PartialEq)]
pub struct Atr {
    period: usize,
    /// [`wilder`] of the period.
    smoothing: (f64, f64),
    previous_close: Option<f64>,
    ranges: usize,
    seed_sum: f64,
    value: Option<f64>,
}

impl Atr {
    /// An ATR over `period` true ranges (1 ..= 100,000).
    ///
    /// # Errors
    /// [`IndicatorError::InvalidParameter`].
    pub fn new(period: usize) -> Result<Self, IndicatorError> {
        check_period("ATR", "period", period, 1, "1 to 100000")?;
        Ok(Self {
            period,
            smoothing: wilder(period),
            previous_close: None,
            ranges: 0,
            seed_sum: 0.0,
            value: None,
        })
    }
}

impl Indicator for Atr {
    type Input = Hlc;
    type Output = f64;

    fn lookback(&self) -> usize {
        self.period
    }

    fn step(&mut self, b: Hlc) -> Option<f64> {
        let Some(pc) = self.previous_close else {
            // The first bar: no true range yet, only its close.
            self.previous_close = Some(b.close);
            return None;
        };
        let tr = true_range(pc, b);
        self.advance(b.close, tr, tr * self.smoothing.1)
    }

    /// As the provided method, with the check made on the weighted true range, which is finite
    /// exactly when the high and the low are (the previous close is: it passed this check),
    /// or else on the bar itself: a true range beyond f64's range comes of finite prices,
    /// which are taken as before. The product is then made before the branch, off the chain
    /// from update to update (made after it, the compiler packs both multiplications into one
    /// and puts two shuffles on that chain, as it did for [`Ema`]).
    #[inline]
    fn update(&mut self, b: Hlc) -> Result<Option<f64>, NonFinite> {
        let Some(pc) = self.previous_close else {
            if !b.is_finite() {
                return Err(NonFinite);
            }
            self.previous_close = Some(b.close);
            return Ok(None);
        };
        let tr = true_range(pc, b);
        let weighted = tr * self.smoothing.1;
        // In this order: the bar itself is looked at only when the first check fails.
        let checked = weighted.is_finite() && b.close.is_finite();
        if !checked && !b.is_finite() {
            return Err(NonFinite);
        }
        Ok(self.advance(b.close, tr, weighted))
    }

    fn value(&self) -> Option<f64> {
        self.value
    }
}

impl Atr {
    /// One true range in, given `tr * take`; `close` becomes the previous close.
    #[inline]
    fn advance(&mut self, close: f64, tr: f64, weighted: f64) -> Option<f64> {
        self.previous_close = Some(close);
        self.value = match self.value {
            Some(prev) => Some(prev * self.smoothing.0 + weighted),
            None => {
                self.seed_sum += tr;
                self.ranges += 1;
                (self.ranges == self.period).then(|| self.seed_sum / as_f64(self.period))
            }
        };
        self.value
    }
}

/// The true range of a bar after a close `pc`: the greatest of high - low, |pc - high| and
/// |pc - low|.
#[inline]
fn true_range(pc: f64, b: Hlc) -> f64 {
    let mut tr = b.high - b.low;
    let up = (pc - b.high).abs();
    if up > tr {
        tr = up;
    }
    let down = (pc - b.low).abs();
    if down > tr {
        tr = down;
    }
    tr
}

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
