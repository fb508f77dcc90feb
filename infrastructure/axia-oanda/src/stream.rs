//! [`OandaStream`]: OANDA v20's pricing stream as a [`PriceStream`].
//!
//! `GET {stream host}/v3/accounts/{id}/pricing/stream?instruments=EUR_USD,USD_JPY` answers
//! newline-delimited JSON for as long as the connection lasts: `PRICE` lines (`instrument`,
//! `time`, `bids` and `asks` as `[{"price":"1.08515","liquidity":1000000}]`) and a `HEARTBEAT`
//! line (`time`) every 5 s. Lines may straddle chunks; a line longer than
//! [`OandaStream::MAX_LINE`] or one that does not read is one `Malformed` item and the stream
//! goes on. The top of the book is the quote (`closeoutBid`/`closeoutAsk` are ignored); a
//! price with an empty side is malformed. The client has a connect timeout and no total one
//! (that would end the stream); a silent stream is the caller's to notice (the live feed's
//! watchdog). 401 and 403 are [`StreamError::Unauthorized`], 429 is
//! [`StreamError::RateLimited`] (with `Retry-After`), anything else
//! [`StreamError::Disconnected`]. The token never appears in an error.

use std::collections::VecDeque;
use std::sync::Arc;

use async_trait::async_trait;
use axia_domain::{PriceStream, Quote, QuoteStream, StreamError, StreamEvent, Symbol};
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::OandaConfig;
use crate::http::error_message;

/// OANDA's pricing stream for the instruments of one account.
#[derive(Clone)]
pub struct OandaStream {
    client: reqwest::Client,
    config: Arc<OandaConfig>,
    account: String,
}

impl std::fmt::Debug for OandaStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OandaStream")
            .field("stream_url", &self.config.stream_base())
            .field("account", &self.account)
            .finish_non_exhaustive()
    }
}

/// Why an [`OandaStream`] cannot be built.
#[derive(Debug, thiserror::Error)]
pub enum StreamSetupError {
    /// The pricing stream is per account.
    #[error(
        "the OANDA pricing stream needs an account id (OANDA_ACCOUNT_ID or [oanda] account_id)"
    )]
    NoAccount,
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
}

impl OandaStream {
    /// The longest line read (a price of one instrument is a few hundred bytes).
    pub const MAX_LINE: usize = 64 * 1024;

    /// The stream of `config`'s account on its streaming host.
    ///
    /// # Errors
    /// [`StreamSetupError`].
    pub fn new(config: OandaConfig) -> Result<Self, StreamSetupError> {
        let account = config
            .account_id
            .clone()
            .ok_or(StreamSetupError::NoAccount)?;
        let client = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("axia/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| StreamSetupError::Client(e.to_string()))?;
        Ok(Self {
            client,
            config: Arc::new(config),
            account,
        })
    }

    fn scrub(&self, text: &str) -> String {
        axia_domain::scrub(text, std::slice::from_ref(&self.config.token))
    }
}

#[derive(Deserialize)]
struct Line {
    #[serde(rename = "type")]
    kind: Option<String>,
    instrument: Option<String>,
    time: Option<DateTime<Utc>>,
    #[serde(default)]
    bids: Vec<Level>,
    #[serde(default)]
    asks: Vec<Level>,
}

#[derive(Deserialize)]
struct Level {
    price: String,
}

/// Reads one line; `None` for a line to skip (blank, or a message type with no quote in it).
fn read_line(config: &OandaConfig, line: &[u8]) -> Option<Result<StreamEvent, StreamError>> {
    let text = std::str::from_utf8(line).ok()?.trim();
    if text.is_empty() {
        return None;
    }
    let malformed = |why: &str| {
        Some(Err(StreamError::Malformed(format!(
            "{why}: {}",
            text.chars().take(120).collect::<String>()
        ))))
    };
    let Ok(l) = serde_json::from_str::<Line>(text) else {
        return malformed("not a pricing message");
    };
    match l.kind.as_deref() {
        Some("HEARTBEAT") => match l.time {
            Some(t) => Some(Ok(StreamEvent::Heartbeat(t))),
            None => malformed("a heartbeat without a time"),
        },
        Some("PRICE") => {
            let (Some(name), Some(time)) = (l.instrument.as_deref(), l.time) else {
                return malformed("a price without an instrument or a time");
            };
            let Some(symbol) = config.symbol_of(name) else {
                return malformed("an instrument axia cannot name");
            };
            let top = |side: &[Level]| {
                side.first()
                    .and_then(|l| l.price.trim().parse::<f64>().ok())
            };
            let (Some(bid), Some(ask)) = (top(&l.bids), top(&l.asks)) else {
                return malformed("a price without a bid or an ask");
            };
            Some(Ok(StreamEvent::Quote(Quote {
                symbol,
                time,
                bid,
                ask,
                size: None,
            })))
        }
        // Other message types carry no price.
        _ => None,
    }
}

/// What a connection's reader keeps between chunks.
struct Reader {
    response: Option<reqwest::Response>,
    config: Arc<OandaConfig>,
    token: String,
    buf: Vec<u8>,
    /// Skipping the rest of a line that grew past the limit.
    skipping: bool,
    ready: VecDeque<Result<StreamEvent, StreamError>>,
}

impl Reader {
    /// Splits what the buffer holds into lines.
    fn split(&mut self) {
        while let Some(end) = self.buf.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            if self.skipping {
                self.skipping = false;
                continue;
            }
            if let Some(item) = read_line(&self.config, &line) {
                self.ready.push_back(item);
            }
        }
        if self.buf.len() > OandaStream::MAX_LINE {
            self.buf.clear();
            if !self.skipping {
                self.skipping = true;
                self.ready.push_back(Err(StreamError::Malformed(format!(
                    "a line longer than {} bytes",
                    OandaStream::MAX_LINE
                ))));
            }
        }
    }

