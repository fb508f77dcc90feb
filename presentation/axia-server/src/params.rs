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

impl Format {
    /// Every format, by the name a query gives it.
    pub(crate) const ALL: [(&'static str, Self); 3] = [
        ("json", Self::Json),
        ("columns", Self::Columns),
        ("csv", Self::Csv),
    ];
}

/// The symbol and timeframe of a series, from the path.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // the document's description of what `series` parses
pub(crate) struct SeriesPath {
    /// The instrument: letters, digits and `. - ^ = _ &`, at most 32 (`USDJPY`, `7203.T`,
    /// `^N225`, `EURUSD=X`, `AT&T`).
    #[param(schema_with = schema::symbol)]
    symbol: String,
    /// The bar length.
    #[param(schema_with = schema::timeframe)]
    timeframe: String,
}

/// The symbol of a series, from the path.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
#[allow(dead_code)] // the document's description of what the route parses
pub(crate) struct SymbolPath {
    /// The instrument: letters, digits and `. - ^ = _ &`, at most 32.
    #[param(schema_with = schema::symbol)]
    symbol: String,
}

/// The schemas of the parameters, built from the parsers' own rules and lists, so the document
/// cannot drift from what the routes take.
pub(crate) mod schema {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat, Type};
    use utoipa::openapi::{RefOr, Schema};

    fn enumeration(values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(values))
            .into()
    }

    /// What [`axia_domain::Symbol`] takes: not starting with `.` or `-`, no `..`, a letter or
    /// digit somewhere, at most [`axia_domain::SYMBOL_MAX_LEN`] characters.
    pub(crate) fn symbol() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .min_length(Some(1))
            .max_length(Some(axia_domain::SYMBOL_MAX_LEN))
            .pattern(Some(
                r"^(?:[A-Za-z0-9]|[\^=_&](?:[\^=_&-]|\.[\^=_&-])*\.?[A-Za-z0-9])(?:[A-Za-z0-9^=_&-]|\.[A-Za-z0-9^=_&-])*\.?$",
            ))
            .into()
    }

    /// [`axia_domain::Timeframe::ALL`] by name.
    pub(crate) fn timeframe() -> RefOr<Schema> {
        enumeration(axia_domain::Timeframe::ALL.map(axia_domain::Timeframe::as_str))
    }

    /// [`axia_domain::UseCase::ALL`] by name.
    pub(crate) fn use_case() -> RefOr<Schema> {
        enumeration(axia_domain::UseCase::ALL.map(axia_domain::UseCase::as_str))
    }

    /// [`super::Format::ALL`] by name.
    pub(crate) fn format() -> RefOr<Schema> {
        enumeration(super::Format::ALL.map(|(name, _)| name))
    }

    /// An instant: RFC 3339, or whole UNIX seconds within chrono's range.
    pub(crate) fn instant() -> RefOr<Schema> {
        let (min, max) = super::UNIX_SECONDS;
        OneOfBuilder::new()
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
            )
            .item(
                ObjectBuilder::new()
                    .schema_type(Type::Integer)
                    .minimum(Some(min as f64))
                    .maximum(Some(max as f64)),
            )
            .into()
    }

    /// A whole number from `min` to `max`.
    fn between(min: usize, max: usize) -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .minimum(Some(min as f64))
            .maximum(Some(max as f64))
            .into()
    }

    /// `limit`: 1 to the default [`crate::Limits::max_bars`].
    pub(crate) fn limit() -> RefOr<Schema> {
        between(1, crate::Limits::default().max_bars)
    }

    /// `days`: 1 to [`super::MAX_DAYS`].
    pub(crate) fn days() -> RefOr<Schema> {
        between(1, super::MAX_DAYS as usize)
    }
}

/// The UNIX seconds a `DateTime<Utc>` holds: the range an integer instant may take.
pub(crate) const UNIX_SECONDS: (i64, i64) = (-8_334_601_228_800, 8_210_266_876_799);

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
/// Its fields' schemas are the OpenAPI document's parameters.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RawBarsQuery {
    /// Inclusive, RFC 3339 or UNIX seconds. Without it (and without `days`) the search reaches
    /// back as far as `limit` needs (weekends and holidays skipped), at most ten years.
    #[param(schema_with = schema::instant)]
    start: Option<String>,
    /// The last `days` trading days up to the end, counted on the instrument's calendar
    /// (weekends and holidays do not count: on a Sunday, `days=2` of a New York stock is
    /// Thursday's and Friday's sessions). With `start` too, the later start wins.
    #[param(schema_with = schema::days)]
    days: Option<String>,
    /// Inclusive, RFC 3339 or UNIX seconds; default (and at most) now, the forming bar
    /// included. An end before the start is an empty window.
    #[param(schema_with = schema::instant)]
    end: Option<String>,
    /// Bars at most, counted back from the newest bar in the window (default 1,000). More bars
    /// than that set `truncated` and `next_before`.
    #[param(schema_with = schema::limit)]
    limit: Option<String>,
    /// Exclusive cursor, RFC 3339 or UNIX seconds: the `next_before` of the previous page.
    #[param(schema_with = schema::instant)]
    before: Option<String>,
    /// Which sources the provider asks first (default chart).
    #[param(schema_with = schema::use_case)]
    use_case: Option<String>,
    /// `json` (default); `columns`: the same page with `columns`, one array per field, in place
    /// of `bars` (half the bytes); `csv`: `time,open,high,low,close,volume,forming` with RFC
    /// 3339 times.
    #[param(schema_with = schema::format)]
    format: Option<String>,
}

