//! A circuit breaker per source.

use chrono::{DateTime, Duration, Utc};

/// Opens after `threshold` consecutive failures, for `cooldown`; then lets calls through again
/// (one failure re-opens it, one success closes it).
#[derive(Debug, Clone)]
pub(crate) struct Breaker {
    threshold: u32,
    cooldown: Duration,
    failures: u32,
    open_until: Option<DateTime<Utc>>,
}

impl Breaker {
    pub(crate) const fn new(threshold: u32, cooldown: Duration) -> Self {
        Self {
            threshold,
            cooldown,
            failures: 0,
            open_until: None,
        }
    }

    /// True when calls may go through at `now`.
    pub(crate) fn allows(&self, now: DateTime<Utc>) -> bool {
        self.open_until.is_none_or(|t| now >= t)
    }

    pub(crate) const fn success(&mut self) {
        self.failures = 0;
        self.open_until = None;
    }

    pub(crate) fn failure(&mut self, now: DateTime<Utc>) {
        self.failures = self.failures.saturating_add(1);
        if self.failures >= self.threshold {
            self.open_until = Some(now + self.cooldown);
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn opens_after_the_threshold_and_closes_after_a_success() {
        let t = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let mut b = Breaker::new(3, Duration::seconds(30));
        b.failure(t);
        b.failure(t);
        assert!(b.allows(t));
        b.failure(t);
        assert!(!b.allows(t + Duration::seconds(29)));
        assert!(
            b.allows(t + Duration::seconds(30)),
            "half-open after the cool-down"
        );
        b.failure(t + Duration::seconds(30));
        assert!(
            !b.allows(t + Duration::seconds(31)),
            "one failure re-opens it"
        );
        b.success();
        assert!(b.allows(t + Duration::seconds(31)));
        b.failure(t);
        assert!(b.allows(t), "the count restarted");
    }
}
