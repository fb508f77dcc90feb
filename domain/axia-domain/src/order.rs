//! Orders: identifiers, quantities, the order record and its status machine, and validation.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::Symbol;

/// The longest order or client order id accepted.
pub const ORDER_ID_MAX_LEN: usize = 64;

/// Why a string is not an order id or a client order id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OrderIdError {
    /// Empty.
    #[error("id is empty")]
    Empty,
    /// Longer than [`ORDER_ID_MAX_LEN`].
    #[error("id is {len} bytes long, the limit is {max}")]
    TooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A character outside `A-Z a-z 0-9 - _`.
    #[error("id has the character {ch:?} at position {position}, allowed are A-Z a-z 0-9 - _")]
    InvalidChar {
        /// The character.
        ch: char,
        /// Its position.
        position: usize,
    },
}

fn check_id(s: &str) -> Result<(), OrderIdError> {
    if s.is_empty() {
        return Err(OrderIdError::Empty);
    }
    if let Some((position, ch)) = s
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_')))
    {
        return Err(OrderIdError::InvalidChar { ch, position });
    }
    if s.len() > ORDER_ID_MAX_LEN {
        return Err(OrderIdError::TooLong {
            len: s.len(),
            max: ORDER_ID_MAX_LEN,
        });
    }
    Ok(())
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates `s`: 1 to 64 characters of `A-Z a-z 0-9 - _`.
            ///
            /// # Errors
            /// [`OrderIdError`] naming the rule `s` breaks.
            pub fn new(s: &str) -> Result<Self, OrderIdError> {
                check_id(s)?;
                Ok(Self(s.to_owned()))
            }

            /// The text.
            #[must_use]
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl FromStr for $name {
            type Err = OrderIdError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = OrderIdError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                check_id(&s)?;
                Ok(Self(s))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

id_type!(
    /// axia's key for an order: the order store is keyed by it, a duplicate delivery carries the
    /// same one.
    OrderId
);
id_type!(
    /// The id sent to the broker with an order; executors are idempotent by it.
    ClientOrderId
);

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

/// A decimal that is `> 0`, for quantities and prices.
macro_rules! positive_decimal {
    ($(#[$doc:meta])* $name:ident, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "Decimal", into = "Decimal")]
        pub struct $name(Decimal);

        impl $name {
            /// Validates `value > 0`.
            ///
            /// # Errors
            /// [`NotPositive`] otherwise.
            pub fn new(value: Decimal) -> Result<Self, NotPositive> {
                if value > Decimal::ZERO {
                    Ok(Self(value))
                } else {
                    Err(NotPositive { what: $what, value })
                }
            }

            /// The value.
            #[must_use]
            pub const fn get(self) -> Decimal {
                self.0
            }
        }

        impl TryFrom<Decimal> for $name {
            type Error = NotPositive;
            fn try_from(value: Decimal) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl From<$name> for Decimal {
            fn from(v: $name) -> Self {
                v.0
            }
        }

        impl FromStr for $name {
            type Err = DecimalError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let text = s.trim();
                let value = Decimal::from_str_exact(text).map_err(|_| {
                    let input = s.chars().take(32).collect();
                    // Written as a plain decimal number: too many digits, not a bad number.
                    if is_plain_decimal(text) {
                        DecimalError::OutOfRange { what: $what, input }
                    } else {
                        DecimalError::NotANumber { what: $what, input }
                    }
                })?;
                Ok(Self::new(value)?)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }
    };
}

/// `[+-]digits[.digits]`: a decimal number as written in an order, whatever its size.
fn is_plain_decimal(s: &str) -> bool {
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    let (whole, fraction) = unsigned.split_once('.').unwrap_or((unsigned, "1"));
    !whole.is_empty()
        && !fraction.is_empty()
        && whole
            .bytes()
            .chain(fraction.bytes())
            .all(|b| b.is_ascii_digit())
}

/// A value that had to be a positive decimal number and was not.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} must be a decimal number above zero, got {value}")]
pub struct NotPositive {
    what: &'static str,
    value: Decimal,
}

/// Why a string is not a quantity or a price.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecimalError {
    /// Not a decimal number at all (`"abc"`, `"1e3"`).
    #[error("{what} {input:?} is not a decimal number")]
    NotANumber {
        /// Quantity or price.
        what: &'static str,
        /// The text (at most 32 characters of it).
        input: String,
    },
    /// A decimal number, but beyond what an order can carry: above
    /// 79,228,162,514,264,337,593,543,950,335 or with more than 28 decimals.
    #[error(
        "{what} {input:?} is out of range: at most 79228162514264337593543950335, with at most 28 decimals"
    )]
    OutOfRange {
        /// Quantity or price.
        what: &'static str,
        /// The text (at most 32 characters of it).
        input: String,
    },
    /// A number, but not above zero.
    #[error(transparent)]
    NotPositive(#[from] NotPositive),
}

positive_decimal!(
    /// An order size in units of the instrument, `> 0`.
    Quantity,
    "quantity"
);
positive_decimal!(
    /// A price, `> 0`.
    Price,
    "price"
);

/// How an order is to be executed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum OrderType {
    /// At the market's price.
    Market,
    /// At `price` or better.
    Limit {
        /// The limit.
        price: Price,
    },
    /// A market order once the market trades through `price`.
    Stop {
        /// The trigger.
        price: Price,
    },
}

impl OrderType {
    /// The limit or stop price; `None` for a market order.
    #[must_use]
    pub const fn price(&self) -> Option<Price> {
        match self {
            Self::Market => None,
            Self::Limit { price } | Self::Stop { price } => Some(*price),
        }
    }
}

/// What an order asks for: the instrument, the side, the size and how it executes. A broker's
/// record found by client order id is this order's execution only when its terms are these.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct OrderTerms {
    /// The instrument.
    pub symbol: Symbol,
    /// Buy or sell.
    pub side: Side,
    /// The size asked for.
    pub quantity: Quantity,
    /// Market, limit or stop, with its price.
    pub order_type: OrderType,
}

