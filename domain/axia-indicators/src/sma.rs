//! [`Sma`]: the simple moving average.

#[allow(clippy::wildcard_imports)]
use super::*;

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