/// The raw query of the legacy `GET /api/v1/trades/market-data/{symbol}`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RawMarketDataQuery {
    /// Default H1.
    #[param(schema_with = schema::timeframe)]
    timeframe: Option<String>,
    /// The last `days` calendar days (default 30).
    #[param(schema_with = schema::days)]
    days: Option<String>,
    /// Which sources the provider asks first (default chart).
    #[param(schema_with = schema::use_case)]
    use_case: Option<String>,
    /// `json` (default), `columns` or `csv`.
    #[param(schema_with = schema::format)]
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
        let days = self.days.as_deref().map(days).transpose()?;
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
    let Some(f) = s else {
        return Ok(Format::Json);
    };
    Format::ALL
        .into_iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(f))
        .map(|(_, format)| format)
        .ok_or_else(|| {
            Problem::invalid(format!(
                "format: {:?} is none of json, columns, csv",
                clip(f)
            ))
        })
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
        // An end before the start is an empty window, not an error (the page says so).
        let q: RawBarsQuery = query(Some("start=20&end=10")).unwrap();
        assert!(q.parse(&limits).is_ok());
        let q: RawBarsQuery = query(None).unwrap();
        let parsed = q.parse(&limits).unwrap();
        assert_eq!(parsed.limit, limits.default_bars);
        assert_eq!(parsed.use_case, UseCase::Chart);
        assert_eq!(parsed.format, Format::Json);
    }

    /// The document's symbol pattern is the parser's rule: a string matches it (and the
    /// length limit) exactly when it parses, over every character a symbol may hold and some it
    /// may not.
    #[test]
    fn the_symbol_pattern_is_the_parsers_rule() {
        use proptest::prelude::*;
        let utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(o)) = schema::symbol() else {
            panic!("an object schema");
        };
        let pattern = regex::Regex::new(o.pattern.as_deref().unwrap()).unwrap();
        let max = o.max_length.unwrap();
        let agree = |s: &str| {
            let documented = pattern.is_match(s) && s.chars().count() <= max;
            assert_eq!(documented, s.parse::<Symbol>().is_ok(), "{s:?}");
        };
        for s in [
            "USDJPY", "^N225", "AT&T", "7203.T", "EURUSD=X", "BTC-USD", "^", "A..B", "-A", ".A",
            "A.", "_X", "&&", "^.A", "",
        ] {
            agree(s);
        }
        proptest!(ProptestConfig::with_cases(4_000), |(s in "[A-Za-z0-9.^=_&\\- /*]{0,34}")| {
            agree(&s);
        });
    }

    /// The documented enums and bounds are the parsers' lists and limits.
    #[test]
    fn the_documented_values_are_the_parsed_ones() {
        let values = |r: utoipa::openapi::RefOr<utoipa::openapi::Schema>| match r {
            utoipa::openapi::RefOr::T(utoipa::openapi::Schema::Object(o)) => o
                .enum_values
                .unwrap_or_default()
                .into_iter()
                .map(|v| v.as_str().unwrap().to_owned())
                .collect::<Vec<_>>(),
            _ => panic!("an object schema"),
        };
        for tf in values(schema::timeframe()) {
            assert!(tf.parse::<Timeframe>().is_ok(), "{tf}");
        }
        assert_eq!(values(schema::timeframe()).len(), Timeframe::ALL.len());
        for f in values(schema::format()) {
            assert!(format(Some(&f)).is_ok(), "{f}");
        }
        for u in values(schema::use_case()) {
            assert!(use_case(Some(&u)).is_ok(), "{u}");
        }
        let (min, max) = UNIX_SECONDS;
        assert!(time("start", &min.to_string()).is_ok());
        assert!(time("start", &max.to_string()).is_ok());
        assert!(time("start", &(min - 1).to_string()).is_err());
        assert!(time("start", &(max + 1).to_string()).is_err());
        let limits = crate::Limits::default();
        assert!(limit(Some(&limits.max_bars.to_string()), &limits).is_ok());
        assert!(days(&MAX_DAYS.to_string()).is_ok());
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
