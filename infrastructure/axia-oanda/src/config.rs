//! [`OandaConfig`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axia_domain::{AssetClass, Backoff, Instrument, InstrumentRegistry, Symbol, TradingHours};

/// OANDA's practice (demo) REST host.
pub const PRACTICE_URL: &str = "https://api-fxpractice.oanda.com";
/// OANDA's live REST host.
pub const LIVE_URL: &str = "https://api-fxtrade.oanda.com";
/// OANDA's practice streaming host.
pub const PRACTICE_STREAM_URL: &str = "https://stream-fxpractice.oanda.com";
/// OANDA's live streaming host.
pub const LIVE_STREAM_URL: &str = "https://stream-fxtrade.oanda.com";

/// Which price of a candle becomes the bar: the mid (default), the bid or the ask (the
/// domain's [`PriceComponent`], re-exported here).
pub use axia_domain::PriceComponent;

/// OANDA's name of a price component in a candles request.
pub(crate) const fn price_param(price: PriceComponent) -> &'static str {
    match price {
        PriceComponent::Mid => "M",
        PriceComponent::Bid => "B",
        PriceComponent::Ask => "A",
    }
}

/// How to reach OANDA v20 and how hard to push it. The token is a secret: `Debug` shows
/// `***`, and no error or log line holds it.
#[derive(Clone, PartialEq)]
#[must_use]
pub struct OandaConfig {
    pub(crate) base_url: String,
    pub(crate) stream_url: Option<String>,
    pub(crate) token: String,
    pub(crate) account_id: Option<String>,
    pub(crate) requests_per_second: f64,
    pub(crate) max_retries: u32,
    pub(crate) backoff: Backoff,
    pub(crate) request_timeout: Duration,
    pub(crate) connect_timeout: Duration,
    pub(crate) price: PriceComponent,
    pub(crate) names: HashMap<Symbol, String>,
    pub(crate) instruments: Arc<InstrumentRegistry>,
}

impl std::fmt::Debug for OandaConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OandaConfig")
            .field("base_url", &self.base_url)
            .field("token", &"***")
            .field("account_id", &self.account_id)
            .field("requests_per_second", &self.requests_per_second)
            .field("price", &self.price)
            .finish_non_exhaustive()
    }
}

impl OandaConfig {
    /// The practice host with `token`; 50 requests a second (OANDA allows 120 per IP), 3
    /// retries of a failed read backing off from 250 ms to 8 s, 10 s per request, 5 s to
    /// connect, mid prices.
    pub fn new(token: impl Into<String>) -> Self {
        Self {
            base_url: PRACTICE_URL.to_owned(),
            stream_url: None,
            token: token.into(),
            account_id: None,
            requests_per_second: 50.0,
            max_retries: 3,
            backoff: Backoff::new(Duration::from_millis(250), Duration::from_secs(8)),
            request_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            price: PriceComponent::Mid,
            names: HashMap::new(),
            instruments: Arc::new(InstrumentRegistry::shared_builtin().clone()),
        }
    }

    /// The REST host: [`PRACTICE_URL`], [`LIVE_URL`], or a local fake in tests.
    pub fn base_url(mut self, url: impl Into<String>) -> Self {
        self.base_url = url.into().trim_end_matches('/').to_owned();
        self
    }

    /// The streaming host (default: OANDA's practice or live streaming host to go with the REST
    /// host, or the REST host itself for any other, a local fake in tests).
    pub fn stream_url(mut self, url: impl Into<String>) -> Self {
        self.stream_url = Some(url.into().trim_end_matches('/').to_owned());
        self
    }

    /// The streaming host in use (see [`stream_url`](Self::stream_url)).
    #[must_use]
    pub fn stream_base(&self) -> &str {
        match (&self.stream_url, self.base_url.as_str()) {
            (Some(u), _) => u,
            (None, PRACTICE_URL) => PRACTICE_STREAM_URL,
            (None, LIVE_URL) => LIVE_STREAM_URL,
            (None, other) => other,
        }
    }

    /// The account orders go to.
    pub fn account_id(mut self, id: impl Into<String>) -> Self {
        self.account_id = Some(id.into());
        self
    }

    /// At most this many requests a second (at least 0.01). One client keeps its
    /// connections alive, so OANDA's 2 new connections a second are not exceeded.
    pub const fn requests_per_second(mut self, rps: f64) -> Self {
        self.requests_per_second = if rps > 0.01 { rps } else { 0.01 };
        self
    }

