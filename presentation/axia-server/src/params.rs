//! Query and path parameters, parsed once at the edge into domain types; every refusal is a
//! [`Problem`] naming the parameter.

use axia_domain::{Symbol, Timeframe, UseCase};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::problem::Problem;

/// The representation asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    /// JSON with the bars as one array per field (`columns`), about half the bytes of
    /// `bars` and quicker to parse: what the chart page asks for.
    Columns,
    Csv,
}

/// `symbol` and `timeframe` from a path, refused before they reach a key or a path.
pub(crate) fn series(symbol: &str, timeframe: &str) -> Result<(Symbol, Timeframe), Problem> {
    let symbol = symbol
        .parse::<Symbol>()
        .map_err(|e| Problem::invalid(format!("symbol: {e}")))?;
    let timeframe = timeframe
        .parse::<Timeframe>()
        .map_err(|e| Problem::invalid(format!("timeframe: {e}")))?;
    Ok((symbol, timeframe))
}

/// The raw query of `GET /api/v1/bars/…`: strings, so each refusal can name its parameter.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawBarsQuery {
    start: Option<String>,
    days: Option<String>,
    end: Option<String>,
    limit: Option<String>,
    before: Option<String>,
    use_case: Option<String>,
    format: Option<String>,
}

/// The raw query of the seed's `GET /api/v1/trades/market-data/{symbol}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMarketDataQuery {
    timeframe: Option<String>,
    days: Option<String>,
    use_case: Option<String>,
    format: Option<String>,
}

/// A parsed bars query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BarsQuery {
    /// Inclusive; `None`: as far back as `limit` reaches (or `days`).
    pub start: Option<DateTime<Utc>>,
    /// The last `days` trading days up to the end, in place of `start`.
    pub days: Option<u32>,
    /// Inclusive; `None`: now (the live edge).
    pub end: Option<DateTime<Utc>>,
    pub limit: usize,
    /// Exclusive.
    pub before: Option<DateTime<Utc>>,
    pub use_case: UseCase,
    pub format: Format,
}

/// Parses a query string into `T`, a malformed or unknown parameter being a 400.
pub(crate) fn query<T: for<'de> Deserialize<'de> + Default>(
    raw: Option<&str>,
) -> Result<T, Problem> {
    match raw {
        None | Some("") => Ok(T::default()),
        Some(q) => {
            serde_urlencoded::from_str(q).map_err(|e| Problem::invalid(format!("query: {e}")))
        }
    }
}

impl RawBarsQuery {
    pub(crate) fn parse(self, limits: &crate::Limits) -> Result<BarsQuery, Problem> {
        let start = self
            .start
            .as_deref()
            .map(|s| time("start", s))
            .transpose()?;
        let end = self.end.as_deref().map(|s| time("end", s)).transpose()?;
        let before = self
            .before
            .as_deref()
            .map(|s| time("before", s))
            .transpose()?;
        if let (Some(s), Some(e)) = (start, end)
            && e < s
        {
            return Err(Problem::invalid(format!(
                "range: end {} is before start {}",
                e.to_rfc3339(),
                s.to_rfc3339()
            )));
        }
        let days = self.days.as_deref().map(days).transpose()?;
        if start.is_some() && days.is_some() {
            return Err(Problem::invalid(
                "days: give either start or days, not both".to_owned(),
            ));
        }
        Ok(BarsQuery {
            start,
            days,
            end,
            limit: limit(self.limit.as_deref(), limits)?,
            before,
            use_case: use_case(self.use_case.as_deref())?,
            format: format(self.format.as_deref())?,
        })
    }
}

/// The parsed seed query: a timeframe (default H1) and a number of days (default 30).
pub(crate) struct MarketDataQuery {
    pub timeframe: Timeframe,
    pub days: u32,
    pub use_case: UseCase,
    pub format: Format,
}

/// The most `days` a query takes (ten years).
pub(crate) const MAX_DAYS: u32 = 3_660;

/// A number of days from 1 to [`MAX_DAYS`].
fn days(d: &str) -> Result<u32, Problem> {
    match d.trim().parse::<u32>() {
        Ok(n) if (1..=MAX_DAYS).contains(&n) => Ok(n),
        _ => Err(Problem::invalid(format!(
            "days: {:?} is not a whole number from 1 to {MAX_DAYS}",
            clip(d)
        ))),
    }
}

