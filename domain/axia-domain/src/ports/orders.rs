//! The order path's ports: the order store, the kill switch, the executor, the queue, the
//! execution book and the reference price.

use std::time::Duration;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{BoxError, MarketDataError};
use crate::Symbol;
use crate::killswitch::{KillSwitchAudit, KillSwitchChange, KillSwitchRecord, KillSwitchScope};
use crate::order::{ClientOrderId, Fill, Order, OrderId, OrderStatus};

/// Why an order-store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OrderStoreError {
    /// A conditional update found another status than the expected one.
    #[error("order {id} is {actual:?}, expected {expected}")]
    Conflict {
        /// The order.
        id: OrderId,
        /// The status the writer expected.
        expected: OrderStatus,
        /// The status found (`None` when the order is absent).
        actual: Option<OrderStatus>,
    },
    /// The store cannot be reached.
    #[error("order store unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer in time.
    #[error("order store timed out after {0:?}")]
    Timeout(Duration),
    /// The writer does not hold a live claim on the order (it expired and another processor
    /// may have taken it, or it was never taken).
    #[error("order {id}: no live claim of {owner}{}", holder.as_ref().map(|h| format!(" (held by {} until {})", h.owner, h.expires_at.to_rfc3339())).unwrap_or_default())]
    ClaimLost {
        /// The order.
        id: OrderId,
        /// The writer.
        owner: String,
        /// Who holds it now, if anyone.
        holder: Option<Claim>,
    },
    /// A stored order could not be decoded.
    #[error("corrupt order {id}: {detail}")]
    Corrupt {
        /// The order id as stored.
        id: String,
        /// What is wrong.
        detail: String,
    },
    /// Any other failure.
    #[error("order store backend error: {0}")]
    Backend(#[source] BoxError),
}

/// A processor's exclusive right to act on an order (submit it, settle it) until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claim {
    /// Who holds it: a processor's unique id (host, process and a random part).
    pub owner: String,
    /// When it lapses unless renewed.
    pub expires_at: DateTime<Utc>,
}

impl Claim {
    /// True when the claim still stands at `now`.
    #[must_use]
    pub fn is_live(&self, now: DateTime<Utc>) -> bool {
        self.expires_at > now
    }
}

/// The outcome of [`OrderStore::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// The claim is ours until the time asked for. `previous` is the claim it replaced: our
    /// own (renewed), another owner's that had expired (its owner died or hung), or none.
    Acquired {
        /// The claim replaced, if any.
        previous: Option<Claim>,
    },
    /// Another owner holds a live claim: leave the order alone until it is final or the claim
    /// expires.
    Held(Claim),
}

/// A message that can never be processed, kept with its reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PoisonRecord {
    /// The queue's id of the message.
    pub message_id: String,
    /// The stable reason code (`INVALID_MESSAGE`, …).
    pub code: String,
    /// What exactly was wrong.
    pub detail: String,
    /// The body as received (at most 4 KiB of it).
    pub body: String,
    /// When it was recorded.
    pub at: DateTime<Utc>,
    /// Who recorded it.
    pub by: String,
}

/// The outcome of [`OrderStore::create_if_absent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CreateOutcome {
    /// The order was stored.
    Created,
    /// An order with the same id was already stored; here it is, as stored.
    AlreadyExists(Box<Order>),
}

