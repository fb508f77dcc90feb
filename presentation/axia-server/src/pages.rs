//! The smaller routes: symbols, features, health, OpenAPI, the chart page and its assets.

use std::collections::BTreeMap;

use axia_domain::{Symbol, Timeframe};
use axum::extract::{Path, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::Api;
use crate::bars::InstrumentDto;
use crate::params;
use crate::problem::Problem;

/// The vendored lightweight-charts bundle's path (versioned: cached for a year).
pub(crate) const LWC_PATH: &str = "/assets/lightweight-charts-5.2.1.js";
const LWC_JS: &[u8] = include_bytes!("../assets/lightweight-charts-5.2.1.js");
const LWC_NOTICE: &str = include_str!("../assets/lightweight-charts.NOTICE");
const LWC_LICENSE: &str = include_str!("../assets/lightweight-charts.LICENSE");
const CHART_HTML: &str = include_str!("../assets/chart.html");

/// `GET /health`: the process answers; no dependency is asked.
#[utoipa::path(get, path = "/health", tag = "health",
    responses((status = 200, description = "The process is up", body = Health)))]
pub(crate) async fn health() -> Response {
    json(
        StatusCode::OK,
        &Health {
            status: "ok",
            version: env!("CARGO_PKG_VERSION"),
        },
    )
}

/// Liveness.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    status: &'static str,
    version: &'static str,
}

/// Redis's answer to a PING.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct RedisHealth {
    status: &'static str,
    /// The PING round trip, milliseconds.
    latency_ms: f64,
}

/// `GET /health/redis`: one PING to the hot tier, timed; 503 when it does not answer or none
/// is configured.
#[utoipa::path(get, path = "/health/redis", tag = "health",
    responses(
        (status = 200, description = "Redis answered", body = RedisHealth),
        (status = 503, description = "Redis did not answer, or no hot tier is configured", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn health_redis(State(api): State<Api>, uri: Uri) -> Response {
    let Some(hot) = &api.inner.hot else {
        return Problem::unavailable("no hot tier (Redis) is configured")
            .at(uri.path())
            .into_response();
    };
    match hot.updates.ping().await {
        Ok(d) => json(
            StatusCode::OK,
            &RedisHealth {
                status: "ok",
                latency_ms: axia_domain::millis::measured(d),
            },
        ),
        Err(e) => Problem::unavailable(format!("redis: {e}"))
            .at(uri.path())
            .into_response(),
    }
}

/// A series a store holds.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct StoredSeries {
    /// The store: `hot_cache`, `cold_archive`, or the name it was added under.
    store: String,
    timeframe: String,
    bars: Option<usize>,
    /// The oldest and newest bars' open times, UNIX seconds.
    oldest: Option<i64>,
    newest: Option<i64>,
}

/// A symbol and its series.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct SymbolEntry {
    symbol: String,
    instrument: InstrumentDto,
    series: Vec<StoredSeries>,
}

/// What the stores hold.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub(crate) struct Symbols {
    symbols: Vec<SymbolEntry>,
    /// Stores that could not be read, with why (the others are listed).
    unavailable: Vec<String>,
}

