//! [`ProcessOrder`].

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axia_domain::{
    Claim, ClaimOutcome, Clock, CreateOutcome, Execution, ExecutionOutcome, KillSwitch,
    KillSwitchScope, KillSwitchState, Order, OrderExecutor, OrderQueue, OrderStatus, OrderStore,
    OrderStoreError, OrderType, OrderValidator, PoisonRecord, QueueMessage, ReferencePrice,
    Rejection, RejectionReason, Side, Symbol,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

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

/// Why a message is poison, as a stable code (for dashboards and the poison record) and a
/// detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Poison {
    /// `INVALID_JSON`, `INVALID_ORDER_ID`, `INVALID_CLIENT_ORDER_ID`, `INVALID_SYMBOL`,
    /// `INVALID_QUANTITY`, `INVALID_PRICE` or `INVALID_TYPE`.
    pub code: &'static str,
    /// What exactly is wrong.
    pub detail: String,
}

impl std::fmt::Display for Poison {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

fn poison(code: &'static str, detail: impl std::fmt::Display) -> Poison {
    Poison {
        code,
        detail: detail.to_string(),
    }
}

impl OrderMessage {
    /// Parses a message body.
    ///
    /// # Errors
    /// [`Poison`] `INVALID_JSON` for a body that is not an order message.
    pub fn parse(body: &str) -> Result<Self, Poison> {
        serde_json::from_str(body).map_err(|e| poison("INVALID_JSON", e))
    }

    /// The order this message asks for, received at `now`.
    ///
    /// # Errors
    /// What is wrong with the message, as a [`Poison`] with a stable code.
    pub fn to_order(&self, now: DateTime<Utc>) -> Result<Order, Poison> {
        let id = self
            .order_id
            .parse()
            .map_err(|e| poison("INVALID_ORDER_ID", format!("order_id: {e}")))?;
        let cid = self
            .client_order_id
            .parse()
            .map_err(|e| poison("INVALID_CLIENT_ORDER_ID", format!("client_order_id: {e}")))?;
        let symbol: Symbol = self
            .symbol
            .parse()
            .map_err(|e| poison("INVALID_SYMBOL", format!("symbol: {e}")))?;
        let quantity = self
            .quantity
            .parse()
            .map_err(|e| poison("INVALID_QUANTITY", e))?;
        let price = || -> Result<_, Poison> {
            self.price
                .as_deref()
                .ok_or_else(|| poison("INVALID_PRICE", "price is required for this type"))?
                .parse()
                .map_err(|e| poison("INVALID_PRICE", e))
        };
        let order_type = match self.order_type.as_str() {
            "market" if self.price.is_none() => OrderType::Market,
            "market" => return Err(poison("INVALID_PRICE", "a market order has no price")),
            "limit" => OrderType::Limit { price: price()? },
            "stop" => OrderType::Stop { price: price()? },
            other => {
                return Err(poison(
                    "INVALID_TYPE",
                    format!(
                        "type {:?}: expected market, limit or stop",
                        other.chars().take(16).collect::<String>()
                    ),
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
    /// The body was not a valid order: recorded (store and poison queue) and removed.
    Poison(Poison),
    /// Left on the queue to come back after a while: another processor holds the order, or the
    /// executor's answer is unknown and reconciliation must wait for the claim to lapse.
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
    reference: Option<Arc<dyn ReferencePrice>>,
    clock: Arc<dyn Clock>,
    processor: Arc<str>,
    deliveries: Arc<AtomicU64>,
    lease: chrono::Duration,
    lookup_grace: chrono::Duration,
}

impl std::fmt::Debug for ProcessOrder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProcessOrder")
            .field("processor", &self.processor)
            .field("lease", &self.lease)
            .field("validator", &self.validator)
            .finish_non_exhaustive()
    }
}

/// One delivery's claim on its order: who, and for how long at a time.
struct Holder<'a> {
    store: &'a dyn OrderStore,
    clock: &'a dyn Clock,
    owner: String,
    lease: chrono::Duration,
}

impl Holder<'_> {
    fn until(&self) -> DateTime<Utc> {
        self.clock.now() + self.lease
    }

    /// Runs `work` while renewing the claim every third of the lease. A renewal that fails is
    /// logged: the work cannot be undone, and another processor will reconcile once the claim
    /// lapses.
    async fn renewing<T>(&self, order: &Order, work: impl Future<Output = T>) -> T {
        let every = (self.lease / 3)
            .to_std()
            .unwrap_or(Duration::from_secs(10))
            .max(Duration::from_millis(10));
        tokio::pin!(work);
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        loop {
            tokio::select! {
                out = &mut work => return out,
                _ = tick.tick() => {
                    let now = self.clock.now();
                    if let Err(e) = self.store.renew(order.id(), &self.owner, now, self.until()).await {
                        tracing::error!(error = %e, "could not renew the claim while the executor works");
                    }
                }
            }
        }
    }

    async fn release(&self, order: &Order) {
        if let Err(e) = self.store.release(order.id(), &self.owner).await {
            tracing::warn!(error = %e, "could not release the claim; it will lapse");
        }
    }
}

/// How long until `claim` lapses, at least one second: when a deferred delivery comes back.
fn until_lapse(claim: &Claim, now: DateTime<Utc>) -> Duration {
    (claim.expires_at - now)
        .to_std()
        .unwrap_or_default()
        .max(Duration::from_secs(1))
        + Duration::from_millis(250)
}

impl ProcessOrder {
    /// The use case, on the system clock ([`ProcessOrder::clock`]). Orders are claimed for
    /// 30 s at a time ([`ProcessOrder::lease`]) by a processor named after this host and
    /// process ([`ProcessOrder::processor`]).
    #[must_use]
    pub fn new(
        queue: impl OrderQueue + 'static,
        store: impl OrderStore + 'static,
        kill_switch: impl KillSwitch + 'static,
        executor: impl OrderExecutor + 'static,
        validator: OrderValidator,
    ) -> Self {
        Self {
            queue: Arc::new(queue),
            store: Arc::new(store),
            kill_switch: Arc::new(kill_switch),
            executor: Arc::new(executor),
            validator,
            reference: None,
            clock: Arc::new(axia_domain::SystemClock),
            processor: default_processor_id().into(),
            deliveries: Arc::default(),
            lease: chrono::Duration::seconds(30),
            lookup_grace: chrono::Duration::seconds(120),
        }
    }

