//! [`Timeframe`]: the length of a bar, and the calendar arithmetic of bar open times.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::Grid;

const MINUTE_MS: i64 = 60_000;
const HOUR_MS: i64 = 60 * MINUTE_MS;
const DAY_MS: i64 = 24 * HOUR_MS;
const WEEK_MS: i64 = 7 * DAY_MS;
/// 1970-01-01 was a Thursday; the first Monday 00:00 UTC after the epoch is 4 days later.
const FIRST_MONDAY_MS: i64 = 4 * DAY_MS;

/// The length of a bar.
///
/// These methods are the grid under [`crate::DailyAlignment::UtcMidnight`]; [`Timeframe::aligned`]
/// gives the grid under another alignment ([`crate::Grid`]).
///
/// Bars are aligned in UTC: an intraday bar opens on a multiple of its length since
/// 1970-01-01T00:00Z (an H4 bar at 00:00, 04:00, … UTC), a `D1` bar at 00:00 UTC, a `W1` bar on
/// **Monday 00:00 UTC** (the ISO 8601 week) and an `MN1` bar on the 1st of the month at 00:00 UTC.
///
/// `Display` and `FromStr` round-trip on the canonical names (`M1` … `MN1`); parsing ignores case.
///
/// ```
/// use axia_domain::Timeframe;
/// use chrono::{TimeZone, Utc};
///
/// let tf: Timeframe = "h4".parse()?;
/// let t = Utc.with_ymd_and_hms(2026, 3, 4, 13, 37, 0).unwrap();
/// assert_eq!(tf.floor(t), Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap());
/// assert_eq!(tf.next_open(t), Utc.with_ymd_and_hms(2026, 3, 4, 16, 0, 0).unwrap());
/// // 2026-03-04 is a Wednesday; its week opened on Monday the 2nd.
/// assert_eq!(
///     axia_domain::Timeframe::W1.floor(t),
///     Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap()
/// );
/// # Ok::<(), axia_domain::TimeframeError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Timeframe {
    /// One minute.
    M1,
    /// Five minutes.
    M5,
    /// Fifteen minutes.
    M15,
    /// Thirty minutes.
    M30,
    /// One hour.
    H1,
    /// Four hours.
    H4,
    /// One UTC day.
    D1,
    /// One week, Monday 00:00 UTC to Monday 00:00 UTC.
    W1,
    /// One calendar month in UTC.
    MN1,
}

/// Why a string is not a [`Timeframe`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown timeframe {input:?}, expected one of M1 M5 M15 M30 H1 H4 D1 W1 MN1")]
pub struct TimeframeError {
    input: String,
}

impl Timeframe {
    /// All timeframes, finest first.
    pub const ALL: [Self; 9] = [
        Self::M1,
        Self::M5,
        Self::M15,
        Self::M30,
        Self::H1,
        Self::H4,
        Self::D1,
        Self::W1,
        Self::MN1,
    ];

