//! [`order_validator`]: the order limits the settings describe.

use crate::Settings;

/// The order validator the settings describe: `[orders] allowed_symbols`, `[orders.limits]`
/// and `[orders.symbol_limits.*]` over each instrument's safe defaults, prices and quantities
/// checked against the tick and lot step of the instruments (`[instruments.*]` applied).
#[must_use]
pub fn order_validator(settings: &Settings) -> axia_domain::OrderValidator {
    let o = &settings.orders;
    let mut limits = o.limits.to_limits();
    if !o.allowed_symbols.is_empty() {
        limits = limits.allowed_symbols(o.allowed_symbols.iter().cloned());
    }
    let validator = axia_domain::OrderValidator::with_safe_defaults(limits)
        .instruments(std::sync::Arc::new(settings.instrument_registry()))
        .unknown_symbols(o.allow_unknown_symbols)
        .market_orders_when_closed(o.market_orders_when_closed);
    o.symbol_limits.iter().fold(validator, |v, (symbol, l)| {
        v.symbol_limits(symbol.clone(), l.to_limits())
    })
}