    /// How long after a submission whose answer was lost an empty lookup is not trusted
    /// (default 120 s): the request may still reach the broker, so the order is looked up
    /// again later instead of being submitted a second time. After it, nothing found means
    /// nothing arrived, and the order is submitted.
    #[must_use]
    pub fn lookup_grace(mut self, grace: Duration) -> Self {
        self.lookup_grace = chrono::Duration::from_std(grace).unwrap_or(self.lookup_grace);
        self
    }

    /// The clock "now" comes from (default: the system's).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// This processor's name in claims and status histories (default: host, process id and a
    /// random part). It must be unique among live processors.
    #[must_use]
    pub fn processor(mut self, id: &str) -> Self {
        self.processor = id.into();
        self
    }

    /// How long a claim lasts before it must be renewed (default 30 s; renewed every third of
    /// it while the executor works). Another processor reconciles an order only after its
    /// claim lapsed, so this is also how long a dead processor's orders wait.
    #[must_use]
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease =
            chrono::Duration::from_std(lease.max(Duration::from_millis(30))).unwrap_or(self.lease);
        self
    }

    /// Where the market price comes from for the checks that need one (notional of a market
    /// order, price deviation). Without one those checks fail closed.
    #[must_use]
    pub fn reference_price(mut self, source: impl ReferencePrice + 'static) -> Self {
        self.reference = Some(Arc::new(source));
        self
    }

    /// Handles one delivery, inside a tracing span naming the order (every log line of the
    /// delivery carries its order id), and logs the outcome.
    ///
    /// # Errors
    /// [`ProcessError`] when the store or the queue fails; the delivery is then not acked and
    /// will come again.
    pub async fn handle(&self, message: &QueueMessage) -> Result<Handled, ProcessError> {
        let span = tracing::info_span!(
            "order",
            order_id = tracing::field::Empty,
            message_id = %message.message_id,
            receive_count = message.receive_count,
        );
        async {
            let handled = self.handle_inner(message).await;
            match &handled {
                Ok(Handled::Done(status)) => tracing::info!(%status, "order processed"),
                Ok(Handled::Duplicate(status)) => {
                    tracing::info!(%status, "duplicate delivery acked")
                }
                Ok(Handled::Poison(p)) => tracing::warn!(
                    code = p.code,
                    detail = p.detail,
                    "poison message recorded and removed"
                ),
                Ok(Handled::Deferred(why)) => tracing::info!(why, "left on the queue for later"),
                Err(e) => tracing::error!(error = %e, "not processed; the message will come again"),
            }
            handled
        }
        .instrument(span)
        .await
    }

