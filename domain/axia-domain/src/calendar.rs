//! Market calendars: when a market is open, and the New York 17:00 close.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use chrono_tz::America::New_York;
use chrono_tz::Tz;

use crate::{DailyAlignment, ExchangeDays, TimeRange};

/// When a market trades.
///
/// Implementations: [`FxCalendar`] (the 24/5 FX week), [`CmeGlobexCalendar`] (US futures),
/// [`SessionCalendar`] (an exchange's weekday sessions, e.g. [`SessionCalendar::tokyo`]),
/// [`AlwaysOpen`].
pub trait MarketCalendar: Send + Sync + fmt::Debug {
    /// True when the market is open at `t`.
    fn is_open(&self, t: DateTime<Utc>) -> bool;

    /// `t` itself when the market is open at `t`, otherwise the next time it opens.
    fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc>;

    /// `t` itself when the market is closed at `t`, otherwise the next time it closes.
    fn next_close(&self, t: DateTime<Utc>) -> DateTime<Utc>;

    /// True when the market is open at some instant of `range`.
    fn is_open_during(&self, range: TimeRange) -> bool {
        !range.is_empty() && self.next_open(range.start()) < range.end()
    }

    /// The start of the trading day that holds `t`, the day a session is counted in. By default
    /// 00:00 UTC of `t`'s date; the FX week and CME Globex start theirs at 17:00 New York (the
    /// trading date of the close that ends it), an exchange at midnight in its own time zone.
    fn trading_day_start(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        DailyAlignment::UtcMidnight.day_start(t.date_naive())
    }

    /// Where a window that ends at `end` (exclusive) starts when it holds the last `days`
    /// trading days: the start of the `days`-th most recent trading day
    /// ([`trading_day_start`](Self::trading_day_start)) in which the market is open before
    /// `end`, the current day counting once it has traded. Days without trading (weekends,
    /// holidays) are not counted, so on a Sunday, or on a Monday before the open, the last two
    /// days of a New York stock are Thursday's and Friday's sessions.
    ///
    /// `days` of 0 gives `end`. The walk looks back at most `2 × days + 31` days (no market
    /// closes for longer than it trades); a calendar that never opens gives where it stopped.
    ///
    /// ```
    /// use axia_domain::{MarketCalendar, SessionCalendar};
    /// use chrono::{TimeZone, Utc};
    ///
    /// // Sunday 2026-11-15, 12:00 UTC: New York's last two sessions were Thursday's and Friday's.
    /// let sunday = Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).unwrap();
    /// let start = SessionCalendar::new_york().trading_days_start(sunday, 2);
    /// assert_eq!(start, Utc.with_ymd_and_hms(2026, 11, 12, 5, 0, 0).unwrap()); // midnight in New York
    /// ```
    fn trading_days_start(&self, end: DateTime<Utc>, days: u32) -> DateTime<Utc> {
        if days == 0 {
            return end;
        }
        let Some(last) = end.checked_sub_signed(Duration::milliseconds(1)) else {
            return end;
        };
        let mut day = self.trading_day_start(last);
        let mut day_end = end;
        let mut counted = 0;
        for _ in 0..u64::from(days).saturating_mul(2).saturating_add(31) {
            if TimeRange::new(day, day_end).is_ok_and(|r| self.is_open_during(r)) {
                counted += 1;
                if counted == days {
                    break;
                }
            }
            let Some(before) = day.checked_sub_signed(Duration::milliseconds(1)) else {
                break;
            };
            day_end = day;
            day = self.trading_day_start(before);
        }
        day
    }
}

/// A market that never closes (crypto, or tests).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlwaysOpen;

impl MarketCalendar for AlwaysOpen {
    fn is_open(&self, _t: DateTime<Utc>) -> bool {
        true
    }
    fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        t
    }
    fn next_close(&self, _t: DateTime<Utc>) -> DateTime<Utc> {
        DateTime::<Utc>::MAX_UTC
    }
}

