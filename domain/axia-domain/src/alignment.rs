//! Where daily bars start ([`DailyAlignment`]) and the bar grid of a timeframe under an
//! alignment ([`Grid`]).
//!
//! Under [`DailyAlignment::NewYorkClose`] a day is an FX **trading date**: the one that ends at
//! 17:00 America/New_York. Its `D1` bar opens at 17:00 New York the calendar day before (21:00
//! UTC while New York keeps daylight time, 22:00 UTC otherwise), so the FX week (Sunday 17:00 to
//! Friday 17:00 New York) holds five daily bars, Monday to Friday, and no Sunday stub. `H4` bars
//! open every four hours from the day's open; the sixth bar of a day ends at the next day's open,
//! so on the two weekend days a year whose length daylight saving changes (23 or 25 hours) it
//! is 3 or 5 hours long. `W1` opens on Sunday 17:00 New York (Monday's trading date), `MN1` at
//! 17:00 New York on the eve of the month's first trading date. Timeframes up to `H1` are the
//! same under both alignments: New York's offset from UTC is a whole number of hours.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, Months, NaiveDate, Utc};
use chrono_tz::America::New_York;
use serde::{Deserialize, Serialize};

use crate::Timeframe;
use crate::calendar::ny_close_on;

const HOUR_MS: i64 = 3_600_000;

/// Where an instrument's daily bars start.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum DailyAlignment {
    /// 00:00 UTC (and weeks on Monday 00:00 UTC, months on the 1st).
    #[default]
    UtcMidnight,
    /// 17:00 New York, the FX convention: five daily bars a week, H4 bars on the same anchor.
    NewYorkClose,
}

impl DailyAlignment {
    /// The name stored with a series (`utc_midnight`, `new_york_close`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::UtcMidnight => "utc_midnight",
            Self::NewYorkClose => "new_york_close",
        }
    }

    /// The day `t` belongs to: its UTC date, or under the New York close its trading date (the
    /// date of the 17:00 New York close that ends it).
    ///
    /// ```
    /// use axia_domain::DailyAlignment;
    /// use chrono::{NaiveDate, TimeZone, Utc};
    ///
    /// // Sunday 2026-07-05 21:30 UTC is 17:30 in New York: Monday's trading date.
    /// let t = Utc.with_ymd_and_hms(2026, 7, 5, 21, 30, 0).unwrap();
    /// assert_eq!(DailyAlignment::UtcMidnight.date_of(t), NaiveDate::from_ymd_opt(2026, 7, 5).unwrap());
    /// assert_eq!(DailyAlignment::NewYorkClose.date_of(t), NaiveDate::from_ymd_opt(2026, 7, 6).unwrap());
    /// ```
    #[must_use]
    pub fn date_of(self, t: DateTime<Utc>) -> NaiveDate {
        match self {
            Self::UtcMidnight => t.date_naive(),
            Self::NewYorkClose => {
                let local = crate::calendar::in_zone(t, New_York).naive_local();
                local
                    .checked_add_signed(Duration::hours(7))
                    .unwrap_or(local)
                    .date()
            }
        }
    }

    /// When the day `date` starts: 00:00 UTC, or 17:00 New York on the calendar day before
    /// (saturating at chrono's limits).
    #[must_use]
    pub fn day_start(self, date: NaiveDate) -> DateTime<Utc> {
        match self {
            Self::UtcMidnight => date
                .and_hms_opt(0, 0, 0)
                .map_or(DateTime::<Utc>::MIN_UTC, |t| t.and_utc()),
            Self::NewYorkClose => date
                .pred_opt()
                .map_or(DateTime::<Utc>::MIN_UTC, ny_close_on),
        }
    }
}

impl fmt::Display for DailyAlignment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for DailyAlignment {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "utc_midnight" => Ok(Self::UtcMidnight),
            "new_york_close" => Ok(Self::NewYorkClose),
            other => Err(format!(
                "alignment {other:?} is not utc_midnight or new_york_close"
            )),
        }
    }
}

