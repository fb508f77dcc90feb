//! [`UpdateFeed`]: the hot tier's update messages, live.

use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{BarUpdate, BarUpdates, StoreError, UpdateStream};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::{RedisBarCache, UpdateMessage};

/// Every [`UpdateMessage`] a namespace publishes, in order, from the moment of subscribing
/// ([`RedisBarCache::updates`](crate::RedisBarCache::updates)). Pub/sub is at most once: a
/// message published while the feed's connection was down is not replayed.
pub struct UpdateFeed {
    stream: redis::aio::PubSubStream,
}

impl std::fmt::Debug for UpdateFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UpdateFeed").finish_non_exhaustive()
    }
}

impl UpdateFeed {
    pub(crate) fn new(pubsub: redis::aio::PubSub) -> Self {
        Self {
            stream: pubsub.into_on_message(),
        }
    }

    /// The next update; `None` once the connection is gone (subscribe again, then resync).
    /// Messages that do not decode are logged and skipped.
    pub async fn next(&mut self) -> Option<UpdateMessage> {
        loop {
            let msg = self.stream.next().await?;
            match serde_json::from_slice::<UpdateMessage>(msg.get_payload_bytes()) {
                Ok(u) => return Some(u),
                Err(e) => tracing::warn!(
                    channel = msg.get_channel_name(),
                    error = %e,
                    "an update message that does not decode; skipped"
                ),
            }
        }
    }
}

impl UpdateMessage {
    /// The message as the domain's [`BarUpdate`]; a tail that does not form a series (a
    /// message not written by axia) is logged and left out (the subscriber reads the series).
    #[must_use]
    pub fn to_update(&self) -> Option<BarUpdate> {
        let newest_open = DateTime::<Utc>::from_timestamp_millis(self.newest_open_ms)?;
        let tail = match self.tail_frame() {
            Some(Ok(t)) => Some(t),
            Some(Err(e)) => {
                tracing::warn!(symbol = %self.symbol, timeframe = %self.timeframe, error = %e, "an update message whose bars do not form a series; subscribers read the series instead");
                None
            }
            None => None,
        };
        Some(BarUpdate {
            symbol: self.symbol.clone(),
            timeframe: self.timeframe,
            newest_open,
            forming_open: self
                .forming_open_ms
                .and_then(DateTime::<Utc>::from_timestamp_millis),
            tail,
        })
    }
}

/// The hot tier's update messages as the [`BarUpdates`] port: one pattern subscription per
/// [`subscribe`](BarUpdates::subscribe) (standalone Redis only).
#[async_trait]
impl BarUpdates for RedisBarCache {
    async fn subscribe(&self) -> Result<UpdateStream, StoreError> {
        let feed = self.updates().await?;
        Ok(Box::pin(futures_util::stream::unfold(
            feed,
            |mut feed| async move {
                loop {
                    let message = feed.next().await?;
                    if let Some(u) = message.to_update() {
                        return Some((u, feed));
                    }
                    tracing::warn!(symbol = %message.symbol, timeframe = %message.timeframe, newest_open_ms = message.newest_open_ms, "an update message with an impossible time; skipped");
                }
            },
        )))
    }

    async fn ping(&self) -> Result<Duration, StoreError> {
        RedisBarCache::ping(self).await
    }
}

/// Live feeds announce their instruments under `{namespace}live:{SYMBOL}` (a key with a TTL,
/// one per instrument, so Redis Cluster is fine).
#[async_trait]
impl axia_domain::LivePresence for RedisBarCache {
    async fn announce(
        &self,
        symbol: &axia_domain::Symbol,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let _: () = self
            .query(
                redis::cmd("SET")
                    .arg(format!("{}live:{symbol}", self.prefix()))
                    .arg("1")
                    .arg("PX")
                    .arg(ms)
                    .clone(),
            )
            .await?;
        Ok(())
    }

    async fn is_live(&self, symbol: &axia_domain::Symbol) -> Result<bool, StoreError> {
        let n: i64 = self
            .query(
                redis::cmd("EXISTS")
                    .arg(format!("{}live:{symbol}", self.prefix()))
                    .clone(),
            )
            .await?;
        Ok(n == 1)
    }
}