const NY_CLOSE: NaiveTime = match NaiveTime::from_hms_opt(17, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// `t` in `tz`, for the calendars' local-time rules. An instant within two days of chrono's
/// limits is taken two days inside them: its local time may not exist (chrono panics on it),
/// and no market is open there anyway.
pub(crate) fn in_zone(t: DateTime<Utc>, tz: Tz) -> DateTime<Tz> {
    let margin = Duration::days(2);
    let lo = DateTime::<Utc>::MIN_UTC
        .checked_add_signed(margin)
        .unwrap_or(DateTime::<Utc>::MIN_UTC);
    let hi = DateTime::<Utc>::MAX_UTC
        .checked_sub_signed(margin)
        .unwrap_or(DateTime::<Utc>::MAX_UTC);
    t.clamp(lo, hi).with_timezone(&tz)
}

/// `date` at `time` in `tz`, as UTC. A time skipped by a DST change resolves to the instant the
/// clocks jumped to; a repeated one to its first occurrence.
fn local_to_utc(tz: Tz, date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let naive = date.and_time(time);
    match tz.from_local_datetime(&naive).earliest() {
        Some(t) => t.with_timezone(&Utc),
        // In a spring-forward gap: the same wall time an hour later exists.
        None => tz
            .from_local_datetime(
                &naive
                    .checked_add_signed(Duration::hours(1))
                    .unwrap_or(naive),
            )
            .earliest()
            .map_or_else(|| naive.and_utc(), |t| t.with_timezone(&Utc)),
    }
}

/// The New York 17:00 close of `date` (a New York calendar date), in UTC: 21:00 UTC while New
/// York keeps daylight time, 22:00 UTC otherwise.
#[must_use]
pub fn ny_close_on(date: NaiveDate) -> DateTime<Utc> {
    local_to_utc(New_York, date, NY_CLOSE)
}

/// The first New York 17:00 close strictly after `t`. The FX trading day ends there; the hot
/// cache anchors its expiry to it. Every calendar day has one, weekends included.
///
/// ```
/// use axia_domain::next_ny_close;
/// use chrono::{TimeZone, Utc};
///
/// // July: New York is on EDT (UTC-4), the close is 21:00 UTC.
/// let t = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
/// assert_eq!(next_ny_close(t), Utc.with_ymd_and_hms(2026, 7, 1, 21, 0, 0).unwrap());
/// // January: EST (UTC-5), 22:00 UTC; at the close itself, the next day's.
/// let t = Utc.with_ymd_and_hms(2026, 1, 15, 22, 0, 0).unwrap();
/// assert_eq!(next_ny_close(t), Utc.with_ymd_and_hms(2026, 1, 16, 22, 0, 0).unwrap());
/// ```
#[must_use]
pub fn next_ny_close(t: DateTime<Utc>) -> DateTime<Utc> {
    let date = in_zone(t, New_York).date_naive();
    let today = ny_close_on(date);
    if today > t {
        return today;
    }
    date.succ_opt()
        .map_or(DateTime::<Utc>::MAX_UTC, ny_close_on)
}

/// The start of the New York trading date that holds `t`: 17:00 New York the day before.
fn ny_trading_day_start(t: DateTime<Utc>) -> DateTime<Utc> {
    let alignment = DailyAlignment::NewYorkClose;
    alignment.day_start(alignment.date_of(t))
}

/// The FX week: open from Sunday 17:00 to Friday 17:00 America/New_York, around the clock in
/// between. Holidays are not modelled. DST is handled through the IANA time zone database.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FxCalendar;

impl MarketCalendar for FxCalendar {
    fn is_open(&self, t: DateTime<Utc>) -> bool {
        let local = in_zone(t, New_York);
        match local.weekday() {
            Weekday::Sat => false,
            Weekday::Sun => local.time() >= NY_CLOSE,
            Weekday::Fri => local.time() < NY_CLOSE,
            _ => true,
        }
    }

    fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if self.is_open(t) {
            return t;
        }
        let date = in_zone(t, New_York).date_naive();
        let days_to_sunday = (7 - date.weekday().num_days_from_sunday()) % 7;
        date.checked_add_days(chrono::Days::new(u64::from(days_to_sunday)))
            .map_or(DateTime::<Utc>::MAX_UTC, ny_close_on)
    }

    fn trading_day_start(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        ny_trading_day_start(t)
    }

    fn next_close(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if !self.is_open(t) {
            return t;
        }
        let date = in_zone(t, New_York).date_naive();
        // Open: somewhere from Sunday 17:00 to Friday 17:00; the close is this week's Friday.
        let days_to_friday =
            (Weekday::Fri.num_days_from_sunday() + 7 - date.weekday().num_days_from_sunday()) % 7;
        date.checked_add_days(chrono::Days::new(u64::from(days_to_friday)))
            .map_or(DateTime::<Utc>::MAX_UTC, ny_close_on)
    }
}

/// The CME Globex week of most US futures (`ES=F`, `GC=F`, `ZN=F`): open from Sunday 18:00 to
/// Friday 17:00 New York time, halted every Monday to Thursday from 17:00 to 18:00, on CME's
/// trading dates ([`ExchangeDays::CmeGlobex`]: no session on New Year's Day, Good Friday and
/// Christmas; a 12:00 Chicago halt on the other US holidays). The few products on shorter hours
/// (grains, livestock) are not modelled.
///
/// ```
/// use axia_domain::{CmeGlobexCalendar, MarketCalendar};
/// use chrono::{TimeZone, Utc};
///
/// // Wednesday 2026-07-01 (EDT): the daily halt is 21:00 - 22:00 UTC.
/// let cme = CmeGlobexCalendar;
/// assert!(cme.is_open(Utc.with_ymd_and_hms(2026, 7, 1, 20, 59, 0).unwrap()));
/// assert!(!cme.is_open(Utc.with_ymd_and_hms(2026, 7, 1, 21, 30, 0).unwrap()));
/// assert!(cme.is_open(Utc.with_ymd_and_hms(2026, 7, 1, 22, 0, 0).unwrap()));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CmeGlobexCalendar;

/// Globex reopens at 18:00 New York time, an hour after the 17:00 close.
const CME_REOPEN: NaiveTime = match NaiveTime::from_hms_opt(18, 0, 0) {
    Some(t) => t,
    None => NaiveTime::MIN,
};

/// The Globex week without holidays.
mod globex_week {
    use super::{CME_REOPEN, NY_CLOSE, New_York, in_zone, local_to_utc, ny_close_on};
    use chrono::{DateTime, Datelike, Utc, Weekday};

    pub(super) fn is_open(t: DateTime<Utc>) -> bool {
        let local = in_zone(t, New_York);
        let time = local.time();
        match local.weekday() {
            Weekday::Sat => false,
            Weekday::Sun => time >= CME_REOPEN,
            Weekday::Fri => time < NY_CLOSE,
            _ => time < NY_CLOSE || time >= CME_REOPEN,
        }
    }

    pub(super) fn next_open(t: DateTime<Utc>) -> DateTime<Utc> {
        if is_open(t) {
            return t;
        }
        let date = in_zone(t, New_York).date_naive();
        // Closed: the daily halt (reopens today at 18:00) or the weekend (Sunday 18:00).
        let days = match date.weekday() {
            Weekday::Mon | Weekday::Tue | Weekday::Wed | Weekday::Thu | Weekday::Sun => 0,
            Weekday::Fri => 2,
            Weekday::Sat => 1,
        };
        date.checked_add_days(chrono::Days::new(days))
            .map_or(DateTime::<Utc>::MAX_UTC, |d| {
                local_to_utc(New_York, d, CME_REOPEN)
            })
    }

