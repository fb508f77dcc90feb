//! [`MemoryAlertLog`].

use std::collections::{HashSet, VecDeque};
use std::sync::Mutex;

use async_trait::async_trait;
use axia_domain::{Alert, AlertId, AlertLog, AlertRecorded, LoggedAlert, StoreError, lock};

#[derive(Debug, Default)]
struct Log {
    seen: HashSet<AlertId>,
    entries: VecDeque<LoggedAlert>,
    next: u64,
}

/// Alerts in memory, with the rules of the Redis log: one entry per alert id, entries
/// numbered in the order they were recorded, the newest `capacity` kept (the ids seen are
/// all remembered). For backtests, single-process tools and tests.
#[derive(Debug)]
pub struct MemoryAlertLog {
    log: Mutex<Log>,
    capacity: usize,
}

impl Default for MemoryAlertLog {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryAlertLog {
    /// An empty log keeping 10,000 alerts.
    #[must_use]
    pub fn new() -> Self {
        Self {
            log: Mutex::default(),
            capacity: 10_000,
        }
    }
}

#[async_trait]
impl AlertLog for MemoryAlertLog {
    async fn record(&self, alert: &Alert) -> Result<AlertRecorded, StoreError> {
        let mut log = lock(&self.log);
        if !log.seen.insert(alert.id.clone()) {
            return Ok(AlertRecorded::Duplicate);
        }
        log.next += 1;
        let entry = format!("{:020}", log.next);
        log.entries.push_back(LoggedAlert {
            entry: entry.clone(),
            alert: alert.clone(),
        });
        while log.entries.len() > self.capacity {
            log.entries.pop_front();
        }
        Ok(AlertRecorded::New(entry))
    }

    async fn recent(&self, limit: usize) -> Result<Vec<LoggedAlert>, StoreError> {
        let log = lock(&self.log);
        let skip = log.entries.len().saturating_sub(limit);
        Ok(log.entries.iter().skip(skip).cloned().collect())
    }
}