    /// The canonical name (`"H1"`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::M1 => "M1",
            Self::M5 => "M5",
            Self::M15 => "M15",
            Self::M30 => "M30",
            Self::H1 => "H1",
            Self::H4 => "H4",
            Self::D1 => "D1",
            Self::W1 => "W1",
            Self::MN1 => "MN1",
        }
    }

    /// The length in milliseconds, for every timeframe but `MN1`, whose months differ.
    #[must_use]
    pub const fn fixed_millis(self) -> Option<i64> {
        Some(match self {
            Self::M1 => MINUTE_MS,
            Self::M5 => 5 * MINUTE_MS,
            Self::M15 => 15 * MINUTE_MS,
            Self::M30 => 30 * MINUTE_MS,
            Self::H1 => HOUR_MS,
            Self::H4 => 4 * HOUR_MS,
            Self::D1 => DAY_MS,
            Self::W1 => WEEK_MS,
            Self::MN1 => return None,
        })
    }

    /// The longest a bar can be, in milliseconds (31 days for `MN1`): for sizing lookbacks.
    #[must_use]
    pub const fn max_millis(self) -> i64 {
        match self.fixed_millis() {
            Some(ms) => ms,
            None => 31 * DAY_MS,
        }
    }

    /// The open time, in epoch milliseconds, of the bar that contains `ms`.
    ///
    /// Returns `None` only at the edges of the representable range.
    #[must_use]
    pub fn floor_millis(self, ms: i64) -> Option<i64> {
        self.utc_floor_millis(ms)
    }

    /// The open time, in epoch milliseconds, of the bar after the one that contains `ms`.
    ///
    /// Returns `None` only at the edges of the representable range.
    #[must_use]
    pub fn next_open_millis(self, ms: i64) -> Option<i64> {
        self.utc_next_open_millis(ms)
    }

    pub(crate) fn utc_floor_millis(self, ms: i64) -> Option<i64> {
        match self {
            Self::W1 => {
                let since = ms.checked_sub(FIRST_MONDAY_MS)?;
                since
                    .checked_sub(since.rem_euclid(WEEK_MS))?
                    .checked_add(FIRST_MONDAY_MS)
            }
            Self::MN1 => {
                let t = DateTime::from_timestamp_millis(ms)?;
                let first = NaiveDate::from_ymd_opt(t.year(), t.month(), 1)?;
                Some(first.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
            }
            _ => {
                let len = self.fixed_millis()?;
                ms.checked_sub(ms.rem_euclid(len))
            }
        }
    }

    pub(crate) fn utc_next_open_millis(self, ms: i64) -> Option<i64> {
        let open = self.utc_floor_millis(ms)?;
        match self.fixed_millis() {
            Some(len) => open.checked_add(len),
            None => {
                let t = DateTime::from_timestamp_millis(open)?;
                let (y, m) = if t.month() == 12 {
                    (t.year().checked_add(1)?, 1)
                } else {
                    (t.year(), t.month() + 1)
                };
                let first = NaiveDate::from_ymd_opt(y, m, 1)?;
                Some(first.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis())
            }
        }
    }

    /// True when the bar that opens at `open_ms` has closed at `now_ms`: its period has ended
    /// (`open + length <= now`; for `D1`, `W1` and `MN1` the end of its day, week or month).
    /// The one rule for "closed" everywhere: only closed bars are archived.
    #[must_use]
    pub fn is_closed_at_millis(self, open_ms: i64, now_ms: i64) -> bool {
        Grid::from(self).is_closed_at_millis(open_ms, now_ms)
    }

    /// As [`Timeframe::is_closed_at_millis`], on instants.
    ///
    /// ```
    /// use axia_domain::Timeframe;
    /// use chrono::{TimeZone, Utc};
    ///
    /// let open = Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap();
    /// let at_two = Utc.with_ymd_and_hms(2026, 3, 4, 2, 0, 30).unwrap();
    /// assert!(Timeframe::H1.is_closed_at(open, at_two));
    /// assert!(!Timeframe::D1.is_closed_at(open, at_two)); // the day has not ended
    /// ```
    #[must_use]
    pub fn is_closed_at(self, open: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        Grid::from(self).is_closed_at(open, now)
    }

    /// The open time of the bar before the one that contains `t` (saturating at chrono's
    /// limits).
    #[must_use]
    pub fn prev_open(self, t: DateTime<Utc>) -> DateTime<Utc> {
        Grid::from(self).prev_open(t)
    }

    /// The first bar open time at or after `t`: `t` itself when it is an open time, otherwise
    /// the next one. The one rule for "the first bar of a range".
    #[must_use]
    pub fn ceil(self, t: DateTime<Utc>) -> DateTime<Utc> {
        Grid::from(self).ceil(t)
    }

    /// True when `ms` is the open time of a bar of this timeframe.
    #[must_use]
    pub fn is_aligned_millis(self, ms: i64) -> bool {
        Grid::from(self).is_aligned_millis(ms)
    }

    /// The open time of the bar that contains `t` (saturating at chrono's limits).
    #[must_use]
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        Grid::from(self).floor(t)
    }

    /// The open time of the bar after the one that contains `t` (saturating at chrono's limits).
    #[must_use]
    pub fn next_open(self, t: DateTime<Utc>) -> DateTime<Utc> {
        Grid::from(self).next_open(t)
    }

    /// True when bars of this timeframe can be aggregated into bars of `target`: `target` is
    /// coarser and every bar of `self` lies inside one bar of `target` (M1 to M5 … H1 to H4,
    /// anything up to D1 to W1 or MN1; not W1 to MN1, as weeks straddle months).
    #[must_use]
    pub fn can_resample_to(self, target: Self) -> bool {
        if target <= self {
            return false;
        }
        match (self.fixed_millis(), target) {
            (Some(_), Self::W1 | Self::MN1) => self <= Self::D1,
            (Some(src), _) => target.fixed_millis().is_some_and(|dst| dst % src == 0),
            (None, _) => false,
        }
    }
}

impl fmt::Display for Timeframe {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Timeframe {
    type Err = TimeframeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|tf| tf.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| TimeframeError {
                input: s.chars().take(16).collect(),
            })
    }
}

