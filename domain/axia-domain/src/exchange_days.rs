//! [`ExchangeDays`]: the days an exchange trades, by its published rules: its holidays, its
//! early closes and the changes of its hours.

use chrono::{Datelike, Days, NaiveDate, NaiveTime, Weekday};

/// The days an exchange trades, beyond its weekday sessions: which weekdays it does not open,
/// and on which it closes early. A [`SessionCalendar`](crate::SessionCalendar) applies them, so
/// completeness, gap detection and the next open skip a holiday as they skip a weekend.
///
/// The rules are the exchanges' published ones, from 2000 on; the NYSE's and the TSE's days from
/// 2000 to 2035 are checked against the `exchange_calendars` package's (golden files in this
/// crate's tests), including their closures for events (national days of mourning, storms, an
/// outage). A closure announced after this release is not known to it: configure the instrument
/// with [`ExchangeDays::Weekdays`] and no day is assumed closed.
///
/// ```
/// use axia_domain::ExchangeDays;
/// use chrono::{NaiveDate, NaiveTime};
///
/// let d = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
/// // Good Friday 2026, and the Friday the NYSE closes for Independence Day (July 4 is a Saturday).
/// assert!(ExchangeDays::Nyse.is_closed(d(2026, 4, 3)));
/// assert!(ExchangeDays::Nyse.is_closed(d(2026, 7, 3)));
/// // The day after Thanksgiving closes at 13:00 New York time.
/// assert_eq!(ExchangeDays::Nyse.close_on(d(2026, 11, 27)), Some(NaiveTime::from_hms_opt(13, 0, 0).unwrap()));
/// // Tokyo: a citizens' holiday between Respect for the Aged Day and the autumnal equinox.
/// assert!(ExchangeDays::Tse.is_closed(d(2026, 9, 22)));
/// assert!(!ExchangeDays::Weekdays.is_closed(d(2026, 9, 22)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ExchangeDays {
    /// Every weekday is a full trading day (no holiday assumed).
    #[default]
    Weekdays,
    /// The New York Stock Exchange (and Nasdaq, which keeps its days): New Year's Day (not
    /// made up when it falls on a Saturday), Martin Luther King Jr. Day, Washington's Birthday,
    /// Good Friday, Memorial Day, Juneteenth (from 2022), Independence Day, Labor Day,
    /// Thanksgiving and Christmas (a Saturday holiday on the Friday before, a Sunday one on the
    /// Monday after); closes at 13:00 on July 3 and December 24 when they fall from Monday to
    /// Thursday, and on the day after Thanksgiving.
    Nyse,
    /// The Tokyo Stock Exchange: Japan's national holidays (substitute holidays and citizens'
    /// holidays included, the equinoxes by the astronomical formula, the 2019 and 2020 - 2021
    /// special laws), December 31 and January 1 - 3. Its afternoon session ends at 15:30 from
    /// 2024-11-05, at 15:00 before.
    Tse,
    /// The London Stock Exchange: England's bank holidays (with their substitutes and the
    /// one-off ones: jubilees, the 2011 royal wedding, the 2022 state funeral, the 2023
    /// coronation); closes at 12:30 on December 24 and 31. From a table, 2000 - 2035
    /// ([`ExchangeDays::TABLE_YEARS`]).
    Lse,
    /// Euronext (Paris, Amsterdam, Brussels, Lisbon), also the days Madrid and Milan close at
    /// the least: January 1, Good Friday, Easter Monday, May 1, December 25 and 26; closes at
    /// 14:05 on December 24 and 31. From Euronext Paris's table, 2000 - 2035.
    Euronext,
    /// Xetra (Frankfurt): January 1, Good Friday, Easter Monday, May 1, December 24, 25, 26 and
    /// 31 (and the days it also closed in earlier years); closes at 14:00 on December 30. From a
    /// table, 2000 - 2035.
    Xetra,
    /// Hong Kong Exchanges: Hong Kong's public holidays (the Lunar New Year, Ching Ming, the
    /// Buddha's birthday, Tuen Ng, the Mid-Autumn and Chung Yeung festivals, by the lunar
    /// calendar) and the closures of past typhoons; mornings only on the eves of Christmas,
    /// the New Year and the Lunar New Year. From a table, 2000 - 2035.
    Hkex,
    /// The Australian Securities Exchange: New South Wales's public holidays that close it
    /// (Australia Day, Easter, Anzac Day, the King's birthday, Christmas, Boxing Day); closes at
    /// 14:10 on December 24 and 31. From a table, 2000 - 2035.
    Asx,
    /// CME Globex (equity and interest-rate futures), by trading date: no session on New
    /// Year's Day, Good Friday and Christmas (and the national days of mourning); trading
    /// halts at 12:00 Chicago time on the other US holidays and the eves around them. From a
    /// table, 2000 - 2035.
    CmeGlobex,
}

