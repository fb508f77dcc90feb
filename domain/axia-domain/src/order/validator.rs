//! [`OrderValidator`]: every check an order passes before it is sent.

use std::fmt;

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use super::*;
use crate::Symbol;

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