    pub(super) fn next_close(t: DateTime<Utc>) -> DateTime<Utc> {
        if !is_open(t) {
            return t;
        }
        let local = in_zone(t, New_York);
        // Open: before 17:00 it closes today; from 18:00 (Sunday to Thursday), tomorrow.
        let days = u64::from(local.time() >= CME_REOPEN);
        local
            .date_naive()
            .checked_add_days(chrono::Days::new(days))
            .map_or(DateTime::<Utc>::MAX_UTC, ny_close_on)
    }
}

impl CmeGlobexCalendar {
    /// The trading date `t` belongs to: that of the 17:00 New York close that ends it.
    fn trading_date(t: DateTime<Utc>) -> NaiveDate {
        DailyAlignment::NewYorkClose.date_of(t)
    }

    /// When trading of `date` stops early (a holiday's halt, Chicago time), if it does.
    fn early_halt(date: NaiveDate) -> Option<DateTime<Utc>> {
        ExchangeDays::CmeGlobex
            .close_on(date)
            .map(|t| local_to_utc(chrono_tz::America::Chicago, date, t))
    }

    /// Whether the session of `date` is held, and up to when: `None` for no session.
    fn session_end(date: NaiveDate) -> Option<DateTime<Utc>> {
        if ExchangeDays::CmeGlobex.is_closed(date) {
            return None;
        }
        Some(Self::early_halt(date).unwrap_or_else(|| ny_close_on(date)))
    }
}

impl MarketCalendar for CmeGlobexCalendar {
    fn trading_day_start(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        ny_trading_day_start(t)
    }

    fn is_open(&self, t: DateTime<Utc>) -> bool {
        globex_week::is_open(t)
            && Self::session_end(Self::trading_date(t)).is_some_and(|end| t < end)
    }

    fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let mut from = t;
        // Past at most a long weekend of holidays, one trading date at a time.
        for _ in 0..MAX_CLOSED_DAYS {
            let open = globex_week::next_open(from);
            let date = Self::trading_date(open);
            match Self::session_end(date) {
                Some(end) if open < end => return open,
                // No session that date, or it has halted: from its close on.
                _ => match from.checked_add_signed(Duration::milliseconds(1)) {
                    Some(next) => from = ny_close_on(date).max(next),
                    None => break,
                },
            }
        }
        DateTime::<Utc>::MAX_UTC
    }

    fn next_close(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        if !self.is_open(t) {
            return t;
        }
        let end = Self::session_end(Self::trading_date(t)).unwrap_or(t);
        globex_week::next_close(t).min(end)
    }
}

/// The calendar a symbol trades in, from the built-in instruments
/// ([`InstrumentRegistry::shared_builtin`](crate::InstrumentRegistry::shared_builtin)): the FX
/// week for FX pairs, Tokyo for `.T` symbols and the Nikkei, New York 09:30-16:00 on weekdays
/// for everything else.
#[must_use]
pub fn default_calendar(symbol: &crate::Symbol) -> std::sync::Arc<dyn MarketCalendar> {
    crate::InstrumentRegistry::shared_builtin()
        .resolve(symbol)
        .calendar()
}

/// An exchange open on weekdays during fixed local sessions, on the days its
/// [`ExchangeDays`] say it trades (its holidays closed, its early closes short).
///
/// ```
/// use axia_domain::{MarketCalendar, SessionCalendar};
/// use chrono::{TimeZone, Utc};
///
/// let tse = SessionCalendar::tokyo();
/// // 2026-03-02 is a Monday; 10:00 JST is 01:00 UTC, the lunch break 12:00 JST is 03:00 UTC.
/// assert!(tse.is_open(Utc.with_ymd_and_hms(2026, 3, 2, 1, 0, 0).unwrap()));
/// assert!(!tse.is_open(Utc.with_ymd_and_hms(2026, 3, 2, 3, 0, 0).unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionCalendar {
    tz: Tz,
    sessions: Vec<(NaiveTime, NaiveTime)>,
    days: ExchangeDays,
}

/// The longest run of days an exchange stays closed (Tokyo's ten-day Golden Week of 2019, its
/// New Year with a weekend), with room to spare: how far [`SessionCalendar::next_open`] looks.
const MAX_CLOSED_DAYS: usize = 16;

/// `h:m` local time, for the sessions below (midnight for an impossible time, which none is).
fn hm(h: u32, m: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(h, m, 0).unwrap_or(NaiveTime::MIN)
}

impl SessionCalendar {
    /// Sessions `[start, end)` in local time of `tz`, Monday to Friday, every weekday
    /// ([`ExchangeDays::Weekdays`]; see [`SessionCalendar::with_days`]). Empty or reversed
    /// sessions are ignored; sessions are kept in start order.
    #[must_use]
    pub fn new(tz: Tz, sessions: impl IntoIterator<Item = (NaiveTime, NaiveTime)>) -> Self {
        let mut sessions: Vec<_> = sessions.into_iter().filter(|(s, e)| s < e).collect();
        sessions.sort();
        Self {
            tz,
            sessions,
            days: ExchangeDays::Weekdays,
        }
    }

    /// The same sessions on the days `days` say the exchange trades.
    #[must_use]
    pub const fn with_days(mut self, days: ExchangeDays) -> Self {
        self.days = days;
        self
    }

    /// The days it trades.
    #[must_use]
    pub const fn days(&self) -> ExchangeDays {
        self.days
    }