/// The days of an exchange kept as a table: its closed weekdays and its early closes.
#[derive(Debug)]
struct Table {
    closed: std::collections::BTreeSet<NaiveDate>,
    early: std::collections::BTreeMap<NaiveDate, NaiveTime>,
}

impl Table {
    /// `date,closed` and `date,early HH:MM` lines (and `#` comments, a header) from
    /// `data/exchange_days.py`; a line that does not parse is skipped (the tables' test
    /// counts them).
    fn parse(csv: &str) -> Self {
        let mut closed = std::collections::BTreeSet::new();
        let mut early = std::collections::BTreeMap::new();
        for line in csv.lines().filter(|l| !l.starts_with('#')) {
            let Some((date, day)) = line.split_once(',') else {
                continue;
            };
            let Ok(date) = date.parse::<NaiveDate>() else {
                continue;
            };
            match day.strip_prefix("early ") {
                Some(t) => {
                    if let Ok(t) = NaiveTime::parse_from_str(t, "%H:%M") {
                        early.insert(date, t);
                    }
                }
                None if day == "closed" => {
                    closed.insert(date);
                }
                None => {}
            }
        }
        Self { closed, early }
    }
}

macro_rules! table {
    ($file:literal) => {{
        static TABLE: std::sync::OnceLock<Table> = std::sync::OnceLock::new();
        TABLE.get_or_init(|| Table::parse(include_str!(concat!("../data/", $file))))
    }};
}

/// Weekdays the NYSE closed for an event rather than a holiday.
const NYSE_EVENT_CLOSURES: [(i32, u32, u32); 10] = [
    (2001, 9, 11),
    (2001, 9, 12),
    (2001, 9, 13),
    (2001, 9, 14),
    (2004, 6, 11),
    (2007, 1, 2),
    (2012, 10, 29),
    (2012, 10, 30),
    (2018, 12, 5),
    (2025, 1, 9),
];

/// Days the NYSE closed at 13:00 outside its rules.
const NYSE_EVENT_EARLY_CLOSES: [(i32, u32, u32); 2] = [(2002, 7, 5), (2003, 12, 26)];

/// Weekdays the TSE did not trade outside Japan's holidays: the outage of 2020-10-01.
const TSE_EVENT_CLOSURES: [(i32, u32, u32); 1] = [(2020, 10, 1)];

fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

fn ymd(y: i32, m: u32, d: u32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
}

fn listed(list: &[(i32, u32, u32)], date: NaiveDate) -> bool {
    list.iter()
        .any(|&(y, m, d)| date.year() == y && date.month() == m && date.day() == d)
}

fn is_weekend(date: NaiveDate) -> bool {
    matches!(date.weekday(), Weekday::Sat | Weekday::Sun)
}

/// The `n`-th `weekday` of a month (`n` from 1).
fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u8) -> Option<NaiveDate> {
    NaiveDate::from_weekday_of_month_opt(year, month, weekday, n)
}

