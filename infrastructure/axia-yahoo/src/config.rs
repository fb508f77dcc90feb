//! [`YahooConfig`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axia_domain::{AssetClass, Backoff, Instrument, InstrumentRegistry, Symbol, TradingHours};

/// How to reach Yahoo Finance and how hard to push it.
#[derive(Debug, Clone, PartialEq)]
#[must_use]
pub struct YahooConfig {
    pub(crate) base_url: String,
    pub(crate) requests_per_second: f64,
    pub(crate) max_retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) request_timeout: Duration,
    pub(crate) tickers: HashMap<Symbol, String>,
    pub(crate) user_agent: String,
    pub(crate) instruments: Arc<InstrumentRegistry>,
}

impl Default for YahooConfig {
    /// `https://query1.finance.yahoo.com`, 2 requests a second, 3 retries backing off from 250 ms
    /// to at most 8 s, 10 s per request.
    fn default() -> Self {
        Self {
            base_url: "https://query1.finance.yahoo.com".into(),
            requests_per_second: 2.0,
            max_retries: 3,
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(8)),
            request_timeout: Duration::from_secs(10),
            tickers: HashMap::new(),
            user_agent: concat!("axia/", env!("CARGO_PKG_VERSION")).into(),
            instruments: Arc::new(InstrumentRegistry::shared_builtin().clone()),
        }
    }
}

impl YahooConfig {
    /// Where the chart API lives (`{base}/v8/finance/chart/{ticker}`); tests point it at a local
    /// fake server.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// At most this many requests a second (at least 0.01).
    pub const fn requests_per_second(mut self, rps: f64) -> Self {
        self.requests_per_second = if rps > 0.01 { rps } else { 0.01 };
        self
    }

    /// Retries after the first attempt, and the backoff bounds: retry `n` waits a random time
    /// between half and all of `min(max, base * 2^n)` ([`Backoff`]).
    pub fn retries(mut self, retries: u32, base: Duration, max: Duration) -> Self {
        self.max_retries = retries;
        self.backoff = Backoff::new(base, max);
        self
    }

    /// The most one HTTP request may take.
    pub const fn request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Fetches `symbol` as Yahoo's `ticker` (`BRK-B` for `BRK.B`, say).
    pub fn ticker(mut self, symbol: Symbol, ticker: impl Into<String>) -> Self {
        self.tickers.insert(symbol, ticker.into());
        self
    }

    /// The `User-Agent` header.
    pub fn user_agent(mut self, agent: impl Into<String>) -> Self {
        self.user_agent = agent.into();
        self
    }

    /// The instruments (default: the built-in ones): their Yahoo tickers, and the tick grid
    /// and volume rules every fetched bar is validated against.
    pub fn instruments(mut self, instruments: Arc<InstrumentRegistry>) -> Self {
        self.instruments = instruments;
        self
    }

    /// The instrument of `symbol`; an unknown one resolves to its defaults, with a warning
    /// the first time.
    #[must_use]
    pub fn instrument_of(&self, symbol: &Symbol) -> Instrument {
        self.instruments.resolve_reporting(symbol, |i| {
            tracing::warn!(%symbol, tick = %i.tick(), "unknown instrument; using the defaults for its kind");
        })
    }

    /// The Yahoo ticker of `symbol`: the one set with [`YahooConfig::ticker`], else Yahoo's
    /// spelling of its instrument: `EURUSD=X` for an FX pair (a symbol already written so,
    /// `JPY=X` say, as it is), the symbol itself for anything else (`AAPL`, `7203.T`, `^N225`,
    /// `ES=F`, `BTC-USD`: axia's symbols follow Yahoo's conventions there).
    #[must_use]
    pub fn ticker_of(&self, symbol: &Symbol) -> String {
        if let Some(t) = self.tickers.get(symbol) {
            return t.clone();
        }
        let s = symbol.as_str();
        match self.instrument_of(symbol) {
            i if s.ends_with("=X") || i.hours() != TradingHours::FxWeek => s.to_owned(),
            i => match i.asset_class() {
                AssetClass::FxPair { base, quote } => format!("{base}{quote}=X"),
                _ => s.to_owned(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Yahoo's spellings belong here, not to the instrument: an FX pair is `XXXYYY=X` however
    /// its symbol is written, everything else its symbol; a configured ticker wins.
    #[test]
    fn tickers_are_yahoos_spelling_of_the_instrument() {
        let config = YahooConfig::default().ticker("GBPUSD".parse().unwrap(), "GBP=X");
        for (symbol, ticker) in [
            ("EURUSD", "EURUSD=X"),
            ("XAUUSD", "XAUUSD=X"),
            ("SEKNOK", "SEKNOK=X"),
            ("EUR_USD", "EURUSD=X"),
            ("EURUSD=X", "EURUSD=X"),
            ("JPY=X", "JPY=X"),
            ("BTC-USD", "BTC-USD"),
            ("AAPL", "AAPL"),
            ("7203.T", "7203.T"),
            ("^N225", "^N225"),
            ("ES=F", "ES=F"),
            ("GBPUSD", "GBP=X"),
        ] {
            assert_eq!(
                config.ticker_of(&symbol.parse().unwrap()),
                ticker,
                "{symbol}"
            );
        }
    }
}
