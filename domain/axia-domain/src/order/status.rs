//! Where an order is: its status, a rejection and its reason, a fill.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::*;

/// Where an order is in its life.
///
/// Legal transitions: `Received -> Submitted | Rejected`, and
/// `Submitted -> Filled | Rejected | Failed | Cancelled`. The last four are final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    /// Taken off the queue and stored; nothing sent yet.
    Received,
    /// Sent to the executor.
    Submitted,
    /// Executed.
    Filled,
    /// Refused, by axia's checks or by the broker.
    Rejected,
    /// The execution failed and the order is not live.
    Failed,
    /// Cancelled.
    Cancelled,
}

impl OrderStatus {
    /// The stable upper-case name (`"SUBMITTED"`).
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Received => "RECEIVED",
            Self::Submitted => "SUBMITTED",
            Self::Filled => "FILLED",
            Self::Rejected => "REJECTED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }

    /// True for a status no transition leaves.
    #[must_use]
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            Self::Filled | Self::Rejected | Self::Failed | Self::Cancelled
        )
    }

    /// True when the status machine allows `self -> next`.
    #[must_use]
    pub const fn can_become(self, next: Self) -> bool {
        matches!(
            (self, next),
            (Self::Received, Self::Submitted | Self::Rejected)
                | (
                    Self::Submitted,
                    Self::Filled | Self::Rejected | Self::Failed | Self::Cancelled
                )
        )
    }
}

impl fmt::Display for OrderStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A string that is not an [`OrderStatus`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown order status {0:?}")]
pub struct OrderStatusError(String);

impl FromStr for OrderStatus {
    type Err = OrderStatusError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::Received,
            Self::Submitted,
            Self::Filled,
            Self::Rejected,
            Self::Failed,
            Self::Cancelled,
        ]
        .into_iter()
        .find(|st| st.as_str() == s)
        .ok_or_else(|| OrderStatusError(s.chars().take(16).collect()))
    }
}

/// Why an order was rejected, with a stable code for reports and dashboards.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[non_exhaustive]
pub enum RejectionReason {
    /// The kill switch is halted for all trading or for the symbol.
    KillSwitchActive,
    /// The kill switch could not be read; orders fail closed.
    KillSwitchUnavailable,
    /// The symbol is not in the allowed list.
    SymbolNotAllowed,
    /// The quantity is below the minimum or above the maximum.
    QuantityOutOfRange,
    /// The quantity is not a multiple of the step.
    QuantityStepInvalid,
    /// Quantity times price is above the notional limit.
    NotionalLimitExceeded,
    /// The price is missing where needed, or too far from the reference price.
    PriceInvalid,
    /// The order message could not be understood.
    InvalidMessage,
    /// The broker refused the order.
    BrokerRejected,
    /// The symbol is not a registered instrument (built in, or configured), and unknown
    /// symbols are not allowed.
    UnknownSymbol,
    /// A market order while the instrument's market is closed.
    MarketClosed,
    /// The broker's record of the client order id is another order (other instrument, side,
    /// quantity or type): the id was reused.
    DuplicateClientOrderId,
}

impl RejectionReason {
    /// The stable code (`"KILL_SWITCH_ACTIVE"`).
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::KillSwitchActive => "KILL_SWITCH_ACTIVE",
            Self::KillSwitchUnavailable => "KILL_SWITCH_UNAVAILABLE",
            Self::SymbolNotAllowed => "SYMBOL_NOT_ALLOWED",
            Self::QuantityOutOfRange => "QUANTITY_OUT_OF_RANGE",
            Self::QuantityStepInvalid => "QUANTITY_STEP_INVALID",
            Self::NotionalLimitExceeded => "NOTIONAL_LIMIT_EXCEEDED",
            Self::PriceInvalid => "PRICE_INVALID",
            Self::InvalidMessage => "INVALID_MESSAGE",
            Self::BrokerRejected => "BROKER_REJECTED",
            Self::UnknownSymbol => "UNKNOWN_SYMBOL",
            Self::MarketClosed => "MARKET_CLOSED",
            Self::DuplicateClientOrderId => "DUPLICATE_CLIENT_ORDER_ID",
        }
    }
}

impl fmt::Display for RejectionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A rejection: the stable reason and a human detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rejection {
    /// The stable reason.
    pub reason: RejectionReason,
    /// What exactly was wrong.
    pub detail: String,
}

impl Rejection {
    /// A rejection for `reason`.
    #[must_use]
    pub fn new(reason: RejectionReason, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.code(), self.detail)
    }
}

/// What an execution filled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fill {
    /// The broker's id for the order.
    pub broker_order_id: String,
    /// Quantity filled.
    pub quantity: Quantity,
    /// Average fill price.
    pub price: Price,
    /// When it filled.
    pub filled_at: DateTime<Utc>,
}

/// A status change the status machine refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("order {id} cannot go from {from} to {to}")]
pub struct TransitionError {
    /// The order.
    pub id: OrderId,
    /// Its status.
    pub from: OrderStatus,
    /// The status asked for.
    pub to: OrderStatus,
}