/// The last `weekday` of a month.
fn last_weekday(year: i32, month: u32, weekday: Weekday) -> Option<NaiveDate> {
    (1..=5)
        .rev()
        .find_map(|n| nth_weekday(year, month, weekday, n))
}

/// Easter Sunday (Gregorian; the anonymous algorithm).
fn easter(year: i32) -> Option<NaiveDate> {
    let a = year.rem_euclid(19);
    let b = year.div_euclid(100);
    let c = year.rem_euclid(100);
    let (d, e) = (b / 4, b % 4);
    let f = (b + 8) / 25;
    let g = (b - f + 1) / 3;
    let h = (19 * a + b - d - g + 15) % 30;
    let (i, k) = (c / 4, c % 4);
    let l = (32 + 2 * e + 2 * i - h - k) % 7;
    let m = (a + 11 * h + 22 * l) / 451;
    let month = (h + l - 7 * m + 114) / 31;
    let day = (h + l - 7 * m + 114) % 31 + 1;
    ymd(year, u32::try_from(month).ok()?, u32::try_from(day).ok()?)
}

/// The weekday a US holiday on `date` is observed on: a Saturday's on the Friday before, a
/// Sunday's on the Monday after.
fn observed(date: NaiveDate) -> Option<NaiveDate> {
    match date.weekday() {
        Weekday::Sat => date.pred_opt(),
        Weekday::Sun => date.succ_opt(),
        _ => Some(date),
    }
}

fn nyse_holiday(date: NaiveDate) -> bool {
    let y = date.year();
    let new_year = ymd(y, 1, 1).filter(|d| d.weekday() != Weekday::Sat);
    let rules = [
        new_year.and_then(observed),
        nth_weekday(y, 1, Weekday::Mon, 3),
        nth_weekday(y, 2, Weekday::Mon, 3),
        easter(y).and_then(|e| e.checked_sub_days(Days::new(2))),
        last_weekday(y, 5, Weekday::Mon),
        (y >= 2022)
            .then(|| ymd(y, 6, 19))
            .flatten()
            .and_then(observed),
        ymd(y, 7, 4).and_then(observed),
        nth_weekday(y, 9, Weekday::Mon, 1),
        nth_weekday(y, 11, Weekday::Thu, 4),
        ymd(y, 12, 25).and_then(observed),
    ];
    rules.contains(&Some(date)) || listed(&NYSE_EVENT_CLOSURES, date)
}

fn nyse_early_close(date: NaiveDate) -> bool {
    let y = date.year();
    let before_weekday_holiday = |m, d| {
        date.month() == m
            && date.day() == d
            && matches!(
                date.weekday(),
                Weekday::Mon | Weekday::Tue | Weekday::Wed | Weekday::Thu
            )
    };
    let after_thanksgiving = nth_weekday(y, 11, Weekday::Thu, 4).and_then(|t| t.succ_opt());
    let by_rule = before_weekday_holiday(7, 3) && (y, date.month(), date.day()) != (2002, 7, 3)
        || before_weekday_holiday(12, 24)
        || after_thanksgiving == Some(date);
    by_rule || listed(&NYSE_EVENT_EARLY_CLOSES, date)
}

/// The day of an equinox in `year` (1980 - 2099), from its base day in 1980.
fn equinox_day(year: i32, base: f64) -> u32 {
    let n = f64::from(year - 1980);
    let day = (base + 0.242_194 * n - (n / 4.0).floor()).floor();
    // 19 - 24 for every year of the formula's range.
    if (1.0..=31.0).contains(&day) {
        day as u32
    } else {
        0
    }
}

