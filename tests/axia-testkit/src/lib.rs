//! Test support for the axia workspace:
//! - one contract suite per port ([`ohlcv_store`], [`bar_updates`], [`market_data`],
//!   [`order_store`], [`order_executor`]), instantiated for every
//!   adapter of the port, fakes included, with the `*_contract!` macros;
//! - fakes of outside services: [`fake_yahoo::FakeYahoo`], a Yahoo chart API on loopback, and
//!   [`fake_oanda::FakeOanda`], OANDA v20's candles, and
//!   [`fake_oanda_stream::FakeOandaStream`], its pricing stream;
//! - [`tcp_cut::TcpCut`], a proxy that makes a server unreachable for a while.
//!
//! This is test code: it asserts and panics on failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod bar_updates;
pub mod fake_oanda;
pub mod fake_oanda_stream;
pub mod fake_yahoo;
pub mod market_data;
pub mod ohlcv_store;
pub mod order_executor;
pub mod order_store;
pub mod tcp_cut;

/// The built-in instruments with every series on UTC midnight, for cases that name UTC days
/// (FX pairs and futures default to the New York close, whose days are trading dates).
#[must_use]
pub fn utc_instruments() -> std::sync::Arc<axia_domain::InstrumentRegistry> {
    std::sync::Arc::new(
        axia_domain::InstrumentRegistry::builtin()
            .with_daily_alignment(axia_domain::DailyAlignment::UtcMidnight),
    )
}