    async fn next(&mut self) -> Option<Result<StreamEvent, StreamError>> {
        loop {
            if let Some(item) = self.ready.pop_front() {
                return Some(item);
            }
            let response = self.response.as_mut()?;
            match response.chunk().await {
                Ok(Some(bytes)) => {
                    self.buf.extend_from_slice(&bytes);
                    self.split();
                }
                Ok(None) => {
                    self.response = None;
                    return Some(Err(StreamError::Disconnected(
                        "OANDA ended the pricing stream".into(),
                    )));
                }
                Err(e) => {
                    self.response = None;
                    let text =
                        axia_domain::scrub(&e.to_string(), std::slice::from_ref(&self.token));
                    return Some(Err(StreamError::Disconnected(text)));
                }
            }
        }
    }
}

#[async_trait]
impl PriceStream for OandaStream {
    async fn open(&self, symbols: &[Symbol]) -> Result<QuoteStream, StreamError> {
        let names: Vec<String> = symbols
            .iter()
            .filter_map(|s| self.config.name_of(s))
            .collect();
        let url = format!(
            "{}/v3/accounts/{}/pricing/stream",
            self.config.stream_base(),
            axia_http::path_segment(&self.account)
        );
        let response = self
            .client
            .get(url)
            .query(&[
                ("instruments", names.join(",")),
                ("snapshot", "true".into()),
            ])
            .bearer_auth(&self.config.token)
            .header("Accept-Datetime-Format", "RFC3339")
            .send()
            .await
            .map_err(|e| StreamError::Disconnected(self.scrub(&e.to_string())))?;
        let status = response.status().as_u16();
        if status != 200 {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(std::time::Duration::from_secs);
            let body = response.bytes().await.unwrap_or_default();
            let message = self.scrub(&error_message(&body));
            return Err(match status {
                401 | 403 => {
                    StreamError::Unauthorized(format!("OANDA answered {status}: {message}"))
                }
                429 => StreamError::RateLimited { retry_after },
                _ => StreamError::Disconnected(format!("OANDA answered {status}: {message}")),
            });
        }
        let reader = Reader {
            response: Some(response),
            config: Arc::clone(&self.config),
            token: self.config.token.clone(),
            buf: Vec::new(),
            skipping: false,
            ready: VecDeque::new(),
        };
        Ok(Box::pin(futures_util::stream::unfold(
            reader,
            |mut r| async move {
                let item = r.next().await?;
                Some((item, r))
            },
        )))
    }
}