/// A national holiday of Japan by its own rule (not a substitute or a citizens' holiday).
fn jp_named_holiday(date: NaiveDate) -> bool {
    let (y, m, d) = (date.year(), date.month(), date.day());
    let is = |other: Option<NaiveDate>| other == Some(date);
    let fixed = matches!(
        (m, d),
        (1, 1) | (2, 11) | (4, 29) | (5, 3) | (5, 5) | (11, 3) | (11, 23)
    ) || (m, d) == (5, 4) && y >= 2007
        || (m, d) == (2, 23) && y >= 2020
        || (m, d) == (12, 23) && (1989..=2018).contains(&y);
    let coming_of_age = if y < 2000 {
        is(ymd(y, 1, 15))
    } else {
        is(nth_weekday(y, 1, Weekday::Mon, 2))
    };
    let equinox = (1980..=2099).contains(&y)
        && ((m == 3 && d == equinox_day(y, 20.8431)) || (m == 9 && d == equinox_day(y, 23.2488)));
    // The Olympic years moved three holidays by special law.
    let marine = match y {
        2020 => is(ymd(2020, 7, 23)),
        2021 => is(ymd(2021, 7, 22)),
        1996..=2002 => is(ymd(y, 7, 20)),
        _ if y > 2002 => is(nth_weekday(y, 7, Weekday::Mon, 3)),
        _ => false,
    };
    let mountain = match y {
        2020 => is(ymd(2020, 8, 10)),
        2021 => is(ymd(2021, 8, 8)),
        _ if y >= 2016 => is(ymd(y, 8, 11)),
        _ => false,
    };
    let aged = if y < 2003 {
        is(ymd(y, 9, 15))
    } else {
        is(nth_weekday(y, 9, Weekday::Mon, 3))
    };
    let sports = match y {
        2020 => is(ymd(2020, 7, 24)),
        2021 => is(ymd(2021, 7, 23)),
        _ if y < 2000 => is(ymd(y, 10, 10)),
        _ => is(nth_weekday(y, 10, Weekday::Mon, 2)),
    };
    // The enthronement: its day and its ceremony, 2019.
    let enthronement = is(ymd(2019, 5, 1)) || is(ymd(2019, 10, 22));
    fixed || coming_of_age || equinox || marine || mountain || aged || sports || enthronement
}

/// A holiday in Japan: a named one, a substitute holiday (the first day after a Sunday holiday
/// that is not itself one; before 2007 only the Monday) or a citizens' holiday (a day between
/// two named holidays).
fn jp_holiday(date: NaiveDate) -> bool {
    if jp_named_holiday(date) {
        return true;
    }
    let mut before = date.pred_opt();
    let mut steps = 0;
    while let Some(b) = before.filter(|&b| jp_named_holiday(b)) {
        if b.weekday() == Weekday::Sun {
            return date.year() >= 2007 || steps == 0;
        }
        before = b.pred_opt();
        steps += 1;
    }
    date.weekday() != Weekday::Sun
        && date.pred_opt().is_some_and(jp_named_holiday)
        && date.succ_opt().is_some_and(jp_named_holiday)
}

impl ExchangeDays {
    /// The years the table-kept exchanges' days cover ([`Lse`](Self::Lse),
    /// [`Euronext`](Self::Euronext), [`Xetra`](Self::Xetra), [`Hkex`](Self::Hkex),
    /// [`Asx`](Self::Asx), [`CmeGlobex`](Self::CmeGlobex)): outside them every weekday is taken
    /// as a full trading day.
    pub const TABLE_YEARS: std::ops::RangeInclusive<i32> = 2000..=2035;

