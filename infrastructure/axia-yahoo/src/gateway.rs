//! [`YahooGateway`].

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{
    Clock, FetchedBars, MarketData, MarketDataError, OhlcvFrame, RawBar, SourceLimits, Symbol,
    TimeRange, Timeframe, ValidationReport, ValidationRules, validate_bars_with,
};
use chrono::{DateTime, Utc};

use crate::YahooConfig;
use crate::limiter::RateLimiter;
use crate::parse::{ChartError, Parsed, parse};

/// How far back Yahoo serves an interval, and the longest range one request may ask for.
fn limits(timeframe: Timeframe) -> (&'static str, Option<chrono::Duration>, chrono::Duration) {
    let days = chrono::Duration::days;
    match timeframe {
        Timeframe::M1 => ("1m", Some(days(30)), days(7)),
        Timeframe::M5 => ("5m", Some(days(60)), days(60)),
        Timeframe::M15 => ("15m", Some(days(60)), days(60)),
        Timeframe::M30 => ("30m", Some(days(60)), days(60)),
        Timeframe::H1 | Timeframe::H4 => ("60m", Some(days(730)), days(730)),
        Timeframe::D1 => ("1d", None, days(365 * 200)),
        Timeframe::W1 => ("1wk", None, days(365 * 200)),
        Timeframe::MN1 => ("1mo", None, days(365 * 200)),
    }
}

/// A retryable failure, with what to report if retries run out.
enum Attempt {
    Done(Result<Parsed, MarketDataError>),
    Retry(MarketDataError, Option<Duration>),
}

/// Yahoo Finance behind the [`MarketData`] port. Cheap to clone; clones share the HTTP client,
/// the rate limiter and the request count.
#[derive(Clone)]
pub struct YahooGateway {
    http: reqwest::Client,
    config: Arc<YahooConfig>,
    limiter: Arc<RateLimiter>,
    clock: Arc<dyn Clock>,
    requests: Arc<AtomicU64>,
    /// Tickers whose 60m bars open on the half hour.
    half_hour: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for YahooGateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("YahooGateway")
            .field("base_url", &self.config.base_url)
            .finish_non_exhaustive()
    }
}

impl YahooGateway {
    /// A gateway; `clock` says what "now" is for Yahoo's look-back limits and for dropping
    /// bars from the future.
    ///
    /// # Errors
    /// [`MarketDataError::Backend`] when the HTTP client cannot be built (no TLS roots).
    pub fn new(config: YahooConfig, clock: impl Clock + 'static) -> Result<Self, MarketDataError> {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        let http = reqwest::Client::builder()
            .user_agent(config.user_agent.clone())
            .timeout(config.request_timeout)
            .connect_timeout(config.request_timeout.min(Duration::from_secs(5)))
            .build()
            .map_err(|e| MarketDataError::Backend(Box::new(e)))?;
        Ok(Self {
            http,
            limiter: Arc::new(RateLimiter::new(config.requests_per_second)),
            config: Arc::new(config),
            clock,
            requests: Arc::default(),
            half_hour: Arc::default(),
        })
    }

    /// HTTP requests sent so far (retries included).
    #[must_use]
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The requests `range` needs at `now`: Yahoo's interval name and the chunks to ask for.
    fn plan(
        timeframe: Timeframe,
        range: TimeRange,
        now: DateTime<Utc>,
    ) -> Result<(&'static str, Vec<TimeRange>), MarketDataError> {
        let (interval, back, chunk) = limits(timeframe);
        let mut start = range.start();
        if let Some(back) = back {
            // A minute of margin: Yahoo refuses a period1 right at the limit.
            let earliest = now - back + chrono::Duration::minutes(1);
            if range.end() <= earliest {
                return Err(MarketDataError::Unsupported(format!(
                    "Yahoo serves {interval} bars for the last {} days only; asked for {range}",
                    back.num_days()
                )));
            }
            start = start.max(earliest);
        }
        let end = range.end().min(now + chrono::Duration::minutes(1));
        let mut chunks = Vec::new();
        while start < end {
            let stop = (start + chunk).min(end);
            if let Ok(r) = TimeRange::new(start, stop) {
                chunks.push(r);
            }
            start = stop;
        }
        Ok((interval, chunks))
    }

