//! The provider as a [`ReferencePrice`], the one the order path has: it asks, on the trading
//! use case, for the last price: one call for the last bar
//! ([`Window::Bars`](crate::Window::Bars)). A provider over the broker alone
//! (`OhlcvDataProvider::builder().broker(market).without_write_through().build()`) is the
//! broker's last close.

use async_trait::async_trait;
use axia_domain::{MarketDataError, Price, ReferencePrice, Symbol, Timeframe, UseCase};

use crate::{ErrorKind, OhlcvDataProvider, OhlcvRequest, Outcome, ProviderError, Window};

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
        let answer = self.get(request).await.map_err(|e| {
            // A refused credential stays what it is: the order path says so.
            let refused = matches!(&e, ProviderError::AllFailed { attempts, .. }
                if attempts.iter().any(|a| a.outcome == Outcome::Error(ErrorKind::Unauthorized)));
            if refused {
                MarketDataError::Unauthorized(e.to_string())
            } else {
                MarketDataError::Unavailable(e.to_string())
            }
        })?;
        Ok(answer.frame.last().and_then(|bar| {
            rust_decimal::Decimal::from_f64_retain(bar.close())
                .map(|d| d.round_dp(8))
                .and_then(|d| Price::new(d).ok())
        }))
    }
}
