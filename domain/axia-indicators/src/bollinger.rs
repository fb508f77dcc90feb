//! [`Bollinger`]: Bollinger Bands.

#[allow(clippy::wildcard_imports)]
use super::*;

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
