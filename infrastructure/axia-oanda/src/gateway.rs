//! [`OandaGateway`]: OANDA v20 candles behind the [`MarketData`] port.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{
    Clock, DailyAlignment, FetchedBars, MarketData, MarketDataError, OhlcvFrame, Symbol, TimeRange,
    Timeframe, ValidationReport, ValidationRules, validate_bars_with,
};
use axia_http::path_segment;
use chrono::{DateTime, SecondsFormat, Utc};

use crate::OandaConfig;
use crate::http::{Http, SendError, error_message};
use crate::parse::{self, Row};

/// The most candles one request returns.
pub const MAX_CANDLES: usize = 5_000;

/// OANDA's granularity for `timeframe`.
#[must_use]
pub const fn granularity(timeframe: Timeframe) -> &'static str {
    match timeframe {
        Timeframe::M1 => "M1",
        Timeframe::M5 => "M5",
        Timeframe::M15 => "M15",
        Timeframe::M30 => "M30",
        Timeframe::H1 => "H1",
        Timeframe::H4 => "H4",
        Timeframe::D1 => "D",
        Timeframe::W1 => "W",
        Timeframe::MN1 => "M",
    }
}

/// The alignment parameters that make OANDA's candles open where axia's bars of `alignment`
/// open. OANDA's defaults (17:00 New York, weeks from Friday) match neither: they are always
/// sent. Every returned time is still checked against the grid by validation.
#[must_use]
pub const fn alignment_params(alignment: DailyAlignment) -> [(&'static str, &'static str); 3] {
    match alignment {
        DailyAlignment::NewYorkClose => [
            ("dailyAlignment", "17"),
            ("alignmentTimezone", "America/New_York"),
            ("weeklyAlignment", "Sunday"),
        ],
        // UTC midnight, and weeks from Monday: axia's default grid.
        _ => [
            ("dailyAlignment", "0"),
            ("alignmentTimezone", "UTC"),
            ("weeklyAlignment", "Monday"),
        ],
    }
}

/// OANDA v20 behind the [`MarketData`] port. Cheap to clone; clones share the HTTP client
/// (keep-alive: one pool, so OANDA's limit of 2 new connections a second holds), the request
/// pacer and the request count.
#[derive(Clone)]
pub struct OandaGateway {
    http: Http,
    clock: Arc<dyn Clock>,
    requests: Arc<AtomicU64>,
}

impl std::fmt::Debug for OandaGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OandaGateway")
            .field("config", &self.http.config)
            .finish_non_exhaustive()
    }
}

/// A failed request, and whether another try may succeed.
enum Failure {
    Retry(MarketDataError, Option<Duration>),
    Final(MarketDataError),
}

impl OandaGateway {
    /// A gateway; `clock` says what "now" is (a `to` in the future is clamped to it, and the
    /// forming bar is labelled by it).
    ///
    /// # Errors
    /// [`MarketDataError::Backend`] when the HTTP client cannot be built.
    pub fn new(config: OandaConfig, clock: impl Clock + 'static) -> Result<Self, MarketDataError> {
        let http = Http::new(config).map_err(|e| MarketDataError::Backend(Box::new(e)))?;
        Ok(Self {
            http,
            clock: Arc::new(clock),
            requests: Arc::new(AtomicU64::new(0)),
        })
    }