/// Where orders are kept.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderStore: Send + Sync {
    /// Stores `order` unless an order with its id exists (atomically: two concurrent calls with
    /// the same id create one order).
    ///
    /// # Errors
    /// [`OrderStoreError::Unavailable`], [`OrderStoreError::Timeout`],
    /// [`OrderStoreError::Backend`]; [`OrderStoreError::Corrupt`] when the existing order cannot
    /// be decoded.
    async fn create_if_absent(&self, order: &Order) -> Result<CreateOutcome, OrderStoreError>;

    /// The order with `id`, if stored.
    ///
    /// # Errors
    /// As [`OrderStore::create_if_absent`].
    async fn get(&self, id: &OrderId) -> Result<Option<Order>, OrderStoreError>;

    /// Takes (or renews) the claim on order `id` for `owner` until `until`, atomically: it
    /// succeeds when no claim stands, the standing one has expired at `now`, or `owner` holds
    /// it. Clocks of processors must agree to well within a lease.
    ///
    /// # Errors
    /// [`OrderStoreError::Conflict`] (actual `None`) when the order is absent; otherwise as
    /// [`OrderStore::create_if_absent`].
    async fn claim(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ClaimOutcome, OrderStoreError>;

    /// Extends `owner`'s live claim on `id` to `until`.
    ///
    /// # Errors
    /// [`OrderStoreError::ClaimLost`] when `owner` has no live claim at `now`; otherwise as
    /// [`OrderStore::create_if_absent`].
    async fn renew(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), OrderStoreError>;

    /// Gives up `owner`'s claim on `id` (no effect when it holds none).
    ///
    /// # Errors
    /// As [`OrderStore::create_if_absent`].
    async fn release(&self, id: &OrderId, owner: &str) -> Result<(), OrderStoreError>;

    /// Replaces the stored order with `order` if the stored status is `expected` and `owner`
    /// holds a live claim on it at `now`.
    ///
    /// # Errors
    /// [`OrderStoreError::Conflict`] when the stored status is another (a stale writer) or the
    /// order is absent; [`OrderStoreError::ClaimLost`] when `owner` holds no live claim;
    /// otherwise as [`OrderStore::create_if_absent`].
    async fn update(
        &self,
        order: &Order,
        expected: OrderStatus,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OrderStoreError>;

    /// Keeps a poison message's record (idempotent by message id).
    ///
    /// # Errors
    /// As [`OrderStore::create_if_absent`].
    async fn record_poison(&self, record: &PoisonRecord) -> Result<(), OrderStoreError>;
}

/// Why a kill-switch operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KillSwitchError {
    /// The store cannot be reached. Order processing treats this as halted (fails closed).
    #[error("kill switch unavailable: {0}")]
    Unavailable(String),
    /// The store did not answer in time.
    #[error("kill switch timed out after {0:?}")]
    Timeout(Duration),
    /// A stored record could not be decoded.
    #[error("corrupt kill-switch record for {scope}: {detail}")]
    Corrupt {
        /// The scope.
        scope: String,
        /// What is wrong.
        detail: String,
    },
    /// Any other failure.
    #[error("kill switch backend error: {0}")]
    Backend(#[source] BoxError),
}

/// Where kill switches are kept.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait KillSwitch: Send + Sync {
    /// The switch for `scope`, read strongly consistent; a switch never set is
    /// [`KillSwitchRecord::never_set`] (active).
    ///
    /// # Errors
    /// [`KillSwitchError`]; callers deciding on an order must treat any error as halted.
    async fn read(&self, scope: &KillSwitchScope) -> Result<KillSwitchRecord, KillSwitchError>;

    /// Applies `change` to the switch for `scope` and writes the audit entry of it, atomically.
    ///
    /// # Errors
    /// [`KillSwitchError`]; on error neither the switch nor the audit trail changed.
    async fn set(
        &self,
        scope: &KillSwitchScope,
        change: KillSwitchChange,
    ) -> Result<KillSwitchAudit, KillSwitchError>;
}

/// Why an executor call failed (a broker's refusal is not an error: see [`ExecutionOutcome`]).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExecutionError {
    /// The executor cannot be reached; the order may or may not have arrived.
    #[error("executor unavailable: {0}")]
    Unavailable(String),
    /// No answer in time; the order may or may not have arrived.
    #[error("executor timed out after {0:?}")]
    Timeout(Duration),
    /// The broker refused the credentials: nothing was placed, and retrying will not help.
    /// The message never holds the credentials.
    #[error("the executor refused the credentials: {0}")]
    Unauthorized(String),
    /// Any other failure.
    #[error("executor backend error: {0}")]
    Backend(#[source] BoxError),
}

/// What the executor did with an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ExecutionOutcome {
    /// Filled.
    Filled(Fill),
    /// Accepted and working (a resting limit or stop order).
    Accepted {
        /// The broker's id.
        broker_order_id: String,
    },
    /// Refused by the broker.
    Rejected {
        /// The broker's code.
        code: String,
        /// The broker's message.
        detail: String,
    },
}

