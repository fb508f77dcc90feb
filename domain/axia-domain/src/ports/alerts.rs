//! [`AlertLog`]: where fired alerts are recorded, once each.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::{Alert, WebhookName};

/// What [`AlertLog::record`] did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertRecorded {
    /// The alert is new: it was appended to the log under this entry id (ordered, unique).
    New(String),
    /// An alert with this id was recorded before: nothing was written.
    Duplicate,
}

/// An alert as the log holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoggedAlert {
    /// The log's entry id: entries are ordered by it.
    pub entry: String,
    /// The alert.
    pub alert: Alert,
}

/// Where fired alerts are recorded: an ordered log that keeps one entry per
/// [`AlertId`](crate::AlertId), so evaluating a bar twice (a replay after a restart, a forming and then a
/// closed bar of a once-per-bar rule) records its alert once.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AlertLog: Send + Sync {
    /// Appends `alert` unless one with its id was recorded before (the check and the append
    /// are one step: two concurrent records of one id append once). A log that is also a
    /// [`WebhookOutbox`] queues one delivery per webhook of the alert in that same step.
    ///
    /// # Errors
    /// [`StoreError`] when the log cannot be reached; then nothing was recorded.
    async fn record(&self, alert: &Alert) -> Result<AlertRecorded, StoreError>;

    /// The newest `limit` alerts recorded, oldest first.
    ///
    /// # Errors
    /// [`StoreError`]; [`StoreError::Corrupt`] for an entry that cannot be decoded.
    async fn recent(&self, limit: usize) -> Result<Vec<LoggedAlert>, StoreError>;
}

#[async_trait]
impl<T: AlertLog + ?Sized> AlertLog for std::sync::Arc<T> {
    async fn record(&self, alert: &Alert) -> Result<AlertRecorded, StoreError> {
        (**self).record(alert).await
    }
    async fn recent(&self, limit: usize) -> Result<Vec<LoggedAlert>, StoreError> {
        (**self).recent(limit).await
    }
}

/// One alert to post to one webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// `{alert id}|{webhook}`: the same on every attempt (the receivers' idempotency key).
    pub id: String,
    /// Where to.
    pub webhook: WebhookName,
    /// What.
    pub alert: Alert,
    /// This attempt's number, from 1.
    pub attempt: u32,
}

impl Delivery {
    /// The id of `alert`'s delivery to `webhook`.
    #[must_use]
    pub fn id_of(alert: &Alert, webhook: &WebhookName) -> String {
        format!("{}|{}", alert.id, webhook.as_str())
    }
}

/// A delivery that gave up, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetter {
    /// The delivery (its `attempt`: how many were made).
    pub delivery: Delivery,
    /// The last error.
    pub error: String,
    /// When it gave up, epoch milliseconds.
    pub dead_at_ms: i64,
}

/// The deliveries still to make to webhooks, each until it is delivered or dead: what
/// [`AlertLog::record`] queued. Claimed deliveries come back by themselves when their claimer
/// neither finishes nor reschedules them in time (it crashed).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookOutbox: Send + Sync {
    /// Up to `limit` deliveries that are due, each claimed for `lease` (not given to another
    /// claimer meanwhile), their attempt counted.
    ///
    /// # Errors
    /// [`StoreError`]; [`StoreError::Corrupt`] for a delivery that cannot be decoded (it is
    /// moved to the dead letters, not retried).
    async fn claim(
        &self,
        lease: std::time::Duration,
        limit: usize,
    ) -> Result<Vec<Delivery>, StoreError>;

    /// The delivery reached its webhook: forgotten.
    ///
    /// # Errors
    /// [`StoreError`] (it then comes back after its lease and is posted again).
    async fn delivered(&self, id: &str) -> Result<(), StoreError>;

    /// The delivery failed; it is due again after `after`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn retry(&self, id: &str, after: std::time::Duration) -> Result<(), StoreError>;

    /// The delivery gave up: moved to the dead letters with `error`.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn dead(&self, id: &str, error: &str) -> Result<(), StoreError>;

    /// The newest `limit` dead letters, oldest first.
    ///
    /// # Errors
    /// [`StoreError`].
    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError>;

    /// How many deliveries are still to make (due or not).
    ///
    /// # Errors
    /// [`StoreError`].
    async fn pending(&self) -> Result<usize, StoreError>;
}

/// What one post to a webhook came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// A 2xx answer.
    Delivered,
    /// Worth another try (no answer, a timeout, 5xx, 429, any other status); `after`: what
    /// the receiver asked for (`Retry-After`), if anything.
    Retry {
        /// Why, one line (no secret).
        why: String,
        /// The receiver's `Retry-After`.
        after: Option<std::time::Duration>,
    },
    /// Never worth another try (410 Gone, an unknown webhook): dead at once.
    Permanent(String),
}

/// Posts an alert to a webhook by name (signed, with the delivery id as idempotency key).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookSender: Send + Sync {
    /// Posts `delivery`.
    async fn post(&self, delivery: &Delivery) -> PostOutcome;
}