    /// The Tokyo Stock Exchange: 09:00-11:30 and 12:30-15:30 JST (12:30-15:00 before
    /// 2024-11-05), on its trading days ([`ExchangeDays::Tse`]).
    #[must_use]
    pub fn tokyo() -> Self {
        Self::new(
            chrono_tz::Asia::Tokyo,
            [(hm(9, 0), hm(11, 30)), (hm(12, 30), hm(15, 30))],
        )
        .with_days(ExchangeDays::Tse)
    }

    /// The New York Stock Exchange and Nasdaq: 09:30-16:00 New York time (13:00 on early-close
    /// days), on their trading days ([`ExchangeDays::Nyse`]).
    #[must_use]
    pub fn new_york() -> Self {
        Self::new(chrono_tz::America::New_York, [(hm(9, 30), hm(16, 0))])
            .with_days(ExchangeDays::Nyse)
    }

    /// The London Stock Exchange: 08:00-16:30 London time on its trading days
    /// ([`ExchangeDays::Lse`]: bank holidays closed, 12:30 closes on December 24 and 31).
    #[must_use]
    pub fn london() -> Self {
        Self::new(chrono_tz::Europe::London, [(hm(8, 0), hm(16, 30))]).with_days(ExchangeDays::Lse)
    }

    /// The continental European exchanges' continuous session (Euronext, SIX, Borsa Italiana,
    /// BME): 09:00-17:30 Central European time on Euronext's trading days
    /// ([`ExchangeDays::Euronext`], the holidays they all keep; SIX and Borsa Italiana close on
    /// a few more, whose bars count as missing).
    #[must_use]
    pub fn central_europe() -> Self {
        Self::new(chrono_tz::Europe::Paris, [(hm(9, 0), hm(17, 30))])
            .with_days(ExchangeDays::Euronext)
    }

    /// Xetra (Frankfurt): 09:00-17:30 Central European time on its trading days
    /// ([`ExchangeDays::Xetra`]: also closed on December 24 and 31).
    #[must_use]
    pub fn xetra() -> Self {
        Self::new(chrono_tz::Europe::Berlin, [(hm(9, 0), hm(17, 30))])
            .with_days(ExchangeDays::Xetra)
    }

    /// Hong Kong Exchanges: 09:30-12:00 and 13:00-16:00 Hong Kong time on its trading days
    /// ([`ExchangeDays::Hkex`]: its holidays, mornings only on three eves).
    #[must_use]
    pub fn hong_kong() -> Self {
        Self::new(
            chrono_tz::Asia::Hong_Kong,
            [(hm(9, 30), hm(12, 0)), (hm(13, 0), hm(16, 0))],
        )
        .with_days(ExchangeDays::Hkex)
    }

    /// The Australian Securities Exchange: 10:00-16:00 Sydney time on its trading days
    /// ([`ExchangeDays::Asx`]: its holidays, 14:10 closes on December 24 and 31).
    #[must_use]
    pub fn sydney() -> Self {
        Self::new(chrono_tz::Australia::Sydney, [(hm(10, 0), hm(16, 0))])
            .with_days(ExchangeDays::Asx)
    }

    fn sessions_on(
        &self,
        date: NaiveDate,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let open = !self.days.is_closed(date);
        // An early close ends the sessions that reach past it and drops those after it.
        let close = self.days.close_on(date);
        self.sessions
            .iter()
            .filter(move |_| open)
            .filter_map(move |&(s, e)| {
                let e = close.map_or(e, |c| e.min(c));
                (s < e).then(|| {
                    (
                        local_to_utc(self.tz, date, s),
                        local_to_utc(self.tz, date, e),
                    )
                })
            })
    }
}

impl MarketCalendar for SessionCalendar {
    fn trading_day_start(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        local_to_utc(self.tz, in_zone(t, self.tz).date_naive(), NaiveTime::MIN)
    }

    fn is_open(&self, t: DateTime<Utc>) -> bool {
        let date = in_zone(t, self.tz).date_naive();
        self.sessions_on(date).any(|(s, e)| s <= t && t < e)
    }

    fn next_open(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let mut date = in_zone(t, self.tz).date_naive();
        for _ in 0..MAX_CLOSED_DAYS {
            for (s, e) in self.sessions_on(date) {
                if s <= t && t < e {
                    return t;
                }
                if s > t {
                    return s;
                }
            }
            match date.succ_opt() {
                Some(d) => date = d,
                None => break,
            }
        }
        DateTime::<Utc>::MAX_UTC
    }