impl fmt::Display for OrderTerms {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let side = match self.side {
            Side::Buy => "buy",
            Side::Sell => "sell",
        };
        write!(f, "{side} {} {}", self.quantity, self.symbol)?;
        match self.order_type {
            OrderType::Market => f.write_str(" at market"),
            OrderType::Limit { price } => write!(f, " limit {price}"),
            OrderType::Stop { price } => write!(f, " stop {price}"),
        }
    }
}

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

/// The limits [`OrderValidator`] checks orders against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLimits {
    allowed_symbols: Option<BTreeSet<Symbol>>,
    min_quantity: Option<Quantity>,
    max_quantity: Option<Quantity>,
    quantity_step: Option<Quantity>,
    max_notional: Option<Decimal>,
    max_price_deviation: Option<Decimal>,
}

impl Default for OrderLimits {
    fn default() -> Self {
        Self::new()
    }
}

impl OrderLimits {
    /// No limits; add them with the builder methods.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            allowed_symbols: None,
            min_quantity: None,
            max_quantity: None,
            quantity_step: None,
            max_notional: None,
            max_price_deviation: None,
        }
    }

    /// Only these symbols may trade.
    #[must_use]
    pub fn allowed_symbols(mut self, symbols: impl IntoIterator<Item = Symbol>) -> Self {
        self.allowed_symbols = Some(symbols.into_iter().collect());
        self
    }

    /// Quantities must lie in `[min, max]`.
    #[must_use]
    pub const fn quantity_range(mut self, min: Quantity, max: Quantity) -> Self {
        self.min_quantity = Some(min);
        self.max_quantity = Some(max);
        self
    }

    /// Quantities must lie at or above `min` and at or below `max`, each when given.
    #[must_use]
    pub const fn quantity_bounds(mut self, min: Option<Quantity>, max: Option<Quantity>) -> Self {
        self.min_quantity = min;
        self.max_quantity = max;
        self
    }

    /// Quantities must be whole multiples of `step`.
    #[must_use]
    pub const fn quantity_step(mut self, step: Quantity) -> Self {
        self.quantity_step = Some(step);
        self
    }

    /// Quantity times price must not exceed `limit` (in the quote currency).
    #[must_use]
    pub const fn max_notional(mut self, limit: Decimal) -> Self {
        self.max_notional = Some(limit);
        self
    }

    /// A limit or stop price may differ from the reference price by at most this fraction
    /// (`0.05` is 5 %).
    #[must_use]
    pub const fn max_price_deviation(mut self, fraction: Decimal) -> Self {
        self.max_price_deviation = Some(fraction);
        self
    }

    /// The limits axia applies to `symbol` out of the box, so an absurd order is refused even
    /// with no configuration: [`OrderLimits::safe_default_for_instrument`] of its built-in
    /// instrument (or its default, [`crate::Instrument::default_for`]).
    #[must_use]
    pub fn safe_default_for(symbol: &Symbol) -> Self {
        Self::safe_default_for_instrument(
            &crate::InstrumentRegistry::shared_builtin().resolve(symbol),
        )
    }

    /// The limits axia applies to `instrument` out of the box:
    ///
    /// | instrument | max quantity | max notional (quote currency) |
    /// |---|---|---|
    /// | currency pair quoted in JPY, HUF, KRW, IDR, INR, RUB, THB, TWD, CZK | 10 000 000 | 2 000 000 000 |
    /// | other currency pair (crypto pairs too) | 10 000 000 | 20 000 000 |
    /// | trading in Tokyo hours (priced in yen) | 1 000 000 | 3 000 000 000 |
    /// | future (quantity in contracts; notional as quantity x price, the multiplier not known) | 1 000 | 20 000 000 |
    /// | anything else | 1 000 000 | 20 000 000 |
    ///
    /// So a pair keeps its limits under a venue's spelling (`EURUSD=X`, `EUR_USD`). A price
    /// deviation of 10 % from the reference price is the most a limit or stop price may stray.
    /// Configuration overrides any of them.
    #[must_use]
    pub fn safe_default_for_instrument(instrument: &crate::Instrument) -> Self {
        let (max_qty, max_notional) = match instrument.asset_class() {
            crate::AssetClass::FxPair { quote, .. } if crate::instrument::is_big_unit(quote) => {
                (10_000_000, 2_000_000_000)
            }
            crate::AssetClass::FxPair { .. } => (10_000_000, 20_000_000),
            crate::AssetClass::Future => (1_000, 20_000_000),
            _ if instrument.hours() == crate::TradingHours::Tokyo => (1_000_000, 3_000_000_000_i64),
            _ => (1_000_000, 20_000_000),
        };
        Self {
            max_quantity: Quantity::new(Decimal::from(max_qty)).ok(),
            max_notional: Some(Decimal::from(max_notional)),
            max_price_deviation: Some(Decimal::new(10, 2)),
            ..Self::new()
        }
    }

    /// These limits, each one this set lacks taken from `fallback`.
    #[must_use]
    pub fn or(self, fallback: &Self) -> Self {
        Self {
            allowed_symbols: self
                .allowed_symbols
                .or_else(|| fallback.allowed_symbols.clone()),
            min_quantity: self.min_quantity.or(fallback.min_quantity),
            max_quantity: self.max_quantity.or(fallback.max_quantity),
            quantity_step: self.quantity_step.or(fallback.quantity_step),
            max_notional: self.max_notional.or(fallback.max_notional),
            max_price_deviation: self.max_price_deviation.or(fallback.max_price_deviation),
        }
    }
}

