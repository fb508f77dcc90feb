//! [`Backoff`]: the one retry-delay policy of axia's adapters and use cases.

use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Exponential backoff with jitter: retry `n` (counted from 0) waits a random time between half
/// and all of `min(max, base * 2^n)` ("equal jitter": never zero, and processes that failed
/// together do not retry together).
///
/// ```
/// use std::time::Duration;
/// use axia_domain::Backoff;
///
/// let b = Backoff::new(Duration::from_millis(100), Duration::from_secs(2));
/// assert_eq!(b.ceiling(0), Duration::from_millis(100));
/// assert_eq!(b.ceiling(3), Duration::from_millis(800));
/// assert_eq!(b.ceiling(10), Duration::from_secs(2));
/// let d = b.delay(3);
/// assert!(d >= Duration::from_millis(400) && d <= Duration::from_millis(800));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(from = "RawBackoff")]
pub struct Backoff {
    #[serde(rename = "base_ms", with = "crate::millis::std")]
    base: Duration,
    #[serde(rename = "max_ms", with = "crate::millis::std")]
    max: Duration,
}

impl Backoff {
    /// Starting at `base`, doubling each retry, never above `max` (raised to `base` if lower).
    #[must_use]
    pub const fn new(base: Duration, max: Duration) -> Self {
        let max = if max.as_nanos() >= base.as_nanos() {
            max
        } else {
            base
        };
        Self { base, max }
    }

    /// The first delay.
    #[must_use]
    pub const fn base(&self) -> Duration {
        self.base
    }

    /// The longest delay.
    #[must_use]
    pub const fn max(&self) -> Duration {
        self.max
    }

    /// The upper bound of retry `attempt`'s delay: `min(max, base * 2^attempt)`.
    #[must_use]
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.base
            .saturating_mul(1u32 << attempt.min(31))
            .min(self.max)
    }

    /// How long to wait before retry `attempt`: uniform in `[ceiling / 2, ceiling]`.
    #[must_use]
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = self.ceiling(attempt);
        ceiling / 2 + (ceiling / 2).mul_f64(unit_random())
    }
}

#[derive(serde::Deserialize)]
struct RawBackoff {
    #[serde(rename = "base_ms", with = "crate::millis::std")]
    base: Duration,
    #[serde(rename = "max_ms", with = "crate::millis::std")]
    max: Duration,
}

impl From<RawBackoff> for Backoff {
    fn from(r: RawBackoff) -> Self {
        Self::new(r.base, r.max)
    }
}

/// A number in `[0, 1)`, different on every call and in every process (the standard library's
/// per-process random hash keys over a counter); not for cryptography.
fn unit_random() -> f64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static STATE: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let x = STATE.get_or_init(RandomState::new).hash_one(n);
    #[allow(clippy::cast_precision_loss)]
    let f = (x >> 11) as f64 / (1u64 << 53) as f64;
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn delays_stay_between_half_and_all_of_a_doubling_capped_ceiling(
            base_ms in 1u64..5_000, max_ms in 0u64..120_000, attempt in 0u32..80,
        ) {
            let b = Backoff::new(Duration::from_millis(base_ms), Duration::from_millis(max_ms));
            let c = b.ceiling(attempt);
            prop_assert!(c >= b.base() && c <= b.max());
            prop_assert!(b.ceiling(attempt + 1) >= c);
            if attempt < 20 {
                let doubled = Duration::from_millis(base_ms).saturating_mul(1 << attempt);
                prop_assert_eq!(c, doubled.min(b.max()));
            }
            let d = b.delay(attempt);
            prop_assert!(d >= c / 2 && d <= c, "{d:?} outside [{:?}, {c:?}]", c / 2);
        }
    }

    #[test]
    fn json_holds_milliseconds() {
        let b = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        let json = serde_json::to_value(b).unwrap();
        assert_eq!(json, serde_json::json!({"base_ms": 200, "max_ms": 10_000}));
        let back: Backoff =
            serde_json::from_value(serde_json::json!({"base_ms": 50, "max_ms": 10})).unwrap();
        assert_eq!(back.max(), Duration::from_millis(50), "max raised to base");
    }

    #[test]
    fn delays_are_spread_not_equal() {
        let b = Backoff::new(Duration::from_millis(1000), Duration::from_secs(1));
        let delays: std::collections::BTreeSet<_> = (0..64).map(|_| b.delay(0)).collect();
        assert!(
            delays.len() > 32,
            "jitter spreads retries: {} distinct",
            delays.len()
        );
        let mean = delays.iter().map(Duration::as_secs_f64).sum::<f64>() / delays.len() as f64;
        assert!(
            (0.6..0.9).contains(&mean),
            "mean {mean} of uniform [0.5, 1] s"
        );
    }
}
