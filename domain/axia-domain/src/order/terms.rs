//! What an order asks for: its side, type and terms.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::*;
use crate::Symbol;

/// Buy or sell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// Buy.
    Buy,
    /// Sell.
    Sell,
}

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