/// Checks orders against [`OrderLimits`] before they are sent.
///
/// The limits of a symbol are, limit by limit: its own ([`OrderValidator::symbol_limits`]),
/// else the ones for every symbol, else (with [`OrderValidator::with_safe_defaults`]) the
/// instrument's safe defaults ([`OrderLimits::safe_default_for_instrument`], of the
/// validator's instruments when it has them).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct OrderValidator {
    limits: OrderLimits,
    per_symbol: std::collections::BTreeMap<Symbol, OrderLimits>,
    safe_defaults: bool,
    instruments: Option<std::sync::Arc<crate::InstrumentRegistry>>,
    unknown_symbols: bool,
    market_orders_when_closed: bool,
}

impl fmt::Debug for OrderValidator {
    /// The limits and switches; the instruments by count (a registry is many kilobytes).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OrderValidator")
            .field("limits", &self.limits)
            .field("per_symbol", &self.per_symbol)
            .field("safe_defaults", &self.safe_defaults)
            .field(
                "instruments",
                &self.instruments.as_ref().map(|r| r.iter().count()),
            )
            .field("unknown_symbols", &self.unknown_symbols)
            .field("market_orders_when_closed", &self.market_orders_when_closed)
            .finish()
    }
}

impl OrderValidator {
    /// A validator for exactly `limits`, for every symbol.
    #[must_use]
    pub const fn new(limits: OrderLimits) -> Self {
        Self {
            limits,
            per_symbol: std::collections::BTreeMap::new(),
            safe_defaults: false,
            instruments: None,
            unknown_symbols: true,
            market_orders_when_closed: true,
        }
    }

    /// A validator for `limits`, each limit they leave open taken from the instrument's safe
    /// defaults, and prices and quantities checked against the built-in instruments' tick and
    /// lot step; only registered instruments trade (or those `limits` allow by name), and
    /// market orders only while their market is open: what the order processor runs with.
    #[must_use]
    pub fn with_safe_defaults(limits: OrderLimits) -> Self {
        Self {
            limits,
            per_symbol: std::collections::BTreeMap::new(),
            safe_defaults: true,
            instruments: Some(std::sync::Arc::new(
                crate::InstrumentRegistry::shared_builtin().clone(),
            )),
            unknown_symbols: false,
            market_orders_when_closed: false,
        }
    }

    /// Whether a symbol the instruments do not know (and no allowed list names) may trade on
    /// its kind's defaults; refused with [`RejectionReason::UnknownSymbol`] when not. Only
    /// checked with [`instruments`](Self::instruments) (or the safe defaults').
    #[must_use]
    pub const fn unknown_symbols(mut self, allow: bool) -> Self {
        self.unknown_symbols = allow;
        self
    }

    /// Whether a market order may go to the executor while its instrument's market is closed
    /// (by its trading hours); refused with [`RejectionReason::MarketClosed`] when not. Limit
    /// and stop orders rest at the broker and are not refused. Only checked with
    /// [`instruments`](Self::instruments) (or the safe defaults').
    #[must_use]
    pub const fn market_orders_when_closed(mut self, allow: bool) -> Self {
        self.market_orders_when_closed = allow;
        self
    }

    /// Checks an order's price against its instrument's tick and its quantity against the
    /// instrument's lot step, from `instruments`.
    #[must_use]
    pub fn instruments(mut self, instruments: std::sync::Arc<crate::InstrumentRegistry>) -> Self {
        self.instruments = Some(instruments);
        self
    }

    /// Limits of `symbol` that win over the others.
    #[must_use]
    pub fn symbol_limits(mut self, symbol: Symbol, limits: OrderLimits) -> Self {
        self.per_symbol.insert(symbol, limits);
        self
    }

