//! [`BarUpdates`]: the changes of a hot tier's series as they happen.

use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use futures_core::Stream;

use super::StoreError;
use crate::{OhlcvFrame, Symbol, Timeframe};

/// A change of one series of a hot tier (a collector's write, a live feed's bar).
#[derive(Debug, Clone, PartialEq)]
pub struct BarUpdate {
    /// The series' symbol.
    pub symbol: Symbol,
    /// The series' timeframe.
    pub timeframe: Timeframe,
    /// The newest bar's open time after the change.
    pub newest_open: DateTime<Utc>,
    /// The newest bar's open time when that bar is forming; `None` when it is closed.
    pub forming_open: Option<DateTime<Utc>>,
    /// The series as stored after the change, from the oldest bar the change brought on (its
    /// newest bar labelled forming when it is), when the source carries it; `None`: read the
    /// series. Empty when the change only dropped old bars.
    pub tail: Option<OhlcvFrame>,
}

/// One subscription's updates, in the order the changes happened; it ends when the
/// subscription is lost (subscribe again, then read the series: updates are delivered at most
/// once).
pub type UpdateStream = Pin<Box<dyn Stream<Item = BarUpdate> + Send>>;

/// Where the changes of a hot tier's series are published (Redis pub/sub, an in-process
/// channel). Subscribers follow them through one resubscribing wrapper
/// (`axia_provider::follow`), not this port directly.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait BarUpdates: Send + Sync {
    /// Every update of every series from now on, until the subscription is lost.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Timeout`] when the source cannot be
    /// reached; [`StoreError::InvalidRequest`] when it cannot publish updates at all (a
    /// deployment without them).
    async fn subscribe(&self) -> Result<UpdateStream, StoreError>;

    /// One round trip to the source, timed: whether subscribers can follow it now.
    ///
    /// # Errors
    /// As [`BarUpdates::subscribe`].
    async fn ping(&self) -> Result<Duration, StoreError>;
}

#[async_trait]
impl<T: BarUpdates + ?Sized> BarUpdates for std::sync::Arc<T> {
    async fn subscribe(&self) -> Result<UpdateStream, StoreError> {
        (**self).subscribe().await
    }
    async fn ping(&self) -> Result<Duration, StoreError> {
        (**self).ping().await
    }
}

/// Which instruments a live feed is writing into the hot tier now: the feed announces its
/// instruments while its stream is open, and the collector leaves their recent bars to it
/// (fetching only what the archive lacks). An announcement lapses after its `ttl`, so a feed
/// that stops hands the hot tier back to the collector.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LivePresence: Send + Sync {
    /// Says that a live feed writes `symbol`'s bars for the next `ttl`.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached.
    async fn announce(&self, symbol: &Symbol, ttl: Duration) -> Result<(), StoreError>;

    /// True when a live feed announced `symbol` and the announcement has not lapsed.
    ///
    /// # Errors
    /// [`StoreError`] when the store cannot be reached.
    async fn is_live(&self, symbol: &Symbol) -> Result<bool, StoreError>;
}

#[async_trait]
impl<T: LivePresence + ?Sized> LivePresence for std::sync::Arc<T> {
    async fn announce(&self, symbol: &Symbol, ttl: Duration) -> Result<(), StoreError> {
        (**self).announce(symbol, ttl).await
    }
    async fn is_live(&self, symbol: &Symbol) -> Result<bool, StoreError> {
        (**self).is_live(symbol).await
    }
}
