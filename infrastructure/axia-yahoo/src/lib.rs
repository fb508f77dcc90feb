//! Yahoo Finance as a [`MarketData`](axia_domain::MarketData) source.
//!
//! [`YahooGateway`] fetches the chart API with its own HTTP client, against a configurable base
//! URL (so tests run against a local fake server), and reads the documented chart shape value
//! by value, so one malformed value (a string, a negative or fractional volume, a zero price)
//! costs one row, reported, never the whole response.
//!
//! - **Tickers.** FX pairs map to Yahoo's FX tickers (`USDJPY` to `USDJPY=X`), everything else
//!   as it is; [`YahooConfig::ticker`] overrides any mapping.
//! - **Timeframes.** M1 M5 M15 M30 H1 D1 W1 MN1 map to 1m 5m 15m 30m 60m 1d 1wk 1mo; H4 is built
//!   by resampling 60m with the domain's resample. An exchange whose session opens on the half
//!   hour (NYSE at 09:30) gets 60m bars at :30, which straddle the UTC hour grid and cannot be
//!   split: when most 60m rows sit on the half hour, the gateway fetches 30m instead and
//!   resamples to H1 or H4, and remembers the ticker so later requests skip the 60m call. Such
//!   H1/H4 bars therefore reach back as far as 30m does (60 days).
//! - **Yahoo's limits.** 1m reaches back 30 days, 7 days a request; 5m, 15m and 30m reach back
//!   60 days; 60m 730 days; daily and coarser have no limit. Long ranges are split into requests
//!   Yahoo allows and fetched in order; a range wholly out of reach is refused with
//!   [`MarketDataError::Unsupported`](axia_domain::MarketDataError::Unsupported) before any request,
//!   one partly out of reach is served from the part Yahoo holds. The gateway's
//!   [`limits`](axia_domain::MarketData::limits) say so, so collectors clamp and report.
//! - **What Yahoo returns.** Nulls inside the quote arrays (missing bars), unaligned timestamps
//!   and duplicate rows all go through [`validate_bars`](axia_domain::validate_bars); its report
//!   comes back in [`FetchedBars`](axia_domain::FetchedBars) and is logged when it dropped
//!   anything. Daily, weekly and monthly bars, which Yahoo stamps at the exchange's local
//!   midnight or session open, are re-stamped at the UTC open of their local date, week or month.
//! - **The forming bar.** Yahoo appends the current, still-forming bar. When it sits on the bar
//!   grid it is kept (it opened before now) and a later fetch replaces it, since stores merge
//!   with the incoming bar winning; when Yahoo stamps it with the time of the last trade instead,
//!   it is off the grid and dropped as misaligned (and reported).
//! - **Politeness and resilience.** A client-side rate limiter (requests per second), and retries
//!   with exponential backoff and full jitter on HTTP 429 (honouring `Retry-After`), 5xx and
//!   timeouts. Errors are typed: rate limited, symbol not found, no data, unavailable (network),
//!   timeout, invalid response, unsupported.

mod config;
mod gateway;
mod limiter;
mod parse;
mod settings;

pub use config::YahooConfig;
pub use gateway::YahooGateway;
pub use settings::YahooSettings;