/// The executor's record of one order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// The id the order was submitted with.
    pub client_order_id: ClientOrderId,
    /// What happened.
    pub outcome: ExecutionOutcome,
    /// What the order that got this execution asked for, as the executor recorded it (`None`
    /// in records written before it was kept). An execution found by client order id belongs
    /// to an order only when these are its terms: a reused client order id finds another
    /// order's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<crate::OrderTerms>,
}

impl Execution {
    /// `outcome` for `order`, its terms recorded.
    #[must_use]
    pub fn of(order: &crate::Order, outcome: ExecutionOutcome) -> Self {
        Self {
            client_order_id: order.client_order_id().clone(),
            outcome,
            order: Some(order.terms()),
        }
    }
}

/// Sends orders to a broker.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderExecutor: Send + Sync {
    /// Submits `order`, idempotent by its client order id: submitting the same client order id
    /// again returns the first execution and never places a second order.
    ///
    /// # Errors
    /// [`ExecutionError`] when the outcome is unknown; reconcile with [`OrderExecutor::lookup`].
    async fn submit(&self, order: &Order) -> Result<Execution, ExecutionError>;

    /// The execution of the order submitted with `client_order_id`, if the broker has one.
    ///
    /// # Errors
    /// [`ExecutionError`].
    async fn lookup(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError>;
}

/// Why an order-queue operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum QueueError {
    /// The queue cannot be reached.
    #[error("queue unavailable: {0}")]
    Unavailable(String),
    /// The receipt is no longer valid (the visibility timeout passed; the message will be
    /// delivered again).
    #[error("receipt expired for message {0}")]
    ReceiptExpired(String),
    /// Any other failure.
    #[error("queue backend error: {0}")]
    Backend(#[source] BoxError),
}

/// One delivery of a message from the order queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    /// The queue's id of the message (the same on every delivery).
    pub message_id: String,
    /// The body, as sent.
    pub body: String,
    /// What acknowledges this delivery.
    pub receipt: String,
    /// How many times the message has been delivered, this one included.
    pub receive_count: u32,
}

/// Where order messages arrive.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderQueue: Send + Sync {
    /// Up to `max` messages, waiting up to `wait` for the first. A received message is hidden
    /// from other receivers until it is acknowledged or its visibility timeout passes.
    ///
    /// # Errors
    /// [`QueueError`].
    async fn receive(&self, max: u16, wait: Duration) -> Result<Vec<QueueMessage>, QueueError>;

    /// Removes a processed message; call only after its outcome is persisted.
    ///
    /// # Errors
    /// [`QueueError`]; [`QueueError::ReceiptExpired`] when it will be delivered again.
    async fn ack(&self, message: &QueueMessage) -> Result<(), QueueError>;

    /// Records a message that can never be processed (unparseable, invalid) with `reason`, and
    /// removes it so it is not delivered again.
    ///
    /// # Errors
    /// [`QueueError`].
    async fn reject(&self, message: &QueueMessage, reason: &str) -> Result<(), QueueError>;

    /// Makes the message visible again after `after` (zero: at once), instead of when its
    /// visibility timeout ends: for an order another processor holds, or a message received
    /// during shutdown.
    ///
    /// # Errors
    /// [`QueueError`]; [`QueueError::ReceiptExpired`] when it is already visible again.
    async fn retry_later(&self, message: &QueueMessage, after: Duration) -> Result<(), QueueError>;
}

/// What [`ExecutionBook::record_first`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded {
    /// The execution recorded for the client order id (the first one).
    pub execution: Execution,
    /// True when this call recorded it; false when one was recorded before.
    pub first: bool,
}

/// Where a paper executor keeps its executions, so every process sees them and lookups by
/// client order id work across processes, as they do at a broker.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ExecutionBook: Send + Sync {
    /// Records `execution` unless one is recorded for its client order id, atomically, and
    /// returns the one recorded (the first wins). Counts every call for that id: each is a
    /// submission that reached the executor.
    ///
    /// # Errors
    /// [`ExecutionError`] when the book cannot be reached: the outcome is unknown.
    async fn record_first(&self, execution: &Execution) -> Result<Recorded, ExecutionError>;

    /// The execution recorded for `client_order_id`.
    ///
    /// # Errors
    /// [`ExecutionError`].
    async fn get(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError>;
}