impl RawMarketDataQuery {
    pub(crate) fn parse(self) -> Result<MarketDataQuery, Problem> {
        let timeframe = match self.timeframe.as_deref() {
            None => Timeframe::H1,
            Some(t) => t
                .parse()
                .map_err(|e| Problem::invalid(format!("timeframe: {e}")))?,
        };
        let days = self.days.as_deref().map_or(Ok(30), days)?;
        Ok(MarketDataQuery {
            timeframe,
            days,
            use_case: use_case(self.use_case.as_deref())?,
            format: format(self.format.as_deref())?,
        })
    }
}

/// A time as RFC 3339 (`2026-11-02T09:00:00Z`, an offset allowed) or whole UNIX seconds.
pub(crate) fn time(name: &str, s: &str) -> Result<DateTime<Utc>, Problem> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<i64>() {
        return DateTime::from_timestamp(secs, 0).ok_or_else(|| {
            Problem::invalid(format!("{name}: {secs} UNIX seconds is out of range"))
        });
    }
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            Problem::invalid(format!(
                "{name}: {:?} is neither RFC 3339 nor UNIX seconds ({e})",
                clip(s)
            ))
        })
}

fn limit(s: Option<&str>, limits: &crate::Limits) -> Result<usize, Problem> {
    let Some(s) = s else {
        return Ok(limits.default_bars);
    };
    match s.trim().parse::<usize>() {
        Ok(n) if (1..=limits.max_bars).contains(&n) => Ok(n),
        _ => Err(Problem::invalid(format!(
            "limit: {:?} is not a whole number from 1 to {}",
            clip(s),
            limits.max_bars
        ))),
    }
}

fn use_case(s: Option<&str>) -> Result<UseCase, Problem> {
    s.map_or(Ok(UseCase::Chart), |s| {
        s.parse()
            .map_err(|e| Problem::invalid(format!("use_case: {e}")))
    })
}

fn format(s: Option<&str>) -> Result<Format, Problem> {
    match s {
        None => Ok(Format::Json),
        Some(f) if f.eq_ignore_ascii_case("json") => Ok(Format::Json),
        Some(f) if f.eq_ignore_ascii_case("columns") => Ok(Format::Columns),
        Some(f) if f.eq_ignore_ascii_case("csv") => Ok(Format::Csv),
        Some(f) => Err(Problem::invalid(format!(
            "format: {:?} is none of json, columns, csv",
            clip(f)
        ))),
    }
}

/// The first characters of a refused input: enough to recognise it, never a whole payload.
pub(crate) fn clip(s: &str) -> String {
    s.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_or_unix_seconds() {
        let a = time("start", "2026-11-02T09:00:00Z").unwrap();
        let b = time("start", "1793610000").unwrap();
        assert_eq!(a, b);
        let offset = time("start", "2026-11-02T18:00:00+09:00").unwrap();
        assert_eq!(offset, a);
        let e = time("end", "yesterday").unwrap_err();
        assert!(e.detail.starts_with("end: \"yesterday\""), "{e:?}");
        assert_eq!(e.status, 400);
        assert!(time("before", &i64::MAX.to_string()).is_err());
    }

    #[test]
    fn limits_and_unknown_parameters_are_refused() {
        let limits = crate::Limits::default();
        let q: RawBarsQuery = query(Some("limit=0")).unwrap();
        assert!(q.parse(&limits).unwrap_err().detail.starts_with("limit:"));
        let q: RawBarsQuery = query(Some(&format!("limit={}", limits.max_bars + 1))).unwrap();
        assert!(q.parse(&limits).is_err());
        let e = query::<RawBarsQuery>(Some("from=1")).unwrap_err();
        assert!(e.detail.contains("unknown field `from`"), "{e:?}");
        let q: RawBarsQuery = query(Some("start=20&end=10")).unwrap();
        assert!(q.parse(&limits).unwrap_err().detail.starts_with("range:"));
        let q: RawBarsQuery = query(None).unwrap();
        let parsed = q.parse(&limits).unwrap();
        assert_eq!(parsed.limit, limits.default_bars);
        assert_eq!(parsed.use_case, UseCase::Chart);
        assert_eq!(parsed.format, Format::Json);
    }

    #[test]
    fn a_hostile_symbol_is_refused_with_the_parsers_message() {
        for s in ["../../etc/passwd", "USD JPY", "a:b*", "", &"X".repeat(200)] {
            let e = series(s, "H1").unwrap_err();
            assert_eq!(e.status, 400);
            assert!(e.detail.starts_with("symbol: "), "{e:?}");
        }
        assert!(
            series("USDJPY", "H7")
                .unwrap_err()
                .detail
                .starts_with("timeframe: ")
        );
    }
}
