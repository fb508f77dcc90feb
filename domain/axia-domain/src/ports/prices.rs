//! [`PriceStream`]: a market's quotes as they happen (a broker's pricing stream, the
//! simulator).

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_core::Stream;
use serde::{Deserialize, Serialize};

use crate::Symbol;

/// Which price of a quote (or a source's candle) a bar is built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PriceComponent {
    /// `(bid + ask) / 2`.
    #[default]
    Mid,
    /// The bid.
    Bid,
    /// The ask.
    Ask,
}

impl PriceComponent {
    /// Every component.
    pub const ALL: [Self; 3] = [Self::Mid, Self::Bid, Self::Ask];

    /// `mid`, `bid` or `ask`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Mid => "mid",
            Self::Bid => "bid",
            Self::Ask => "ask",
        }
    }
}

impl std::fmt::Display for PriceComponent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for PriceComponent {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|c| c.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("{s:?} is not a price component: mid, bid or ask"))
    }
}

/// The top of a market's book at an instant, as a source stamped it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Quote {
    /// The instrument.
    pub symbol: Symbol,
    /// When the source says the price was current (not when it arrived).
    pub time: DateTime<Utc>,
    /// The best bid.
    pub bid: f64,
    /// The best ask.
    pub ask: f64,
    /// The size available at those prices, when the source says.
    pub size: Option<f64>,
}

impl Quote {
    /// The price of `component`.
    #[must_use]
    pub fn price(&self, component: PriceComponent) -> f64 {
        match component {
            PriceComponent::Mid => (self.bid + self.ask) / 2.0,
            PriceComponent::Bid => self.bid,
            PriceComponent::Ask => self.ask,
        }
    }
}

/// What a price stream sends.
#[derive(Debug, Clone, PartialEq)]
pub enum StreamEvent {
    /// A new price.
    Quote(Quote),
    /// The stream is alive; the source's clock read `time` (no price changed).
    Heartbeat(DateTime<Utc>),
}

/// Why a price stream could not be opened, or what went wrong on it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum StreamError {
    /// The source refused the credentials: retrying will not help.
    #[error("the price stream refused the credentials: {0}")]
    Unauthorized(String),
    /// The source asks to slow down.
    #[error("the price stream is rate limited{}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// How long the source asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The connection could not be made or was lost (open again).
    #[error("the price stream is disconnected: {0}")]
    Disconnected(String),
    /// One message could not be read (the stream goes on).
    #[error("a price stream message could not be read: {0}")]
    Malformed(String),
}

impl StreamError {
    /// True when opening the stream again may work (everything but refused credentials).
    #[must_use]
    pub const fn is_retryable(&self) -> bool {
        !matches!(self, Self::Unauthorized(_))
    }
}

/// One open stream: events in the order the source sent them. `Err(Malformed)` is one bad
/// message (the stream goes on); `Err(Disconnected)`, or the end of the stream, means the
/// connection is gone (open it again).
pub type QuoteStream = Pin<Box<dyn Stream<Item = Result<StreamEvent, StreamError>> + Send>>;

/// A source of live quotes: one stream for many instruments.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PriceStream: Send + Sync {
    /// Opens one stream of the quotes of `symbols` (and heartbeats).
    ///
    /// # Errors
    /// [`StreamError::Unauthorized`] (stop), [`StreamError::RateLimited`] (wait),
    /// [`StreamError::Disconnected`] (try again later).
    async fn open(&self, symbols: &[Symbol]) -> Result<QuoteStream, StreamError>;
}

#[async_trait]
impl<T: PriceStream + ?Sized> PriceStream for std::sync::Arc<T> {
    async fn open(&self, symbols: &[Symbol]) -> Result<QuoteStream, StreamError> {
        (**self).open(symbols).await
    }
}
