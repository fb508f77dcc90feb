//! [`YahooSettings`]: the `[yahoo]` section of axia's settings.

use std::collections::HashMap;

use axia_domain::{AdapterContext, MarketDataError, Symbol};
use serde::Deserialize;

use crate::{YahooConfig, YahooGateway};

/// Yahoo Finance as axia's settings give it: where (tests point `base_url` at a local
/// server), how fast, and tickers that differ from Yahoo's usual spelling.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct YahooSettings {
    /// The chart API's base URL (default: Yahoo's).
    pub base_url: Option<String>,
    /// Requests a second (default 2).
    pub requests_per_second: f64,
    /// Symbol to Yahoo ticker overrides (`"BRK.B" = "BRK-B"`).
    pub tickers: HashMap<Symbol, String>,
}

impl Default for YahooSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            requests_per_second: 2.0,
            tickers: HashMap::new(),
        }
    }
}

impl YahooSettings {
    /// Checks what can be checked without a server.
    ///
    /// # Errors
    /// One line naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        if !self.requests_per_second.is_finite() || self.requests_per_second <= 0.0 {
            return Err("yahoo.requests_per_second must be above 0".into());
        }
        Ok(())
    }

    /// The adapter's configuration: these settings over [`YahooConfig`]'s defaults, on the
    /// context's instruments.
    pub fn config(&self, ctx: &AdapterContext) -> YahooConfig {
        let mut cfg = YahooConfig::default()
            .requests_per_second(self.requests_per_second)
            .instruments(ctx.instruments());
        if let Some(url) = &self.base_url {
            cfg = cfg.base_url(url.clone());
        }
        for (symbol, ticker) in &self.tickers {
            cfg = cfg.ticker(symbol.clone(), ticker.clone());
        }
        cfg
    }

    /// The gateway of these settings on the context's clock.
    ///
    /// # Errors
    /// [`MarketDataError`] when the HTTP client cannot be built.
    pub fn gateway(&self, ctx: &AdapterContext) -> Result<YahooGateway, MarketDataError> {
        YahooGateway::new(self.config(ctx), ctx.clock())
    }
}
