//! In-memory order adapters: a store, a kill switch and a queue, for tests, backtests and
//! benchmarks. They hold the ports' contracts within one process.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{
    Claim, ClaimOutcome, ClientOrderId, Clock, CreateOutcome, Execution, ExecutionBook,
    ExecutionError, KillSwitch, KillSwitchAudit, KillSwitchChange, KillSwitchError,
    KillSwitchRecord, KillSwitchScope, Order, OrderId, OrderQueue, OrderStatus, OrderStore,
    OrderStoreError, PoisonRecord, QueueError, QueueMessage, Recorded, lock,
};
use chrono::{DateTime, Utc};

/// Orders in a map; creation, claims and conditional updates are atomic.
#[derive(Debug, Default)]
pub struct MemoryOrderStore {
    orders: Mutex<HashMap<OrderId, (Order, Option<Claim>)>>,
    poison: Mutex<HashMap<String, PoisonRecord>>,
}

impl MemoryOrderStore {
    /// The poison records kept so far.
    #[must_use]
    pub fn poison_records(&self) -> Vec<PoisonRecord> {
        lock(&self.poison).values().cloned().collect()
    }

    /// The claim standing on `id`, if any.
    #[must_use]
    pub fn claim_of(&self, id: &OrderId) -> Option<Claim> {
        lock(&self.orders).get(id).and_then(|(_, c)| c.clone())
    }
}

fn absent(id: &OrderId) -> OrderStoreError {
    OrderStoreError::Conflict {
        id: id.clone(),
        expected: OrderStatus::Received,
        actual: None,
    }
}

#[async_trait]
impl OrderStore for MemoryOrderStore {
    async fn create_if_absent(&self, order: &Order) -> Result<CreateOutcome, OrderStoreError> {
        let mut orders = lock(&self.orders);
        if let Some((o, _)) = orders.get(order.id()) {
            return Ok(CreateOutcome::AlreadyExists(Box::new(o.clone())));
        }
        orders.insert(order.id().clone(), (order.clone(), None));
        Ok(CreateOutcome::Created)
    }

    async fn get(&self, id: &OrderId) -> Result<Option<Order>, OrderStoreError> {
        Ok(lock(&self.orders).get(id).map(|(o, _)| o.clone()))
    }