    async fn handle_inner(&self, message: &QueueMessage) -> Result<Handled, ProcessError> {
        let now = self.clock.now();
        let order = match OrderMessage::parse(&message.body).and_then(|m| m.to_order(now)) {
            Ok(o) => o.received_by(&self.processor),
            Err(p) => return self.poison(message, p).await,
        };
        tracing::Span::current().record("order_id", order.id().as_str());
        if let CreateOutcome::AlreadyExists(stored) = self.store.create_if_absent(&order).await?
            && stored.status().is_final()
        {
            self.queue.ack(message).await?;
            tracing::info!(status = %stored.status(), "duplicate delivery of a final order: acked");
            return Ok(Handled::Duplicate(stored.status()));
        }
        let n = self.deliveries.fetch_add(1, Ordering::Relaxed);
        let holder = Holder {
            store: self.store.as_ref(),
            clock: self.clock.as_ref(),
            owner: format!("{}/{n}", self.processor),
            lease: self.lease,
        };
        let previous = match self
            .store
            .claim(order.id(), &holder.owner, now, holder.until())
            .await?
        {
            ClaimOutcome::Held(c) => {
                // Final since it was read (the holder has not released it yet): done.
                if let Some(stored) = self.store.get(order.id()).await?
                    && stored.status().is_final()
                {
                    self.queue.ack(message).await?;
                    return Ok(Handled::Duplicate(stored.status()));
                }
                tracing::info!(holder = c.owner, until = %c.expires_at, "another processor holds the order: later");
                self.queue
                    .retry_later(message, until_lapse(&c, now))
                    .await?;
                return Ok(Handled::Deferred(format!(
                    "held by {} until {}",
                    c.owner,
                    c.expires_at.to_rfc3339()
                )));
            }
            ClaimOutcome::Acquired { previous } => previous,
        };
        // Read it again under the claim: it may have moved since it was created or read.
        let Some(order) = self.store.get(order.id()).await? else {
            return Err(OrderStoreError::Conflict {
                id: order.id().clone(),
                expected: OrderStatus::Received,
                actual: None,
            }
            .into());
        };
        match order.status() {
            OrderStatus::Received => self.process_received(message, &holder, order).await,
            OrderStatus::Submitted => {
                if let Some(p) = &previous {
                    tracing::warn!(previous = p.owner, lapsed = %p.expires_at, "taking over a lapsed claim: reconciling with the executor");
                }
                self.reconcile(message, &holder, order).await
            }
            final_status => {
                holder.release(&order).await;
                self.queue.ack(message).await?;
                Ok(Handled::Duplicate(final_status))
            }
        }
    }

    async fn poison(&self, message: &QueueMessage, p: Poison) -> Result<Handled, ProcessError> {
        // A body that names a valid order id: its log lines carry it too.
        if let Some(id) = serde_json::from_str::<serde_json::Value>(&message.body)
            .ok()
            .and_then(|v| {
                v.get("order_id")?
                    .as_str()?
                    .parse::<axia_domain::OrderId>()
                    .ok()
            })
        {
            tracing::Span::current().record("order_id", id.as_str());
        }
        tracing::warn!(code = p.code, detail = p.detail, "poison order message");
        let record = PoisonRecord {
            message_id: message.message_id.clone(),
            code: p.code.to_owned(),
            detail: p.detail.clone(),
            body: message.body.chars().take(4096).collect(),
            at: self.clock.now(),
            by: self.processor.to_string(),
        };
        self.store.record_poison(&record).await?;
        self.queue.reject(message, &p.to_string()).await?;
        Ok(Handled::Poison(p))
    }

    /// Persists `order` (moved from `expected`) under the claim; `None` when the claim lapsed
    /// or another writer got there (the caller leaves the message for later).
    async fn persist(
        &self,
        holder: &Holder<'_>,
        order: &Order,
        expected: OrderStatus,
    ) -> Result<Option<OrderStatus>, ProcessError> {
        match self
            .store
            .update(order, expected, &holder.owner, self.clock.now())
            .await
        {
            Ok(()) => Ok(None),
            Err(OrderStoreError::Conflict {
                actual: Some(s), ..
            }) => Ok(Some(s)),
            Err(e @ OrderStoreError::ClaimLost { .. }) => {
                tracing::warn!(error = %e, "claim lost before the outcome was stored");
                Ok(Some(expected))
            }
            Err(e) => Err(e.into()),
        }
    }