/// The bar grid of a timeframe under a daily alignment: where its bars open and close.
///
/// [`Timeframe`]'s own methods are the grid under [`DailyAlignment::UtcMidnight`].
///
/// ```
/// use axia_domain::{DailyAlignment, Grid, Timeframe};
/// use chrono::{TimeZone, Utc};
///
/// let d1 = Grid::new(Timeframe::D1, DailyAlignment::NewYorkClose);
/// // Summer: the day opens at 21:00 UTC; winter: 22:00 UTC.
/// let july = Utc.with_ymd_and_hms(2026, 7, 8, 12, 0, 0).unwrap();
/// assert_eq!(d1.floor(july), Utc.with_ymd_and_hms(2026, 7, 7, 21, 0, 0).unwrap());
/// let january = Utc.with_ymd_and_hms(2026, 1, 14, 23, 0, 0).unwrap();
/// assert_eq!(d1.floor(january), Utc.with_ymd_and_hms(2026, 1, 14, 22, 0, 0).unwrap());
/// assert_eq!(d1.next_open(january), Utc.with_ymd_and_hms(2026, 1, 15, 22, 0, 0).unwrap());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Grid {
    timeframe: Timeframe,
    alignment: DailyAlignment,
}

impl fmt::Display for Grid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.alignment {
            DailyAlignment::UtcMidnight => write!(f, "{}", self.timeframe),
            DailyAlignment::NewYorkClose => write!(f, "{} ({})", self.timeframe, self.alignment),
        }
    }
}

impl Grid {
    /// The grid of `timeframe` under `alignment`.
    #[must_use]
    pub const fn new(timeframe: Timeframe, alignment: DailyAlignment) -> Self {
        Self {
            timeframe,
            alignment,
        }
    }

    /// The timeframe.
    #[must_use]
    pub const fn timeframe(self) -> Timeframe {
        self.timeframe
    }

    /// The alignment.
    #[must_use]
    pub const fn alignment(self) -> DailyAlignment {
        self.alignment
    }

    /// True when the alignment moves this timeframe's bars (`H4` and longer under the New York
    /// close); up to `H1` both alignments give the same grid.
    #[must_use]
    pub const fn is_shifted(self) -> bool {
        matches!(self.alignment, DailyAlignment::NewYorkClose)
            && matches!(
                self.timeframe,
                Timeframe::H4 | Timeframe::D1 | Timeframe::W1 | Timeframe::MN1
            )
    }

    /// The open time, in epoch milliseconds, of the bar that contains `ms`; `None` only at the
    /// edges of the representable range.
    #[must_use]
    pub fn floor_millis(self, ms: i64) -> Option<i64> {
        if self.is_shifted() {
            ny_bar(self.timeframe, ms).map(|(open, _)| open)
        } else {
            self.timeframe.utc_floor_millis(ms)
        }
    }

    /// The open time, in epoch milliseconds, of the bar after the one that contains `ms`.
    #[must_use]
    pub fn next_open_millis(self, ms: i64) -> Option<i64> {
        if self.is_shifted() {
            ny_bar(self.timeframe, ms).map(|(_, next)| next)
        } else {
            self.timeframe.utc_next_open_millis(ms)
        }
    }

    /// True when `ms` is the open time of a bar of this grid.
    #[must_use]
    pub fn is_aligned_millis(self, ms: i64) -> bool {
        self.floor_millis(ms) == Some(ms)
    }

    /// True when the bar that opens at `open_ms` has closed at `now_ms`: its period has ended.
    #[must_use]
    pub fn is_closed_at_millis(self, open_ms: i64, now_ms: i64) -> bool {
        self.next_open_millis(open_ms)
            .is_some_and(|end| end <= now_ms)
    }

    /// As [`Grid::is_closed_at_millis`], on instants.
    #[must_use]
    pub fn is_closed_at(self, open: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self.is_closed_at_millis(open.timestamp_millis(), now.timestamp_millis())
    }

