//! [`Clock`](crate::Clock) implementations.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

use crate::Clock;

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that stands still until told to move, for tests and replays.
///
/// ```
/// use axia_domain::{Clock, ManualClock};
/// use chrono::{Duration, TimeZone, Utc};
///
/// let t = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
/// let clock = ManualClock::new(t);
/// clock.advance(Duration::minutes(5));
/// assert_eq!(clock.now(), t + Duration::minutes(5));
/// ```
#[derive(Debug)]
pub struct ManualClock {
    millis: AtomicI64,
}

impl ManualClock {
    /// A clock showing `t` (to the millisecond).
    #[must_use]
    pub fn new(t: DateTime<Utc>) -> Self {
        Self {
            millis: AtomicI64::new(t.timestamp_millis()),
        }
    }

    /// Shows `t` from now on.
    pub fn set(&self, t: DateTime<Utc>) {
        self.millis.store(t.timestamp_millis(), Ordering::SeqCst);
    }

    /// Moves the clock by `by`.
    pub fn advance(&self, by: Duration) {
        self.millis
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.millis.load(Ordering::SeqCst))
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }
}

/// The system's clock moved to start at a given instant: it shows `start` when made and runs
/// at the system's speed from there. For a server or a demo run "as of" another time (a
/// weekend, a Monday before the open) whose clock must still move.
///
/// ```
/// use axia_domain::{Clock, ShiftedClock};
/// use chrono::{TimeZone, Utc};
///
/// let sunday = Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).unwrap();
/// let clock = ShiftedClock::starting_at(sunday);
/// let now = clock.now();
/// assert!(now >= sunday && now - sunday < chrono::Duration::seconds(60));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ShiftedClock {
    offset: Duration,
}

impl ShiftedClock {
    /// A clock that shows `start` now.
    #[must_use]
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Self {
            offset: start.signed_duration_since(Utc::now()),
        }
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let now = Utc::now();
        now.checked_add_signed(self.offset).unwrap_or(now)
    }
}
