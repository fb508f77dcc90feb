//! Dates on the command line: a UTC day (`2026-03-01`) or an RFC 3339 instant.

use chrono::{DateTime, NaiveDate, Utc};

fn day(s: &str) -> Option<DateTime<Utc>> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|d| d.and_utc())
}

/// The start of a range: a day's 00:00 UTC, or an instant.
///
/// # Errors
/// One line saying what was expected.
pub fn parse_from(s: &str) -> Result<DateTime<Utc>, String> {
    day(s)
        .or_else(|| DateTime::parse_from_rfc3339(s).ok().map(|t| t.to_utc()))
        .ok_or_else(|| format!("{s:?}: expected YYYY-MM-DD or an RFC 3339 instant"))
}

/// The (exclusive) end of a range: a day is included whole (its end is the next day's 00:00
/// UTC); an instant is exclusive.
///
/// # Errors
/// One line saying what was expected.
pub fn parse_to(s: &str) -> Result<DateTime<Utc>, String> {
    match day(s) {
        Some(d) => Ok(d + chrono::Duration::days(1)),
        None => parse_from(s),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn days_are_whole_utc_days_and_instants_are_exclusive() {
        let d = |y, m, day| Utc.with_ymd_and_hms(y, m, day, 0, 0, 0).unwrap();
        assert_eq!(parse_from("2026-03-01"), Ok(d(2026, 3, 1)));
        assert_eq!(
            parse_to("2026-03-31"),
            Ok(d(2026, 4, 1)),
            "the last day is included"
        );
        assert_eq!(parse_to("2026-03-31T00:00:00Z"), Ok(d(2026, 3, 31)));
        assert_eq!(parse_from("2026-03-31T02:00:00+02:00"), Ok(d(2026, 3, 31)));
        assert!(parse_from("March").is_err());
    }
}
