//! A simulated broker: the offline, embedded default source of bars.
//!
//! [`SimulatedBroker`] implements [`MarketData`](axia_domain::MarketData) for any symbol and
//! timeframe, with no I/O:
//! - **Deterministic.** The bar of `(seed, symbol, timeframe, open time)` is the same whatever
//!   window is asked, so overlapping fetches agree; prices are stateless functions of the minute
//!   (layered value noise), and every coarser bar is the aggregate of its M1 bars, so an H1 bar
//!   equals the resample of its 60 M1 bars.
//! - **Realistic.** FX pairs trade near their real levels (USDJPY near 150, EURUSD near 1.08,
//!   crosses derived from the same currency values), with pip-rounded prices, intraday volatility
//!   of a few pips a minute and about 0.5 % a day, and no bars while the FX market is closed
//!   (Friday 17:00 to Sunday 17:00 New York). Other symbols trade in their exchange's session
//!   (`.T` Tokyo, otherwise New York 09:30-16:00) at a level derived from the symbol. Volumes are
//!   always positive.
//! - **Faults on demand.** An error rate, added latency, or down: [`Faults`].
//! - **Paper orders.** As an [`OrderExecutor`](axia_domain::OrderExecutor) it fills market
//!   orders at its price and rests limit and stop orders, idempotent by client order id.
//!
//! ```
//! use std::sync::Arc;
//! use axia_domain::{MarketData, ManualClock, TimeRange, Timeframe};
//! use axia_simbroker::SimulatedBroker;
//! use chrono::{Duration, TimeZone, Utc};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap(); // a Wednesday
//! let broker = SimulatedBroker::new(42, Arc::new(ManualClock::new(now)));
//! let day = TimeRange::new(now - Duration::hours(24), now)?;
//! let h1 = broker.bars(&"USDJPY".parse()?, Timeframe::H1, day).await?.frame;
//! assert_eq!(h1.len(), 24);
//! let close = h1.last().unwrap().close();
//! assert!((100.0..200.0).contains(&close));
//! # Ok(()) }
//! ```

mod executor;
mod faults;
mod generator;
mod settings;
mod source;
mod stream;

pub use faults::Faults;
pub use generator::{calendar_for, generate, generate_for};
pub use settings::SimulatedSettings;
pub use source::SimulatedBroker;
pub use stream::{SimulatedQuotes, SimulatedStream};