    /// Retries of a failed read (a POST is never retried), and the backoff bounds.
    pub fn retries(mut self, retries: u32, base: Duration, max: Duration) -> Self {
        self.max_retries = retries;
        self.backoff = Backoff::new(base, max);
        self
    }

    /// The most one request may take, and the most connecting may take.
    pub const fn timeouts(mut self, request: Duration, connect: Duration) -> Self {
        self.request_timeout = request;
        self.connect_timeout = connect;
        self
    }

    /// The price bars are made of.
    pub const fn price(mut self, price: PriceComponent) -> Self {
        self.price = price;
        self
    }

    /// Fetches `symbol` as OANDA's `instrument` (overrides the registry's name).
    pub fn instrument_name(mut self, symbol: Symbol, instrument: impl Into<String>) -> Self {
        self.names.insert(symbol, instrument.into());
        self
    }

    /// The instruments (default: the built-in ones): their OANDA names, tick grids and daily
    /// alignment.
    pub fn instruments(mut self, instruments: Arc<InstrumentRegistry>) -> Self {
        self.instruments = instruments;
        self
    }

    /// The instrument of `symbol`; an unknown one resolves to its defaults, with a warning the
    /// first time.
    #[must_use]
    pub fn instrument_of(&self, symbol: &Symbol) -> Instrument {
        self.instruments.resolve_reporting(symbol, |i| {
            tracing::warn!(%symbol, tick = %i.tick(), "unknown instrument; using the defaults for its kind");
        })
    }

    /// The symbol OANDA's `name` stands for: the one given to
    /// [`instrument_name`](Self::instrument_name), else the registered instrument whose OANDA
    /// name it is, else the name without its `_` (`USD_JPY` is USDJPY).
    #[must_use]
    pub fn symbol_of(&self, name: &str) -> Option<Symbol> {
        if let Some((s, _)) = self.names.iter().find(|(_, n)| n.as_str() == name) {
            return Some(s.clone());
        }
        if let Some(i) = self
            .instruments
            .iter()
            .find(|i| Self::spelling(i).as_deref() == Some(name))
        {
            return Some(i.symbol().clone());
        }
        name.replace('_', "").parse().ok()
    }

    /// OANDA's spelling of an FX pair: `BASE_QUOTE` (`USD_JPY`).
    fn spelling(i: &Instrument) -> Option<String> {
        match i.asset_class() {
            AssetClass::FxPair { base, quote } if i.hours() == TradingHours::FxWeek => {
                Some(format!("{base}_{quote}"))
            }
            _ => None,
        }
    }

    /// OANDA's name for `symbol`: the one set with [`instrument_name`](Self::instrument_name),
    /// else its FX pair's (`USD_JPY` for USDJPY, also for `JPY=X` or `USD_JPY`), else, for six
    /// letters, `XXX_YYY`.
    #[must_use]
    pub fn name_of(&self, symbol: &Symbol) -> Option<String> {
        if let Some(n) = self.names.get(symbol) {
            return Some(n.clone());
        }
        if let Some(n) = Self::spelling(&self.instrument_of(symbol)) {
            return Some(n);
        }
        let s = symbol.as_str();
        (s.len() == 6 && s.bytes().all(|b| b.is_ascii_alphabetic())).then(|| {
            format!(
                "{}_{}",
                s.get(..3).unwrap_or_default(),
                s.get(3..).unwrap_or_default()
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OANDA's spellings belong here, not to the instrument: an FX pair is `XXX_YYY` however
    /// its symbol is written, and a name maps back to its symbol; a configured name wins.
    #[test]
    fn names_are_oandas_spelling_of_the_instrument() {
        let config = OandaConfig::new("t").instrument_name("SPX".parse().unwrap(), "SPX500_USD");
        for (symbol, name) in [
            ("USDJPY", Some("USD_JPY")),
            ("XAUUSD", Some("XAU_USD")),
            ("JPY=X", Some("USD_JPY")),
            ("EUR_USD", Some("EUR_USD")),
            ("SPX", Some("SPX500_USD")),
            ("BTC-USD", None),
            ("AAPL", None),
        ] {
            let s: Symbol = symbol.parse().unwrap();
            assert_eq!(config.name_of(&s).as_deref(), name, "{symbol}");
        }
        for (name, symbol) in [
            ("USD_JPY", "USDJPY"),
            ("XAG_USD", "XAGUSD"),
            ("SPX500_USD", "SPX"),
            ("NOK_SEK", "NOKSEK"),
        ] {
            assert_eq!(
                config.symbol_of(name),
                Some(symbol.parse().unwrap()),
                "{name}"
            );
        }
    }
}