    async fn claim(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ClaimOutcome, OrderStoreError> {
        let mut orders = lock(&self.orders);
        let (_, claim) = orders.get_mut(id).ok_or_else(|| absent(id))?;
        match claim {
            Some(c) if c.owner != owner && c.is_live(now) => Ok(ClaimOutcome::Held(c.clone())),
            _ => {
                let previous = claim.replace(Claim {
                    owner: owner.to_owned(),
                    expires_at: until,
                });
                Ok(ClaimOutcome::Acquired { previous })
            }
        }
    }

    async fn renew(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), OrderStoreError> {
        let mut orders = lock(&self.orders);
        let (_, claim) = orders.get_mut(id).ok_or_else(|| absent(id))?;
        match claim {
            Some(c) if c.owner == owner && c.is_live(now) => {
                c.expires_at = until;
                Ok(())
            }
            other => Err(OrderStoreError::ClaimLost {
                id: id.clone(),
                owner: owner.to_owned(),
                holder: other.clone(),
            }),
        }
    }

    async fn release(&self, id: &OrderId, owner: &str) -> Result<(), OrderStoreError> {
        if let Some((_, claim)) = lock(&self.orders).get_mut(id)
            && claim.as_ref().is_some_and(|c| c.owner == owner)
        {
            *claim = None;
        }
        Ok(())
    }

    async fn update(
        &self,
        order: &Order,
        expected: OrderStatus,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OrderStoreError> {
        let mut orders = lock(&self.orders);
        let Some((stored, claim)) = orders.get_mut(order.id()) else {
            return Err(absent(order.id()));
        };
        if stored.status() != expected {
            return Err(OrderStoreError::Conflict {
                id: order.id().clone(),
                expected,
                actual: Some(stored.status()),
            });
        }
        if !claim
            .as_ref()
            .is_some_and(|c| c.owner == owner && c.is_live(now))
        {
            return Err(OrderStoreError::ClaimLost {
                id: order.id().clone(),
                owner: owner.to_owned(),
                holder: claim.clone(),
            });
        }
        *stored = order.clone();
        Ok(())
    }

    async fn record_poison(&self, record: &PoisonRecord) -> Result<(), OrderStoreError> {
        lock(&self.poison)
            .entry(record.message_id.clone())
            .or_insert_with(|| record.clone());
        Ok(())
    }
}

/// A paper executor's book in memory: shared by every executor given the same book in one
/// process.
#[derive(Debug, Default)]
pub struct MemoryExecutionBook {
    executions: Mutex<HashMap<ClientOrderId, (Execution, u64)>>,
}

impl MemoryExecutionBook {
    /// Executions recorded (distinct client order ids).
    #[must_use]
    pub fn executions(&self) -> usize {
        lock(&self.executions).len()
    }

    /// Calls to [`ExecutionBook::record_first`], all ids together.
    #[must_use]
    pub fn attempts(&self) -> u64 {
        lock(&self.executions).values().map(|(_, n)| n).sum()
    }
}

#[async_trait]
impl ExecutionBook for MemoryExecutionBook {
    async fn record_first(&self, execution: &Execution) -> Result<Recorded, ExecutionError> {
        let mut book = lock(&self.executions);
        let entry = book
            .entry(execution.client_order_id.clone())
            .or_insert_with(|| (execution.clone(), 0));
        entry.1 += 1;
        Ok(Recorded {
            execution: entry.0.clone(),
            first: entry.1 == 1,
        })
    }

    async fn get(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError> {
        Ok(lock(&self.executions)
            .get(client_order_id)
            .map(|(e, _)| e.clone()))
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
    pub fn new(clock: impl Clock + 'static) -> Self {
        let clock: std::sync::Arc<dyn Clock> = std::sync::Arc::new(clock);
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

/// A queue in memory. A received message is gone from the queue until it is acked, rejected or
/// put back with [`OrderQueue::retry_later`] (which puts it back at once, whatever the delay;
/// there is no visibility timeout): for throughput tests and single-process runs.
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

    async fn retry_later(
        &self,
        message: &QueueMessage,
        _after: Duration,
    ) -> Result<(), QueueError> {
        let mut again = message.clone();
        again.receive_count += 1;
        lock(&self.ready).push_back(again);
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
        let t = o.created_at();
        let later = t + chrono::Duration::seconds(30);
        o.mark_submitted(t, "p1").unwrap();
        // No claim: no update.
        assert!(matches!(
            s.update(&o, OrderStatus::Received, "p1", t).await,
            Err(OrderStoreError::ClaimLost { .. })
        ));
        assert!(matches!(
            s.claim(o.id(), "p1", t, later).await.unwrap(),
            ClaimOutcome::Acquired { previous: None }
        ));
        assert!(
            matches!(s.claim(o.id(), "p2", t, later).await.unwrap(), ClaimOutcome::Held(c) if c.owner == "p1")
        );
        s.update(&o, OrderStatus::Received, "p1", t).await.unwrap();
        assert!(matches!(
            s.update(&o, OrderStatus::Received, "p1", t).await,
            Err(OrderStoreError::Conflict {
                actual: Some(OrderStatus::Submitted),
                ..
            })
        ));
        // Once it lapses another processor takes it over, and the first can no longer write.
        assert!(
            matches!(s.claim(o.id(), "p2", later, later + chrono::Duration::seconds(30)).await.unwrap(), ClaimOutcome::Acquired { previous: Some(c) } if c.owner == "p1")
        );
        assert!(matches!(
            s.renew(o.id(), "p1", later, later).await,
            Err(OrderStoreError::ClaimLost { .. })
        ));
        s.release(o.id(), "p2").await.unwrap();
        assert_eq!(s.claim_of(o.id()), None);
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
        q.push("c");
        let c = q.receive(1, Duration::ZERO).await.unwrap();
        q.retry_later(&c[0], Duration::from_secs(5)).await.unwrap();
        let again = q.receive(1, Duration::ZERO).await.unwrap();
        assert_eq!((again[0].body.as_str(), again[0].receive_count), ("c", 2));
    }
}