    async fn reject(
        &self,
        message: &QueueMessage,
        holder: &Holder<'_>,
        mut order: Order,
        rejection: Rejection,
    ) -> Result<Handled, ProcessError> {
        let from = order.status();
        tracing::info!(
            code = rejection.reason.code(),
            detail = rejection.detail,
            "order rejected"
        );
        order.mark_rejected(rejection, self.clock.now(), &holder.owner)?;
        if let Some(actual) = self.persist(holder, &order, from).await? {
            return self.changed_elsewhere(message, actual).await;
        }
        holder.release(&order).await;
        self.queue.ack(message).await?;
        Ok(Handled::Done(OrderStatus::Rejected))
    }

    /// The order moved under us (or our claim lapsed): ack if it is final, else come back.
    async fn changed_elsewhere(
        &self,
        message: &QueueMessage,
        actual: OrderStatus,
    ) -> Result<Handled, ProcessError> {
        if actual.is_final() {
            self.queue.ack(message).await?;
            return Ok(Handled::Duplicate(actual));
        }
        let later = self.lease.to_std().unwrap_or(Duration::from_secs(30));
        self.queue.retry_later(message, later).await?;
        Ok(Handled::Deferred(format!("order is {actual} elsewhere")))
    }

    /// The kill switch, global then the symbol's; any failure to read is a halt.
    async fn kill_switch_allows(&self, order: &Order) -> Result<(), Rejection> {
        for scope in [
            KillSwitchScope::Global,
            KillSwitchScope::Symbol(order.symbol().clone()),
        ] {
            match self.kill_switch.read(&scope).await {
                Ok(r) if r.state == KillSwitchState::Active => {}
                Ok(r) => {
                    return Err(Rejection::new(
                        RejectionReason::KillSwitchActive,
                        format!("{scope} halted by {}: {}", r.actor, r.reason),
                    ));
                }
                Err(e) => {
                    tracing::error!(error = %e, "kill switch unreadable: failing closed");
                    return Err(Rejection::new(
                        RejectionReason::KillSwitchUnavailable,
                        format!("kill switch unreadable: {e}"),
                    ));
                }
            }
        }
        Ok(())
    }

    /// The reference price, or why there is none (no source configured, nothing recent, or
    /// the source's error: a refused token is said, not hidden behind a missing price).
    async fn market_price(&self, order: &Order) -> Result<axia_domain::Price, String> {
        let Some(source) = self.reference.as_ref() else {
            return Err("no reference price source is configured".to_owned());
        };
        match source.last_price(order.symbol()).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => Err(format!(
                "the market has no recent price for {}",
                order.symbol()
            )),
            Err(e) => {
                tracing::warn!(error = %e, "no reference price: checks that need one fail closed");
                Err(format!("the reference price source failed: {e}"))
            }
        }
    }

    async fn process_received(
        &self,
        message: &QueueMessage,
        holder: &Holder<'_>,
        mut order: Order,
    ) -> Result<Handled, ProcessError> {
        if let Err(rejection) = self.kill_switch_allows(&order).await {
            return self.reject(message, holder, order, rejection).await;
        }
        let reference = self.market_price(&order).await;
        if let Err(mut rejection) =
            self.validator
                .validate_at(&order, reference.as_ref().ok().copied(), self.clock.now())
        {
            // A check that needed the price says why there was none.
            if let (RejectionReason::PriceInvalid, Err(why)) = (rejection.reason, &reference)
                && rejection.detail.starts_with("no ")
            {
                rejection.detail = format!("{} ({why})", rejection.detail);
            }
            return self.reject(message, holder, order, rejection).await;
        }
        // Persist Submitted, under the claim, before the executor sees the order.
        order.mark_submitted(self.clock.now(), &holder.owner)?;
        if let Some(actual) = self.persist(holder, &order, OrderStatus::Received).await? {
            return self.changed_elsewhere(message, actual).await;
        }
        self.submit(message, holder, order).await
    }

    async fn submit(
        &self,
        message: &QueueMessage,
        holder: &Holder<'_>,
        order: Order,
    ) -> Result<Handled, ProcessError> {
        tracing::info!(client_order_id = %order.client_order_id(), "submitting to the executor");
        match holder.renewing(&order, self.executor.submit(&order)).await {
            Ok(execution) => {
                tracing::info!(outcome = ?execution.outcome, "executor answered");
                self.settle(message, holder, order, execution).await
            }
            Err(e) => {
                // Unknown outcome: it stays Submitted and the claim is kept until it lapses, so
                // nobody reconciles while the submission may still be on its way.
                tracing::warn!(error = %e, "execution outcome unknown; reconciling once the claim lapses");
                let later = self.lease.to_std().unwrap_or(Duration::from_secs(30));
                self.queue.retry_later(message, later).await?;
                Ok(Handled::Deferred(format!("executor: {e}")))
            }
        }
    }

