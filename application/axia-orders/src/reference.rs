//! [`LastClose`]: a reference price from any market-data source.

use std::sync::Arc;

use async_trait::async_trait;
use axia_domain::{
    Clock, MarketData, MarketDataError, Price, ReferencePrice, Symbol, TimeRange, Timeframe,
};

/// The reference price of a symbol: the close of the last M1 bar a source has in the last
/// ten minutes, or (a closed market) in the last four days. Prices are rounded to 8 decimals.
#[derive(Clone)]
pub struct LastClose {
    source: Arc<dyn MarketData>,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for LastClose {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LastClose").finish_non_exhaustive()
    }
}

impl LastClose {
    /// Reference prices from `source` (the broker, or the data provider's trading path), on
    /// the system clock.
    #[must_use]
    pub fn new(source: impl MarketData + 'static) -> Self {
        Self {
            source: Arc::new(source),
            clock: Arc::new(axia_domain::SystemClock),
        }
    }

    /// The clock "now" comes from (default: the system's).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }
}

#[async_trait]
impl ReferencePrice for LastClose {
    async fn last_price(&self, symbol: &Symbol) -> Result<Option<Price>, MarketDataError> {
        let now = self.clock.now();
        for back in [chrono::Duration::minutes(10), chrono::Duration::days(4)] {
            let Ok(range) = TimeRange::covering(now - back, now) else {
                continue;
            };
            match self.source.bars(symbol, Timeframe::M1, range).await {
                Ok(f) => {
                    if let Some(close) = f.frame.last().map(|b| b.close()) {
                        return Ok(rust_decimal::Decimal::from_f64_retain(close)
                            .map(|d| d.round_dp(8))
                            .and_then(|d| Price::new(d).ok()));
                    }
                }
                Err(MarketDataError::NoData(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(None)
    }
}
