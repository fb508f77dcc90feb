//! [`WebhookDispatcher`]: the deliveries of the alert outbox posted to their webhooks, each
//! until it is delivered or gives up.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axia_domain::{Backoff, Delivery, PostOutcome, StoreError, WebhookOutbox, WebhookSender};

/// What one [`WebhookDispatcher::tick`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Dispatched {
    /// Deliveries claimed.
    pub claimed: usize,
    /// Delivered (2xx).
    pub delivered: usize,
    /// Failed, due again later.
    pub retried: usize,
    /// Gave up: in the dead letters.
    pub dead: usize,
}

/// Posts the due deliveries of an outbox to their webhooks.
///
/// - Each delivery is claimed for a lease longer than a post can take, so a dispatcher that
///   dies mid-post leaves it to the next one: a receiver may see a delivery twice (with the
///   same `webhook-id`, its idempotency key), never miss one.
/// - A failed post is due again after the receiver's `Retry-After`, else after the
///   [`Backoff`] for its attempt (default 5 s doubling to 1 h, jittered); after
///   `max_attempts` (default 10) it goes to the dead letters with its last error, as does a
///   permanent failure (410 Gone, an unknown webhook) at once.
/// - Several dispatchers may share one outbox (the claim is atomic).
#[derive(Clone)]
pub struct WebhookDispatcher {
    outbox: Arc<dyn WebhookOutbox>,
    sender: Arc<dyn WebhookSender>,
    max_attempts: u32,
    backoff: Backoff,
    lease: Duration,
    batch: usize,
    idle: Duration,
}

impl std::fmt::Debug for WebhookDispatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDispatcher")
            .field("max_attempts", &self.max_attempts)
            .field("backoff", &self.backoff)
            .field("lease", &self.lease)
            .field("batch", &self.batch)
            .finish_non_exhaustive()
    }
}

impl WebhookDispatcher {
    /// A dispatcher of `outbox`'s deliveries through `sender`: 10 attempts, backoff 5 s to
    /// 1 h, a lease of 60 s, 32 posts at a time, polling every 250 ms when idle.
    pub fn new(outbox: impl WebhookOutbox + 'static, sender: impl WebhookSender + 'static) -> Self {
        Self {
            outbox: Arc::new(outbox),
            sender: Arc::new(sender),
            max_attempts: 10,
            backoff: Backoff::new(Duration::from_secs(5), Duration::from_secs(3_600)),
            lease: Duration::from_secs(60),
            batch: 32,
            idle: Duration::from_millis(250),
        }
    }

