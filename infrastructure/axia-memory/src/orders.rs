//! In-memory order adapters: a store, a kill switch and a queue, for tests, backtests and
//! benchmarks. They hold the ports' contracts within one process.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{
    Clock, CreateOutcome, KillSwitch, KillSwitchAudit, KillSwitchChange, KillSwitchError,
    KillSwitchRecord, KillSwitchScope, Order, OrderId, OrderQueue, OrderStatus, OrderStore,
    OrderStoreError, QueueError, QueueMessage,
};

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Orders in a map; creation and conditional updates are atomic.
#[derive(Debug, Default)]
pub struct MemoryOrderStore {
    orders: Mutex<HashMap<OrderId, Order>>,
}

#[async_trait]
impl OrderStore for MemoryOrderStore {
    async fn create_if_absent(&self, order: &Order) -> Result<CreateOutcome, OrderStoreError> {
        let mut orders = lock(&self.orders);
        if let Some(o) = orders.get(order.id()) {
            return Ok(CreateOutcome::AlreadyExists(Box::new(o.clone())));
        }
        orders.insert(order.id().clone(), order.clone());
        Ok(CreateOutcome::Created)
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, OrderStoreError> {
        Ok(lock(&self.orders).get(id).cloned())
    }

    async fn update(&self, order: &Order, expected: OrderStatus) -> Result<(), OrderStoreError> {
        let mut orders = lock(&self.orders);
        let actual = orders.get(order.id()).map(Order::status);
        if actual != Some(expected) {
            return Err(OrderStoreError::Conflict {
                id: order.id().clone(),
                expected,
                actual,
            });
        }
        orders.insert(order.id().clone(), order.clone());
        Ok(())
    }
}

/// Kill switches and their audit trail in memory.
pub struct MemoryKillSwitch {
    clock: std::sync::Arc<dyn Clock>,
    records: Mutex<HashMap<KillSwitchScope, KillSwitchRecord>>,
    trail: Mutex<Vec<KillSwitchAudit>>,
}

impl std::fmt::Debug for MemoryKillSwitch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryKillSwitch").finish_non_exhaustive()
    }
}

impl MemoryKillSwitch {
    /// Every switch active; `clock` stamps changes.
    #[must_use]
    pub fn new(clock: std::sync::Arc<dyn Clock>) -> Self {
        Self {
            clock,
            records: Mutex::default(),
            trail: Mutex::default(),
        }
    }

    /// Every change so far, oldest first.
    #[must_use]
    pub fn audit(&self) -> Vec<KillSwitchAudit> {
        lock(&self.trail).clone()
    }
}

#[async_trait]
impl KillSwitch for MemoryKillSwitch {
    async fn read(&self, scope: &KillSwitchScope) -> Result<KillSwitchRecord, KillSwitchError> {
        Ok(lock(&self.records)
            .get(scope)
            .cloned()
            .unwrap_or_else(|| KillSwitchRecord::never_set(scope.clone())))
    }

    async fn set(
        &self,
        scope: &KillSwitchScope,
        change: KillSwitchChange,
    ) -> Result<KillSwitchAudit, KillSwitchError> {
        let mut records = lock(&self.records);
        let current = records
            .get(scope)
            .cloned()
            .unwrap_or_else(|| KillSwitchRecord::never_set(scope.clone()));
        let audit = current.apply(change, self.clock.now());
        records.insert(scope.clone(), audit.current.clone());
        lock(&self.trail).push(audit.clone());
        Ok(audit)
    }
}

/// A queue in memory. A received message is gone from the queue (no visibility timeout, no
/// redelivery): for throughput tests and single-process runs.
#[derive(Debug, Default)]
pub struct MemoryOrderQueue {
    ready: Mutex<VecDeque<QueueMessage>>,
    next: AtomicU64,
    acked: AtomicU64,
    rejected: Mutex<Vec<(QueueMessage, String)>>,
}

impl MemoryOrderQueue {
    /// Enqueues a body.
    pub fn push(&self, body: impl Into<String>) {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        lock(&self.ready).push_back(QueueMessage {
            message_id: format!("m-{n}"),
            body: body.into(),
            receipt: format!("r-{n}"),
            receive_count: 1,
        });
    }

    /// Messages acked so far.
    #[must_use]
    pub fn acked(&self) -> u64 {
        self.acked.load(Ordering::SeqCst)
    }

    /// Messages rejected so far, with their reasons.
    #[must_use]
    pub fn rejected(&self) -> Vec<(QueueMessage, String)> {
        lock(&self.rejected).clone()
    }
}

#[async_trait]
impl OrderQueue for MemoryOrderQueue {
    async fn receive(&self, max: u16, _wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        let mut ready = lock(&self.ready);
        let n = usize::from(max).min(ready.len());
        Ok(ready.drain(..n).collect())
    }

    async fn ack(&self, _message: &QueueMessage) -> Result<(), QueueError> {
        self.acked.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }

    async fn reject(&self, message: &QueueMessage, reason: &str) -> Result<(), QueueError> {
        lock(&self.rejected).push((message.clone(), reason.to_owned()));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use axia_domain::{KillSwitchState, ManualClock, OrderType, Side};
    use chrono::TimeZone;

    use super::*;

    fn order() -> Order {
        let t = chrono::Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
        Order::new(
            "o-1".parse().unwrap(),
            "c-1".parse().unwrap(),
            "USDJPY".parse().unwrap(),
            Side::Buy,
            OrderType::Market,
            "1".parse().unwrap(),
            t,
        )
    }

    #[tokio::test]
    async fn the_store_creates_once_and_updates_conditionally() {
        let s = MemoryOrderStore::default();
        assert_eq!(
            s.create_if_absent(&order()).await.unwrap(),
            CreateOutcome::Created
        );
        assert!(matches!(
            s.create_if_absent(&order()).await.unwrap(),
            CreateOutcome::AlreadyExists(_)
        ));
        let mut o = order();
        o.mark_submitted(o.created_at()).unwrap();
        s.update(&o, OrderStatus::Received).await.unwrap();
        assert!(matches!(
            s.update(&o, OrderStatus::Received).await,
            Err(OrderStoreError::Conflict {
                actual: Some(OrderStatus::Submitted),
                ..
            })
        ));
    }

    #[tokio::test]
    async fn the_kill_switch_records_an_audit_chain_and_the_queue_counts() {
        let ks = MemoryKillSwitch::new(Arc::new(ManualClock::new(chrono::Utc::now())));
        ks.set(
            &KillSwitchScope::Global,
            KillSwitchChange::new(KillSwitchState::Halted, "x", "me").unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(
            ks.read(&KillSwitchScope::Global).await.unwrap().state,
            KillSwitchState::Halted
        );
        assert_eq!(ks.audit().len(), 1);
        let q = MemoryOrderQueue::default();
        q.push("a");
        q.push("b");
        let got = q.receive(10, Duration::ZERO).await.unwrap();
        assert_eq!(got.len(), 2);
        q.ack(&got[0]).await.unwrap();
        q.reject(&got[1], "bad").await.unwrap();
        assert_eq!((q.acked(), q.rejected().len()), (1, 1));
        assert!(q.receive(10, Duration::ZERO).await.unwrap().is_empty());
    }
}