/// `GET /api/v1/symbols`: every series the catalog's stores (hot tier, archive) hold.
#[utoipa::path(get, path = "/api/v1/symbols", tag = "bars",
    responses(
        (status = 200, description = "The series held", body = Symbols),
        (status = 503, description = "No store could be read", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn symbols(State(api): State<Api>, uri: Uri) -> Response {
    let mut by_symbol: BTreeMap<Symbol, Vec<StoredSeries>> = BTreeMap::new();
    let mut unavailable = Vec::new();
    for (name, store) in &api.inner.catalog {
        match store.info().await {
            Ok(info) => {
                for d in info.datasets {
                    by_symbol.entry(d.symbol).or_default().push(StoredSeries {
                        store: name.clone(),
                        timeframe: d.timeframe.to_string(),
                        bars: d.bars,
                        oldest: d.oldest.map(|t| t.timestamp()),
                        newest: d.newest.map(|t| t.timestamp()),
                    });
                }
            }
            Err(e) => unavailable.push(format!("{name}: {e}")),
        }
    }
    if !api.inner.catalog.is_empty() && unavailable.len() == api.inner.catalog.len() {
        return Problem::unavailable(format!(
            "no store could be read: {}",
            unavailable.join("; ")
        ))
        .at(uri.path())
        .into_response();
    }
    let symbols = by_symbol
        .into_iter()
        .map(|(symbol, mut series)| {
            series.sort_by(|a, b| (&a.timeframe, &a.store).cmp(&(&b.timeframe, &b.store)));
            SymbolEntry {
                instrument: InstrumentDto::of(&api.inner.instruments.resolve(&symbol)),
                symbol: symbol.to_string(),
                series,
            }
        })
        .collect();
    json(
        StatusCode::OK,
        &Symbols {
            symbols,
            unavailable,
        },
    )
}

/// The latest feature values of a series.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct Features {
    symbol: String,
    timeframe: String,
    /// The open time of the bar the values were computed at, UNIX seconds.
    bar_time: i64,
    /// True when that bar was forming: the values are provisional.
    forming: bool,
    /// Each warmed-up feature by name (`sma_20`, `macd_12_26_9`, …).
    values: BTreeMap<String, f64>,
}

/// `GET /api/v1/features/{symbol}/{timeframe}`: the feature store's latest values.
#[utoipa::path(get, path = "/api/v1/features/{symbol}/{timeframe}", tag = "features",
    params(params::SeriesPath),
    responses(
        (status = 200, description = "The latest values", body = Features),
        (status = 400, description = "A bad symbol or timeframe", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No values for this series yet", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "No feature store, or it cannot be read", body = Problem, content_type = "application/problem+json"),
    ))]
