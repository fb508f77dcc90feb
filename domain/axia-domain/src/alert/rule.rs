//! [`AlertRule`], its parts and the [`Alert`] it fires.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::{Condition, FiredValues};
use crate::{Bar, Symbol, Timeframe};

/// Why a rule was refused; the message names the rule (when known) and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AlertRuleError {
    /// A rule id that is empty, too long or has other characters than `A-Z a-z 0-9 _ - .`.
    #[error("alert rule id {0:?}: 1 to 64 letters, digits, '_', '-' or '.'")]
    Id(String),
    /// A condition that does not parse or is out of range.
    #[error("condition {text:?}: {why}")]
    Condition {
        /// The condition as written (clipped to 80 characters).
        text: String,
        /// What is wrong.
        why: String,
    },
    /// A message template that names something no alert has.
    #[error("message template: {0}")]
    Template(String),
    /// A webhook name that is not a plain name.
    #[error("webhook {0:?}: 1 to 64 letters, digits, '_', '-' or '.'")]
    Webhook(String),
    /// The rule's own error, with the rule named.
    #[error("alert rule {rule}: {source}")]
    Rule {
        /// The rule.
        rule: String,
        /// What is wrong with it.
        #[source]
        source: Box<AlertRuleError>,
    },
}

impl AlertRuleError {
    pub(crate) fn condition(text: &str, why: &str) -> Self {
        Self::Condition {
            text: text.chars().take(80).collect(),
            why: why.to_owned(),
        }
    }

    /// This error, naming `rule`.
    #[must_use]
    pub fn of_rule(self, rule: &str) -> Self {
        match self {
            Self::Rule { .. } => self,
            other => Self::Rule {
                rule: rule.chars().take(64).collect(),
                source: Box::new(other),
            },
        }
    }
}