    fn table(self) -> Option<&'static Table> {
        match self {
            Self::Weekdays | Self::Nyse | Self::Tse => None,
            Self::Lse => Some(table!("xlon.csv")),
            Self::Euronext => Some(table!("xpar.csv")),
            Self::Xetra => Some(table!("xetr.csv")),
            Self::Hkex => Some(table!("xhkg.csv")),
            Self::Asx => Some(table!("xasx.csv")),
            Self::CmeGlobex => Some(table!("cmes.csv")),
        }
    }

    /// True when the exchange does not trade on `date` (its local date): a weekend, a holiday,
    /// an event closure.
    #[must_use]
    pub fn is_closed(self, date: NaiveDate) -> bool {
        if is_weekend(date) {
            return true;
        }
        match self {
            Self::Weekdays => false,
            Self::Nyse => nyse_holiday(date),
            Self::Tse => {
                matches!((date.month(), date.day()), (12, 31) | (1, 2) | (1, 3))
                    || jp_holiday(date)
                    || listed(&TSE_EVENT_CLOSURES, date)
            }
            tabled => tabled.table().is_some_and(|t| t.closed.contains(&date)),
        }
    }

    /// The local time the exchange closes on `date` when its sessions end earlier that day
    /// than they are configured to (an early close, or hours of the time before a change);
    /// `None` for a day of full sessions.
    #[must_use]
    pub fn close_on(self, date: NaiveDate) -> Option<NaiveTime> {
        match self {
            Self::Weekdays => None,
            Self::Nyse => nyse_early_close(date).then(|| hm(13, 0)),
            Self::Tse => (date < ymd(2024, 11, 5).unwrap_or(NaiveDate::MIN)).then(|| hm(15, 0)),
            tabled => tabled.table().and_then(|t| t.early.get(&date).copied()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    /// Every day 2000 - 2035 against the golden file: the weekdays closed, and the early
    /// closes; `regular` is what [`ExchangeDays::close_on`] gives on any other day.
    fn check_golden(
        days: ExchangeDays,
        golden: &str,
        regular: impl Fn(NaiveDate) -> Option<NaiveTime>,
    ) {
        let mut expected = std::collections::BTreeMap::new();
        for line in golden.lines().skip(1) {
            let (date, day) = line.split_once(',').unwrap();
            expected.insert(date.parse::<NaiveDate>().unwrap(), day.to_owned());
        }
        assert!(
            expected.len() > 300,
            "{days:?}: {} golden days",
            expected.len()
        );
        let mut date = d(2000, 1, 1);
        while date <= d(2035, 12, 31) {
            let want = expected.get(&date).map(String::as_str);
            let closed = days.is_closed(date);
            assert_eq!(
                closed,
                is_weekend(date) || want == Some("closed"),
                "{days:?} {date}"
            );
            if !closed {
                let early = want
                    .and_then(|w| w.strip_prefix("early "))
                    .map(|t| NaiveTime::parse_from_str(t, "%H:%M").unwrap());
                assert_eq!(
                    days.close_on(date),
                    early.or_else(|| regular(date)),
                    "{days:?} {date}"
                );
            }
            date = date.succ_opt().unwrap();
        }
    }

    #[test]
    fn nyse_days_2000_to_2035_are_exchange_calendars_xnys() {
        check_golden(
            ExchangeDays::Nyse,
            include_str!("../tests/golden/xnys.csv"),
            |_| None,
        );
    }

    #[test]
    fn tse_days_2000_to_2035_are_exchange_calendars_xtks() {
        check_golden(
            ExchangeDays::Tse,
            include_str!("../tests/golden/xtks.csv"),
            |date| (date < d(2024, 11, 5)).then(|| hm(15, 0)),
        );
    }

    #[test]
    fn tokyo_afternoon_ends_at_1500_before_2024_11_05() {
        assert_eq!(ExchangeDays::Tse.close_on(d(2024, 11, 1)), Some(hm(15, 0)));
        assert_eq!(ExchangeDays::Tse.close_on(d(2024, 11, 5)), None);
    }

    /// Every table parses whole, covers its years, and is what `is_closed` and `close_on`
    /// answer; a few days known from the exchanges' own notices.
    #[test]
    fn the_tabled_exchanges_read_their_tables() {
        for (days, csv) in [
            (ExchangeDays::Lse, include_str!("../data/xlon.csv")),
            (ExchangeDays::Euronext, include_str!("../data/xpar.csv")),
            (ExchangeDays::Xetra, include_str!("../data/xetr.csv")),
            (ExchangeDays::Hkex, include_str!("../data/xhkg.csv")),
            (ExchangeDays::Asx, include_str!("../data/xasx.csv")),
            (ExchangeDays::CmeGlobex, include_str!("../data/cmes.csv")),
        ] {
            let rows: Vec<&str> = csv
                .lines()
                .filter(|l| !l.starts_with('#'))
                .skip(1)
                .collect();
            let t = days.table().unwrap();
            assert_eq!(
                t.closed.len() + t.early.len(),
                rows.len(),
                "{days:?}: every row read"
            );
            for year in [2000, 2035] {
                assert!(t.closed.iter().any(|d| d.year() == year), "{days:?} {year}");
            }
            for row in rows {
                let (date, day) = row.split_once(',').unwrap();
                let date: NaiveDate = date.parse().unwrap();
                if day == "closed" {
                    assert!(days.is_closed(date), "{days:?} {date}");
                } else {
                    assert!(!days.is_closed(date), "{days:?} {date}");
                    assert!(days.close_on(date).is_some(), "{days:?} {date}");
                }
            }
        }
        // Good Friday and Easter Monday 2026; the coronation; the Lunar New Year; Anzac Day;
        // no Globex session on Good Friday, a 12:00 halt on Thanksgiving.
        assert!(ExchangeDays::Lse.is_closed(d(2026, 4, 3)));
        assert!(ExchangeDays::Lse.is_closed(d(2026, 4, 6)));
        assert!(ExchangeDays::Lse.is_closed(d(2023, 5, 8)));
        assert_eq!(
            ExchangeDays::Lse.close_on(d(2026, 12, 24)),
            Some(hm(12, 30))
        );
        assert!(ExchangeDays::Euronext.is_closed(d(2026, 5, 1)));
        assert!(!ExchangeDays::Euronext.is_closed(d(2026, 12, 24)));
        assert!(ExchangeDays::Xetra.is_closed(d(2026, 12, 24)));
        assert!(ExchangeDays::Hkex.is_closed(d(2026, 2, 17)));
        assert!(ExchangeDays::Asx.is_closed(d(2025, 4, 25)));
        assert!(ExchangeDays::CmeGlobex.is_closed(d(2026, 4, 3)));
        assert_eq!(
            ExchangeDays::CmeGlobex.close_on(d(2026, 11, 26)),
            Some(hm(12, 0))
        );
        // Outside the tables' years: weekdays.
        assert!(!ExchangeDays::Lse.is_closed(d(2040, 12, 25)));
        assert!(ExchangeDays::TABLE_YEARS.contains(&2035));
    }

    #[test]
    fn weekdays_close_on_weekends_only() {
        let mut date = d(2024, 1, 1);
        while date < d(2025, 1, 1) {
            assert_eq!(ExchangeDays::Weekdays.is_closed(date), is_weekend(date));
            assert_eq!(ExchangeDays::Weekdays.close_on(date), None);
            date = date.succ_opt().unwrap();
        }
    }

    #[test]
    fn easter_of_known_years() {
        for (y, m, day) in [
            (2000, 4, 23),
            (2019, 4, 21),
            (2024, 3, 31),
            (2025, 4, 20),
            (2038, 4, 25),
        ] {
            assert_eq!(easter(y), Some(d(y, m, day)));
        }
    }

    #[test]
    fn japan_substitute_and_citizens_holidays() {
        // 2019: Golden Week of ten days (Apr 27 - May 6), the enthronement in its middle.
        for day in 29..=30 {
            assert!(jp_holiday(d(2019, 4, day)));
        }
        for day in 1..=6 {
            assert!(jp_holiday(d(2019, 5, day)), "2019-05-{day}");
        }
        // Constitution Day on a Sunday (2020-05-03): the substitute is May 6, past two holidays.
        assert!(jp_holiday(d(2020, 5, 6)));
        // A citizens' holiday between two named ones: 2026-09-22.
        assert!(jp_holiday(d(2026, 9, 22)));
        assert!(!jp_holiday(d(2026, 9, 24)));
    }
}
