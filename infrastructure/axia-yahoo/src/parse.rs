//! Yahoo chart responses to raw bars.

use axia_domain::{RawBar, Timeframe};
use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::Value;
use yahoo_finance_api::YResponse;

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

fn column(quote: &Value, name: &str) -> Vec<Option<f64>> {
    quote
        .get(name)
        .and_then(Value::as_array)
        .map(|a| a.iter().map(Value::as_f64).collect())
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
/// Reads the quote arrays from the JSON itself, after `YResponse::from_json` has vetted its
/// shape, because `YResponse::quotes` replaces missing prices by zero and skips bars with no
/// close, which would hide them from the validation report.
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
    let response =
        YResponse::from_json(json.clone()).map_err(|e| ChartError::Invalid(e.to_string()))?;
    let Some(block) = response.chart.result.as_ref().and_then(|r| r.first()) else {
        return Ok(Parsed::Empty);
    };
    let Some(timestamps) = block.timestamp.as_ref().filter(|t| !t.is_empty()) else {
        return Ok(Parsed::Empty);
    };
    let quote = json
        .pointer("/chart/result/0/indicators/quote/0")
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
        .meta
        .exchange_timezone_name
        .parse()
        .unwrap_or(chrono_tz::UTC);
    let at = |col: &Vec<Option<f64>>, i: usize| col.get(i).copied().flatten();
    let bars = timestamps
        .iter()
        .enumerate()
        .map(|(i, &secs)| {
            let ms = secs.saturating_mul(1000);
            let time_millis = match (daily, DateTime::from_timestamp_millis(ms)) {
                (true, Some(t)) => restamp(t, tz, timeframe),
                _ => ms,
            };
            RawBar {
                time_millis,
                open: at(&open, i),
                high: at(&high, i),
                low: at(&low, i),
                close: at(&close, i),
                // Yahoo reports no volume for FX: zero, not missing.
                volume: at(&volume, i).or(Some(0.0)),
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
