//! [`Clock`]: where "now" comes from.

use chrono::{DateTime, Utc};

/// The current time. Everything that depends on "now" (TTLs, windows, schedules) takes it from
/// here, so tests can fix it.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now, in UTC.
    fn now(&self) -> DateTime<Utc>;
}

impl<T: Clock + ?Sized> Clock for std::sync::Arc<T> {
    fn now(&self) -> DateTime<Utc> {
        (**self).now()
    }
}