    async fn attempt(
        &self,
        url: &str,
        query: &[(&str, String)],
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Attempt {
        self.limiter.acquire().await;
        self.requests.fetch_add(1, Ordering::Relaxed);
        let response = match self.http.get(url).query(query).send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry(MarketDataError::Timeout(self.config.request_timeout), None);
            }
            Err(e) => {
                return Attempt::Retry(MarketDataError::Unavailable(format!("Yahoo: {e}")), None);
            }
        };
        let status = response.status();
        let retry_after = response
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        if status.as_u16() == 429 {
            return Attempt::Retry(MarketDataError::RateLimited { retry_after }, retry_after);
        }
        if status.is_server_error() {
            return Attempt::Retry(
                MarketDataError::Unavailable(format!("Yahoo answered HTTP {status}")),
                None,
            );
        }
        let body = match response.bytes().await {
            Ok(b) => b,
            Err(e) if e.is_timeout() => {
                return Attempt::Retry(MarketDataError::Timeout(self.config.request_timeout), None);
            }
            Err(e) => {
                return Attempt::Retry(MarketDataError::Unavailable(format!("Yahoo: {e}")), None);
            }
        };
        let parsed = parse(&body, timeframe).map_err(|e| match e {
            ChartError::NotFound(_) => MarketDataError::SymbolNotFound(symbol.clone()),
            ChartError::Unsupported(t) => MarketDataError::Unsupported(format!("Yahoo: {t}")),
            ChartError::Invalid(t) => {
                MarketDataError::InvalidResponse(format!("HTTP {status}: {t}"))
            }
        });
        if status.as_u16() == 404 && parsed.is_ok() {
            return Attempt::Done(Err(MarketDataError::SymbolNotFound(symbol.clone())));
        }
        Attempt::Done(parsed)
    }

    async fn fetch(
        &self,
        ticker: &str,
        interval: &str,
        chunk: TimeRange,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Parsed, MarketDataError> {
        let url = format!(
            "{}/v8/finance/chart/{}",
            self.config.base_url,
            axia_http::path_segment(ticker)
        );
        let query = [
            (
                "period1",
                (chunk.start_millis().div_euclid(1000)).to_string(),
            ),
            // Rounded up: a range ending a millisecond after a bar's open must include it.
            (
                "period2",
                (chunk.end_millis() + 999).div_euclid(1000).to_string(),
            ),
            ("interval", interval.to_owned()),
            ("includePrePost", "false".to_owned()),
            ("events", "div,split".to_owned()),
        ];
        let mut attempt = 0;
        loop {
            match self.attempt(&url, &query, symbol, timeframe).await {
                Attempt::Done(r) => return r,
                Attempt::Retry(err, retry_after) => {
                    if attempt >= self.config.max_retries {
                        return Err(err);
                    }
                    let wait = match retry_after {
                        Some(asked) if asked > self.config.backoff.max() => return Err(err),
                        Some(asked) => asked.max(self.config.backoff.delay(attempt)),
                        None => self.config.backoff.delay(attempt),
                    };
                    tracing::debug!(ticker, attempt, ?wait, error = %err, "retrying Yahoo");
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
            }
        }
    }
}

/// True when most rows open on the half hour rather than on the hour: the 60m bars of an
/// exchange whose session starts at :30 (NYSE's 09:30), which straddle the UTC hour grid.
fn on_the_half_hour(rows: &[RawBar]) -> bool {
    let (mut hour, mut half) = (0usize, 0usize);
    for r in rows {
        match r.time_millis.rem_euclid(3_600_000) {
            0 => hour += 1,
            1_800_000 => half += 1,
            _ => {}
        }
    }
    half > hour
}

impl YahooGateway {
    /// The raw rows of `range` in `timeframe`'s interval, chunk after chunk; `None` when no
    /// part of the range is in reach yet (it ends before the first bar could open).
    async fn rows(
        &self,
        ticker: &str,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
        now: DateTime<Utc>,
    ) -> Result<Option<Vec<RawBar>>, MarketDataError> {
        let (interval, chunks) = Self::plan(timeframe, range, now)?;
        if chunks.is_empty() {
            return Ok(None);
        }
        let mut raw = Vec::new();
        for chunk in chunks {
            if let Parsed::Bars(rows) = self
                .fetch(ticker, interval, chunk, symbol, timeframe)
                .await?
            {
                raw.extend(rows);
            }
        }
        Ok(Some(raw))
    }

    /// The tickers known to have half-hour 60m bars.
    fn half_hour(&self) -> std::sync::MutexGuard<'_, HashSet<String>> {
        axia_domain::locks::lock(&self.half_hour)
    }
}