pub(crate) async fn features(
    State(api): State<Api>,
    Path((symbol, timeframe)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let run = async {
        let (symbol, timeframe) = params::series(&symbol, &timeframe)?;
        let store = api
            .inner
            .features
            .as_ref()
            .ok_or_else(|| Problem::unavailable("no feature store is configured"))?;
        let snapshot = store
            .latest(&symbol, timeframe)
            .await
            .map_err(|e| Problem::unavailable(format!("feature store: {e}")))?
            .ok_or_else(|| {
                Problem::not_found(format!("no features for {symbol} {timeframe} yet"))
            })?;
        Ok::<_, Problem>(json(
            StatusCode::OK,
            &Features {
                symbol: snapshot.symbol.to_string(),
                timeframe: snapshot.timeframe.to_string(),
                bar_time: snapshot.bar_open.timestamp(),
                forming: snapshot.forming,
                values: snapshot.values,
            },
        ))
    };
    run.await
        .unwrap_or_else(|p| p.at(uri.path()).into_response())
}

/// `GET /openapi.json`.
pub(crate) async fn openapi_json() -> Response {
    match crate::openapi().to_json() {
        Ok(body) => typed(StatusCode::OK, "application/json", body.into_bytes()),
        Err(e) => Problem::unavailable(format!("openapi: {e}")).into_response(),
    }
}

/// `GET /chart/{symbol}/{timeframe}`: the chart page. The symbol and timeframe are parsed
/// first, so only their canonical spelling reaches the page.
pub(crate) async fn chart(
    State(api): State<Api>,
    Path((symbol, timeframe)): Path<(String, String)>,
    uri: Uri,
) -> Response {
    let (symbol, timeframe): (Symbol, Timeframe) = match params::series(&symbol, &timeframe) {
        Ok(s) => s,
        Err(p) => return p.at(uri.path()).into_response(),
    };
    let instrument = api.inner.instruments.resolve(&symbol);
    // The first window (the last `days` trading days, as the page would ask for it) goes in
    // the page itself: the first paint needs no second request.
    let days = uri
        .query()
        .and_then(|q| {
            q.split('&')
                .find_map(|kv| kv.strip_prefix("days="))
                .and_then(|d| d.parse::<f64>().ok())
        })
        .map(f64::floor)
        // As the page reads it: 0 or not a number is 30, then 1 to 3,660.
        .filter(|d| d.is_finite() && *d != 0.0)
        .map_or(30, |d| d.clamp(1.0, 3660.0) as u32);
    let first = crate::bars::first_window(&api, symbol.clone(), timeframe, days)
        .await
        .map_or_else(|| "null".to_owned(), |json| json.replace('<', "\\u003c"));
    let config = serde_json::json!({
        "symbol": symbol.as_str(),
        "timeframe": timeframe.as_str(),
        "periodSeconds": timeframe.max_millis() / 1000,
        "decimals": instrument.price_decimals(),
        "tick": instrument.tick().value().to_string(),
        "lwc": LWC_PATH,
    });
    // JSON inside a <script>: `<` escaped so no value can close the tag.
    let config = config.to_string().replace('<', "\\u003c");
    // The inline scripts run by this response's nonce only: an injected script would not.
    let nonce = crate::guard::nonce();
    let html = CHART_HTML
        .replace(
            "{{TITLE}}",
            // `&` (`AT&T`) is the one character a symbol may hold that HTML gives a meaning.
            &html_escape(&format!("{} {}", symbol.as_str(), timeframe.as_str())),
        )
        .replace("{{CONFIG}}", &config)
        .replace("{{FIRST}}", &first)
        .replace("{{FIRST_DAYS}}", &days.to_string())
        .replace("{{NONCE}}", &nonce)
        .replace("{{NOTICE}}", &html_escape(LWC_NOTICE));
    let mut response = typed(
        StatusCode::OK,
        "text/html; charset=utf-8",
        html.into_bytes(),
    );
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    secure(
        headers,
        &format!(
            "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; \
             img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; \
             frame-ancestors 'none'"
        ),
    );
    response
}

/// A page's own headers: its Content-Security-Policy `csp`, never in a frame, no referrer.
pub(crate) fn secure(headers: &mut axum::http::HeaderMap, csp: &str) {
    if let Ok(v) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, v);
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
}

pub(crate) async fn lightweight_charts() -> Response {
    let mut response = typed(
        StatusCode::OK,
        "text/javascript; charset=utf-8",
        LWC_JS.to_vec(),
    );
    response.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}

pub(crate) async fn notice() -> Response {
    typed(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        LWC_NOTICE.as_bytes().to_vec(),
    )
}

pub(crate) async fn license() -> Response {
    typed(
        StatusCode::OK,
        "text/plain; charset=utf-8",
        LWC_LICENSE.as_bytes().to_vec(),
    )
}

/// A route asked with a method it does not take: 405 with `Allow`.
pub(crate) async fn method_not_allowed(method: axum::http::Method, uri: Uri) -> Response {
    let mut response = Problem::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        format!(
            "{} is not taken here: the routes are read-only (GET, HEAD)",
            params::clip(method.as_str())
        ),
    )
    .at(uri.path())
    .into_response();
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
    response
}

pub(crate) async fn not_found(uri: Uri) -> Response {
    Problem::not_found(format!("no route for {}", params::clip(uri.path())))
        .at(uri.path())
        .into_response()
}

pub(crate) fn json<T: Serialize>(status: StatusCode, body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => typed(status, "application/json", bytes),
        Err(e) => Problem::unavailable(format!("encoding: {e}")).into_response(),
    }
}

fn typed(status: StatusCode, content_type: &'static str, body: Vec<u8>) -> Response {
    let mut response = (status, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// Text safe in HTML content and in a quoted attribute.
pub(crate) fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
        .replace('\n', " ")
}
