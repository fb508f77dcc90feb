//! [`ProcessOrder`].

use std::sync::Arc;

use axia_domain::{
    Clock, CreateOutcome, Execution, ExecutionOutcome, KillSwitch, KillSwitchScope,
    KillSwitchState, Order, OrderExecutor, OrderQueue, OrderStatus, OrderStore, OrderStoreError,
    OrderType, OrderValidator, QueueMessage, Rejection, RejectionReason, Side, Symbol,
};
use serde::{Deserialize, Serialize};

/// The body of an order message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderMessage {
    /// axia's key for the order; a duplicate delivery carries the same one.
    pub order_id: String,
    /// Sent to the broker; the executor is idempotent by it.
    pub client_order_id: String,
    /// The instrument.
    pub symbol: String,
    /// `buy` or `sell`.
    pub side: Side,
    /// `market`, `limit` or `stop`.
    #[serde(rename = "type")]
    pub order_type: String,
    /// Decimal string, > 0.
    pub quantity: String,
    /// Decimal string, > 0, for limit and stop orders.
    #[serde(default)]
    pub price: Option<String>,
}

impl OrderMessage {
    /// The order this message asks for, received at `now`.
    ///
    /// # Errors
    /// What is wrong with the message, as text (it becomes the poison record's reason).
    pub fn to_order(&self, now: chrono::DateTime<chrono::Utc>) -> Result<Order, String> {
        let id = self
            .order_id
            .parse()
            .map_err(|e| format!("order_id: {e}"))?;
        let cid = self
            .client_order_id
            .parse()
            .map_err(|e| format!("client_order_id: {e}"))?;
        let symbol: Symbol = self.symbol.parse().map_err(|e| format!("symbol: {e}"))?;
        let quantity = self
            .quantity
            .parse()
            .map_err(|e| format!("quantity: {e}"))?;
        let price = || -> Result<_, String> {
            self.price
                .as_deref()
                .ok_or("price is required for this type")?
                .parse()
                .map_err(|e| format!("price: {e}"))
        };
        let order_type = match self.order_type.as_str() {
            "market" if self.price.is_none() => OrderType::Market,
            "market" => return Err("a market order has no price".into()),
            "limit" => OrderType::Limit { price: price()? },
            "stop" => OrderType::Stop { price: price()? },
            other => {
                return Err(format!(
                    "type {:?}: expected market, limit or stop",
                    other.chars().take(16).collect::<String>()
                ));
            }
        };
        Ok(Order::new(
            id, cid, symbol, self.side, order_type, quantity, now,
        ))
    }
}

/// What became of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// The order reached a status and the message was acked.
    Done(OrderStatus),
    /// A duplicate of an order already final: acked, nothing done.
    Duplicate(OrderStatus),
    /// The body was not a valid order: recorded and removed.
    Poison(String),
    /// Left on the queue to be delivered again (the order is in flight elsewhere, or the
    /// executor's answer is unknown).
    Deferred(String),
}

/// Why a delivery could not be handled; it stays on the queue.
#[derive(Debug, thiserror::Error)]
pub enum ProcessError {
    /// The order store failed.
    #[error("order store: {0}")]
    Store(#[from] OrderStoreError),
    /// The queue failed.
    #[error("queue: {0}")]
    Queue(#[from] axia_domain::QueueError),
    /// A status change the status machine refuses (a bug or a corrupt record).
    #[error("{0}")]
    Transition(#[from] axia_domain::TransitionError),
}

/// The use case over the order ports.
#[derive(Clone)]
pub struct ProcessOrder {
    queue: Arc<dyn OrderQueue>,
    store: Arc<dyn OrderStore>,
    kill_switch: Arc<dyn KillSwitch>,
    executor: Arc<dyn OrderExecutor>,
    validator: OrderValidator,
    clock: Arc<dyn Clock>,
}

impl std::fmt::Debug for ProcessOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessOrder")
            .field("validator", &self.validator)
            .finish_non_exhaustive()
    }
}

impl ProcessOrder {
    /// The use case.
    #[must_use]
    pub fn new(
        queue: Arc<dyn OrderQueue>,
        store: Arc<dyn OrderStore>,
        kill_switch: Arc<dyn KillSwitch>,
        executor: Arc<dyn OrderExecutor>,
        validator: OrderValidator,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            queue,
            store,
            kill_switch,
            executor,
            validator,
            clock,
        }
    }

    /// Handles one delivery.
    ///
    /// # Errors
    /// [`ProcessError`] when the store or the queue fails; the delivery is then not acked and
    /// will come again.
    pub async fn handle(&self, message: &QueueMessage) -> Result<Handled, ProcessError> {
        let now = self.clock.now();
        let parsed = serde_json::from_str::<OrderMessage>(&message.body)
            .map_err(|e| format!("not an order message: {e}"))
            .and_then(|m| m.to_order(now));
        let order = match parsed {
            Ok(o) => o,
            Err(reason) => {
                tracing::warn!(
                    message_id = message.message_id,
                    reason,
                    "poison order message"
                );
                self.queue.reject(message, &reason).await?;
                return Ok(Handled::Poison(reason));
            }
        };
        let order = match self.store.create_if_absent(&order).await? {
            CreateOutcome::Created => order,
            CreateOutcome::AlreadyExists(stored) => {
                let stored = *stored;
                if stored.status().is_final() {
                    self.queue.ack(message).await?;
                    return Ok(Handled::Duplicate(stored.status()));
                }
                stored
            }
        };
        match order.status() {
            OrderStatus::Received => self.process_received(message, order).await,
            OrderStatus::Submitted => self.reconcile(message, order).await,
            other => {
                // Final: handled above; anything else is not a state this code writes.
                self.queue.ack(message).await?;
                Ok(Handled::Duplicate(other))
            }
        }
    }