    fn next_close(&self, t: DateTime<Utc>) -> DateTime<Utc> {
        let date = in_zone(t, self.tz).date_naive();
        self.sessions_on(date)
            .find(|&(s, e)| s <= t && t < e)
            .map_or(t, |(_, e)| e)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    /// The n-th `weekday` of a month, by plain date arithmetic (independent of chrono-tz).
    fn nth_weekday(year: i32, month: u32, weekday: Weekday, n: u32) -> NaiveDate {
        let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap();
        let offset =
            (7 + weekday.num_days_from_monday() - first.weekday().num_days_from_monday()) % 7;
        first + Duration::days(i64::from(offset + 7 * (n - 1)))
    }

    /// US rule since 2007: daylight time from the 2nd Sunday of March to the 1st Sunday of
    /// November (both changes at 02:00 local, so 17:00 on either Sunday is already on the new time).
    fn ny_on_daylight_time(d: NaiveDate) -> bool {
        let start = nth_weekday(d.year(), 3, Weekday::Sun, 2);
        let end = nth_weekday(d.year(), 11, Weekday::Sun, 1);
        start <= d && d < end
    }

    #[test]
    fn ny_close_every_day_2020_to_2035_follows_dst() {
        let mut d = NaiveDate::from_ymd_opt(2020, 1, 1).unwrap();
        let last = NaiveDate::from_ymd_opt(2035, 12, 31).unwrap();
        let mut days = 0;
        while d <= last {
            let hour = if ny_on_daylight_time(d) { 21 } else { 22 };
            let expected = d.and_hms_opt(hour, 0, 0).unwrap().and_utc();
            assert_eq!(ny_close_on(d), expected, "{d}");
            // From 12:00 UTC (morning in New York), the next close is that day's.
            assert_eq!(
                next_ny_close(d.and_hms_opt(12, 0, 0).unwrap().and_utc()),
                expected,
                "{d}"
            );
            // A millisecond before it, still that one; at it, the next day's.
            assert_eq!(
                next_ny_close(expected - Duration::milliseconds(1)),
                expected,
                "{d}"
            );
            assert_eq!(
                next_ny_close(expected),
                ny_close_on(d.succ_opt().unwrap()),
                "{d}"
            );
            days += 1;
            d = d.succ_opt().unwrap();
        }
        assert_eq!(days, 5844);
    }

    #[test]
    fn ny_close_around_each_transition() {
        for year in 2020..=2035 {
            let spring = nth_weekday(year, 3, Weekday::Sun, 2);
            let fall = nth_weekday(year, 11, Weekday::Sun, 1);
            let day_before = |d: NaiveDate| d.pred_opt().unwrap();
            assert_eq!(
                ny_close_on(day_before(spring))
                    .time()
                    .format("%H")
                    .to_string(),
                "22"
            );
            assert_eq!(ny_close_on(spring).time().format("%H").to_string(), "21");
            assert_eq!(
                ny_close_on(day_before(fall))
                    .time()
                    .format("%H")
                    .to_string(),
                "21"
            );
            assert_eq!(ny_close_on(fall).time().format("%H").to_string(), "22");
            // The close after Saturday evening of the spring weekend is Sunday's, 23 h later.
            let sat = ny_close_on(day_before(spring));
            assert_eq!(next_ny_close(sat) - sat, Duration::hours(23), "{year}");
            let sat = ny_close_on(day_before(fall));
            assert_eq!(next_ny_close(sat) - sat, Duration::hours(25), "{year}");
        }
    }

    #[test]
    fn fx_week_opens_sunday_and_closes_friday_new_york_time() {
        let fx = FxCalendar;
        // Summer (EDT): Friday 2026-07-03 closes 21:00 UTC, Sunday 07-05 opens 21:00 UTC.
        assert!(fx.is_open(utc(2026, 7, 3, 20, 59)));
        assert!(!fx.is_open(utc(2026, 7, 3, 21, 0)));
        assert!(!fx.is_open(utc(2026, 7, 4, 12, 0)));
        assert!(!fx.is_open(utc(2026, 7, 5, 20, 59)));
        assert!(fx.is_open(utc(2026, 7, 5, 21, 0)));
        assert!(fx.is_open(utc(2026, 7, 8, 3, 0)));
        assert_eq!(fx.next_open(utc(2026, 7, 3, 21, 0)), utc(2026, 7, 5, 21, 0));
        assert_eq!(
            fx.next_close(utc(2026, 7, 5, 21, 0)),
            utc(2026, 7, 10, 21, 0)
        );
        assert_eq!(
            fx.next_close(utc(2026, 7, 3, 20, 59)),
            utc(2026, 7, 3, 21, 0)
        );
        assert_eq!(
            fx.next_close(utc(2026, 7, 4, 12, 0)),
            utc(2026, 7, 4, 12, 0)
        );
        assert_eq!(fx.next_open(utc(2026, 7, 8, 3, 0)), utc(2026, 7, 8, 3, 0));
        // Winter (EST): 22:00 UTC.
        assert!(fx.is_open(utc(2026, 1, 9, 21, 59)));
        assert!(!fx.is_open(utc(2026, 1, 9, 22, 0)));
        assert_eq!(
            fx.next_open(utc(2026, 1, 10, 0, 0)),
            utc(2026, 1, 11, 22, 0)
        );
        // Saturday 00:30 UTC is still Friday evening in New York: closed.
        assert!(!fx.is_open(utc(2026, 1, 10, 0, 30)));
        let weekend = TimeRange::new(utc(2026, 1, 10, 0, 0), utc(2026, 1, 11, 22, 0)).unwrap();
        assert!(!fx.is_open_during(weekend));
        let sunday = TimeRange::new(utc(2026, 1, 11, 0, 0), utc(2026, 1, 12, 0, 0)).unwrap();
        assert!(fx.is_open_during(sunday));
    }

    #[test]
    fn cme_globex_halts_daily_and_closes_for_the_weekend() {
        let cme = CmeGlobexCalendar;
        // (instant, open?): in summer (EDT) the halt is 21:00 - 22:00 UTC, Friday 07-03 closes
        // at 21:00 UTC and Sunday 07-05 opens at 22:00 UTC; in winter (EST) an hour later.
        for (t, open) in [
            (utc(2026, 7, 1, 20, 59), true),
            (utc(2026, 7, 1, 21, 0), false),
            (utc(2026, 7, 1, 21, 59), false),
            (utc(2026, 7, 1, 22, 0), true),
            (utc(2026, 7, 3, 21, 0), false),  // Friday's close
            (utc(2026, 7, 3, 22, 30), false), // no reopening on Friday
            (utc(2026, 7, 5, 21, 59), false),
            (utc(2026, 7, 5, 22, 0), true),
            (utc(2026, 1, 14, 21, 59), true),
            (utc(2026, 1, 14, 22, 0), false),
            (utc(2026, 1, 14, 23, 0), true),
        ] {
            assert_eq!(cme.is_open(t), open, "{t}");
        }
        // (instant, next open, next close).
        for (t, next_open, next_close) in [
            // In the halt: reopens at 18:00 New York.
            (
                utc(2026, 7, 1, 21, 10),
                utc(2026, 7, 1, 22, 0),
                utc(2026, 7, 1, 21, 10),
            ),
            (
                utc(2026, 7, 1, 12, 0),
                utc(2026, 7, 1, 12, 0),
                utc(2026, 7, 1, 21, 0),
            ),
            (
                utc(2026, 7, 1, 22, 0),
                utc(2026, 7, 1, 22, 0),
                utc(2026, 7, 2, 21, 0),
            ),
            // Thursday evening runs into Friday 2026-07-03, Independence Day observed: CME
            // halts at 12:00 Chicago time (17:00 UTC) and does not reopen before Sunday.
            (
                utc(2026, 7, 2, 23, 0),
                utc(2026, 7, 2, 23, 0),
                utc(2026, 7, 3, 17, 0),
            ),
            (
                utc(2026, 7, 3, 17, 30),
                utc(2026, 7, 5, 22, 0),
                utc(2026, 7, 3, 17, 30),
            ),
            // Good Friday 2026-04-03: no session from Thursday's close (21:00 UTC) to Sunday.
            (
                utc(2026, 4, 2, 20, 0),
                utc(2026, 4, 2, 20, 0),
                utc(2026, 4, 2, 21, 0),
            ),
            (
                utc(2026, 4, 2, 22, 30),
                utc(2026, 4, 5, 22, 0),
                utc(2026, 4, 2, 22, 30),
            ),
            // An ordinary Thursday evening runs into Friday's close.
            (
                utc(2026, 7, 9, 23, 0),
                utc(2026, 7, 9, 23, 0),
                utc(2026, 7, 10, 21, 0),
            ),
            // The weekend, from Friday's close to Sunday 18:00.
            (
                utc(2026, 7, 3, 21, 0),
                utc(2026, 7, 5, 22, 0),
                utc(2026, 7, 3, 21, 0),
            ),
            (
                utc(2026, 7, 4, 9, 0),
                utc(2026, 7, 5, 22, 0),
                utc(2026, 7, 4, 9, 0),
            ),
            (
                utc(2026, 7, 5, 9, 0),
                utc(2026, 7, 5, 22, 0),
                utc(2026, 7, 5, 9, 0),
            ),
            // The Sundays the clocks go forward (2026-03-08) and back (2026-11-01).
            (
                utc(2026, 3, 7, 12, 0),
                utc(2026, 3, 8, 22, 0),
                utc(2026, 3, 7, 12, 0),
            ),
            (
                utc(2026, 10, 31, 12, 0),
                utc(2026, 11, 1, 23, 0),
                utc(2026, 10, 31, 12, 0),
            ),
        ] {
            assert_eq!(cme.next_open(t), next_open, "next open after {t}");
            assert_eq!(cme.next_close(t), next_close, "next close after {t}");
        }
        // A Wednesday of H1 bars: 23 hours open.
        let day = TimeRange::new(utc(2026, 7, 1, 0, 0), utc(2026, 7, 2, 0, 0)).unwrap();
        let open_hours = (0..24)
            .filter(|h| cme.is_open(day.start() + Duration::hours(*h)))
            .count();
        assert_eq!(open_hours, 23);
    }

    #[test]
    fn tokyo_sessions() {
        let tse = SessionCalendar::tokyo();
        // Monday 2026-03-02: 09:00 JST = 00:00 UTC.
        assert!(!tse.is_open(utc(2026, 3, 1, 23, 59)));
        assert!(tse.is_open(utc(2026, 3, 2, 0, 0)));
        assert!(!tse.is_open(utc(2026, 3, 2, 2, 30)));
        assert_eq!(
            tse.next_open(utc(2026, 3, 2, 2, 45)),
            utc(2026, 3, 2, 3, 30)
        );
        assert!(!tse.is_open(utc(2026, 3, 2, 6, 30)));
        // Friday after the close: Monday 09:00 JST.
        assert_eq!(tse.next_open(utc(2026, 3, 6, 7, 0)), utc(2026, 3, 9, 0, 0));
    }

    #[test]
    fn new_york_skips_holidays_and_closes_early() {
        let nyse = SessionCalendar::new_york();
        // Good Friday 2026-04-03 (EDT, UTC-4): closed all day; Thursday's close reopens Monday.
        assert!(!nyse.is_open(utc(2026, 4, 3, 15, 0)));
        assert_eq!(
            nyse.next_open(utc(2026, 4, 2, 20, 0)),
            utc(2026, 4, 6, 13, 30)
        );
        // Thanksgiving 2026-11-26 (EST, UTC-5) closed; the day after closes at 13:00.
        assert!(!nyse.is_open(utc(2026, 11, 26, 15, 0)));
        assert_eq!(
            nyse.next_open(utc(2026, 11, 25, 21, 0)),
            utc(2026, 11, 27, 14, 30)
        );
        assert!(nyse.is_open(utc(2026, 11, 27, 17, 59)));
        assert!(!nyse.is_open(utc(2026, 11, 27, 18, 0)));
        assert_eq!(
            nyse.next_close(utc(2026, 11, 27, 15, 0)),
            utc(2026, 11, 27, 18, 0)
        );
        // An ordinary day is open until 16:00.
        assert_eq!(
            nyse.next_close(utc(2026, 11, 30, 15, 0)),
            utc(2026, 11, 30, 21, 0)
        );
        // The configured sessions on every weekday, when asked for.
        let every_weekday = SessionCalendar::new_york().with_days(ExchangeDays::Weekdays);
        assert!(every_weekday.is_open(utc(2026, 4, 3, 15, 0)));
    }

    #[test]
    fn tokyo_skips_golden_week_and_new_year_and_kept_its_old_close() {
        let tse = SessionCalendar::tokyo();
        // 2019: closed from Saturday 04-27 to Monday 05-06; before 2024-11-05 the day ends at
        // 15:00 JST (06:00 UTC).
        assert_eq!(
            tse.next_close(utc(2019, 4, 26, 5, 0)),
            utc(2019, 4, 26, 6, 0)
        );
        assert_eq!(tse.next_open(utc(2019, 4, 26, 6, 0)), utc(2019, 5, 7, 0, 0));
        // Closed on December 31 and January 1 - 3: from Tuesday 2025-12-30 to Monday 01-05.
        assert_eq!(
            tse.next_open(utc(2025, 12, 30, 7, 0)),
            utc(2026, 1, 5, 0, 0)
        );
        // The afternoon session's end moved from 15:00 to 15:30 on 2024-11-05.
        assert!(!tse.is_open(utc(2024, 11, 1, 6, 10)));
        assert!(tse.is_open(utc(2024, 11, 5, 6, 10)));
    }

    /// Every calendar the trading-day rules are checked on.
    fn every_calendar() -> Vec<Box<dyn MarketCalendar>> {
        vec![
            Box::new(FxCalendar),
            Box::new(CmeGlobexCalendar),
            Box::new(AlwaysOpen),
            Box::new(SessionCalendar::tokyo()),
            Box::new(SessionCalendar::new_york()),
            Box::new(SessionCalendar::london()),
            Box::new(SessionCalendar::xetra()),
            Box::new(SessionCalendar::hong_kong()),
            Box::new(SessionCalendar::sydney()),
        ]
    }

    /// The trading days with open time in `[start, end)`, found forwards: every open interval
    /// (`next_open` to `next_close`), sampled at its start, hourly, and at its last instant in
    /// the window (a trading day is at least 23 hours long, so none is skipped).
    fn trading_days_in(
        cal: &dyn MarketCalendar,
        start: DateTime<Utc>,
        end: DateTime<Utc>,
    ) -> std::collections::BTreeSet<DateTime<Utc>> {
        let mut days = std::collections::BTreeSet::new();
        let mut t = start;
        while t < end {
            let open = cal.next_open(t);
            if open >= end {
                break;
            }
            let close = cal.next_close(open).min(end);
            let mut s = open;
            while s < close {
                days.insert(cal.trading_day_start(s));
                s += Duration::hours(1);
            }
            days.insert(cal.trading_day_start(close - Duration::milliseconds(1)));
            t = close;
        }
        days
    }

    #[test]
    fn the_last_trading_days_skip_weekends_and_holidays() {
        let nyse = SessionCalendar::new_york();
        // Sunday 2026-11-15 and Monday 2026-11-16 before the open (14:30 UTC): Thursday and
        // Friday, from New York's midnight (05:00 UTC in November).
        let thursday = utc(2026, 11, 12, 5, 0);
        for now in [
            utc(2026, 11, 15, 12, 0),
            utc(2026, 11, 16, 6, 0),
            utc(2026, 11, 16, 14, 29),
        ] {
            assert_eq!(nyse.trading_days_start(now, 2), thursday, "{now}");
            assert_eq!(
                nyse.trading_days_start(now, 1),
                utc(2026, 11, 13, 5, 0),
                "{now}"
            );
        }
        // Monday once open: Monday counts.
        assert_eq!(
            nyse.trading_days_start(utc(2026, 11, 16, 14, 31), 1),
            utc(2026, 11, 16, 5, 0)
        );
        assert_eq!(
            nyse.trading_days_start(utc(2026, 11, 16, 14, 31), 2),
            utc(2026, 11, 13, 5, 0)
        );
        // Friday 2026-11-27 after Thanksgiving (Thursday closed): Friday and Wednesday.
        assert_eq!(
            nyse.trading_days_start(utc(2026, 11, 27, 20, 0), 2),
            utc(2026, 11, 25, 5, 0)
        );
        // The FX week on Sunday, and on Monday 2026-11-16 06:00 UTC (Monday's trading date
        // opened on Sunday at 22:00 UTC): Thursday's and Friday's dates, or Friday's and Monday's.
        assert_eq!(
            FxCalendar.trading_days_start(utc(2026, 11, 15, 12, 0), 2),
            utc(2026, 11, 11, 22, 0)
        );
        assert_eq!(
            FxCalendar.trading_days_start(utc(2026, 11, 16, 6, 0), 2),
            utc(2026, 11, 12, 22, 0)
        );
        // Tokyo over New Year: closed from 12-31 to 01-03.
        assert_eq!(
            SessionCalendar::tokyo().trading_days_start(utc(2027, 1, 3, 12, 0), 1),
            utc(2026, 12, 29, 15, 0)
        );
        // Always open: calendar days, from 00:00 UTC.
        assert_eq!(
            AlwaysOpen.trading_days_start(utc(2026, 11, 15, 12, 0), 2),
            utc(2026, 11, 14, 0, 0)
        );
        assert_eq!(
            nyse.trading_days_start(utc(2026, 11, 15, 12, 0), 0),
            utc(2026, 11, 15, 12, 0)
        );
    }

    /// No calendar, grid or alignment panics at chrono's limits or anywhere between: every
    /// instant a request can name is answered.
    #[test]
    fn the_limits_of_time_are_answered_without_a_panic() {
        let ms = Duration::milliseconds(1);
        let (min, max) = (DateTime::<Utc>::MIN_UTC, DateTime::<Utc>::MAX_UTC);
        let instants = [
            min,
            min + ms,
            min + Duration::days(1),
            min + Duration::days(3),
            DateTime::<Utc>::UNIX_EPOCH,
            max - Duration::days(3),
            max - Duration::days(1),
            max - ms,
            max,
        ];
        let mut cals = every_calendar();
        cals.push(Box::new(SessionCalendar::central_europe()));
        for t in instants {
            for cal in &cals {
                let _ = cal.is_open(t);
                let _ = cal.next_open(t);
                let _ = cal.next_close(t);
                let _ = cal.trading_day_start(t);
                let _ = cal.trading_days_start(t, 3);
            }
            for alignment in [DailyAlignment::UtcMidnight, DailyAlignment::NewYorkClose] {
                let _ = alignment.date_of(t);
                for tf in crate::Timeframe::ALL {
                    let grid = crate::Grid::new(tf, alignment);
                    let _ = (
                        grid.floor(t),
                        grid.next_open(t),
                        grid.prev_open(t),
                        grid.ceil(t),
                    );
                }
            }
            let _ = next_ny_close(t);
        }
    }

    /// A holiday is not a gap: no bar slot is expected on it, on every exchange with a table.
    #[test]
    fn holidays_expect_no_bars() {
        let frame = |s: &str| crate::OhlcvFrame::empty(s.parse().unwrap(), crate::Timeframe::M5);
        // The exchange's own day: from its local midnight (Sydney's is 13:00 UTC the day
        // before in January).
        let day = |y, m, d| {
            move |cal: &SessionCalendar| {
                let start = cal.trading_day_start(utc(y, m, d, 12, 0));
                TimeRange::new(start, start + Duration::days(1)).unwrap()
            }
        };
        for (cal, symbol, holiday, ordinary) in [
            (
                SessionCalendar::london(),
                "VOD.L",
                day(2026, 4, 6),
                day(2026, 4, 7),
            ),
            (
                SessionCalendar::central_europe(),
                "MC.PA",
                day(2026, 5, 1),
                day(2026, 5, 4),
            ),
            (
                SessionCalendar::xetra(),
                "SAP.DE",
                day(2026, 12, 24),
                day(2026, 12, 23),
            ),
            (
                SessionCalendar::hong_kong(),
                "0700.HK",
                day(2026, 2, 17),
                day(2026, 2, 20),
            ),
            (
                SessionCalendar::sydney(),
                "BHP.AX",
                day(2026, 1, 26),
                day(2026, 1, 27),
            ),
        ] {
            let (holiday, ordinary) = (holiday(&cal), ordinary(&cal));
            assert_eq!(
                frame(symbol).completeness(&cal, holiday).expected,
                0,
                "{symbol}"
            );
            assert!(
                frame(symbol).completeness(&cal, ordinary).expected > 60,
                "{symbol}"
            );
        }
        // CME's Good Friday: from Thursday's 17:00 New York close to Sunday's reopening.
        let good_friday = TimeRange::new(utc(2026, 4, 2, 21, 0), utc(2026, 4, 5, 22, 0)).unwrap();
        assert_eq!(
            frame("ES=F")
                .completeness(&CmeGlobexCalendar, good_friday)
                .expected,
            0
        );
    }

    proptest! {
        #[test]
        fn a_trading_day_starts_at_or_before_its_instants_and_is_its_own_start(
            ms in 946_684_800_000i64..2_082_758_400_000i64,
        ) {
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            for cal in every_calendar() {
                let day = cal.trading_day_start(t);
                prop_assert!(day <= t && t - day < Duration::hours(25), "{cal:?} {t} {day}");
                prop_assert_eq!(cal.trading_day_start(day), day, "{:?} {}", cal, t);
            }
        }

        #[test]
        fn the_last_n_trading_days_hold_n_days_with_trading(
            ms in 946_684_800_000i64..2_082_758_400_000i64,
            days in 0u32..12,
        ) {
            let end = DateTime::from_timestamp_millis(ms).unwrap();
            for cal in every_calendar() {
                let start = cal.trading_days_start(end, days);
                prop_assert!(start <= end);
                let found = trading_days_in(cal.as_ref(), start, end);
                prop_assert_eq!(found.len(), days as usize, "{:?} at {} from {}", cal, end, start);
                if days > 0 {
                    // It starts at the first of them: no closed day ahead of it.
                    prop_assert_eq!(found.first().copied(), Some(start), "{:?} at {}", cal, end);
                }
            }
        }

        #[test]
        fn open_and_close_bracket_every_instant(ms in 946_684_800_000i64..2_082_758_400_000i64) {
            let t = DateTime::from_timestamp_millis(ms).unwrap();
            let cals: [&dyn MarketCalendar; 9] = [
                &FxCalendar,
                &CmeGlobexCalendar,
                &SessionCalendar::tokyo(),
                &SessionCalendar::new_york(),
                &SessionCalendar::london(),
                &SessionCalendar::central_europe(),
                &SessionCalendar::xetra(),
                &SessionCalendar::hong_kong(),
                &SessionCalendar::sydney(),
            ];
            for cal in cals {
                let o = cal.next_open(t);
                prop_assert!(o >= t && cal.is_open(o));
                prop_assert_eq!(o == t, cal.is_open(t));
                let c = cal.next_close(o);
                prop_assert!(c > o && !cal.is_open(c));
                // Open all the way from o to c.
                prop_assert!(cal.is_open(c - Duration::milliseconds(1)));
                prop_assert!(cal.is_open(o + (c - o) / 2));
            }
        }
    }
}
