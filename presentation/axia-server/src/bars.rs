//! `GET /api/v1/bars/{symbol}/{timeframe}` and the legacy alias: a page of bars through the
//! data provider, with its provenance, a cursor for the next older page, a strong ETag.

use axia_domain::{
    Completeness, Grid, Instrument, OhlcvFrame, Symbol, TimeRange, Timeframe, UseCase,
};
use axia_provider::{Attempt, OhlcvRequest, OhlcvResponse, Outcome, ProviderError, Window};
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use crate::Api;
use crate::params::{self, BarsQuery, Format, RawBarsQuery, RawMarketDataQuery};
use crate::problem::Problem;

/// One bar as lightweight-charts takes it: `time` in UNIX seconds (the open time, UTC).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct BarDto {
    /// The open time, UNIX seconds.
    pub time: i64,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: f64,
    /// Present (and true) on the forming bar only: its period has not ended, its values are
    /// provisional.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub forming: bool,
}

/// The bars of a frame, the forming one labelled, and its open time (UNIX seconds).
pub(crate) fn dtos(frame: &OhlcvFrame) -> (Vec<BarDto>, Option<i64>) {
    let forming = frame.forming_millis();
    let bars = frame
        .iter()
        .map(|b| BarDto {
            time: b.time().timestamp(),
            open: b.open(),
            high: b.high(),
            low: b.low(),
            close: b.close(),
            volume: b.volume(),
            forming: Some(b.time_millis()) == forming,
        })
        .collect();
    (bars, forming.map(|ms| ms.div_euclid(1000)))
}

/// The instrument facts a client formats prices with.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct InstrumentDto {
    /// The tick size, as a decimal string.
    pub tick: String,
    /// Decimals of a price.
    pub decimals: u32,
    /// Where daily bars start: `utc_midnight` or `new_york_close`.
    pub alignment: String,
}

impl InstrumentDto {
    pub(crate) fn of(i: &Instrument) -> Self {
        Self {
            tick: i.tick().value().to_string(),
            decimals: i.price_decimals(),
            alignment: i.alignment().as_str().to_owned(),
        }
    }
}

/// A run of missing bar slots: `[start, end)`, UNIX seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub(crate) struct GapDto {
    pub start: i64,
    pub end: i64,
}

/// One source the provider asked. How long it took is in the `Server-Timing` header, not
/// here: the body depends only on the data, so its ETag does too.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct AttemptDto {
    /// The role: `broker`, `hot_cache`, `cold_archive`, `fallback`.
    pub source: String,
    /// `hit`, `partial`, `miss`, `timeout`, `circuit_open` or `error:<kind>`.
    pub outcome: String,
    pub bars: usize,
}

/// How the page was made: which sources answered and what is missing.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct ProvenanceDto {
    /// The first source whose bars are in the page.
    pub served_by: Option<String>,
    pub attempts: Vec<AttemptDto>,
    /// Bar slots the market calendar expects over the page's span, and those present.
    pub expected: usize,
    pub present: usize,
    /// True when no expected bar is missing.
    pub complete: bool,
    pub gaps: Vec<GapDto>,
}

/// A page of bars.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct BarsBody {
    pub symbol: String,
    pub timeframe: String,
    pub instrument: InstrumentDto,
    /// Oldest first, unique times.
    pub bars: Vec<BarDto>,
    /// The open time of the forming bar when the page holds it, UNIX seconds.
    pub forming: Option<i64>,
    /// True when the window held more than `limit` bars: the oldest were left to the next page.
    pub truncated: bool,
    /// Pass as `before` for the next older page; absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
    /// The span searched: `[start, end)`, UNIX seconds (milliseconds dropped).
    pub start: i64,
    pub end: i64,
    pub provenance: ProvenanceDto,
}

/// The bars of a page as one array per field (`format=columns`), index for index.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct BarColumns {
    /// Open times, UNIX seconds, oldest first.
    pub time: Vec<i64>,
    pub open: Vec<f64>,
    pub high: Vec<f64>,
    pub low: Vec<f64>,
    pub close: Vec<f64>,
    pub volume: Vec<f64>,
}