    /// The limits an order of `symbol` is checked against.
    #[must_use]
    pub fn limits_for(&self, symbol: &Symbol) -> OrderLimits {
        let mut l = self
            .per_symbol
            .get(symbol)
            .cloned()
            .unwrap_or_default()
            .or(&self.limits);
        if self.safe_defaults {
            let instrument = self.instruments.as_ref().map_or_else(
                || crate::InstrumentRegistry::shared_builtin().resolve(symbol),
                |r| r.resolve(symbol),
            );
            l = l.or(&OrderLimits::safe_default_for_instrument(&instrument));
        }
        l
    }

    /// Checks `order` as of when it was received ([`validate_at`](Self::validate_at)).
    ///
    /// # Errors
    /// As [`validate_at`](Self::validate_at).
    pub fn validate(&self, order: &Order, reference: Option<Price>) -> Result<(), Rejection> {
        self.validate_at(order, reference, order.created_at())
    }

    /// Checks `order` at `now`; `reference` is the current market price, used for the notional
    /// of market orders and for the price sanity check. Without it, a check that needs it fails
    /// closed.
    ///
    /// # Errors
    /// The first [`Rejection`] that applies, in the order: symbol (allowed, then known), market
    /// hours, quantity range, quantity step, price, notional.
    pub fn validate_at(
        &self,
        order: &Order,
        reference: Option<Price>,
        now: DateTime<Utc>,
    ) -> Result<(), Rejection> {
        let l = &self.limits_for(order.symbol());
        if let Some(allowed) = &l.allowed_symbols
            && !allowed.contains(order.symbol())
        {
            return Err(Rejection::new(
                RejectionReason::SymbolNotAllowed,
                format!("{} is not in the allowed symbols", order.symbol()),
            ));
        }
        if let Some(registry) = &self.instruments {
            let named = l
                .allowed_symbols
                .as_ref()
                .is_some_and(|a| a.contains(order.symbol()));
            if !self.unknown_symbols && !named && !registry.knows(order.symbol()) {
                return Err(Rejection::new(
                    RejectionReason::UnknownSymbol,
                    format!(
                        "{} is not a registered instrument: add it under [instruments] or to [orders] allowed_symbols, or set [orders] allow_unknown_symbols",
                        order.symbol()
                    ),
                ));
            }
            if !self.market_orders_when_closed && order.order_type() == OrderType::Market {
                let instrument = registry.resolve(order.symbol());
                let calendar = instrument.calendar();
                if !calendar.is_open(now) {
                    return Err(Rejection::new(
                        RejectionReason::MarketClosed,
                        format!(
                            "{} is closed at {} ({} hours; it opens at {}): a market order would fill at a stale price",
                            order.symbol(),
                            now.to_rfc3339(),
                            instrument.hours().as_str(),
                            calendar.next_open(now).to_rfc3339()
                        ),
                    ));
                }
            }
        }
        let qty = order.quantity().get();
        let below = l.min_quantity.is_some_and(|m| qty < m.get());
        let above = l.max_quantity.is_some_and(|m| qty > m.get());
        if below || above {
            let bound = |q: Option<Quantity>| q.map_or_else(|| "-".to_owned(), |q| q.to_string());
            return Err(Rejection::new(
                RejectionReason::QuantityOutOfRange,
                format!(
                    "quantity {qty} is outside [{}, {}]",
                    bound(l.min_quantity),
                    bound(l.max_quantity)
                ),
            ));
        }
        if let Some(step) = l.quantity_step
            && !(qty % step.get()).is_zero()
        {
            return Err(Rejection::new(
                RejectionReason::QuantityStepInvalid,
                format!("quantity {qty} is not a multiple of {step}"),
            ));
        }
        let own_price = order.order_type().price();
        if let Some(instrument) = self.instruments.as_ref().map(|r| r.resolve(order.symbol())) {
            check_instrument(&instrument, qty, own_price)?;
        }
        if let (Some(max_dev), Some(p)) = (l.max_price_deviation, own_price) {
            let Some(r) = reference else {
                return Err(Rejection::new(
                    RejectionReason::PriceInvalid,
                    "no reference price to check the order price against",
                ));
            };
            let deviation = ((p.get() - r.get()) / r.get()).abs();
            if deviation > max_dev {
                return Err(Rejection::new(
                    RejectionReason::PriceInvalid,
                    format!(
                        "price {p} is {deviation:.4} away from the reference {r}, the limit is {max_dev}"
                    ),
                ));
            }
        }
        if let Some(max) = l.max_notional {
            let Some(price) = own_price.or(reference) else {
                return Err(Rejection::new(
                    RejectionReason::PriceInvalid,
                    "no price to compute the notional of a market order",
                ));
            };
            let notional = qty.checked_mul(price.get());
            if notional.is_none_or(|n| n > max) {
                return Err(Rejection::new(
                    RejectionReason::NotionalLimitExceeded,
                    format!("notional of {qty} at {price} is above {max}"),
                ));
            }
        }
        Ok(())
    }
}

