//! [`AlertLog`]: where fired alerts are recorded, once each.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::StoreError;
use crate::Alert;

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
    /// are one step: two concurrent records of one id append once).
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
