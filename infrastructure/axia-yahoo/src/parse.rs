//! Yahoo chart responses to raw bars.

use axia_domain::{RawBar, Timeframe};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;

/// Why a body gave no bars.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ChartError {
    /// Yahoo does not know the ticker.
    NotFound(String),
    /// Yahoo refused the range or interval.
    Unsupported(String),
    /// Not a chart response.
    Invalid(String),
}

/// What one response held.
#[derive(Debug)]
pub(crate) enum Parsed {
    /// Rows in Yahoo's order; any value may be missing.
    Bars(Vec<RawBar>),
    /// A valid response with no rows.
    Empty,
}

/// One cell of a quote column.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Cell {
    Number(f64),
    /// `null`: Yahoo's "no value" (missing price; no volume for FX).
    Null,
    /// Anything else where a number belongs (a string, an object): a malformed row.
    Malformed,
}

fn column(quote: &Value, name: &str) -> Vec<Cell> {
    quote
        .get(name)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|v| match v {
                    Value::Null => Cell::Null,
                    v => v.as_f64().map_or(Cell::Malformed, Cell::Number),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The local date of `ts` in `tz`, as the UTC open of the `interval` bar holding it.
fn restamp(ts: DateTime<Utc>, tz: Tz, timeframe: Timeframe) -> i64 {
    let local: NaiveDate = tz.from_utc_datetime(&ts.naive_utc()).date_naive();
    let midnight = local.and_hms_opt(0, 0, 0).map_or(ts, |d| d.and_utc());
    timeframe.floor(midnight).timestamp_millis()
}

/// Parses a chart API body.
///
/// The documented shape, `chart.result[0]` with `meta`, `timestamp` and
/// `indicators.quote[0]`'s columns, is read value by value, so that one malformed value costs
/// one row: a null, a string or any non-number where a number belongs reaches
/// `validate_bars` as a missing value (a null volume, Yahoo's way of saying "none" for FX, is
/// zero), and a negative or fractional volume is left for the validation to refuse. A typed
/// decoding of the whole body would refuse all of it for one such value.
pub(crate) fn parse(body: &[u8], timeframe: Timeframe) -> Result<Parsed, ChartError> {
    let json: Value =
        serde_json::from_slice(body).map_err(|e| ChartError::Invalid(format!("not JSON: {e}")))?;
    if let Some(err) = json.pointer("/chart/error").filter(|e| !e.is_null()) {
        let field = |k: &str| {
            err.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        return Err(api_error(&field("code"), &field("description")));
    }
    let chart = json
        .get("chart")
        .filter(|c| c.is_object())
        .ok_or_else(|| ChartError::Invalid("not a chart response (no \"chart\" object)".into()))?;
    let Some(block) = chart.pointer("/result/0") else {
        return Ok(Parsed::Empty);
    };
    let Some(timestamps) = block
        .get("timestamp")
        .and_then(Value::as_array)
        .filter(|t| !t.is_empty())
    else {
        return Ok(Parsed::Empty);
    };
    let quote = block
        .pointer("/indicators/quote/0")
        .ok_or_else(|| ChartError::Invalid("no indicators.quote".into()))?;
    let (open, high, low, close, volume) = (
        column(quote, "open"),
        column(quote, "high"),
        column(quote, "low"),
        column(quote, "close"),
        column(quote, "volume"),
    );
    let daily = matches!(timeframe, Timeframe::D1 | Timeframe::W1 | Timeframe::MN1);
    let tz: Tz = block
        .pointer("/meta/exchangeTimezoneName")
        .and_then(Value::as_str)
        .and_then(|n| n.parse().ok())
        .unwrap_or(chrono_tz::UTC);
    let price = |col: &Vec<Cell>, i: usize| match col.get(i) {
        Some(Cell::Number(v)) => Some(*v),
        _ => None,
    };
    let bars = timestamps
        .iter()
        .enumerate()
        .map(|(i, secs)| {
            // A timestamp that is not an integer cannot be placed: out of range, dropped.
            let ms = secs.as_i64().map_or(i64::MIN, |s| s.saturating_mul(1000));
            let time_millis = match (daily, DateTime::from_timestamp_millis(ms)) {
                (true, Some(t)) => restamp(t, tz, timeframe),
                _ => ms,
            };
            RawBar {
                time_millis,
                open: price(&open, i),
                high: price(&high, i),
                low: price(&low, i),
                close: price(&close, i),
                volume: match volume.get(i) {
                    Some(Cell::Number(v)) => Some(*v),
                    Some(Cell::Null) | None => Some(0.0),
                    Some(Cell::Malformed) => None,
                },
            }
        })
        .collect();
    Ok(Parsed::Bars(bars))
}

/// A chart API error body to a typed error.
pub(crate) fn api_error(code: &str, description: &str) -> ChartError {
    let lower = description.to_ascii_lowercase();
    let text = format!("{code}: {description}");
    if code.eq_ignore_ascii_case("Not Found")
        || lower.contains("delisted")
        || lower.contains("no data found")
    {
        ChartError::NotFound(text)
    } else if code.eq_ignore_ascii_case("Bad Request")
        || lower.contains("range")
        || lower.contains("interval")
    {
        ChartError::Unsupported(text)
    } else {
        ChartError::Invalid(text)
    }
}