    /// The open time of the bar that contains `t` (saturating at chrono's limits).
    #[must_use]
    pub fn floor(self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.floor_millis(t.timestamp_millis())
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }

    /// The open time of the bar after the one that contains `t` (saturating).
    #[must_use]
    pub fn next_open(self, t: DateTime<Utc>) -> DateTime<Utc> {
        self.next_open_millis(t.timestamp_millis())
            .and_then(DateTime::from_timestamp_millis)
            .unwrap_or(DateTime::<Utc>::MAX_UTC)
    }

    /// The open time of the bar before the one that contains `t` (saturating).
    #[must_use]
    pub fn prev_open(self, t: DateTime<Utc>) -> DateTime<Utc> {
        let open = self.floor(t);
        open.checked_sub_signed(Duration::milliseconds(1))
            .map_or(open, |before| self.floor(before))
    }

    /// The first bar open time at or after `t`.
    #[must_use]
    pub fn ceil(self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.floor(t) == t {
            t
        } else {
            self.next_open(t)
        }
    }
}

impl From<Timeframe> for Grid {
    /// The timeframe's grid under UTC midnight.
    fn from(timeframe: Timeframe) -> Self {
        Self::new(timeframe, DailyAlignment::UtcMidnight)
    }
}

impl Timeframe {
    /// This timeframe's grid under `alignment`.
    #[must_use]
    pub const fn aligned(self, alignment: DailyAlignment) -> Grid {
        Grid::new(self, alignment)
    }

    /// True when every daily alignment gives this timeframe the same bars (up to `H1`): a
    /// series' alignment is then only a label.
    #[must_use]
    pub const fn is_alignment_free(self) -> bool {
        !self.aligned(DailyAlignment::NewYorkClose).is_shifted()
    }
}

