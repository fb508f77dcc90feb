//! [`TimeRange`] and [`UseCase`].

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// A half-open interval of UTC time, `[start, end)`.
///
/// ```
/// use axia_domain::TimeRange;
/// use chrono::{Duration, TimeZone, Utc};
///
/// let now = Utc.with_ymd_and_hms(2026, 1, 5, 12, 0, 0).unwrap();
/// let day = TimeRange::last(Duration::hours(24), now);
/// assert_eq!(day.start(), now - Duration::hours(24));
/// assert!(day.contains(day.start()) && !day.contains(now));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawRange")]
pub struct TimeRange {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

#[derive(Deserialize)]
struct RawRange {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TryFrom<RawRange> for TimeRange {
    type Error = TimeRangeError;
    fn try_from(r: RawRange) -> Result<Self, Self::Error> {
        Self::new(r.start, r.end)
    }
}

/// A range whose end is before its start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("time range ends ({end}) before it starts ({start})")]
pub struct TimeRangeError {
    start: DateTime<Utc>,
    end: DateTime<Utc>,
}

impl TimeRange {
    /// `[start, end)`; `start == end` is the empty range.
    ///
    /// # Errors
    /// [`TimeRangeError`] when `end < start`.
    pub fn new(start: DateTime<Utc>, end: DateTime<Utc>) -> Result<Self, TimeRangeError> {
        if end < start {
            return Err(TimeRangeError { start, end });
        }
        Ok(Self { start, end })
    }

    /// The `window` that ends at `now`: `[now - window, now)` (a negative window is empty).
    #[must_use]
    pub fn last(window: Duration, now: DateTime<Utc>) -> Self {
        let start = now
            .checked_sub_signed(window.max(Duration::zero()))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Self { start, end: now }
    }

    /// The `window` up to and including `now`: `(now - window, now]`, held as
    /// `[now - window + 1 ms, now + 1 ms)` so a bar opening at `now` is inside.
    #[must_use]
    pub fn last_through(window: Duration, now: DateTime<Utc>) -> Self {
        Self::last(window, now).shifted_by_a_millisecond()
    }

    fn shifted_by_a_millisecond(self) -> Self {
        let ms = Duration::milliseconds(1);
        Self {
            start: self.start.checked_add_signed(ms).unwrap_or(self.start),
            end: self.end.checked_add_signed(ms).unwrap_or(self.end),
        }
    }

    /// The first instant inside.
    #[must_use]
    pub const fn start(&self) -> DateTime<Utc> {
        self.start
    }

    /// The first instant after.
    #[must_use]
    pub const fn end(&self) -> DateTime<Utc> {
        self.end
    }

    /// `start` in epoch milliseconds.
    #[must_use]
    pub fn start_millis(&self) -> i64 {
        self.start.timestamp_millis()
    }

    /// `end` in epoch milliseconds.
    #[must_use]
    pub fn end_millis(&self) -> i64 {
        self.end.timestamp_millis()
    }

    /// `end - start`.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.end - self.start
    }

    /// True when the range holds no instant.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// True when `t` is in `[start, end)`.
    #[must_use]
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }

    /// True when `ms` (epoch milliseconds) is in `[start, end)`.
    #[must_use]
    pub fn contains_millis(&self, ms: i64) -> bool {
        self.start_millis() <= ms && ms < self.end_millis()
    }

    /// This range with its end instant included: `[start, end + 1 ms)`. The one rule for
    /// "up to and including": a window ending at now holds the bar opening at now.
    #[must_use]
    pub fn through_end(self) -> Self {
        Self {
            start: self.start,
            end: self
                .end
                .checked_add_signed(Duration::milliseconds(1))
                .unwrap_or(self.end),
        }
    }

    /// The range from `first` up to and including `last` (`[first, last + 1 ms)`), for the
    /// span of a frame's open times.
    ///
    /// # Errors
    /// [`TimeRangeError`] when `last < first`.
    pub fn covering(first: DateTime<Utc>, last: DateTime<Utc>) -> Result<Self, TimeRangeError> {
        Ok(Self::new(first, last)?.through_end())
    }

    /// This range ending no later than `end` (empty when `end` is before the start).
    #[must_use]
    pub fn clipped_to(self, end: DateTime<Utc>) -> Self {
        Self {
            start: self.start,
            end: self.end.min(end).max(self.start),
        }
    }

    /// The part both ranges share, if any.
    #[must_use]
    pub fn intersect(&self, other: &Self) -> Option<Self> {
        let start = self.start.max(other.start);
        let end = self.end.min(other.end);
        (start < end).then_some(Self { start, end })
    }
}

impl fmt::Display for TimeRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "[{}, {})",
            self.start
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            self.end
                .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
        )
    }
}

/// What the bars are for; the data provider orders its sources by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UseCase {
    /// Deciding and placing orders: freshest source first.
    Trading,
    /// Drawing charts: cheapest complete source first.
    Chart,
    /// Research over history: archives first.
    Analysis,
}

/// A string that is not a [`UseCase`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown use case {input:?}, expected trading, chart or analysis")]
pub struct UseCaseError {
    input: String,
}

impl UseCase {
    /// Every use case.
    pub const ALL: [Self; 3] = [Self::Trading, Self::Chart, Self::Analysis];

    /// The lowercase name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Trading => "trading",
            Self::Chart => "chart",
            Self::Analysis => "analysis",
        }
    }
}

impl fmt::Display for UseCase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UseCase {
    type Err = UseCaseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|u| u.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UseCaseError {
                input: s.chars().take(16).collect(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn range_rules() {
        let a = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let b = a + Duration::hours(2);
        assert!(TimeRange::new(b, a).is_err());
        let r = TimeRange::new(a, b).unwrap();
        assert!(r.contains(a) && !r.contains(b));
        assert!(TimeRange::new(a, a).unwrap().is_empty());
        let s = TimeRange::new(a + Duration::hours(1), b + Duration::hours(1)).unwrap();
        assert_eq!(
            r.intersect(&s),
            Some(TimeRange::new(a + Duration::hours(1), b).unwrap())
        );
        assert_eq!(
            r.intersect(&TimeRange::new(b, b + Duration::hours(1)).unwrap()),
            None
        );
        assert_eq!(
            r.to_string(),
            "[2026-01-01T00:00:00Z, 2026-01-01T02:00:00Z)"
        );
        assert!(
            r.through_end().contains(b) && !r.through_end().contains(b + Duration::milliseconds(1))
        );
        assert_eq!(TimeRange::covering(a, b).unwrap(), r.through_end());
        assert!(TimeRange::covering(b, a).is_err());
        assert_eq!(
            r.clipped_to(a + Duration::hours(1)).end(),
            a + Duration::hours(1)
        );
        assert_eq!(r.clipped_to(b + Duration::hours(1)), r);
        assert!(r.clipped_to(a - Duration::hours(1)).is_empty());
        let json = r#"{"start":"2026-01-01T02:00:00Z","end":"2026-01-01T00:00:00Z"}"#;
        assert!(serde_json::from_str::<TimeRange>(json).is_err());
    }

    #[test]
    fn use_case_round_trip() {
        for u in [UseCase::Trading, UseCase::Chart, UseCase::Analysis] {
            assert_eq!(u.to_string().parse::<UseCase>().unwrap(), u);
        }
        assert!("backtest".parse::<UseCase>().is_err());
    }
}
