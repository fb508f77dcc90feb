//! The provider as a [`ReferencePrice`]: the order path asks it, on the trading use case, for
//! the last price.

use async_trait::async_trait;
use axia_domain::{MarketDataError, Price, ReferencePrice, Symbol, TimeRange, Timeframe, UseCase};

use crate::{OhlcvDataProvider, OhlcvRequest, Window};

/// The close of the newest M1 bar the trading plan finds (the broker first, then the hot
/// tier, then the fallback) in the last ten minutes, or, a closed market, in the last four
/// days; `None` when there is none. The forming bar counts: it is the market's price now.
#[async_trait]
impl ReferencePrice for OhlcvDataProvider {
    async fn last_price(&self, symbol: &Symbol) -> Result<Option<Price>, MarketDataError> {
        let now = self.now();
        for back in [chrono::Duration::minutes(10), chrono::Duration::days(4)] {
            let Ok(range) = TimeRange::covering(now - back, now) else {
                continue;
            };
            let request = OhlcvRequest::new(
                symbol.clone(),
                Timeframe::M1,
                Window::Range(range),
                UseCase::Trading,
            );
            let answer = self
                .get(request)
                .await
                .map_err(|e| MarketDataError::Unavailable(e.to_string()))?;
            if let Some(bar) = answer.frame.last() {
                return Ok(rust_decimal::Decimal::from_f64_retain(bar.close())
                    .map(|d| d.round_dp(8))
                    .and_then(|d| Price::new(d).ok()));
            }
        }
        Ok(None)
    }
}
