//! [`Ema`]: the exponential moving average.

#[allow(clippy::wildcard_imports)]
use super::*;

/// Exponential moving average, `k = 2 / (period + 1)`, seeded by the SMA of the first `period`
/// values. Lookback `period - 1`. Each update is `previous * (1 - k) + x * k`, TA-Lib's
/// `(x - previous) * k + previous` rearranged so that one multiplication and one addition
/// (not three operations) separate an update from the next; the two differ by an ulp or two.
#[derive(Debug, Clone, PartialEq)]
pub struct Ema {
    pub(crate) period: usize,
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

    pub(crate) const fn unchecked(period: usize) -> Self {
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
    pub(crate) fn step_exact(&mut self, x: f64) -> Option<f64> {
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
