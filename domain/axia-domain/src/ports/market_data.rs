//! [`MarketData`]: sources of bars (a vendor, a broker, the simulator).

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::BoxError;
use crate::{OhlcvFrame, Symbol, TimeRange, Timeframe, ValidationReport};

/// Why a market-data source could not give bars.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MarketDataError {
    /// The source asks us to slow down.
    #[error("rate limited by the source{}", retry_after.map(|d| format!(", retry after {d:?}")).unwrap_or_default())]
    RateLimited {
        /// How long the source asked to wait, if it said.
        retry_after: Option<Duration>,
    },
    /// The source does not know the symbol.
    #[error("symbol {0} not found at the source")]
    SymbolNotFound(Symbol),
    /// The source has no bars in the range.
    #[error("no data in {0}")]
    NoData(TimeRange),
    /// The request cannot be served by this source (a range too long or too old, an
    /// unsupported timeframe).
    #[error("unsupported request: {0}")]
    Unsupported(String),
    /// The source cannot be reached.
    #[error("source unavailable: {0}")]
    Unavailable(String),
    /// The source did not answer in time.
    #[error("source timed out after {0:?}")]
    Timeout(Duration),
    /// The source answered something that could not be understood.
    #[error("invalid response from the source: {0}")]
    InvalidResponse(String),
    /// The source refused the credentials (a revoked or mistyped token): retrying will not
    /// help. The message never holds the credentials.
    #[error("the source refused the credentials: {0}")]
    Unauthorized(String),
    /// Any other failure.
    #[error("source backend error: {0}")]
    Backend(#[source] BoxError),
}

/// Bars from a source, after validation, and what validation dropped.
#[derive(Debug, Clone, PartialEq)]
pub struct FetchedBars {
    /// The clean bars.
    pub frame: OhlcvFrame,
    /// What was dropped and why.
    pub report: ValidationReport,
}

/// What a source can serve for one timeframe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceLimits {
    /// How far back from now the source serves bars (Yahoo's 1m: 30 days); `None`: no limit.
    #[serde(with = "crate::millis::opt_chrono")]
    pub reach: Option<chrono::Duration>,
    /// The longest range one request should ask for; `None`: no limit.
    #[serde(with = "crate::millis::opt_chrono")]
    pub max_span: Option<chrono::Duration>,
}

impl SourceLimits {
    /// No limit.
    pub const UNLIMITED: Self = Self {
        reach: None,
        max_span: None,
    };

    /// The earliest open time the source serves at `now`, if it has a reach.
    #[must_use]
    pub fn earliest(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.reach.and_then(|r| now.checked_sub_signed(r))
    }
}

/// A source of bars: a broker, Yahoo Finance, a simulator.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait MarketData: Send + Sync {
    /// How far back and how much at once the source serves `timeframe` (default: no limit).
    /// Collectors clamp catch-up and backfill ranges to it and report what was out of reach.
    fn limits(&self, timeframe: Timeframe) -> SourceLimits {
        let _ = timeframe;
        SourceLimits::UNLIMITED
    }

    /// The bars of `symbol` / `timeframe` whose open time is in `range` and not after now,
    /// validated with [`crate::validate_bars`]. A source may return fewer bars than the range
    /// holds (a closed market, a source limit): callers measure completeness themselves. A
    /// zero-width range gives an empty frame. A bar whose period has not ended at the source's
    /// now is labelled forming ([`OhlcvFrame::forming`]).
    ///
    /// # Errors
    /// [`MarketDataError::NoData`] when the source has no bar opening in a non-empty `range`
    /// (a weekend, a week that has not started); otherwise rate limited, symbol not found,
    /// unsupported request, unavailable, timeout, invalid response, backend.
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError>;
}

// A shared handle to a port is the port (builders take adapters by value; an `Arc` of one,
// or an `Arc<dyn …>`, is such a value).

#[async_trait]
impl<T: MarketData + ?Sized> MarketData for std::sync::Arc<T> {
    fn limits(&self, timeframe: Timeframe) -> SourceLimits {
        (**self).limits(timeframe)
    }
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        (**self).bars(symbol, timeframe, range).await
    }
}
