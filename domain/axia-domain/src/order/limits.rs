//! [`OrderLimits`]: the risk limits an order is checked against.

use std::collections::BTreeSet;

use rust_decimal::Decimal;

use super::*;
use crate::Symbol;

/// The limits [`OrderValidator`] checks orders against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderLimits {
    pub(super) allowed_symbols: Option<BTreeSet<Symbol>>,
    pub(super) min_quantity: Option<Quantity>,
    pub(super) max_quantity: Option<Quantity>,
    pub(super) quantity_step: Option<Quantity>,
    pub(super) max_notional: Option<Decimal>,
    pub(super) max_price_deviation: Option<Decimal>,
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