#[async_trait]
impl MarketData for YahooGateway {
    fn limits(&self, timeframe: Timeframe) -> SourceLimits {
        let (_, reach, span) = limits(timeframe);
        // A minute of margin, as for the requests themselves.
        let reach = reach.map(|r| r - chrono::Duration::minutes(1));
        SourceLimits {
            reach,
            max_span: Some(span),
        }
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        let now = self.clock.now();
        let ticker = self.config.ticker_of(symbol);
        let instrument = self.config.instrument_of(symbol);
        let grid = timeframe.aligned(instrument.alignment());
        // H4 is built from 60m, and H1 from 30m where 60m bars open on the half hour. Yahoo's
        // daily, weekly and monthly bars start at midnight: an instrument aligned to the New
        // York close gets them built from 60m too (so within 60m's reach of 730 days).
        let shifted = grid.is_shifted();
        let mut fetch_tf = match timeframe {
            Timeframe::H4 | Timeframe::H1 if self.half_hour().contains(&ticker) => Timeframe::M30,
            _ if shifted && self.half_hour().contains(&ticker) => Timeframe::M30,
            Timeframe::H4 => Timeframe::H1,
            _ if shifted => Timeframe::H1,
            tf => tf,
        };
        // A resampled range covers the whole target bars that open in the range.
        let whole_bars = || {
            let first = grid.ceil(range.start());
            let last_end = grid.ceil(range.end());
            TimeRange::new(first, last_end.max(first)).unwrap_or(range)
        };
        let fetch_range = if fetch_tf == timeframe {
            range
        } else {
            whole_bars()
        };
        let empty = || FetchedBars {
            frame: OhlcvFrame::empty_on(symbol.clone(), grid),
            report: ValidationReport::default(),
        };
        let rows = match self.rows(&ticker, symbol, fetch_tf, fetch_range, now).await {
            Err(MarketDataError::Unsupported(why)) if shifted => {
                return Err(MarketDataError::Unsupported(format!(
                    "{symbol} is aligned to the New York close, so its {timeframe} bars are built from {fetch_tf} bars: {why}"
                )));
            }
            other => other?,
        };
        let Some(mut raw) = rows else {
            return Ok(empty());
        };
        if fetch_tf == Timeframe::H1 && on_the_half_hour(&raw) {
            // These 60m bars straddle UTC hours and cannot be split: build from 30m instead
            // (and remember the ticker, so its next H1 or H4 request asks for 30m at once).
            tracing::debug!(ticker, "60m bars open on the half hour; using 30m");
            self.half_hour().insert(ticker.clone());
            fetch_tf = Timeframe::M30;
            let fetch_range = whole_bars();
            raw = match self.rows(&ticker, symbol, fetch_tf, fetch_range, now).await {
                Ok(Some(rows)) => rows,
                Ok(None) => return Ok(empty()),
                Err(MarketDataError::Unsupported(why)) => {
                    return Err(MarketDataError::Unsupported(format!(
                        "{ticker}'s 60m bars open on the half hour, so {timeframe} is built from 30m bars: {why}"
                    )));
                }
                Err(e) => return Err(e),
            };
        }
        if raw.is_empty() {
            return Err(MarketDataError::NoData(range));
        }
        // Prices onto the instrument's tick grid: Yahoo's values went through 32-bit floats
        // (156.41999816894531), which a tick finer than the float cannot take out alone.
        // Yahoo counts shares (and reports no volume for FX): a fractional volume is malformed.
        let rules = ValidationRules::for_instrument(&instrument).binary32_prices(true);
        let (frame, report) = validate_bars_with(symbol.clone(), fetch_tf, raw, now, rules);
        if !report.is_clean() {
            tracing::info!(
                %symbol, %timeframe, received = report.received, kept = report.kept,
                dropped = ?report.counts(), "Yahoo bars dropped by validation"
            );
        }
        let frame = if timeframe == fetch_tf {
            frame
        } else {
            // A target bar whose period has not ended is forming, even when its last source
            // bar has closed.
            frame
                .resample(timeframe)
                .map_err(|e| MarketDataError::InvalidResponse(e.to_string()))?
                .with_forming_at(now)
        };
        Ok(FetchedBars {
            frame: frame.into_slice(range),
            report,
        })
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
    }