/// The open and the next open of the New York close bar of `timeframe` (H4 and longer) that
/// contains `ms`.
fn ny_bar(timeframe: Timeframe, ms: i64) -> Option<(i64, i64)> {
    let a = DailyAlignment::NewYorkClose;
    let t = DateTime::from_timestamp_millis(ms)?;
    let date = a.date_of(t);
    let start = |d: NaiveDate| a.day_start(d).timestamp_millis();
    Some(match timeframe {
        Timeframe::D1 => (start(date), start(date.succ_opt()?)),
        Timeframe::H4 => {
            let (day, next_day) = (start(date), start(date.succ_opt()?));
            let k = (ms.checked_sub(day)? / (4 * HOUR_MS)).clamp(0, 5);
            let open = day.checked_add(k * 4 * HOUR_MS)?;
            let next = if k == 5 { next_day } else { open + 4 * HOUR_MS };
            (open, next)
        }
        Timeframe::W1 => {
            let monday = date.checked_sub_signed(Duration::days(i64::from(
                date.weekday().num_days_from_monday(),
            )))?;
            (
                start(monday),
                start(monday.checked_add_signed(Duration::days(7))?),
            )
        }
        Timeframe::MN1 => {
            let first = date.with_day(1)?;
            (
                start(first),
                start(first.checked_add_months(Months::new(1))?),
            )
        }
        _ => {
            let open = timeframe.utc_floor_millis(ms)?;
            (open, timeframe.utc_next_open_millis(ms)?)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Weekday};
    use proptest::prelude::*;

    const NY: DailyAlignment = DailyAlignment::NewYorkClose;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// Every US DST transition from 2020 to 2035 by the rule since 2007 (second Sunday of March,
    /// first Sunday of November), computed without the time zone database.
    fn transitions() -> Vec<(NaiveDate, bool)> {
        let nth_sunday = |y: i32, m: u32, n: u32| {
            let first = NaiveDate::from_ymd_opt(y, m, 1).unwrap();
            let to_sunday = (7 - first.weekday().num_days_from_sunday()) % 7;
            first + Duration::days(i64::from(to_sunday + 7 * (n - 1)))
        };
        (2020..=2035)
            .flat_map(|y| [(nth_sunday(y, 3, 2), true), (nth_sunday(y, 11, 1), false)])
            .collect()
    }

    #[test]
    fn the_daily_bar_opens_at_21_utc_in_summer_and_22_in_winter_at_every_transition() {
        let d1 = Timeframe::D1.aligned(NY);
        for (sunday, to_summer) in transitions() {
            assert_eq!(sunday.weekday(), Weekday::Sun);
            // The week's first daily bar opens on the Sunday of the change itself, after it.
            let (before, after) = if to_summer { (22, 21) } else { (21, 22) };
            let friday_before = sunday - Duration::days(2);
            let thursday_before = friday_before - Duration::days(1);
            let bar_of = |d: NaiveDate, h| Utc.from_utc_datetime(&d.and_hms_opt(h, 0, 0).unwrap());
            // Friday's trading date, before the change.
            let fri_open = bar_of(thursday_before, before);
            assert_eq!(
                d1.floor(fri_open + Duration::hours(5)),
                fri_open,
                "{sunday}"
            );
            assert_eq!(
                d1.next_open(fri_open),
                bar_of(friday_before, before),
                "{sunday}"
            );
            // Monday's trading date, after it.
            let mon_open = bar_of(sunday, after);
            assert_eq!(
                d1.floor(mon_open + Duration::hours(23)),
                mon_open,
                "{sunday}"
            );
            assert_eq!(
                d1.next_open(mon_open),
                bar_of(sunday + Duration::days(1), after),
                "{sunday}"
            );
            assert_eq!(NY.date_of(mon_open), sunday + Duration::days(1));
            // The weekend day holding the change is 23 or 25 hours long.
            let weekend = d1.floor(bar_of(sunday, 12));
            let len = (d1.next_open(weekend) - weekend).num_hours();
            assert_eq!(len, if to_summer { 23 } else { 25 }, "{sunday}");
            // The week opens on that Sunday's open.
            assert_eq!(
                Timeframe::W1
                    .aligned(NY)
                    .floor(mon_open + Duration::days(3)),
                mon_open
            );
        }
    }

    #[test]
    fn five_daily_bars_a_fx_week_and_no_sunday_stub() {
        let d1 = Timeframe::D1.aligned(NY);
        for (sunday, _) in transitions() {
            let week_open = ny_close_on(sunday);
            let week_close = ny_close_on(sunday + Duration::days(5));
            let mut t = week_open;
            let mut days = Vec::new();
            while t < week_close {
                assert_eq!(d1.floor(t), t);
                days.push(NY.date_of(t).weekday());
                t = d1.next_open(t);
            }
            assert_eq!(t, week_close);
            assert_eq!(
                days,
                [
                    Weekday::Mon,
                    Weekday::Tue,
                    Weekday::Wed,
                    Weekday::Thu,
                    Weekday::Fri
                ]
            );
        }
    }

    #[test]
    fn h4_bars_start_at_the_days_open_and_the_last_ends_at_the_next() {
        let h4 = Timeframe::H4.aligned(NY);
        let d1 = Timeframe::D1.aligned(NY);
        for (sunday, _) in transitions() {
            for day in [
                sunday - Duration::days(1),
                sunday,
                sunday + Duration::days(3),
            ] {
                let open = d1.floor(ny_close_on(day) + Duration::minutes(1));
                let mut t = open;
                let mut n = 0;
                while t < d1.next_open(open) {
                    n += 1;
                    t = h4.next_open(t);
                }
                assert_eq!((n, t), (6, d1.next_open(open)), "{day}");
            }
        }
        // A summer Wednesday: 21:00, 01:00, 05:00 … UTC.
        assert_eq!(h4.floor(utc(2026, 7, 8, 0, 30)), utc(2026, 7, 7, 21, 0));
        assert_eq!(h4.floor(utc(2026, 7, 8, 3, 0)), utc(2026, 7, 8, 1, 0));
        // Winter: 22:00, 02:00 …
        assert_eq!(h4.floor(utc(2026, 1, 14, 3, 0)), utc(2026, 1, 14, 2, 0));
    }

    #[test]
    fn months_open_on_the_eve_of_their_first_trading_date() {
        let mn = Timeframe::MN1.aligned(NY);
        assert_eq!(mn.floor(utc(2026, 3, 15, 0, 0)), utc(2026, 2, 28, 22, 0));
        assert_eq!(
            mn.next_open(utc(2026, 3, 15, 0, 0)),
            utc(2026, 3, 31, 21, 0)
        );
        // The last evening of a month belongs to the next month.
        assert_eq!(mn.floor(utc(2026, 3, 31, 22, 0)), utc(2026, 3, 31, 21, 0));
    }

    #[test]
    fn up_to_h1_both_alignments_are_the_same_grid() {
        for tf in [
            Timeframe::M1,
            Timeframe::M5,
            Timeframe::M15,
            Timeframe::M30,
            Timeframe::H1,
        ] {
            assert!(!tf.aligned(NY).is_shifted());
            for t in [
                utc(2026, 3, 8, 6, 59),
                utc(2026, 11, 1, 5, 30),
                utc(2030, 1, 1, 0, 0),
            ] {
                assert_eq!(tf.aligned(NY).floor(t), tf.floor(t));
                assert_eq!(tf.aligned(NY).next_open(t), tf.next_open(t));
            }
        }
    }

    fn any_time() -> impl Strategy<Value = DateTime<Utc>> {
        // 2020-01-01 .. 2036-01-01.
        (1_577_836_800_000_i64..2_082_758_400_000)
            .prop_map(|ms| DateTime::from_timestamp_millis(ms).unwrap_or(DateTime::<Utc>::MIN_UTC))
    }

    fn any_grid() -> impl Strategy<Value = Grid> {
        (
            prop::sample::select(Timeframe::ALL.to_vec()),
            prop::sample::select(vec![DailyAlignment::UtcMidnight, NY]),
        )
            .prop_map(|(tf, a)| tf.aligned(a))
    }

    proptest! {
        #[test]
        fn a_bar_contains_its_instant_and_the_next_bar_starts_where_it_ends(
            t in any_time(), g in any_grid()
        ) {
            let open = g.floor(t);
            let next = g.next_open(t);
            prop_assert!(open <= t && t < next);
            prop_assert_eq!(g.floor(open), open);
            prop_assert_eq!(g.floor(next), next);
            prop_assert_eq!(g.next_open(open), next);
            prop_assert_eq!(g.prev_open(next), open);
            prop_assert!(g.ceil(t) == t || g.ceil(t) == next);
            prop_assert!(g.is_closed_at(open, next) && !g.is_closed_at(open, t));
        }

        #[test]
        fn new_york_bars_nest_in_the_coarser_new_york_bars(t in any_time()) {
            // Every H1 bar lies in one H4 bar, every H4 bar in one day, every day in one week and
            // one month.
            let pairs = [
                (Timeframe::H1, Timeframe::H4),
                (Timeframe::H4, Timeframe::D1),
                (Timeframe::D1, Timeframe::W1),
                (Timeframe::D1, Timeframe::MN1),
            ];
            for (fine, coarse) in pairs {
                let (f, c) = (fine.aligned(NY), coarse.aligned(NY));
                let open = f.floor(t);
                let last = f.next_open(t) - Duration::milliseconds(1);
                prop_assert_eq!(c.floor(open), c.floor(last), "{} in {}", fine, coarse);
            }
            // Daily bars open at 17:00 New York, 21:00 or 22:00 UTC.
            let d = Timeframe::D1.aligned(NY).floor(t);
            prop_assert!(matches!(d.format("%H:%M").to_string().as_str(), "21:00" | "22:00"));
            prop_assert_eq!(d.with_timezone(&New_York).format("%H:%M").to_string(), "17:00");
        }
    }
}
