//! [`Rsi`]: Wilder's relative strength index.

#[allow(clippy::wildcard_imports)]
use super::*;

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
