//! [`OandaSettings`]: the `[oanda]` section of axia's settings.

use std::collections::HashMap;
use std::fmt;

use axia_domain::{AdapterContext, PriceComponent, Symbol};
use serde::Deserialize;

use crate::OandaConfig;

/// OANDA v20 as axia's settings give it. The token is a secret: `Debug` shows `***`; give it
/// as `OANDA_TOKEN` ([`apply_env`](Self::apply_env)) rather than in a file.
#[derive(Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OandaSettings {
    /// The REST host (default: the practice host; `https://api-fxtrade.oanda.com` for live).
    pub base_url: Option<String>,
    /// The streaming host of the live feed (default: the practice or live streaming host to go
    /// with `base_url`).
    pub stream_url: Option<String>,
    /// The account (also `OANDA_ACCOUNT_ID`).
    pub account_id: Option<String>,
    /// The API token (also, and preferably, `OANDA_TOKEN`).
    pub token: Option<String>,
    /// Requests a second (OANDA allows 120 per IP; default 50).
    pub requests_per_second: f64,
    /// The price bars are made of: `mid` (default), `bid` or `ask`.
    pub price: PriceComponent,
    /// Symbol to OANDA instrument overrides (`USDJPY = "USD_JPY"` is built in).
    pub instruments: HashMap<Symbol, String>,
}

impl Default for OandaSettings {
    fn default() -> Self {
        Self {
            base_url: None,
            stream_url: None,
            account_id: None,
            token: None,
            requests_per_second: 50.0,
            price: PriceComponent::Mid,
            instruments: HashMap::new(),
        }
    }
}

impl fmt::Debug for OandaSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OandaSettings")
            .field("base_url", &self.base_url)
            .field("stream_url", &self.stream_url)
            .field("account_id", &self.account_id)
            .field("token", &self.token.as_ref().map(|_| "***"))
            .field("requests_per_second", &self.requests_per_second)
            .field("price", &self.price)
            .finish_non_exhaustive()
    }
}

impl OandaSettings {
    /// The environment variables these settings read: `OANDA_TOKEN`, `OANDA_ACCOUNT_ID`.
    pub const ENV: [&'static str; 2] = ["OANDA_TOKEN", "OANDA_ACCOUNT_ID"];

    /// Applies `OANDA_TOKEN` and `OANDA_ACCOUNT_ID` as `lookup` gives them (blank ones are
    /// ignored).
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        if let Some(v) = get("OANDA_TOKEN") {
            self.token = Some(v);
        }
        if let Some(v) = get("OANDA_ACCOUNT_ID") {
            self.account_id = Some(v);
        }
    }

    /// Checks what can be checked without a server.
    ///
    /// # Errors
    /// One line naming the setting.
    pub fn validate(&self) -> Result<(), String> {
        if !self.requests_per_second.is_finite() || self.requests_per_second <= 0.0 {
            return Err("oanda.requests_per_second must be above 0".into());
        }
        Ok(())
    }

    /// The adapters' configuration, on the context's instruments; `None` without a token
    /// (every OANDA request needs one).
    #[must_use]
    pub fn config(&self, ctx: &AdapterContext) -> Option<OandaConfig> {
        let mut cfg = OandaConfig::new(self.token.clone()?)
            .requests_per_second(self.requests_per_second)
            .price(self.price)
            .instruments(ctx.instruments());
        if let Some(url) = &self.base_url {
            cfg = cfg.base_url(url.clone());
        }
        if let Some(id) = &self.account_id {
            cfg = cfg.account_id(id.clone());
        }
        if let Some(url) = &self.stream_url {
            cfg = cfg.stream_url(url.clone());
        }
        for (symbol, name) in &self.instruments {
            cfg = cfg.instrument_name(symbol.clone(), name.clone());
        }
        Some(cfg)
    }
}