/// The market's current price of a symbol, for order checks that need one (notional of a
/// market order, price deviation).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ReferencePrice: Send + Sync {
    /// The last price, or `None` when none is known (a closed market with no recent bar).
    ///
    /// # Errors
    /// [`MarketDataError`] when the source cannot answer; callers fail closed.
    async fn last_price(&self, symbol: &Symbol) -> Result<Option<crate::Price>, MarketDataError>;
}

// A shared handle to a port is the port (builders take adapters by value; an `Arc` of one,
// or an `Arc<dyn …>`, is such a value).

#[async_trait]
impl<T: OrderStore + ?Sized> OrderStore for std::sync::Arc<T> {
    async fn create_if_absent(&self, order: &Order) -> Result<CreateOutcome, OrderStoreError> {
        (**self).create_if_absent(order).await
    }
    async fn get(&self, id: &OrderId) -> Result<Option<Order>, OrderStoreError> {
        (**self).get(id).await
    }
    async fn claim(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ClaimOutcome, OrderStoreError> {
        (**self).claim(id, owner, now, until).await
    }
    async fn renew(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), OrderStoreError> {
        (**self).renew(id, owner, now, until).await
    }
    async fn release(&self, id: &OrderId, owner: &str) -> Result<(), OrderStoreError> {
        (**self).release(id, owner).await
    }
    async fn update(
        &self,
        order: &Order,
        expected: OrderStatus,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OrderStoreError> {
        (**self).update(order, expected, owner, now).await
    }
    async fn record_poison(&self, record: &PoisonRecord) -> Result<(), OrderStoreError> {
        (**self).record_poison(record).await
    }
}

#[async_trait]
impl<T: KillSwitch + ?Sized> KillSwitch for std::sync::Arc<T> {
    async fn read(&self, scope: &KillSwitchScope) -> Result<KillSwitchRecord, KillSwitchError> {
        (**self).read(scope).await
    }
    async fn set(
        &self,
        scope: &KillSwitchScope,
        change: KillSwitchChange,
    ) -> Result<KillSwitchAudit, KillSwitchError> {
        (**self).set(scope, change).await
    }
}

#[async_trait]
impl<T: OrderExecutor + ?Sized> OrderExecutor for std::sync::Arc<T> {
    async fn submit(&self, order: &Order) -> Result<Execution, ExecutionError> {
        (**self).submit(order).await
    }
    async fn lookup(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError> {
        (**self).lookup(client_order_id).await
    }
}

#[async_trait]
impl<T: OrderQueue + ?Sized> OrderQueue for std::sync::Arc<T> {
    async fn receive(&self, max: u16, wait: Duration) -> Result<Vec<QueueMessage>, QueueError> {
        (**self).receive(max, wait).await
    }
    async fn ack(&self, message: &QueueMessage) -> Result<(), QueueError> {
        (**self).ack(message).await
    }
    async fn reject(&self, message: &QueueMessage, reason: &str) -> Result<(), QueueError> {
        (**self).reject(message, reason).await
    }
    async fn retry_later(&self, message: &QueueMessage, after: Duration) -> Result<(), QueueError> {
        (**self).retry_later(message, after).await
    }
}

#[async_trait]
impl<T: ExecutionBook + ?Sized> ExecutionBook for std::sync::Arc<T> {
    async fn record_first(&self, execution: &Execution) -> Result<Recorded, ExecutionError> {
        (**self).record_first(execution).await
    }
    async fn get(
        &self,
        client_order_id: &ClientOrderId,
    ) -> Result<Option<Execution>, ExecutionError> {
        (**self).get(client_order_id).await
    }
}

#[async_trait]
impl<T: ReferencePrice + ?Sized> ReferencePrice for std::sync::Arc<T> {
    async fn last_price(&self, symbol: &Symbol) -> Result<Option<crate::Price>, MarketDataError> {
        (**self).last_price(symbol).await
    }
}
