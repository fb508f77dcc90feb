//! [`UpdateFeed`]: the hot tier's update messages, live.

use futures_util::StreamExt;

use crate::UpdateMessage;

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
