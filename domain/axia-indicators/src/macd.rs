//! [`Macd`]: moving average convergence/divergence.

#[allow(clippy::wildcard_imports)]
use super::*;

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
