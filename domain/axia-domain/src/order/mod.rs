//! Orders: identifiers, quantities, the order record and its status machine, and validation.
//! By concern: [`ids`], [`decimals`] (quantities and prices), [`terms`] (side, type, terms),
//! [`status`] (statuses, rejections, fills), the order record here, [`limits`] and
//! [`validator`].

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Symbol;

mod decimals;
mod ids;
mod limits;
mod status;
mod terms;
#[cfg(test)]
mod tests;
mod validator;

pub use decimals::{DecimalError, NotPositive, Price, Quantity};
pub use ids::{ClientOrderId, ORDER_ID_MAX_LEN, OrderId, OrderIdError};
pub use limits::OrderLimits;
pub use status::{
    Fill, OrderStatus, OrderStatusError, Rejection, RejectionReason, TransitionError,
};
pub use terms::{OrderTerms, OrderType, Side};
pub use validator::OrderValidator;

/// An order and where it is in its life.
///
/// Built [`Received`](OrderStatus::Received) by [`Order::new`]; its status changes only through
/// the `mark_*` methods, which enforce the transitions of [`OrderStatus`].
///
/// ```
/// use axia_domain::{Order, OrderStatus, OrderType, Side, Rejection, RejectionReason};
/// use chrono::Utc;
///
/// let mut order = Order::new(
///     "o-1".parse()?, "c-1".parse()?, "USDJPY".parse()?, Side::Buy,
///     OrderType::Market, "1000".parse()?, Utc::now(),
/// );
/// order.mark_submitted(Utc::now(), "processor-1")?;
/// assert_eq!(order.status(), OrderStatus::Submitted);
/// let reject = Rejection::new(RejectionReason::BrokerRejected, "market closed");
/// order.mark_rejected(reject, Utc::now(), "processor-1")?;
/// assert!(order.mark_submitted(Utc::now(), "processor-1").is_err()); // final
/// // Every change is kept: who, when, from, to, why.
/// assert_eq!(order.history().len(), 3);
/// assert_eq!(order.history()[2].reason, "BROKER_REJECTED: market closed");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    id: OrderId,
    client_order_id: ClientOrderId,
    symbol: Symbol,
    side: Side,
    order_type: OrderType,
    quantity: Quantity,
    status: OrderStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    rejection: Option<Rejection>,
    fill: Option<Fill>,
    failure: Option<String>,
    /// Every status change, oldest first (records stored before it existed have none).
    #[serde(default)]
    history: Vec<Transition>,
}

/// One status change of an order: who made it, when, from what to what, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transition {
    /// When.
    pub at: DateTime<Utc>,
    /// The status before; `None` for the order's creation.
    pub from: Option<OrderStatus>,
    /// The status after.
    pub to: OrderStatus,
    /// Who: the processor (or person) that made the change.
    pub by: String,
    /// Why, in a line (a rejection's code and detail, a fill's size and price).
    pub reason: String,
}

impl Order {
    /// A new order, [`Received`](OrderStatus::Received) at `now`; its history starts with that
    /// (by nobody yet: see [`Order::received_by`]).
    #[must_use]
    pub fn new(
        id: OrderId,
        client_order_id: ClientOrderId,
        symbol: Symbol,
        side: Side,
        order_type: OrderType,
        quantity: Quantity,
        now: DateTime<Utc>,
    ) -> Self {
        let history = vec![Transition {
            at: now,
            from: None,
            to: OrderStatus::Received,
            by: String::new(),
            reason: "received".into(),
        }];
        Self {
            id,
            client_order_id,
            symbol,
            side,
            order_type,
            quantity,
            status: OrderStatus::Received,
            created_at: now,
            updated_at: now,
            rejection: None,
            fill: None,
            failure: None,
            history,
        }
    }

    /// Names who received the order in its first history entry.
    #[must_use]
    pub fn received_by(mut self, by: &str) -> Self {
        if let Some(first) = self.history.first_mut().filter(|t| t.from.is_none()) {
            by.clone_into(&mut first.by);
        }
        self
    }

    /// Every status change, oldest first.
    #[must_use]
    pub fn history(&self) -> &[Transition] {
        &self.history
    }