    /// A `Submitted` order whose previous claim lapsed (or never was): the executor's record
    /// decides.
    async fn reconcile(
        &self,
        message: &QueueMessage,
        holder: &Holder<'_>,
        order: Order,
    ) -> Result<Handled, ProcessError> {
        tracing::info!(client_order_id = %order.client_order_id(), "looking the order up at the executor");
        match holder
            .renewing(&order, self.executor.lookup(order.client_order_id()))
            .await
        {
            Ok(Some(execution)) => {
                tracing::info!(outcome = ?execution.outcome, "the executor has it");
                self.settle(message, holder, order, execution).await
            }
            // Nothing yet, right after a submission whose answer was lost: the request may still
            // be on its way to the broker. Not trusted until the grace has passed.
            Ok(None)
                if order
                    .submitted_at()
                    .is_some_and(|at| self.clock.now() < at + self.lookup_grace) =>
            {
                let at = order.submitted_at().unwrap_or_else(|| self.clock.now());
                let wait = (at + self.lookup_grace - self.clock.now())
                    .to_std()
                    .unwrap_or_default()
                    .max(Duration::from_secs(1));
                tracing::info!(
                    submitted = %at,
                    "the executor has no record yet of a submission whose answer was lost: asking again later"
                );
                holder.release(&order).await;
                self.queue.retry_later(message, wait).await?;
                Ok(Handled::Deferred(format!(
                    "no executor record yet; submitted at {}",
                    at.to_rfc3339()
                )))
            }
            // Never reached the executor: submit now, under our claim.
            Ok(None) => self.submit(message, holder, order).await,
            Err(e) => {
                tracing::warn!(error = %e, "executor lookup failed");
                holder.release(&order).await;
                let later = Duration::from_secs(5);
                self.queue.retry_later(message, later).await?;
                Ok(Handled::Deferred(format!("executor lookup: {e}")))
            }
        }
    }

    async fn settle(
        &self,
        message: &QueueMessage,
        holder: &Holder<'_>,
        mut order: Order,
        execution: Execution,
    ) -> Result<Handled, ProcessError> {
        let now = self.clock.now();
        let terms = order.terms();
        match &execution.order {
            Some(recorded) if *recorded != terms => {
                tracing::error!(
                    client_order_id = %order.client_order_id(),
                    executor_has = %recorded,
                    order = %terms,
                    "the executor's record of this client order id is another order: rejected, not settled"
                );
                order.mark_rejected(
                    Rejection::new(
                        RejectionReason::DuplicateClientOrderId,
                        format!(
                            "client order id {} already names another order at the executor ({recorded}); this order is {terms}",
                            order.client_order_id()
                        ),
                    ),
                    now,
                    &holder.owner,
                )?;
                if let Some(actual) = self.persist(holder, &order, OrderStatus::Submitted).await? {
                    return self.changed_elsewhere(message, actual).await;
                }
                holder.release(&order).await;
                self.queue.ack(message).await?;
                return Ok(Handled::Done(OrderStatus::Rejected));
            }
            Some(_) => {}
            None => tracing::warn!(
                client_order_id = %order.client_order_id(),
                "the executor's record does not say which order it was for; taken as this one"
            ),
        }
        match execution.outcome {
            ExecutionOutcome::Filled(fill) => order.mark_filled(fill, now, &holder.owner)?,
            ExecutionOutcome::Rejected { code, detail } => {
                order.mark_rejected(
                    Rejection::new(RejectionReason::BrokerRejected, format!("{code}: {detail}")),
                    now,
                    &holder.owner,
                )?;
            }
            // Working at the broker: the order stays Submitted; the message is done.
            ExecutionOutcome::Accepted { .. } => {
                holder.release(&order).await;
                self.queue.ack(message).await?;
                return Ok(Handled::Done(OrderStatus::Submitted));
            }
        }
        if let Some(actual) = self.persist(holder, &order, OrderStatus::Submitted).await? {
            return self.changed_elsewhere(message, actual).await;
        }
        holder.release(&order).await;
        self.queue.ack(message).await?;
        tracing::info!(status = %order.status(), "order final");
        Ok(Handled::Done(order.status()))
    }
}

/// `{host}-{pid}-{random}`: unique among live processors.
fn default_processor_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(32)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!("{host}-{}-{nanos:08x}", std::process::id())
}