    /// HTTP requests sent since the gateway was built (retries included).
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// One GET of candles, retried on 429, 5xx, timeouts and connection failures.
    async fn get_page(
        &self,
        instrument: &str,
        symbol: &Symbol,
        query: &[(&str, String)],
    ) -> Result<parse::Page, MarketDataError> {
        let path = format!("instruments/{}/candles", path_segment(instrument));
        let mut attempt = 0;
        loop {
            self.requests.fetch_add(1, Ordering::Relaxed);
            match self.try_get(&path, symbol, query).await {
                Ok(page) => return Ok(page),
                Err(Failure::Final(e)) => return Err(e),
                Err(Failure::Retry(e, after)) => {
                    if attempt >= self.http.config.max_retries {
                        return Err(e);
                    }
                    let wait = after.unwrap_or_else(|| self.http.config.backoff.delay(attempt));
                    tracing::debug!(instrument, attempt, error = %e, wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "OANDA request failed; retrying");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }

    async fn try_get(
        &self,
        path: &str,
        symbol: &Symbol,
        query: &[(&str, String)],
    ) -> Result<parse::Page, Failure> {
        let reply = self
            .http
            .send(self.http.get(path).query(query))
            .await
            .map_err(|e| match e {
                SendError::Timeout(d) => Failure::Retry(MarketDataError::Timeout(d), None),
                SendError::Transport(t) => Failure::Retry(MarketDataError::Unavailable(t), None),
            })?;
        let (status, retry_after) = (reply.status, reply.retry_after);
        if (200..300).contains(&status) {
            return parse::candles(&reply.body, self.http.config.price)
                .map_err(|e| Failure::Final(MarketDataError::InvalidResponse(e.0)));
        }
        let message = error_message(&reply.body);
        Err(match status {
            401 | 403 => Failure::Final(MarketDataError::Unauthorized(format!(
                "OANDA answered {status}: {message}"
            ))),
            429 => Failure::Retry(MarketDataError::RateLimited { retry_after }, retry_after),
            400 | 404 if message.contains("'instrument'") || status == 404 => {
                Failure::Final(MarketDataError::SymbolNotFound(symbol.clone()))
            }
            400 => Failure::Final(MarketDataError::Unsupported(format!(
                "OANDA refused the request: {message}"
            ))),
            s if s >= 500 => Failure::Retry(
                MarketDataError::Unavailable(format!("OANDA answered {status}: {message}")),
                retry_after,
            ),
            _ => Failure::Final(MarketDataError::InvalidResponse(format!(
                "OANDA answered {status}: {message}"
            ))),
        })
    }

    /// The raw rows of `range` (clamped to now), paging past [`MAX_CANDLES`]: each page asks
    /// from the last time received, without it.
    async fn rows(
        &self,
        instrument: &str,
        symbol: &Symbol,
        timeframe: Timeframe,
        alignment: DailyAlignment,
        range: TimeRange,
        now: DateTime<Utc>,
    ) -> Result<Vec<Row>, MarketDataError> {
        let end_ms = range.end_millis().min(now.timestamp_millis() + 1);
        let mut rows: Vec<Row> = Vec::new();
        let mut from = range.start();
        let mut include_first = true;
        loop {
            let mut query: Vec<(&str, String)> = vec![
                (
                    "price",
                    crate::config::price_param(self.http.config.price).to_owned(),
                ),
                ("granularity", granularity(timeframe).to_owned()),
                ("from", rfc3339(from)),
                ("count", MAX_CANDLES.to_string()),
                ("includeFirst", include_first.to_string()),
            ];
            query.extend(
                alignment_params(alignment)
                    .iter()
                    .map(|(k, v)| (*k, (*v).to_owned())),
            );
            let page = self.get_page(instrument, symbol, &query).await?;
            let received = page.rows.len();
            let last_time = page
                .rows
                .iter()
                .map(|r| r.raw.time_millis)
                .filter(|t| *t != i64::MIN)
                .max();
            rows.extend(page.rows.into_iter().filter(|r| r.raw.time_millis < end_ms));
            let Some(last) = last_time else { break };
            if received < MAX_CANDLES || last >= end_ms {
                break;
            }
            let Some(next) = DateTime::from_timestamp_millis(last) else {
                break;
            };
            if next <= from && !include_first {
                // No progress: a server that ignores the paging parameters.
                return Err(MarketDataError::InvalidResponse(format!(
                    "paging from {} made no progress",
                    rfc3339(from)
                )));
            }
            from = next;
            include_first = false;
        }
        Ok(rows)
    }
}

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[async_trait]
impl MarketData for OandaGateway {
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        let now = self.clock.now();
        let instrument = self.http.config.instrument_of(symbol);
        let grid = timeframe.aligned(instrument.alignment());
        let empty = || FetchedBars {
            frame: OhlcvFrame::empty_on(symbol.clone(), grid),
            report: ValidationReport::default(),
        };
        if range.is_empty() {
            return Ok(empty());
        }
        if range.start() > now {
            return Err(MarketDataError::NoData(range));
        }
        let name = self
            .http
            .config
            .name_of(symbol)
            .ok_or_else(|| MarketDataError::SymbolNotFound(symbol.clone()))?;
        let rows = self
            .rows(&name, symbol, timeframe, instrument.alignment(), range, now)
            .await?;
        if rows.is_empty() {
            return Err(MarketDataError::NoData(range));
        }
        // An incomplete candle is the forming bar: only the newest may be, and it is never
        // taken for a closed one whatever our clock says.
        let incomplete = rows
            .last()
            .filter(|r| !r.complete)
            .map(|r| r.raw.time_millis);
        let last_index = rows.len() - 1;
        let raw = rows.into_iter().enumerate().map(|(i, r)| {
            if r.complete || i == last_index {
                r.raw
            } else {
                // An incomplete candle before the newest is malformed: dropped as missing.
                axia_domain::RawBar {
                    close: None,
                    ..r.raw
                }
            }
        });
        let rules = ValidationRules::for_instrument(&instrument);
        let (frame, report) = validate_bars_with(symbol.clone(), timeframe, raw, now, rules);
        if !report.is_clean() {
            tracing::info!(
                %symbol, %timeframe, received = report.received, kept = report.kept,
                dropped = ?report.counts(), "OANDA candles dropped by validation"
            );
        }
        if frame.is_empty() && report.received > 0 {
            return Err(MarketDataError::InvalidResponse(format!(
                "none of the {} candles of {name} {} passed validation ({:?}): off the {timeframe} grid means the alignment parameters were not honoured",
                report.received,
                granularity(timeframe),
                report.counts()
            )));
        }
        let frame = if incomplete.is_some() && frame.last().map(|b| b.time_millis()) == incomplete {
            frame.with_forming(true)
        } else {
            frame
        };
        Ok(FetchedBars {
            frame: frame.into_slice(range),
            report,
        })
    }
}