    /// The order id.
    #[must_use]
    pub const fn id(&self) -> &OrderId {
        &self.id
    }
    /// The client order id.
    #[must_use]
    pub const fn client_order_id(&self) -> &ClientOrderId {
        &self.client_order_id
    }
    /// The instrument.
    #[must_use]
    pub const fn symbol(&self) -> &Symbol {
        &self.symbol
    }
    /// Buy or sell.
    #[must_use]
    pub const fn side(&self) -> Side {
        self.side
    }
    /// Market, limit or stop.
    #[must_use]
    pub const fn order_type(&self) -> OrderType {
        self.order_type
    }
    /// The size.
    #[must_use]
    pub const fn quantity(&self) -> Quantity {
        self.quantity
    }
    /// What it asks for: instrument, side, size and type.
    #[must_use]
    pub fn terms(&self) -> OrderTerms {
        OrderTerms {
            symbol: self.symbol.clone(),
            side: self.side,
            quantity: self.quantity,
            order_type: self.order_type,
        }
    }
    /// When it was last submitted to the executor, from its history.
    #[must_use]
    pub fn submitted_at(&self) -> Option<DateTime<Utc>> {
        self.history
            .iter()
            .rev()
            .find(|t| t.to == OrderStatus::Submitted)
            .map(|t| t.at)
    }
    /// The status.
    #[must_use]
    pub const fn status(&self) -> OrderStatus {
        self.status
    }
    /// When it was received.
    #[must_use]
    pub const fn created_at(&self) -> DateTime<Utc> {
        self.created_at
    }
    /// When its status last changed.
    #[must_use]
    pub const fn updated_at(&self) -> DateTime<Utc> {
        self.updated_at
    }
    /// Why it was rejected, when it was.
    #[must_use]
    pub const fn rejection(&self) -> Option<&Rejection> {
        self.rejection.as_ref()
    }
    /// What filled, when it did.
    #[must_use]
    pub const fn fill(&self) -> Option<&Fill> {
        self.fill.as_ref()
    }
    /// Why the execution failed, when it did.
    #[must_use]
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    fn transition(
        &mut self,
        to: OrderStatus,
        at: DateTime<Utc>,
        by: &str,
        reason: String,
    ) -> Result<(), TransitionError> {
        if !self.status.can_become(to) {
            return Err(TransitionError {
                id: self.id.clone(),
                from: self.status,
                to,
            });
        }
        self.history.push(Transition {
            at,
            from: Some(self.status),
            to,
            by: by.to_owned(),
            reason,
        });
        self.status = to;
        self.updated_at = at;
        Ok(())
    }

    /// `Received -> Submitted`, by `by`.
    ///
    /// # Errors
    /// [`TransitionError`] from any other status.
    pub fn mark_submitted(&mut self, at: DateTime<Utc>, by: &str) -> Result<(), TransitionError> {
        self.transition(
            OrderStatus::Submitted,
            at,
            by,
            "sent to the executor".into(),
        )
    }

    /// `Submitted -> Filled`, recording the fill.
    ///
    /// # Errors
    /// [`TransitionError`] from any other status.
    pub fn mark_filled(
        &mut self,
        fill: Fill,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<(), TransitionError> {
        let reason = format!(
            "filled {} at {} ({})",
            fill.quantity, fill.price, fill.broker_order_id
        );
        self.transition(OrderStatus::Filled, at, by, reason)?;
        self.fill = Some(fill);
        Ok(())
    }

    /// `Received | Submitted -> Rejected`, recording why.
    ///
    /// # Errors
    /// [`TransitionError`] from a final status.
    pub fn mark_rejected(
        &mut self,
        rejection: Rejection,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<(), TransitionError> {
        self.transition(OrderStatus::Rejected, at, by, rejection.to_string())?;
        self.rejection = Some(rejection);
        Ok(())
    }

    /// `Submitted -> Failed`, recording why.
    ///
    /// # Errors
    /// [`TransitionError`] from any other status.
    pub fn mark_failed(
        &mut self,
        detail: impl Into<String>,
        at: DateTime<Utc>,
        by: &str,
    ) -> Result<(), TransitionError> {
        let detail = detail.into();
        self.transition(OrderStatus::Failed, at, by, detail.clone())?;
        self.failure = Some(detail);
        Ok(())
    }

    /// `Submitted -> Cancelled`.
    ///
    /// # Errors
    /// [`TransitionError`] from any other status.
    pub fn mark_cancelled(
        &mut self,
        at: DateTime<Utc>,
        by: &str,
        reason: &str,
    ) -> Result<(), TransitionError> {
        self.transition(OrderStatus::Cancelled, at, by, reason.to_owned())
    }
}