fn plain_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A validated plain name (1 to 64 letters, digits, `_`, `-` or `.`): `Display`, `FromStr`
/// and serde as a string.
macro_rules! plain_name_type {
    ($(#[$doc:meta])* $name:ident, $error:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The name.
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
            type Err = AlertRuleError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                if plain_name(s) {
                    Ok(Self(s.to_owned()))
                } else {
                    Err(AlertRuleError::$error(s.chars().take(80).collect()))
                }
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                String::deserialize(d)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

plain_name_type!(
    /// A rule's id: 1 to 64 letters, digits, `_`, `-` or `.`.
    RuleId,
    Id
);

plain_name_type!(
    /// A webhook's name in the settings (`[alerts.webhooks.NAME]`).
    WebhookName,
    Webhook
);

/// How often a rule may fire.
///
/// - `once_per_bar_close` (the default): evaluated when a bar closes; at most once per bar.
///   What `axia alerts test` replays over history gives the same bars.
/// - `once_per_bar`: evaluated on the forming bar's updates too, at most once per bar: it may
///   fire on a bar whose close no longer satisfies the condition (it repaints, as on every
///   charting platform).
/// - `once`: evaluated when a bar closes; fires at the first such bar, then never again (until
///   the rule is edited: a new revision).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// At the first closed bar where it holds, then never again.
    Once,
    /// At most once per bar, the forming bar included.
    OncePerBar,
    /// At most once per bar, when it closes.
    #[default]
    OncePerBarClose,
}

impl Frequency {
    /// True when it is evaluated on the forming bar's updates too.
    #[must_use]
    pub const fn on_forming(self) -> bool {
        matches!(self, Self::OncePerBar)
    }
}

/// A message with placeholders: `{{symbol}}`, `{{timeframe}}`, `{{rule}}`, `{{condition}}`,
/// `{{time}}` (the bar's open, RFC 3339), `{{forming}}`, the bar's `{{open}}`, `{{high}}`,
/// `{{low}}`, `{{close}}`, `{{volume}}`, and any feature by name (`{{rsi_14}}`; `n/a` where the
/// alert has no such value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageTemplate(String);

/// The default message.
const DEFAULT_MESSAGE: &str =
    "{{symbol}} {{timeframe}}: {{condition}} at {{time}} (close {{close}})";

impl Default for MessageTemplate {
    fn default() -> Self {
        Self(DEFAULT_MESSAGE.to_owned())
    }
}

impl MessageTemplate {
    /// The longest template, bytes.
    pub const MAX_LEN: usize = 1024;

    /// The template as written.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The placeholders it names, in order.
    fn names(s: &str) -> Result<Vec<&str>, AlertRuleError> {
        let mut names = Vec::new();
        let mut rest = s;
        while let Some(open) = rest.find("{{") {
            let after = rest.get(open + 2..).unwrap_or_default();
            let close = after
                .find("}}")
                .ok_or_else(|| AlertRuleError::Template("a `{{` is never closed".to_owned()))?;
            let name = after.get(..close).unwrap_or_default().trim();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
            {
                return Err(AlertRuleError::Template(format!(
                    "placeholder {{{{{}}}}}: lowercase letters, digits, '_' or '.'",
                    name.chars().take(40).collect::<String>()
                )));
            }
            names.push(name);
            rest = after.get(close + 2..).unwrap_or_default();
        }
        Ok(names)
    }

    /// The message of `alert`.
    #[must_use]
    pub fn render(&self, alert: &Alert) -> String {
        let mut out = String::with_capacity(self.0.len() + 32);
        let mut rest = self.0.as_str();
        while let Some(open) = rest.find("{{") {
            out.push_str(rest.get(..open).unwrap_or_default());
            let after = rest.get(open + 2..).unwrap_or_default();
            let Some(close) = after.find("}}") else {
                break;
            };
            let name = after.get(..close).unwrap_or_default().trim();
            out.push_str(&alert.placeholder(name));
            rest = after.get(close + 2..).unwrap_or_default();
        }
        out.push_str(rest);
        out
    }
}

impl FromStr for MessageTemplate {
    type Err = AlertRuleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() > Self::MAX_LEN {
            return Err(AlertRuleError::Template(format!(
                "longer than {} bytes",
                Self::MAX_LEN
            )));
        }
        Self::names(s)?;
        Ok(Self(s.to_owned()))
    }
}

impl Serialize for MessageTemplate {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for MessageTemplate {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

const fn one() -> u32 {
    1
}

const fn yes() -> bool {
    true
}

/// An alert rule: a condition on one series, how often it may fire, until when, and what it
/// says. Every field is valid by its type; whether the features it names are computed for its
/// series is checked where the feature engine's configuration is known.
///
/// ```
/// use axia_domain::{AlertRule, Frequency};
///
/// let rule: AlertRule = serde_json::from_str(r#"{
///     "id": "usdjpy-rsi", "symbol": "USDJPY", "timeframe": "M5",
///     "condition": "crossing_up(rsi_14, 70)"
/// }"#)?;
/// assert_eq!(rule.frequency, Frequency::OncePerBarClose);
/// assert_eq!(rule.condition.to_string(), "crossing_up(rsi_14, 70)");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// The rule's id.
    pub id: RuleId,
    /// Goes up on every edit: an edited rule fires afresh (its alerts have new ids).
    #[serde(default = "one")]
    pub revision: u32,
    /// The series' symbol.
    pub symbol: Symbol,
    /// The series' timeframe.
    pub timeframe: Timeframe,
    /// What it watches.
    pub condition: Condition,
    /// How often it may fire.
    #[serde(default)]
    pub frequency: Frequency,
    /// Bars opening at or after this instant do not fire it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// What its alerts say.
    #[serde(default)]
    pub message: MessageTemplate,
    /// The webhooks its alerts are posted to, by name.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookName>,
    /// A paused rule is not evaluated.
    #[serde(default = "yes")]
    pub enabled: bool,
}

impl AlertRule {
    /// A rule with the defaults: once per bar close, no expiry, the default message, no
    /// webhook, enabled, revision 1.
    #[must_use]
    pub fn new(id: RuleId, symbol: Symbol, timeframe: Timeframe, condition: Condition) -> Self {
        Self {
            id,
            revision: 1,
            symbol,
            timeframe,
            condition,
            frequency: Frequency::default(),
            expires_at: None,
            message: MessageTemplate::default(),
            webhooks: Vec::new(),
            enabled: true,
        }
    }

    /// True when a bar opening at `bar_open` may fire it (enabled, not expired).
    #[must_use]
    pub fn live_at(&self, bar_open: DateTime<Utc>) -> bool {
        self.enabled && self.expires_at.is_none_or(|e| bar_open < e)
    }

    /// The alert it fires at the newest point, when the condition holds there.
    #[must_use]
    pub fn fire(&self, bar: &Bar, forming: bool, values: FiredValues) -> Alert {
        let mut alert = Alert {
            id: AlertId::of(self, bar.time()),
            rule: self.id.clone(),
            revision: self.revision,
            symbol: self.symbol.clone(),
            timeframe: self.timeframe,
            bar_open: bar.time(),
            forming,
            condition: self.condition.to_string(),
            prices: AlertPrices {
                open: bar.open(),
                high: bar.high(),
                low: bar.low(),
                close: bar.close(),
                volume: bar.volume(),
            },
            values,
            message: String::new(),
            webhooks: self.webhooks.clone(),
        };
        alert.message = self.message.render(&alert);
        alert
    }
}

/// An alert's id, the same however often it is evaluated: `{rule}:{revision}:{bar open, epoch
/// ms}`, or `{rule}:{revision}:once` for a [`Frequency::Once`] rule. Whoever records alerts
/// keeps one per id: this is what makes delivery exactly once per rule and bar.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AlertId(String);

impl AlertId {
    /// The id of `rule`'s alert at the bar opening at `bar_open`.
    #[must_use]
    pub fn of(rule: &AlertRule, bar_open: DateTime<Utc>) -> Self {
        match rule.frequency {
            Frequency::Once => Self(format!("{}:{}:once", rule.id, rule.revision)),
            _ => Self(format!(
                "{}:{}:{}",
                rule.id,
                rule.revision,
                bar_open.timestamp_millis()
            )),
        }
    }

    /// The id.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AlertId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A fired alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Its id (see [`AlertId`]).
    pub id: AlertId,
    /// The rule that fired.
    pub rule: RuleId,
    /// The rule's revision.
    pub revision: u32,
    /// The series' symbol.
    pub symbol: Symbol,
    /// The series' timeframe.
    pub timeframe: Timeframe,
    /// The open time of the bar it fired at.
    pub bar_open: DateTime<Utc>,
    /// True when that bar was forming (a [`Frequency::OncePerBar`] rule).
    pub forming: bool,
    /// The condition, as written.
    pub condition: String,
    /// The bar's prices when it fired.
    pub prices: AlertPrices,
    /// The operands' values that made it hold.
    pub values: BTreeMap<String, f64>,
    /// The rendered message.
    pub message: String,
    /// The webhooks it is posted to (the rule's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookName>,
}

/// The prices of the bar an alert fired at, as they were then.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AlertPrices {
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
    /// Volume.
    pub volume: f64,
}

impl Alert {
    fn placeholder(&self, name: &str) -> String {
        let price = |v: f64| v.to_string();
        match name {
            "symbol" => self.symbol.to_string(),
            "timeframe" => self.timeframe.to_string(),
            "rule" => self.rule.to_string(),
            "condition" => self.condition.clone(),
            "time" => self.bar_open.to_rfc3339(),
            "forming" => self.forming.to_string(),
            "open" => price(self.prices.open),
            "high" => price(self.prices.high),
            "low" => price(self.prices.low),
            "close" => price(self.prices.close),
            "volume" => price(self.prices.volume),
            other => self
                .values
                .get(other)
                .map_or_else(|| "n/a".to_owned(), |v| price(*v)),
        }
    }
}