    async fn reject(
        &self,
        message: &QueueMessage,
        mut order: Order,
        rejection: Rejection,
    ) -> Result<Handled, ProcessError> {
        let from = order.status();
        tracing::info!(order_id = %order.id(), code = rejection.reason.code(), detail = rejection.detail, "order rejected");
        order.mark_rejected(rejection, self.clock.now())?;
        match self.store.update(&order, from).await {
            Ok(()) => {}
            Err(OrderStoreError::Conflict { .. }) => {
                return Ok(Handled::Deferred(
                    "order changed by another processor".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
        self.queue.ack(message).await?;
        Ok(Handled::Done(OrderStatus::Rejected))
    }

    async fn process_received(
        &self,
        message: &QueueMessage,
        mut order: Order,
    ) -> Result<Handled, ProcessError> {
        // Kill switch: global, then the symbol's; any failure to read is a halt.
        let scopes = [
            KillSwitchScope::Global,
            KillSwitchScope::Symbol(order.symbol().clone()),
        ];
        for scope in scopes {
            match self.kill_switch.read(&scope).await {
                Ok(r) if r.state == KillSwitchState::Active => {}
                Ok(r) => {
                    let detail = format!("{scope} halted by {}: {}", r.actor, r.reason);
                    return self
                        .reject(
                            message,
                            order,
                            Rejection::new(RejectionReason::KillSwitchActive, detail),
                        )
                        .await;
                }
                Err(e) => {
                    tracing::error!(error = %e, "kill switch unreadable: failing closed");
                    let detail = format!("kill switch unreadable: {e}");
                    return self
                        .reject(
                            message,
                            order,
                            Rejection::new(RejectionReason::KillSwitchUnavailable, detail),
                        )
                        .await;
                }
            }
        }
        if let Err(rejection) = self.validator.validate(&order, None) {
            return self.reject(message, order, rejection).await;
        }
        // Persist Submitted before the executor sees the order.
        order.mark_submitted(self.clock.now())?;
        match self.store.update(&order, OrderStatus::Received).await {
            Ok(()) => {}
            Err(OrderStoreError::Conflict { .. }) => {
                return Ok(Handled::Deferred("another processor has this order".into()));
            }
            Err(e) => return Err(e.into()),
        }
        self.submit(message, order).await
    }

    async fn submit(&self, message: &QueueMessage, order: Order) -> Result<Handled, ProcessError> {
        match self.executor.submit(&order).await {
            Ok(execution) => self.settle(message, order, execution).await,
            Err(e) => {
                // Unknown outcome: stays Submitted; the redelivery reconciles.
                tracing::warn!(order_id = %order.id(), error = %e, "execution outcome unknown");
                Ok(Handled::Deferred(format!("executor: {e}")))
            }
        }
    }

    async fn reconcile(
        &self,
        message: &QueueMessage,
        order: Order,
    ) -> Result<Handled, ProcessError> {
        match self.executor.lookup(order.client_order_id()).await {
            Ok(Some(execution)) => self.settle(message, order, execution).await,
            // Never reached the executor: submit now (idempotent by client order id).
            Ok(None) => self.submit(message, order).await,
            Err(e) => Ok(Handled::Deferred(format!("executor lookup: {e}"))),
        }
    }

    async fn settle(
        &self,
        message: &QueueMessage,
        mut order: Order,
        execution: Execution,
    ) -> Result<Handled, ProcessError> {
        let now = self.clock.now();
        match execution.outcome {
            ExecutionOutcome::Filled(fill) => order.mark_filled(fill, now)?,
            ExecutionOutcome::Rejected { code, detail } => {
                order.mark_rejected(
                    Rejection::new(RejectionReason::BrokerRejected, format!("{code}: {detail}")),
                    now,
                )?;
            }
            // Working at the broker: the order stays Submitted; the message is done.
            ExecutionOutcome::Accepted { .. } => {
                self.queue.ack(message).await?;
                return Ok(Handled::Done(OrderStatus::Submitted));
            }
        }
        match self.store.update(&order, OrderStatus::Submitted).await {
            Ok(()) => {}
            Err(OrderStoreError::Conflict {
                actual: Some(s), ..
            }) if s.is_final() => {
                self.queue.ack(message).await?;
                return Ok(Handled::Duplicate(s));
            }
            Err(e) => return Err(e.into()),
        }
        self.queue.ack(message).await?;
        Ok(Handled::Done(order.status()))
    }
}