impl BarColumns {
    fn of(bars: &[BarDto]) -> Self {
        Self {
            time: bars.iter().map(|b| b.time).collect(),
            open: bars.iter().map(|b| b.open).collect(),
            high: bars.iter().map(|b| b.high).collect(),
            low: bars.iter().map(|b| b.low).collect(),
            close: bars.iter().map(|b| b.close).collect(),
            volume: bars.iter().map(|b| b.volume).collect(),
        }
    }
}

/// A page with its bars as columns (`format=columns`): the fields of [`BarsBody`], in its
/// order, with `columns` in place of `bars`. The forming bar, if any, is the last one
/// (`forming` holds its time).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub(crate) struct ColumnsBody {
    pub symbol: String,
    pub timeframe: String,
    pub instrument: InstrumentDto,
    /// The bars, one array per field, oldest first.
    pub columns: BarColumns,
    /// The open time of the forming bar when the page holds it, UNIX seconds.
    pub forming: Option<i64>,
    /// True when the window held more than `limit` bars, or reached past what one request
    /// searches: the rest is on the next page.
    pub truncated: bool,
    /// Pass as `before` for the next older page; absent when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_before: Option<i64>,
    /// The span searched: `[start, end)`, UNIX seconds (milliseconds dropped).
    pub start: i64,
    pub end: i64,
    pub provenance: ProvenanceDto,
}

impl ColumnsBody {
    pub(crate) fn of(b: &BarsBody) -> Self {
        Self {
            symbol: b.symbol.clone(),
            timeframe: b.timeframe.clone(),
            instrument: b.instrument.clone(),
            columns: BarColumns::of(&b.bars),
            forming: b.forming,
            truncated: b.truncated,
            next_before: b.next_before,
            start: b.start,
            end: b.end,
            provenance: b.provenance.clone(),
        }
    }
}

/// A page as JSON: rows (`format=json`) or columns (`format=columns`): the document's schema of
/// the two bodies `respond` writes.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
#[allow(dead_code)] // named by the OpenAPI document; `respond` serializes its variants' types
pub(crate) enum PageBody {
    /// One object per bar.
    Rows(BarsBody),
    /// One array per field.
    Columns(ColumnsBody),
}

/// A page and what its caching depends on.
pub(crate) struct Page {
    pub body: BarsBody,
    /// The window reaches the current period: a bar may still change or arrive.
    pub live: bool,
    /// Each source asked and its latency, milliseconds (the `Server-Timing` header).
    pub timing: Vec<(String, f64)>,
}

