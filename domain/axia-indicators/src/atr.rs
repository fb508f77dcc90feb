//! [`Atr`]: Wilder's average true range.

#[allow(clippy::wildcard_imports)]
use super::*;

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
