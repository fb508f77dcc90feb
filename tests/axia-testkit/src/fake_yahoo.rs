//! A fake Yahoo Finance chart API on loopback, serving the simulated broker's bars in Yahoo's
//! response shape for any ticker, interval and period, so tests of anything above the Yahoo
//! gateway run without the internet.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axia_domain::{Symbol, TimeRange, Timeframe};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use wiremock::matchers::path_regex;
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The fake server.
pub struct FakeYahoo {
    server: MockServer,
    down: Arc<AtomicBool>,
}

struct Chart {
    seed: u64,
    now: DateTime<Utc>,
    down: Arc<AtomicBool>,
}

fn interval_timeframe(interval: &str) -> Option<Timeframe> {
    Some(match interval {
        "1m" => Timeframe::M1,
        "5m" => Timeframe::M5,
        "15m" => Timeframe::M15,
        "30m" => Timeframe::M30,
        "60m" | "1h" => Timeframe::H1,
        "1d" => Timeframe::D1,
        "1wk" => Timeframe::W1,
        "1mo" => Timeframe::MN1,
        _ => return None,
    })
}

fn not_found() -> ResponseTemplate {
    ResponseTemplate::new(404).set_body_json(json!({"chart": {"result": null,
        "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}}))
}

impl Respond for Chart {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        if self.down.load(Ordering::SeqCst) {
            return ResponseTemplate::new(503);
        }
        let ticker = req
            .url
            .path()
            .rsplit('/')
            .next()
            .unwrap_or_default()
            .replace("%5E", "^");
        let query: std::collections::HashMap<String, String> =
            req.url.query_pairs().into_owned().collect();
        let secs = |k: &str| query.get(k).and_then(|v| v.parse::<i64>().ok());
        let (Some(p1), Some(p2), Some(tf)) = (
            secs("period1"),
            secs("period2"),
            query.get("interval").and_then(|i| interval_timeframe(i)),
        ) else {
            return ResponseTemplate::new(400).set_body_json(json!({"chart": {"result": null,
                "error": {"code": "Bad Request", "description": "Invalid input - interval or range"}}}));
        };
        let Ok(symbol) = ticker.trim_end_matches("=X").parse::<Symbol>() else {
            return not_found();
        };
        if symbol.as_str().starts_with("NOSUCH") {
            return not_found();
        }
        let (Some(start), Some(end)) = (
            DateTime::from_timestamp(p1, 0),
            DateTime::from_timestamp(p2, 0),
        ) else {
            return ResponseTemplate::new(400);
        };
        let range = TimeRange::new(start, end.max(start)).unwrap();
        let frame = axia_simbroker::generate(self.seed, &symbol, tf, range, self.now).unwrap();
        let ts: Vec<i64> = frame.timestamps_millis().iter().map(|t| t / 1000).collect();
        let c = frame.columns();
        // Yahoo stamps daily bars of a London-timezone FX ticker at 00:00 London, which is the
        // same as the UTC stamp outside summer time: keep the UTC open.
        let body: Value = json!({"chart": {"result": [{
            "meta": {
                "currency": "USD", "symbol": ticker, "exchangeName": "CCY", "fullExchangeName": "CCY",
                "instrumentType": "CURRENCY", "firstTradeDate": 1_070_236_800, "regularMarketTime": self.now.timestamp(),
                "hasPrePostMarketData": false, "gmtoffset": 0, "timezone": "UTC",
                "exchangeTimezoneName": "UTC", "regularMarketPrice": c.close.last().copied().unwrap_or(1.0),
                "chartPreviousClose": c.open.first().copied().unwrap_or(1.0), "priceHint": 4,
                "dataGranularity": query.get("interval"), "range": "",
                "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
            },
            "timestamp": ts,
            "indicators": {"quote": [{
                "open": c.open, "high": c.high, "low": c.low, "close": c.close,
                "volume": c.volume.iter().map(|v| *v as u64).collect::<Vec<_>>()
            }]}
        }], "error": null}});
        ResponseTemplate::new(200).set_body_json(body)
    }
}

impl FakeYahoo {
    /// A fake serving the simulated broker's bars for `seed`, as of `now`. Tickers starting
    /// `NOSUCH` are unknown.
    pub async fn start(seed: u64, now: DateTime<Utc>) -> Self {
        let server = MockServer::start().await;
        let down = Arc::new(AtomicBool::new(false));
        Mock::given(path_regex(r"^/v8/finance/chart/[^/]+$"))
            .respond_with(Chart {
                seed,
                now,
                down: Arc::clone(&down),
            })
            .mount(&server)
            .await;
        Self { server, down }
    }

    /// The base URL to give `YahooConfig::base_url`.
    pub fn uri(&self) -> String {
        self.server.uri()
    }

    /// Answers HTTP 503 to everything while `down`.
    pub fn set_down(&self, down: bool) {
        self.down.store(down, Ordering::SeqCst);
    }

    /// Requests received so far.
    pub async fn requests(&self) -> usize {
        self.server.received_requests().await.map_or(0, |r| r.len())
    }
}