    /// Attempts before a delivery goes to the dead letters (at least 1).
    #[must_use]
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The wait before attempt `n + 1` after `n` failed (when the receiver asks for none).
    #[must_use]
    pub const fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long a claimed delivery is held (longer than a post's timeout).
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_millis(100));
        self
    }

    /// How often an idle dispatcher looks for due deliveries.
    #[must_use]
    pub fn poll_every(mut self, every: Duration) -> Self {
        self.idle = every.max(Duration::from_millis(10));
        self
    }

    /// Claims the due deliveries (up to a batch), posts them concurrently, and settles each.
    ///
    /// # Errors
    /// [`StoreError`] from the outbox; a delivery whose settlement failed comes back after
    /// its lease.
    pub async fn tick(&self) -> Result<Dispatched, StoreError> {
        let claimed = self.outbox.claim(self.lease, self.batch).await?;
        let mut done = Dispatched {
            claimed: claimed.len(),
            ..Dispatched::default()
        };
        let posts = claimed
            .iter()
            .map(|d| async move { (d, self.sender.post(d).await) });
        for (delivery, outcome) in futures_util::future::join_all(posts).await {
            self.settle(delivery, outcome, &mut done).await?;
        }
        Ok(done)
    }

    async fn settle(
        &self,
        d: &Delivery,
        outcome: PostOutcome,
        done: &mut Dispatched,
    ) -> Result<(), StoreError> {
        match outcome {
            PostOutcome::Delivered => {
                tracing::info!(delivery = %d.id, attempt = d.attempt, "alert delivered");
                self.outbox.delivered(&d.id).await?;
                done.delivered += 1;
            }
            PostOutcome::Retry { why, .. } if d.attempt >= self.max_attempts => {
                let why = format!("{why} (attempt {} of {})", d.attempt, self.max_attempts);
                tracing::warn!(delivery = %d.id, error = %why, "alert delivery gave up: dead letter");
                self.outbox.dead(&d.id, &why).await?;
                done.dead += 1;
            }
            PostOutcome::Retry { why, after } => {
                let wait = after.unwrap_or_else(|| self.backoff.delay(d.attempt.saturating_sub(1)));
                tracing::info!(delivery = %d.id, attempt = d.attempt, error = %why, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "alert delivery failed; retried");
                self.outbox.retry(&d.id, wait).await?;
                done.retried += 1;
            }
            PostOutcome::Permanent(why) => {
                tracing::warn!(delivery = %d.id, error = %why, "alert delivery refused for good: dead letter");
                self.outbox.dead(&d.id, &why).await?;
                done.dead += 1;
            }
        }
        Ok(())
    }

    /// Dispatches until `shutdown` completes (the posts in flight finish first). An outbox
    /// error is logged and retried after the backoff.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let mut failures = 0u32;
        loop {
            let wait = match self.tick().await {
                Ok(d) if d.claimed > 0 => {
                    failures = 0;
                    Duration::ZERO
                }
                Ok(_) => {
                    failures = 0;
                    self.idle
                }
                Err(e) => {
                    tracing::warn!(error = %e, "the alert outbox failed; trying again");
                    failures = failures.saturating_add(1);
                    self.backoff
                        .delay(failures.saturating_sub(1))
                        .min(Duration::from_secs(30))
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use axia_domain::{AlertRule, Bar, MockWebhookOutbox, MockWebhookSender, Timeframe};
    use chrono::{TimeZone, Utc};
    use mockall::predicate::eq;

    use super::*;

    fn delivery(id: &str, attempt: u32) -> Delivery {
        let mut rule = AlertRule::new(
            "r".parse().unwrap(),
            "EURUSD".parse().unwrap(),
            Timeframe::M1,
            "close > 0".parse().unwrap(),
        );
        rule.webhooks = vec!["ops".parse().unwrap()];
        let bar = Bar::new(
            Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap(),
            1.0,
            1.0,
            1.0,
            1.0,
            0.0,
        )
        .unwrap();
        Delivery {
            id: id.to_owned(),
            webhook: "ops".parse().unwrap(),
            alert: rule.fire(&bar, false, Default::default()),
            attempt,
        }
    }

    #[tokio::test]
    async fn each_outcome_settles_its_delivery() {
        let mut outbox = MockWebhookOutbox::new();
        outbox.expect_claim().times(1).returning(|_, _| {
            Ok(vec![
                delivery("ok", 1),
                delivery("flaky", 2),
                delivery("asked", 1),
                delivery("last", 3),
                delivery("gone", 1),
            ])
        });
        outbox
            .expect_delivered()
            .with(eq("ok"))
            .times(1)
            .returning(|_| Ok(()));
        // Attempt 2 failed: the backoff of its second retry, 2 to 4 s here.
        outbox
            .expect_retry()
            .withf(|id, after| {
                id == "flaky"
                    && *after >= Duration::from_secs(2)
                    && *after <= Duration::from_secs(4)
            })
            .times(1)
            .returning(|_, _| Ok(()));
        outbox
            .expect_retry()
            .withf(|id, after| id == "asked" && *after == Duration::from_secs(7))
            .times(1)
            .returning(|_, _| Ok(()));
        outbox
            .expect_dead()
            .withf(|id, why| id == "last" && why.contains("500") && why.contains("attempt 3 of 3"))
            .times(1)
            .returning(|_, _| Ok(()));
        outbox
            .expect_dead()
            .withf(|id, why| id == "gone" && why.contains("410"))
            .times(1)
            .returning(|_, _| Ok(()));
        let mut sender = MockWebhookSender::new();
        sender
            .expect_post()
            .times(5)
            .returning(|d| match d.id.as_str() {
                "ok" => PostOutcome::Delivered,
                "asked" => PostOutcome::Retry {
                    why: "the receiver answered 429".into(),
                    after: Some(Duration::from_secs(7)),
                },
                "gone" => PostOutcome::Permanent("410 Gone".into()),
                _ => PostOutcome::Retry {
                    why: "the receiver answered 500".into(),
                    after: None,
                },
            });
        let d = WebhookDispatcher::new(outbox, sender)
            .max_attempts(3)
            .backoff(Backoff::new(
                Duration::from_secs(2),
                Duration::from_secs(60),
            ));
        assert_eq!(
            d.tick().await.unwrap(),
            Dispatched {
                claimed: 5,
                delivered: 1,
                retried: 2,
                dead: 2
            }
        );
    }

    #[tokio::test]
    async fn an_outbox_that_fails_to_claim_is_an_error_and_nothing_is_posted() {
        let mut outbox = MockWebhookOutbox::new();
        outbox
            .expect_claim()
            .times(1)
            .returning(|_, _| Err(StoreError::Unavailable("down".into())));
        let mut sender = MockWebhookSender::new();
        sender.expect_post().times(0);
        let d = WebhookDispatcher::new(outbox, sender);
        assert!(d.tick().await.is_err());
    }
}