/// The instrument's lot step and tick.
fn check_instrument(
    instrument: &crate::Instrument,
    qty: Decimal,
    price: Option<Price>,
) -> Result<(), Rejection> {
    if let Some(lot) = instrument.lot_step()
        && !(qty % lot.get()).is_zero()
    {
        return Err(Rejection::new(
            RejectionReason::QuantityStepInvalid,
            format!(
                "quantity {qty} is not a multiple of {}'s lot step {lot}",
                instrument.symbol()
            ),
        ));
    }
    let tick = instrument.tick();
    if let Some(p) = price
        && !tick.contains(p.get())
    {
        return Err(Rejection::new(
            RejectionReason::PriceInvalid,
            format!(
                "price {p} is not on {}'s tick of {tick}",
                instrument.symbol()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn dec(s: &str) -> Decimal {
        Decimal::from_str_exact(s).unwrap()
    }

    fn at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 2, 2, 9, 0, 0).unwrap()
    }

    fn order(qty: &str, ty: OrderType) -> Order {
        Order::new(
            "o-1".parse().unwrap(),
            "c-1".parse().unwrap(),
            "USDJPY".parse().unwrap(),
            Side::Buy,
            ty,
            qty.parse().unwrap(),
            at(),
        )
    }

    fn fill() -> Fill {
        Fill {
            broker_order_id: "b-1".into(),
            quantity: "1000".parse().unwrap(),
            price: "150.1".parse().unwrap(),
            filled_at: at(),
        }
    }

    #[test]
    fn status_machine_allows_exactly_the_legal_transitions() {
        use OrderStatus::*;
        let all = [Received, Submitted, Filled, Rejected, Failed, Cancelled];
        let legal = [
            (Received, Submitted),
            (Received, Rejected),
            (Submitted, Filled),
            (Submitted, Rejected),
            (Submitted, Failed),
            (Submitted, Cancelled),
        ];
        for from in all {
            for to in all {
                assert_eq!(
                    from.can_become(to),
                    legal.contains(&(from, to)),
                    "{from} -> {to}"
                );
            }
            assert_eq!(from.is_final(), !matches!(from, Received | Submitted));
            assert_eq!(from.as_str().parse::<OrderStatus>().unwrap(), from);
        }
    }

    #[test]
    fn order_methods_enforce_transitions() {
        let mut o = order("1000", OrderType::Market);
        let later = at() + chrono::Duration::seconds(1);
        assert!(
            o.mark_filled(fill(), later, "t").is_err(),
            "received cannot fill"
        );
        assert!(o.mark_failed("x", later, "t").is_err());
        assert!(o.mark_cancelled(later, "t", "x").is_err());
        assert_eq!(o.status(), OrderStatus::Received);
        o.mark_submitted(later, "t").unwrap();
        assert_eq!(o.updated_at(), later);
        let err = o.mark_submitted(later, "t").unwrap_err();
        assert_eq!(
            (err.from, err.to),
            (OrderStatus::Submitted, OrderStatus::Submitted)
        );
        o.mark_filled(fill(), later, "t").unwrap();
        assert_eq!(o.fill(), Some(&fill()));
        for r in [
            o.clone().mark_rejected(
                Rejection::new(RejectionReason::BrokerRejected, "x"),
                later,
                "t",
            ),
            o.clone().mark_cancelled(later, "t", "x"),
            o.clone().mark_failed("x", later, "t"),
        ] {
            assert!(r.is_err(), "filled is final");
        }
        let mut r = order("1", OrderType::Market);
        r.mark_rejected(
            Rejection::new(RejectionReason::KillSwitchActive, "halted"),
            later,
            "t",
        )
        .unwrap();
        assert_eq!(
            r.rejection().map(|x| x.reason.code()),
            Some("KILL_SWITCH_ACTIVE")
        );
        let mut f = order("1", OrderType::Market);
        f.mark_submitted(later, "p-1").unwrap();
        f.mark_failed("broker timeout", later, "p-2").unwrap();
        assert_eq!(f.failure(), Some("broker timeout"));
        let h: Vec<_> = f
            .history()
            .iter()
            .map(|t| (t.from, t.to, t.by.as_str(), t.reason.as_str()))
            .collect();
        assert_eq!(
            h,
            [
                (None, OrderStatus::Received, "", "received"),
                (
                    Some(OrderStatus::Received),
                    OrderStatus::Submitted,
                    "p-1",
                    "sent to the executor"
                ),
                (
                    Some(OrderStatus::Submitted),
                    OrderStatus::Failed,
                    "p-2",
                    "broker timeout"
                ),
            ]
        );
        // A refused change leaves no trace.
        assert!(f.mark_submitted(later, "p-3").is_err());
        assert_eq!(f.history().len(), 3);
        // Records stored before the history existed still read.
        let mut old = serde_json::to_value(&f).unwrap();
        old.as_object_mut().unwrap().remove("history");
        let back: Order = serde_json::from_value(old).unwrap();
        assert!(back.history().is_empty());
    }

    #[test]
    fn safe_defaults_follow_the_instrument_not_the_spelling() {
        let limits = |s: &str| OrderLimits::safe_default_for(&s.parse().unwrap());
        let q = |n: i64| Quantity::new(Decimal::from(n)).ok();
        for (s, qty, notional) in [
            ("USDJPY", 10_000_000, 2_000_000_000),
            ("USDJPY=X", 10_000_000, 2_000_000_000),
            ("GBP_JPY", 10_000_000, 2_000_000_000),
            ("EURUSD", 10_000_000, 20_000_000),
            ("EURUSD=X", 10_000_000, 20_000_000),
            ("BTC-USD", 10_000_000, 20_000_000),
            ("7203.T", 1_000_000, 3_000_000_000_i64),
            ("AAPL", 1_000_000, 20_000_000),
            ("ES=F", 1_000, 20_000_000),
        ] {
            let l = limits(s);
            assert_eq!(l.max_quantity, q(qty), "{s}");
            assert_eq!(l.max_notional, Some(Decimal::from(notional)), "{s}");
        }
        // The validator's own instruments decide: an override to a yen-quoted pair.
        let mut r = crate::InstrumentRegistry::builtin();
        let s: Symbol = "ABCD".parse().unwrap();
        r.override_with(
            &s,
            &serde_json::from_str(
                r#"{"asset_class": {"kind": "fx_pair", "base": "ABC", "quote": "JPY"}}"#,
            )
            .unwrap(),
        );
        let v = OrderValidator::with_safe_defaults(OrderLimits::new())
            .instruments(std::sync::Arc::new(r));
        assert_eq!(
            v.limits_for(&s).max_notional,
            Some(Decimal::from(2_000_000_000))
        );
    }

    #[test]
    fn safe_defaults_refuse_absurd_orders_and_configuration_overrides_them() {
        let v = OrderValidator::with_safe_defaults(OrderLimits::new());
        let reference = Some("150".parse().unwrap());
        let absurd = order("79000000000000000000000000000", OrderType::Market);
        assert_eq!(
            v.validate(&absurd, reference).unwrap_err().reason,
            RejectionReason::QuantityOutOfRange
        );
        assert!(
            v.validate(&order("1000000", OrderType::Market), reference)
                .is_ok()
        );
        // 10 M USDJPY at 150 is 1.5 bn JPY: inside; at 250 it is not.
        assert!(
            v.validate(&order("10000000", OrderType::Market), reference)
                .is_ok()
        );
        assert_eq!(
            v.validate(
                &order("10000000", OrderType::Market),
                Some("250".parse().unwrap())
            )
            .unwrap_err()
            .reason,
            RejectionReason::NotionalLimitExceeded
        );
        // A limit far from the market.
        let far = order(
            "1000",
            OrderType::Limit {
                price: "200".parse().unwrap(),
            },
        );
        assert_eq!(
            v.validate(&far, reference).unwrap_err().reason,
            RejectionReason::PriceInvalid
        );
        // Configured limits win, for every symbol or for one.
        let v = OrderValidator::with_safe_defaults(
            OrderLimits::new().quantity_range("1".parse().unwrap(), "100".parse().unwrap()),
        );
        assert!(
            v.validate(&order("1000", OrderType::Market), reference)
                .is_err()
        );
        let v = v.symbol_limits(
            "USDJPY".parse().unwrap(),
            OrderLimits::new().quantity_range("1".parse().unwrap(), "5000".parse().unwrap()),
        );
        assert!(
            v.validate(&order("1000", OrderType::Market), reference)
                .is_ok()
        );
        assert_eq!(
            v.limits_for(&"AAPL".parse().unwrap()).max_quantity,
            Some("100".parse().unwrap())
        );
        // Without safe defaults nothing is implied.
        let bare = OrderValidator::new(OrderLimits::new());
        assert!(bare.validate(&absurd, None).is_ok());
    }

    #[test]
    fn prices_are_checked_against_the_tick_and_quantities_against_the_lot_step() {
        let v = OrderValidator::with_safe_defaults(OrderLimits::new());
        let reference = Some("150".parse().unwrap());
        let limit = |qty: &str, p: &str| {
            order(
                qty,
                OrderType::Limit {
                    price: p.parse().unwrap(),
                },
            )
        };
        // USDJPY's tick is 0.001 and its lot one unit.
        assert!(v.validate(&limit("1000", "150.123"), reference).is_ok());
        assert!(v.validate(&limit("1000", "150.1230"), reference).is_ok());
        let off_tick = v
            .validate(&limit("1000", "150.1234"), reference)
            .unwrap_err();
        assert_eq!(off_tick.reason, RejectionReason::PriceInvalid);
        assert!(
            off_tick.detail.contains("tick of 0.001"),
            "{}",
            off_tick.detail
        );
        let part_lot = v
            .validate(&limit("1000.5", "150.123"), reference)
            .unwrap_err();
        assert_eq!(part_lot.reason, RejectionReason::QuantityStepInvalid);
        assert!(
            part_lot.detail.contains("lot step 1"),
            "{}",
            part_lot.detail
        );
        // A registry from configuration: a coarser tick and 1 000-unit lots.
        let mut r = crate::InstrumentRegistry::builtin();
        r.override_with(
            &"USDJPY".parse().unwrap(),
            &crate::InstrumentOverride {
                tick: Some("0.01".parse().unwrap()),
                lot_step: Some("1000".parse().unwrap()),
                ..Default::default()
            },
        );
        let v = v.instruments(std::sync::Arc::new(r));
        assert_eq!(
            v.validate(&limit("1000", "150.123"), reference)
                .unwrap_err()
                .reason,
            RejectionReason::PriceInvalid
        );
        assert_eq!(
            v.validate(&limit("1500", "150.12"), reference)
                .unwrap_err()
                .reason,
            RejectionReason::QuantityStepInvalid
        );
        assert!(v.validate(&limit("2000", "150.12"), reference).is_ok());
        // Market orders have no price to check; a bare validator checks no instrument.
        assert!(
            v.validate(&order("3000", OrderType::Market), reference)
                .is_ok()
        );
        let bare = OrderValidator::new(OrderLimits::new());
        assert!(bare.validate(&limit("0.5", "150.1234"), None).is_ok());
    }

    fn order_of(symbol: &str, ty: OrderType, at: DateTime<Utc>) -> Order {
        Order::new(
            "o-9".parse().unwrap(),
            "c-9".parse().unwrap(),
            symbol.parse().unwrap(),
            Side::Buy,
            ty,
            "10".parse().unwrap(),
            at,
        )
    }

    #[test]
    fn only_registered_instruments_trade_unless_allowed() {
        let v = OrderValidator::with_safe_defaults(OrderLimits::new());
        let noon = Utc.with_ymd_and_hms(2026, 11, 17, 16, 0, 0).unwrap();
        let price = Some("150".parse().unwrap());
        for unknown in ["ZZZQX", "QQQQQQ", "XYZ9.T"] {
            let e = v
                .validate_at(&order_of(unknown, OrderType::Market, noon), price, noon)
                .unwrap_err();
            assert_eq!(e.reason, RejectionReason::UnknownSymbol, "{unknown}");
            assert_eq!(e.reason.code(), "UNKNOWN_SYMBOL");
            assert!(e.detail.starts_with(unknown), "{}", e.detail);
        }
        assert!(
            v.validate_at(&order_of("USDJPY", OrderType::Market, noon), price, noon)
                .is_ok()
        );
        // Named in the allowed list, or allowed by the operator: it trades on its defaults.
        let named = OrderValidator::with_safe_defaults(
            OrderLimits::new().allowed_symbols(["ZZZQX".parse().unwrap()]),
        );
        let o = order_of("ZZZQX", OrderType::Market, noon);
        assert!(named.validate_at(&o, price, noon).is_ok());
        assert!(
            v.clone()
                .unknown_symbols(true)
                .validate_at(&o, price, noon)
                .is_ok()
        );
    }

    #[test]
    fn market_orders_wait_for_the_market_to_open() {
        let v = OrderValidator::with_safe_defaults(OrderLimits::new());
        let price = Some("150".parse().unwrap());
        let registry = crate::InstrumentRegistry::shared_builtin();
        // Every hour of a week that holds a weekend, for a New York stock, a Tokyo stock and
        // an FX pair: a market order is refused exactly when the instrument's calendar is
        // closed; a limit order never for that.
        let start = Utc.with_ymd_and_hms(2026, 11, 13, 0, 30, 0).unwrap();
        for symbol in ["AAPL", "7203.T", "USDJPY"] {
            let calendar = registry.resolve(&symbol.parse().unwrap()).calendar();
            for h in 0..(24 * 5) {
                let t = start + chrono::Duration::hours(h);
                let market = v.validate_at(&order_of(symbol, OrderType::Market, t), price, t);
                if calendar.is_open(t) {
                    assert!(market.is_ok(), "{symbol} at {t}: {market:?}");
                } else {
                    let e = market.unwrap_err();
                    assert_eq!(e.reason, RejectionReason::MarketClosed, "{symbol} at {t}");
                    assert!(e.detail.contains("it opens at"), "{}", e.detail);
                }
                let limit = OrderType::Limit {
                    price: "150".parse().unwrap(),
                };
                let r = v.validate_at(&order_of(symbol, limit, t), price, t);
                assert!(
                    r.as_ref()
                        .map_or_else(|e| e.reason != RejectionReason::MarketClosed, |()| true),
                    "{symbol} limit at {t}: {r:?}"
                );
            }
        }
        // The operator's choice: market orders go out while closed.
        let sunday = Utc.with_ymd_and_hms(2026, 11, 15, 12, 0, 0).unwrap();
        let o = order_of("USDJPY", OrderType::Market, sunday);
        assert!(v.validate_at(&o, price, sunday).is_err());
        assert!(
            v.clone()
                .market_orders_when_closed(true)
                .validate_at(&o, price, sunday)
                .is_ok()
        );
        // The instruments are counted in the validator's Debug, not listed.
        assert!(format!("{v:?}").len() < 600, "{v:?}");
    }

    #[test]
    fn ids_and_values_are_validated() {
        assert!(OrderId::new("").is_err());
        assert!(OrderId::new("a b").is_err());
        assert!(OrderId::new(&"x".repeat(65)).is_err());
        assert!(ClientOrderId::new("abc-123_X").is_ok());
        assert!("0".parse::<Quantity>().is_err());
        assert!("-1".parse::<Quantity>().is_err());
        assert!(matches!(
            "abc".parse::<Price>(),
            Err(DecimalError::NotANumber { .. })
        ));
        let e = "7.9e28".parse::<Quantity>().unwrap_err();
        assert_eq!(e.to_string(), "quantity \"7.9e28\" is not a decimal number");
        // 1e30 written out in full is a number, out of range.
        let big = format!("1{}", "0".repeat(30));
        let e = big.parse::<Quantity>().unwrap_err();
        assert!(matches!(e, DecimalError::OutOfRange { .. }), "{e:?}");
        assert!(e.to_string().contains("is out of range"), "{e}");
        let fine = format!("0.{}1", "0".repeat(29));
        assert!(matches!(
            fine.parse::<Price>(),
            Err(DecimalError::OutOfRange { .. })
        ));
        assert!(matches!(
            "-1".parse::<Quantity>(),
            Err(DecimalError::NotPositive(_))
        ));
        assert_eq!("0.01".parse::<Quantity>().unwrap().get(), dec("0.01"));
        let json = serde_json::to_string(&order(
            "10",
            OrderType::Limit {
                price: "150.25".parse().unwrap(),
            },
        ))
        .unwrap();
        let back: Order = serde_json::from_str(&json).unwrap();
        assert_eq!(back.order_type().price(), Some("150.25".parse().unwrap()));
        assert!(serde_json::from_str::<Quantity>("\"0\"").is_err());
    }

    #[test]
    fn codes_are_stable() {
        use RejectionReason::*;
        let codes: Vec<_> = [
            KillSwitchActive,
            KillSwitchUnavailable,
            SymbolNotAllowed,
            QuantityOutOfRange,
            QuantityStepInvalid,
            NotionalLimitExceeded,
            PriceInvalid,
            InvalidMessage,
            BrokerRejected,
            UnknownSymbol,
            MarketClosed,
            DuplicateClientOrderId,
        ]
        .iter()
        .map(|r| r.code())
        .collect();
        assert_eq!(
            codes,
            [
                "KILL_SWITCH_ACTIVE",
                "KILL_SWITCH_UNAVAILABLE",
                "SYMBOL_NOT_ALLOWED",
                "QUANTITY_OUT_OF_RANGE",
                "QUANTITY_STEP_INVALID",
                "NOTIONAL_LIMIT_EXCEEDED",
                "PRICE_INVALID",
                "INVALID_MESSAGE",
                "BROKER_REJECTED",
                "UNKNOWN_SYMBOL",
                "MARKET_CLOSED",
                "DUPLICATE_CLIENT_ORDER_ID",
            ]
        );
        assert_eq!(
            serde_json::to_string(&KillSwitchActive).unwrap(),
            "\"KILL_SWITCH_ACTIVE\""
        );
        // Stored rejections read back: the serde name is the code.
        for r in [UnknownSymbol, MarketClosed, DuplicateClientOrderId] {
            assert_eq!(serde_json::to_value(r).unwrap(), r.code());
        }
    }

    #[test]
    fn validator_checks_each_limit() {
        let q = |s: &str| s.parse::<Quantity>().unwrap();
        let p = |s: &str| s.parse::<Price>().unwrap();
        let v = OrderValidator::new(
            OrderLimits::new()
                .allowed_symbols(["USDJPY".parse().unwrap(), "EURUSD".parse().unwrap()])
                .quantity_range(q("1000"), q("1000000"))
                .quantity_step(q("1000"))
                .max_notional(dec("50000000"))
                .max_price_deviation(dec("0.05")),
        );
        let reason = |o: &Order, r: Option<Price>| v.validate(o, r).err().map(|e| e.reason);
        let reference = Some(p("150"));
        assert_eq!(reason(&order("10000", OrderType::Market), reference), None);
        let mut other = order("10000", OrderType::Market);
        other.symbol = "GBPJPY".parse().unwrap();
        assert_eq!(
            reason(&other, reference),
            Some(RejectionReason::SymbolNotAllowed)
        );
        assert_eq!(
            reason(&order("500", OrderType::Market), reference),
            Some(RejectionReason::QuantityOutOfRange)
        );
        assert_eq!(
            reason(&order("2000000", OrderType::Market), reference),
            Some(RejectionReason::QuantityOutOfRange)
        );
        assert_eq!(
            reason(&order("1500", OrderType::Market), reference),
            Some(RejectionReason::QuantityStepInvalid)
        );
        let far = OrderType::Limit { price: p("170") };
        assert_eq!(
            reason(&order("1000", far), reference),
            Some(RejectionReason::PriceInvalid)
        );
        let near = OrderType::Stop { price: p("151") };
        assert_eq!(reason(&order("1000", near), reference), None);
        assert_eq!(
            reason(&order("1000", near), None),
            Some(RejectionReason::PriceInvalid),
            "fails closed"
        );
        assert_eq!(
            reason(&order("1000", OrderType::Market), None),
            Some(RejectionReason::PriceInvalid),
            "fails closed"
        );
        assert_eq!(
            reason(&order("400000", OrderType::Market), reference),
            Some(RejectionReason::NotionalLimitExceeded)
        );
        // No limits: anything positive passes.
        assert!(
            OrderValidator::default()
                .validate(&order("0.5", OrderType::Market), None)
                .is_ok()
        );
    }
}