    #[test]
    fn long_ranges_are_split_and_out_of_reach_ones_refused() {
        let days = chrono::Duration::days;
        let r = TimeRange::new(now() - days(20), now()).unwrap();
        let (interval, chunks) = YahooGateway::plan(Timeframe::M1, r, now()).unwrap();
        assert_eq!(interval, "1m");
        assert_eq!(chunks.len(), 3);
        assert!(chunks.iter().all(|c| c.duration() <= days(7)));
        assert_eq!(chunks[0].start(), r.start());
        assert_eq!(chunks[2].end(), r.end());
        // Older than 30 days: refused without a request.
        let old = TimeRange::new(now() - days(40), now() - days(31)).unwrap();
        assert!(matches!(
            YahooGateway::plan(Timeframe::M1, old, now()),
            Err(MarketDataError::Unsupported(_))
        ));
        // Partly out of reach: clipped.
        let part = TimeRange::new(now() - days(90), now()).unwrap();
        let (_, chunks) = YahooGateway::plan(Timeframe::M5, part, now()).unwrap();
        assert!(chunks[0].start() > now() - days(60));
        // Daily: one request for decades.
        let long = TimeRange::new(now() - days(365 * 30), now()).unwrap();
        assert_eq!(
            YahooGateway::plan(Timeframe::D1, long, now())
                .unwrap()
                .1
                .len(),
            1
        );
        assert_eq!(
            YahooGateway::plan(Timeframe::H4, part, now()).unwrap().0,
            "60m"
        );
    }

    #[test]
    fn tickers_are_mapped_and_encoded() {
        let c = YahooConfig::default().ticker("BRK.B".parse().unwrap(), "BRK-B");
        assert_eq!(c.ticker_of(&"usdjpy".parse().unwrap()), "USDJPY=X");
        assert_eq!(c.ticker_of(&"AAPL".parse().unwrap()), "AAPL");
        assert_eq!(c.ticker_of(&"BRK.B".parse().unwrap()), "BRK-B");
        assert_eq!(c.ticker_of(&"USDJPY=X".parse().unwrap()), "USDJPY=X");
        assert_eq!(axia_http::path_segment("^N225"), "%5EN225");
        assert_eq!(axia_http::path_segment("M&M.NS"), "M%26M.NS");
        assert_eq!(axia_http::path_segment("7203.T"), "7203.T");
    }
}
