//! The provider as a [`ReferencePrice`]: the order path asks it, on the trading use case, for
//! the last price: one call for the last bar ([`Window::Bars`](crate::Window::Bars)).

use async_trait::async_trait;
use axia_domain::{MarketDataError, Price, ReferencePrice, Symbol, Timeframe, UseCase};

use crate::{OhlcvDataProvider, OhlcvRequest, Window};

/// The close of the newest M1 bar the trading plan finds (the broker first, then the hot
/// tier, then the fallback): the last bar before now on the instrument's calendar (a closed
/// market's last close); `None` when there is none. The forming bar counts: it is the
/// market's price now.
#[async_trait]
impl ReferencePrice for OhlcvDataProvider {
    async fn last_price(&self, symbol: &Symbol) -> Result<Option<Price>, MarketDataError> {
        let request = OhlcvRequest::new(
            symbol.clone(),
            Timeframe::M1,
            Window::last_bars(1),
            UseCase::Trading,
        );
        let answer = self
            .get(request)
            .await
            .map_err(|e| MarketDataError::Unavailable(e.to_string()))?;
        Ok(answer.frame.last().and_then(|bar| {
            rust_decimal::Decimal::from_f64_retain(bar.close())
                .map(|d| d.round_dp(8))
                .and_then(|d| Price::new(d).ok())
        }))
    }
}
