//! The OHLCV data provider: one call for bars, whichever tier has them.
//!
//! [`OhlcvDataProvider`] knows only the domain's ports. Sources are registered by [`Role`]:
//! any [`MarketData`](axia_domain::MarketData) as the broker or the fallback, any
//! [`OhlcvStore`](axia_domain::OhlcvStore) as the hot cache or the cold archive, each with its
//! timeout and circuit breaker. For each request it picks the order of roles by use case and
//! window ([`plan`]), asks them in turn, combines partial answers, and says in
//! [`ResponseMeta`] who served, what every source did (an [`Outcome`], failures as an
//! [`ErrorKind`]) and how long it took, how complete the answer is against the market calendar
//! (a weekend is not a gap), and which bar is still forming ([`ResponseMeta::forming`]; the
//! frame carries the same label). A damaged archive partition costs only its own bars: the
//! archive answers the rest, and the next source is asked for what is missing.
//!
//! The window is "<= 24 h" when it is at most 24 hours long and starts at most 24 hours before
//! now (what the hot tier holds); a short window further back takes the "> 24 h" plan.
//!
//! | use case | window <= 24 h                  | window > 24 h                                      |
//! |----------|---------------------------------|----------------------------------------------------|
//! | trading  | broker, hot cache, fallback     | broker, fallback                                   |
//! | chart    | hot cache, broker, fallback     | cold archive merged with the hot cache, fallback   |
//! | analysis | hot cache, cold archive         | cold archive, fallback                             |
//!
//! **Analysis is closed bars only.** Its window ends at the open of the bar forming now, so an
//! archive that holds every closed bar answers it complete; trading and chart answers include
//! the forming bar.
//!
//! **Combining.** The first source is asked for the whole window; each later one only for the
//! span of what is still missing (from the first gap to the end of the last). Its bars are
//! merged under what the sources before it returned (an earlier source's bar wins where both
//! have one), and the chain stops as soon as the combined frame is complete. If the chain runs
//! out first, the answer is the union of everything found, marked incomplete with its gaps: the
//! provider never returns fewer bars than a later source could give without saying so. In the
//! chart > 24 h step the hot cache's bars win over the archive's for the last 24 h (they are
//! fresher).
//!
//! **Resilience.** Every source call has a timeout; after `threshold` consecutive failures a
//! source's circuit opens and it is skipped for a cool-down (shown as
//! [`Outcome::CircuitOpen`]). Concurrent identical requests share one backend fetch
//! (single-flight). Bars fetched from the broker or the fallback for the last 24 h are merged
//! into the hot cache in the background; a failure there is logged and never fails the request.
//!
//! ```
//! use axia_domain::{
//!     FetchedBars, MarketData, MarketDataError, OhlcvFrame, Symbol, TimeRange, Timeframe, UseCase,
//!     ValidationReport,
//! };
//! use axia_provider::{OhlcvDataProvider, OhlcvRequest, Role, Window};
//!
//! /// A source whose price never moves: a bar in every hour.
//! struct Flat;
//!
//! #[async_trait::async_trait]
//! impl MarketData for Flat {
//!     async fn bars(&self, s: &Symbol, tf: Timeframe, r: TimeRange) -> Result<FetchedBars, MarketDataError> {
//!         let mut b = OhlcvFrame::builder(s.clone(), tf, 0);
//!         let mut t = tf.ceil(r.start());
//!         while t < r.end() && t <= chrono::Utc::now() {
//!             b.push(t.timestamp_millis(), 150.0, 150.2, 149.9, 150.1, 10.0).map_err(|e| MarketDataError::InvalidResponse(e.to_string()))?;
//!             t = tf.next_open(t);
//!         }
//!         Ok(FetchedBars { frame: b.finish_at(chrono::Utc::now()), report: ValidationReport::default() })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let provider = OhlcvDataProvider::builder().broker(Flat).build();
//! let answer = provider
//!     .get(OhlcvRequest::new("USDJPY".parse()?, Timeframe::H1, Window::last_days(30), UseCase::Trading))
//!     .await?;
//! assert_eq!(answer.meta.served_by, Some(Role::Broker));
//! assert!(answer.frame.len() >= 30 * 24);
//! println!("{} bars, complete: {}", answer.frame.len(), answer.meta.complete);
//! # Ok(()) }
//! ```

mod breaker;
mod follow;
mod provider;
mod reference;
mod routing;
mod stats;

pub use follow::{Follow, FollowCounters, Followed};
pub use provider::{
    Attempt, ErrorKind, OhlcvDataProvider, OhlcvRequest, OhlcvResponse, Outcome, ProviderBuilder,
    ProviderError, ResponseMeta, Window,
};
pub use routing::{Role, Step, plan};
pub use stats::{LATENCY_BUCKETS_MS, LatencyHistogram, ProviderStats, RoleStats};
