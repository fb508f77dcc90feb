//! # axia-oanda
//!
//! OANDA v20 as a broker: orders through [`OandaExecutor`] (the
//! [`OrderExecutor`](axia_domain::OrderExecutor) port, exactly once by client order id), and
//! as a market-data source ([`OandaGateway`], the [`MarketData`](axia_domain::MarketData)
//! port): `GET /v3/instruments/{instrument}/candles` for the five majors and every instrument
//! the registry names (`USDJPY` is `USD_JPY`; [`OandaConfig::instrument_name`] overrides).
//!
//! - **Alignment.** OANDA aligns D, W, M and H2-H12 candles to 17:00 New York and weeks to
//!   Friday unless told otherwise; every request sends the parameters of the series' own grid
//!   ([`alignment_params`]: `dailyAlignment=0&alignmentTimezone=UTC&weeklyAlignment=Monday` for
//!   UTC midnight), and validation drops any candle off that grid, so a server that ignores
//!   them cannot slip a misaligned bar into a series.
//! - **Paging.** At most 5,000 candles a request ([`MAX_CANDLES`]): a longer range is read in
//!   pages from the last time received (`includeFirst=false`). A range reaching past now is
//!   clamped to now (OANDA refuses a `to` in the future).
//! - **Prices** are decimal strings, parsed to the nearest f64 and put on the instrument's
//!   tick by validation; mid by default, bid or ask with [`PriceComponent`]. Volume is OANDA's
//!   tick count.
//! - **The incomplete candle** (`complete: false`) is the forming bar: labelled so, never
//!   archived. One malformed candle costs that candle (the report says why), never the page.
//! - **Errors.** 401 is [`MarketDataError::Unauthorized`](axia_domain::MarketDataError), 429
//!   rate limited (retried after `Retry-After` or a backoff), an unknown instrument
//!   `SymbolNotFound`, 5xx and transport failures unavailable (reads retried). The token is
//!   sent as a bearer header and never appears in a log, an error or `Debug`.

mod config;
mod executor;
mod gateway;
mod http;
mod parse;
mod settings;
mod stream;

pub use config::{
    LIVE_STREAM_URL, LIVE_URL, OandaConfig, PRACTICE_STREAM_URL, PRACTICE_URL, PriceComponent,
};
pub use executor::OandaExecutor;
pub use gateway::{MAX_CANDLES, OandaGateway, alignment_params, granularity};
pub use settings::OandaSettings;
pub use stream::{OandaStream, StreamSetupError};

/// Parses a candles body and validates it into bars, as [`OandaGateway`] does with each page:
/// the work the parsing benchmark measures. Returns the bars kept.
///
/// # Errors
/// The body's error, as text.
#[doc(hidden)]
pub fn parse_and_validate(
    body: &[u8],
    instrument: &axia_domain::Instrument,
    timeframe: axia_domain::Timeframe,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, String> {
    let page = parse::candles(body, PriceComponent::Mid).map_err(|e| e.0)?;
    let (frame, _) = axia_domain::validate_bars_with(
        instrument.symbol().clone(),
        timeframe,
        page.rows.into_iter().map(|r| r.raw),
        now,
        axia_domain::ValidationRules::for_instrument(instrument),
    );
    Ok(frame.len())
}

/// Parses a candles body without validating it: the benchmark's other figure. Returns the
/// candles read.
///
/// # Errors
/// The body's error, as text.
#[doc(hidden)]
pub fn parse_only(body: &[u8]) -> Result<usize, String> {
    parse::candles(body, PriceComponent::Mid)
        .map(|p| p.rows.len())
        .map_err(|e| e.0)
}
