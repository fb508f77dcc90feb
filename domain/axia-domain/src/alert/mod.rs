//! Alerts: rules on a series' bars and features ([`AlertRule`], [`Condition`]), the alert a
//! rule fires ([`Alert`], with an id that is the same however often it is evaluated), and
//! where alerts are recorded ([`AlertLog`](crate::AlertLog)). Pure: evaluation is a function of
//! the newest points of a series.

mod condition;
mod rule;

pub use condition::{AlertPoint, BarField, Condition, FiredValues, MAX_MOVING_BARS, Operand};
pub use rule::{
    Alert, AlertId, AlertPrices, AlertRule, AlertRuleError, Frequency, MessageTemplate, RuleId,
    WebhookName,
};

#[cfg(test)]
mod tests;