impl TryFrom<String> for Timeframe {
    type Error = TimeframeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Timeframe> for String {
    fn from(tf: Timeframe) -> Self {
        tf.as_str().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone, Weekday};
    use proptest::prelude::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    #[test]
    fn names_round_trip_and_parse_ignores_case() {
        for tf in Timeframe::ALL {
            assert_eq!(tf.to_string().parse::<Timeframe>().unwrap(), tf);
            assert_eq!(tf.as_str().to_lowercase().parse::<Timeframe>().unwrap(), tf);
        }
        let err = "H2".parse::<Timeframe>().unwrap_err();
        assert!(err.to_string().contains("\"H2\""), "{err}");
        assert!("".parse::<Timeframe>().is_err());
        assert!("MN".parse::<Timeframe>().is_err());
    }

    #[test]
    fn floor_and_next_by_example() {
        let t = utc(2024, 2, 29, 23, 59);
        assert_eq!(Timeframe::M1.floor(t), t);
        assert_eq!(Timeframe::M5.floor(t), utc(2024, 2, 29, 23, 55));
        assert_eq!(Timeframe::M15.next_open(t), utc(2024, 3, 1, 0, 0));
        assert_eq!(Timeframe::H4.floor(t), utc(2024, 2, 29, 20, 0));
        assert_eq!(Timeframe::D1.floor(t), utc(2024, 2, 29, 0, 0));
        // 2024-02-29 is a Thursday.
        assert_eq!(Timeframe::W1.floor(t), utc(2024, 2, 26, 0, 0));
        assert_eq!(Timeframe::W1.next_open(t), utc(2024, 3, 4, 0, 0));
        assert_eq!(Timeframe::MN1.floor(t), utc(2024, 2, 1, 0, 0));
        assert_eq!(Timeframe::MN1.next_open(t), utc(2024, 3, 1, 0, 0));
        assert_eq!(
            Timeframe::MN1.next_open(utc(2025, 12, 31, 23, 0)),
            utc(2026, 1, 1, 0, 0)
        );
        // Before the epoch too.
        assert_eq!(
            Timeframe::W1.floor(utc(1969, 12, 31, 12, 0)),
            utc(1969, 12, 29, 0, 0)
        );
        assert_eq!(
            Timeframe::H1.floor(utc(1969, 12, 31, 12, 30)),
            utc(1969, 12, 31, 12, 0)
        );
    }

    #[test]
    fn resample_compatibility() {
        use Timeframe::*;
        assert!(M1.can_resample_to(M5));
        assert!(M5.can_resample_to(M15));
        assert!(M15.can_resample_to(M30));
        assert!(H1.can_resample_to(H4));
        assert!(H4.can_resample_to(D1));
        assert!(D1.can_resample_to(W1));
        assert!(D1.can_resample_to(MN1));
        assert!(M1.can_resample_to(MN1));
        assert!(!W1.can_resample_to(MN1));
        assert!(!H1.can_resample_to(H1));
        assert!(!H4.can_resample_to(H1));
        assert!(!MN1.can_resample_to(W1));
    }

    fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
        // 1950 .. 2150
        (-631_152_000_000_i64..5_680_281_600_000_i64)
            .prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap())
    }

    fn any_tf() -> impl Strategy<Value = Timeframe> {
        proptest::sample::select(Timeframe::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn floor_contains_t_and_is_aligned(t in any_time(), tf in any_tf()) {
            let open = tf.floor(t);
            let next = tf.next_open(t);
            prop_assert!(open <= t && t < next);
            prop_assert_eq!(tf.floor(open), open);
            prop_assert_eq!(tf.floor(next), next);
            prop_assert_eq!(tf.floor(next - Duration::milliseconds(1)), open);
            prop_assert!(tf.is_aligned_millis(open.timestamp_millis()));
        }

        #[test]
        fn calendar_timeframes_open_where_documented(t in any_time()) {
            let w = Timeframe::W1.floor(t);
            prop_assert_eq!(w.weekday(), Weekday::Mon);
            prop_assert_eq!(w.time(), chrono::NaiveTime::MIN);
            prop_assert!(t - w < Duration::days(7));
            let m = Timeframe::MN1.floor(t);
            prop_assert_eq!((m.day(), m.month(), m.year()), (1, t.month(), t.year()));
            prop_assert_eq!(m.time(), chrono::NaiveTime::MIN);
            let d = Timeframe::D1.floor(t);
            prop_assert_eq!(d.date_naive(), t.date_naive());
        }

        #[test]
        fn coarse_bar_contains_whole_fine_bars(t in any_time(), a in any_tf(), b in any_tf()) {
            if a.can_resample_to(b) {
                // The fine bar that holds t lies inside the coarse bar that holds t.
                prop_assert!(b.floor(t) <= a.floor(t));
                prop_assert!(a.next_open(t) <= b.next_open(t));
            }
        }
    }
}
