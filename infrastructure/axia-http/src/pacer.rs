//! [`Pacer`]: the client-side request rate every HTTP source keeps (Yahoo, OANDA).

use std::ops::Add;
use std::sync::Mutex;
use std::time::Duration;

/// Spaces calls at least `1 / rate` apart, in arrival order: [`reserve`](Self::reserve) gives
/// each call the instant it may leave, and the adapter sleeps until then. Generic over the
/// instant type, so an adapter can use its runtime's clock (and a test its paused time);
/// holds no timer itself.
#[derive(Debug)]
pub struct Pacer<I> {
    interval: Duration,
    next: Mutex<Option<I>>,
}

impl<I: Copy + Ord + Add<Duration, Output = I>> Pacer<I> {
    /// At most `rate` calls a second (at least 0.01).
    #[must_use]
    pub fn per_second(rate: f64) -> Self {
        Self {
            interval: Duration::from_secs_f64(1.0 / rate.max(0.01)),
            next: Mutex::new(None),
        }
    }

    /// The instant this call may leave: `now`, or one interval after the previous call's slot,
    /// whichever is later.
    pub fn reserve(&self, now: I) -> I {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let slot = next.map_or(now, |n| n.max(now));
        *next = Some(slot + self.interval);
        slot
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    #[test]
    fn calls_are_spaced_by_the_interval_in_arrival_order() {
        let pacer = Pacer::per_second(4.0);
        let t0 = Instant::now();
        let slots: Vec<_> = (0..5).map(|_| pacer.reserve(t0) - t0).collect();
        assert_eq!(
            slots,
            (0..5)
                .map(|i| Duration::from_millis(250 * i))
                .collect::<Vec<_>>()
        );
        // A call long after the last slot leaves at once.
        let later = t0 + Duration::from_secs(10);
        assert_eq!(pacer.reserve(later), later);
        assert_eq!(pacer.reserve(later), later + Duration::from_millis(250));
    }
}
