//! The OHLCV data provider: one call for bars, whichever tier has them.
//!
//! [`OhlcvDataProvider`] knows only the domain's ports. For each request it picks the order of
//! sources by use case and window ([`plan`]), asks them in turn, combines partial answers, and
//! says in [`ResponseMeta`] who served, what every source did and how long it took, how
//! complete the answer is against the market calendar (a weekend is not a gap), and which bar
//! is still forming ([`ResponseMeta::forming`]; the frame carries the same label). A damaged
//! archive partition costs only its own bars: the archive answers the rest, and the next
//! source is asked for what is missing.
//!
//! | use case | window <= 24 h                | window > 24 h                                      |
//! |----------|-------------------------------|----------------------------------------------------|
//! | trading  | broker, hot cache, yahoo      | broker, yahoo                                      |
//! | chart    | hot cache, broker, yahoo      | cold archive merged with the hot cache, yahoo      |
//! | analysis | hot cache, cold archive       | cold archive, yahoo                                |
//!
//! **Analysis is closed bars only.** Its window ends at the open of the bar forming now, so an
//! archive that holds every closed bar answers it complete; trading and chart answers include
//! the forming bar.
//!
//! **Combining.** The first source is asked for the whole window; each later one only for the
//! span of what is still missing (from the first gap to the end of the last). Its bars are
//! merged under what the sources before it returned (an earlier source's bar wins where both
//! have one), and the chain stops as soon as the combined frame is complete. If the chain runs out first, the answer is
//! the union of everything found, marked incomplete with its gaps: the provider never returns
//! fewer bars than a later source could give without saying so. In the chart > 24 h step the
//! hot cache's bars win over the archive's for the last 24 h (they are fresher).
//!
//! **Resilience.** Every source call has a timeout; after `threshold` consecutive failures a
//! source's circuit opens and it is skipped for a cool-down (shown as
//! [`Outcome::CircuitOpen`]). Concurrent identical requests share one backend fetch
//! (single-flight). Bars fetched from the broker or Yahoo for the last 24 h are merged into the
//! hot cache in the background; a failure there is logged and never fails the request.
//!
//! ```
//! use std::sync::Arc;
//! use axia_domain::{ManualClock, OhlcvStore, Timeframe, UseCase};
//! use axia_provider::{OhlcvDataProvider, OhlcvRequest, Window};
//! # use axia_domain::{MarketData, FetchedBars, MarketDataError, Symbol, TimeRange, ValidationReport, OhlcvFrame};
//! # struct Empty;
//! # #[async_trait::async_trait] impl MarketData for Empty {
//! #   async fn bars(&self, s: &Symbol, tf: Timeframe, r: TimeRange) -> Result<FetchedBars, MarketDataError> { Err(MarketDataError::NoData(r)) }
//! # }
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = OhlcvDataProvider::builder(Arc::new(ManualClock::new(chrono::Utc::now())))
//!     .broker(Arc::new(Empty))
//!     .build();
//! let answer = provider
//!     .get(OhlcvRequest::new("USDJPY".parse()?, Timeframe::H1, Window::last_hours(6), UseCase::Trading))
//!     .await?;
//! println!("{} bars, served by {:?}, complete: {}", answer.frame.len(), answer.meta.served_by, answer.meta.complete);
//! # Ok(()) }
//! ```

mod breaker;
mod provider;
mod routing;
mod stats;

pub use provider::{
    Attempt, OhlcvDataProvider, OhlcvRequest, OhlcvResponse, Outcome, ProviderBuilder,
    ProviderError, ResponseMeta, Window,
};
pub use routing::{Source, Step, plan};
pub use stats::{LATENCY_BUCKETS_MS, LatencyHistogram, ProviderStats, SourceStats};