/// `GET /api/v1/bars/{symbol}/{timeframe}`.
#[utoipa::path(get, path = "/api/v1/bars/{symbol}/{timeframe}", tag = "bars",
    params(params::SeriesPath, RawBarsQuery),
    responses(
        (status = 200, description = "A page of bars, oldest first, with its provenance (as rows, or with `format=columns` as columns; with `format=csv` as CSV); a strong ETag",
            content((PageBody = "application/json"), (String = "text/csv"))),
        (status = 304, description = "If-None-Match held the ETag"),
        (status = 400, description = "A bad symbol, timeframe or parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No source could answer, or the request ran past its time limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn bars(
    State(api): State<Api>,
    Path((symbol, timeframe)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let run = async {
        let (symbol, timeframe) = params::series(&symbol, &timeframe)?;
        let q = params::query::<RawBarsQuery>(raw.as_deref())?.parse(api.limits())?;
        let page = page(&api, symbol, timeframe, &q).await?;
        Ok::<_, Problem>(respond(page, q.format, &headers))
    };
    run.await
        .unwrap_or_else(|p| p.at(uri.path()).into_response())
}

/// `GET /api/v1/trades/market-data/{symbol}?timeframe=&days=`: the legacy path (the replaced Python system's, kept for its clients), the same body
/// as the bars route for the last `days` days (default 30, H1).
#[utoipa::path(get, path = "/api/v1/trades/market-data/{symbol}", tag = "bars",
    params(params::SymbolPath, RawMarketDataQuery),
    responses(
        (status = 200, description = "The bars of the last `days` days",
            content((PageBody = "application/json"), (String = "text/csv"))),
        (status = 304, description = "If-None-Match held the ETag"),
        (status = 400, description = "A bad parameter", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No source could answer, or the request ran past its time limit", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn market_data(
    State(api): State<Api>,
    Path(symbol): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let run = async {
        let symbol: Symbol = symbol
            .parse()
            .map_err(|e| Problem::invalid(format!("symbol: {e}")))?;
        let q = params::query::<RawMarketDataQuery>(raw.as_deref())?.parse()?;
        let start = api.now() - Duration::days(i64::from(q.days));
        let query = BarsQuery {
            start: Some(start),
            days: None,
            end: None,
            limit: api.limits().max_bars,
            before: None,
            use_case: q.use_case,
            format: q.format,
        };
        let page = page(&api, symbol, q.timeframe, &query).await?;
        Ok::<_, Problem>(respond(page, q.format, &headers))
    };
    run.await
        .unwrap_or_else(|p| p.at(uri.path()).into_response())
}

/// The bars of a query. Without `start`, the search starts `limit` periods back from its end
/// and widens (x4 each time, up to 64 times that, and at least 14 days) until it holds `limit`
/// bars, so a weekend or a holiday does not end paging early; an empty answer over the whole
/// reach means there is nothing older. The newest `limit` bars are kept; when more were found
/// the page says `truncated` and `next_before` points at its oldest bar.
pub(crate) async fn page(
    api: &Api,
    symbol: Symbol,
    timeframe: Timeframe,
    q: &BarsQuery,
) -> Result<Page, Problem> {
    let now = api.now();
    let limits = api.limits();
    let instrument = api.inner.instruments.resolve(&symbol);
    // Every instant below saturates instead of overflowing: any parameter the parser accepts
    // is answered, none panics.
    let one_ms = Duration::milliseconds(1);
    let last = q.end.map_or(now, |e| e.min(now));
    let mut end = last.checked_add_signed(one_ms).unwrap_or(last);
    if let Some(before) = q.before {
        end = end.min(before);
    }
    let back = |d: Duration| {
        end.checked_sub_signed(d)
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    };
    let period = Duration::milliseconds(timeframe.max_millis());
    let reach = period
        .checked_mul(i32::try_from(q.limit).unwrap_or(i32::MAX))
        .unwrap_or(limits.max_span);
    let epoch = DateTime::<Utc>::UNIX_EPOCH;
    // `start` and `days` both bound the window: the later start wins.
    let from_days = q
        .days
        .map(|days| instrument.calendar().trading_days_start(end, days));
    let start = match (q.start, from_days) {
        (Some(s), Some(d)) => Some(s.max(d)),
        (s, d) => s.or(d),
    };
    let wanted = match start {
        Some(s) => s,
        None => back(
            reach
                .checked_mul(64)
                .unwrap_or(limits.max_span)
                .max(Duration::days(14)),
        ),
    }
    .max(epoch);
    // One request searches at most `max_span` back: a start older than that gets a truncated
    // page and the cursor to the rest.
    let floor = wanted.max(back(limits.max_span)).max(epoch);
    let clamped = wanted < floor;
    if end <= floor {
        return Ok(Page {
            body: body(
                &symbol,
                timeframe,
                &instrument,
                empty(&symbol, timeframe, floor)?,
                q.limit,
                start.is_none(),
                clamped,
            ),
            live: false,
            timing: Vec::new(),
        });
    }
    let mut span = reach.max(period);
    let answer = loop {
        let start = back(span).max(floor);
        let range =
            TimeRange::new(start, end).map_err(|e| Problem::invalid(format!("range: {e}")))?;
        let request =
            OhlcvRequest::new(symbol.clone(), timeframe, Window::Range(range), q.use_case);
        let answer = api
            .provider()
            .get(request)
            .await
            .map_err(|e| unavailable(&e))?;
        if answer.frame.len() >= q.limit || start == floor {
            break Searched { answer, range };
        }
        span = span.checked_mul(4).unwrap_or(limits.max_span);
    };
    let grid = Grid::new(timeframe, instrument.alignment());
    let live = grid
        .floor_millis(now.timestamp_millis())
        .is_some_and(|current| end.timestamp_millis() > current);
    let timing = answer
        .answer
        .meta
        .attempts
        .iter()
        .map(|a| (a.source.as_str().to_owned(), a.latency_ms))
        .collect();
    Ok(Page {
        body: body(
            &symbol,
            timeframe,
            &instrument,
            answer,
            q.limit,
            start.is_none(),
            clamped,
        ),
        live,
        timing,
    })
}

struct Searched {
    answer: OhlcvResponse,
    range: TimeRange,
}

/// Nothing searched: the window closed before it opened (`before` at or under `start`).
fn empty(symbol: &Symbol, timeframe: Timeframe, at: DateTime<Utc>) -> Result<Searched, Problem> {
    let range = TimeRange::new(at, at).map_err(|e| Problem::invalid(format!("range: {e}")))?;
    Ok(Searched {
        answer: OhlcvResponse {
            frame: OhlcvFrame::empty(symbol.clone(), timeframe),
            meta: axia_provider::ResponseMeta {
                range,
                served_by: None,
                attempts: Vec::new(),
                bars: 0,
                completeness: Completeness {
                    expected: 0,
                    present: 0,
                    gaps: Vec::new(),
                },
                complete: true,
                forming: None,
                shared: false,
            },
        },
        range,
    })
}

fn unavailable(e: &ProviderError) -> Problem {
    Problem::unavailable(format!("no source could answer: {e}"))
}

fn body(
    symbol: &Symbol,
    timeframe: Timeframe,
    instrument: &Instrument,
    searched: Searched,
    limit: usize,
    open_ended: bool,
    clamped: bool,
) -> BarsBody {
    let Searched { answer, range } = searched;
    let found = answer.frame.len();
    let truncated = found > limit || clamped;
    let frame = if truncated {
        answer.frame.last_n(limit)
    } else {
        answer.frame
    };
    let oldest = frame.first_time();
    let completeness = match (truncated, oldest) {
        // The gaps and counts of the span the page covers, not of the span searched.
        (true, Some(first)) => TimeRange::new(first, range.end()).map_or_else(
            |_| answer.meta.completeness.clone(),
            |span| frame.completeness(&*instrument.calendar(), span),
        ),
        _ => answer.meta.completeness.clone(),
    };
    let next_before = if truncated || open_ended {
        oldest
            .or_else(|| clamped.then(|| range.start()))
            .map(|t| t.timestamp())
    } else {
        None
    };
    let (bars, forming) = dtos(&frame);
    BarsBody {
        symbol: symbol.to_string(),
        timeframe: timeframe.to_string(),
        instrument: InstrumentDto::of(instrument),
        bars,
        forming,
        truncated,
        next_before,
        start: range.start().timestamp(),
        end: range.end().timestamp(),
        provenance: ProvenanceDto {
            served_by: answer.meta.served_by.map(|r| r.as_str().to_owned()),
            attempts: answer.meta.attempts.iter().map(attempt).collect(),
            expected: completeness.expected,
            present: completeness.present,
            complete: completeness.is_complete(),
            gaps: completeness
                .gaps
                .iter()
                .map(|g| GapDto {
                    start: g.start().timestamp(),
                    end: g.end().timestamp(),
                })
                .collect(),
        },
    }
}

fn attempt(a: &Attempt) -> AttemptDto {
    let outcome = match &a.outcome {
        Outcome::Hit => "hit".to_owned(),
        Outcome::Partial => "partial".to_owned(),
        Outcome::Miss => "miss".to_owned(),
        Outcome::Timeout => "timeout".to_owned(),
        Outcome::CircuitOpen => "circuit_open".to_owned(),
        Outcome::Error(kind) => format!(
            "error:{}",
            serde_json::to_value(kind)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        ),
    };
    AttemptDto {
        source: a.source.as_str().to_owned(),
        outcome,
        bars: a.bars,
    }
}

/// The page as JSON or CSV with its validators: a strong ETag over the body, 304 when the
/// client holds it, `no-cache` at the live edge or with gaps (a bar may still change or
/// arrive), a day of caching for a closed, complete window.
fn respond(page: Page, format: Format, headers: &HeaderMap) -> Response {
    let Page { body, live, timing } = page;
    let (bytes, content_type) = match format {
        // The two shapes of `PageBody`, serialized without moving the page into it.
        Format::Json => (
            serde_json::to_vec(&body).unwrap_or_default(),
            "application/json",
        ),
        Format::Columns => (
            serde_json::to_vec(&ColumnsBody::of(&body)).unwrap_or_default(),
            "application/json",
        ),
        Format::Csv => (csv(&body).into_bytes(), "text/csv; charset=utf-8"),
    };
    let etag = {
        use sha1::Digest as _;
        format!("\"{:x}\"", sha1::Sha1::digest(&bytes))
    };
    let cache = if live || !body.provenance.complete {
        "no-cache"
    } else {
        "public, max-age=86400"
    };
    let mut out = HeaderMap::new();
    let mut put = |name: &'static str, value: String| {
        if let Ok(v) = HeaderValue::from_str(&value) {
            out.insert(name, v);
        }
    };
    put("etag", etag.clone());
    put("cache-control", cache.to_owned());
    put("x-axia-bars", body.bars.len().to_string());
    put("x-axia-truncated", body.truncated.to_string());
    put("x-axia-complete", body.provenance.complete.to_string());
    if let Some(s) = &body.provenance.served_by {
        put("x-axia-served-by", s.clone());
    }
    if let Some(b) = body.next_before {
        put("x-axia-next-before", b.to_string());
    }
    if !timing.is_empty() {
        let entries: Vec<String> = timing
            .iter()
            .map(|(source, ms)| format!("{source};dur={ms:.3}"))
            .collect();
        put("server-timing", entries.join(", "));
    }
    if matches(headers, &etag) {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    put("content-type", content_type.to_owned());
    (StatusCode::OK, out, bytes).into_response()
}

/// `If-None-Match` holds `etag` (or `*`).
fn matches(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .any(|t| t == "*" || t == etag || t.strip_prefix("W/") == Some(etag))
}

/// `time,open,high,low,close,volume,forming`, RFC 3339 times, prices at the instrument's
/// precision ([`axia_domain::Tick::shown_decimals`]: a catch-all tick's as many as the bars
/// use).
fn csv(body: &BarsBody) -> String {
    use std::fmt::Write as _;
    let decimals =
        body.instrument
            .tick
            .parse::<axia_domain::Tick>()
            .map_or(body.instrument.decimals, |t| {
                t.shown_decimals(
                    body.bars
                        .iter()
                        .flat_map(|b| [b.open, b.high, b.low, b.close]),
                )
            });
    let decimals = usize::try_from(decimals).unwrap_or(8);
    let mut out = String::with_capacity(64 * (body.bars.len() + 1));
    out.push_str("time,open,high,low,close,volume,forming\n");
    for b in &body.bars {
        let time = DateTime::from_timestamp(b.time, 0)
            .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "{time},{:.decimals$},{:.decimals$},{:.decimals$},{:.decimals$},{},{}",
            b.open, b.high, b.low, b.close, b.volume, b.forming
        );
    }
    out
}

/// The use case a WebSocket and the chart page read with.
pub(crate) const LIVE_USE_CASE: UseCase = UseCase::Chart;

/// The chart page's first window, as the bars route would answer
/// `?days={days}&limit=50000&format=columns`: embedded in the page so that the first paint
/// needs no second request. `None` when it cannot be read (the page then asks for it and
/// shows why it failed).
pub(crate) async fn first_window(
    api: &Api,
    symbol: Symbol,
    timeframe: Timeframe,
    days: u32,
) -> Option<String> {
    let raw = format!("days={days}&limit=50000&format=columns");
    let q = params::query::<RawBarsQuery>(Some(&raw))
        .ok()?
        .parse(api.limits())
        .ok()?;
    let page = page(api, symbol, timeframe, &q).await.ok()?;
    serde_json::to_string(&ColumnsBody::of(&page.body)).ok()
}
