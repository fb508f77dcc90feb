//! [`Condition`]: what an alert rule watches, defined exactly, and evaluated as a pure
//! function of the newest points of a series.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::AlertRuleError;
use crate::Bar;

/// The most bars a [`Condition::MovingUp`]/[`Condition::MovingDown`] may look back.
pub const MAX_MOVING_BARS: u32 = 100;

/// One point of a series as a rule sees it: a bar and the feature values at it (only
/// warmed-up features appear).
#[derive(Debug, Clone, Copy)]
pub struct AlertPoint<'a> {
    /// The bar.
    pub bar: &'a Bar,
    /// The feature values at the bar, by name (`ema_20`, `bb_upper_20_2`, …).
    pub values: &'a BTreeMap<String, f64>,
}

/// A bar field a condition can read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BarField {
    /// The open price.
    Open,
    /// The high price.
    High,
    /// The low price.
    Low,
    /// The close price.
    Close,
    /// The volume.
    Volume,
}

impl BarField {
    /// Every field, in bar order.
    pub const ALL: [Self; 5] = [Self::Open, Self::High, Self::Low, Self::Close, Self::Volume];

    /// Its name: `open`, `high`, `low`, `close`, `volume`.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::High => "high",
            Self::Low => "low",
            Self::Close => "close",
            Self::Volume => "volume",
        }
    }

    const fn of(self, bar: &Bar) -> f64 {
        match self {
            Self::Open => bar.open(),
            Self::High => bar.high(),
            Self::Low => bar.low(),
            Self::Close => bar.close(),
            Self::Volume => bar.volume(),
        }
    }
}

/// A value a condition compares: a bar field, a feature of the engine (by its name), or a
/// constant.
#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    /// A field of the bar.
    Field(BarField),
    /// A feature by name (`ema_20`, `rsi_14`, `bb_upper_20_2`); which names exist is the
    /// feature engine's configuration, checked when a rule is loaded.
    Feature(String),
    /// A finite constant.
    Value(f64),
}

/// The longest feature name an operand may carry.
const FEATURE_NAME_MAX_LEN: usize = 64;

impl Operand {
    /// Its value at `point`: `None` when it names a feature not (yet) computed there, or the
    /// value is not finite.
    #[must_use]
    pub fn at(&self, point: &AlertPoint<'_>) -> Option<f64> {
        let v = match self {
            Self::Field(f) => f.of(point.bar),
            Self::Feature(name) => *point.values.get(name)?,
            Self::Value(v) => *v,
        };
        v.is_finite().then_some(v)
    }

    /// The feature it names, if any.
    #[must_use]
    pub fn feature(&self) -> Option<&str> {
        match self {
            Self::Feature(name) => Some(name),
            _ => None,
        }
    }

    /// Its name as written in a condition (`None` for a constant).
    fn label(&self) -> Option<String> {
        match self {
            Self::Field(f) => Some(f.name().to_owned()),
            Self::Feature(n) => Some(n.clone()),
            Self::Value(_) => None,
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Field(field) => f.write_str(field.name()),
            Self::Feature(name) => f.write_str(name),
            Self::Value(v) => write!(f, "{v}"),
        }
    }
}

impl FromStr for Operand {
    type Err = AlertRuleError;

    /// A number, a bar field (`close`) or a feature name (lowercase letters, digits, `_` and
    /// `.`, starting with a letter, at most 64 bytes).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(field) = BarField::ALL.iter().find(|f| f.name() == s) {
            return Ok(Self::Field(*field));
        }
        if s.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
            return match s.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Self::Value(v)),
                _ => Err(AlertRuleError::condition(s, "not a finite number")),
            };
        }
        let valid = !s.is_empty()
            && s.len() <= FEATURE_NAME_MAX_LEN
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.');
        if valid {
            Ok(Self::Feature(s.to_owned()))
        } else {
            Err(AlertRuleError::condition(
                s,
                "expected a number, a bar field (open, high, low, close, volume) or a feature name (ema_20, rsi_14, …)",
            ))
        }
    }
}

/// What a rule watches. `x`, `y`, `lower`, `upper` are [`Operand`]s; `c` is the newest point,
/// `p` the one before it (the previous bar the series has, whatever lies between them: a
/// weekend, a missing bar). Exactly as TradingView and Pine Script define them:
///
/// | condition | fires when |
/// |---|---|
/// | `x > y` (`greater_than`) | `x[c] > y[c]` (strict) |
/// | `x < y` (`less_than`) | `x[c] < y[c]` (strict) |
/// | `crossing_up(x, y)` | `x[p] <= y[p]` and `x[c] > y[c]` (Pine's `ta.crossover`) |
/// | `crossing_down(x, y)` | `x[p] >= y[p]` and `x[c] < y[c]` (`ta.crossunder`) |
/// | `crossing(x, y)` | either of the two |
/// | `inside_channel(x, lower, upper)` | `lower[c] <= x[c] <= upper[c]` |
/// | `outside_channel(x, lower, upper)` | not inside at `c` |
/// | `entering_channel(x, lower, upper)` | outside at `p`, inside at `c` |
/// | `exiting_channel(x, lower, upper)` | inside at `p`, outside at `c` |
/// | `moving_up(x, P, N)` | `(x[c] - x[c-N]) * 100 >= P * x[c-N]`, `x[c-N] > 0` |
/// | `moving_down(x, P, N)` | `(x[c-N] - x[c]) * 100 >= P * x[c-N]`, `x[c-N] > 0` |
///
/// A touch and a bounce is a crossing (Pine's rule): `x` = 9, 10, 9 against 10 crosses down at
/// the third bar. An operand with no value at a point it needs (a feature still warming up, a
/// series too short) means the condition does not hold.
///
/// Written as an expression (`"rsi_14 > 70"`, `"crossing_up(ema_20, ema_50)"`,
/// `"moving_up(close, 0.5, 3)"`): [`Display`](fmt::Display) and [`FromStr`] round-trip, and
/// serde reads either that string or the tagged table
/// (`{ crossing_up = { left = "ema_20", right = "ema_50" } }`).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// `left > right` at the newest point.
    GreaterThan {
        /// Left operand.
        left: Operand,
        /// Right operand.
        right: Operand,
    },
    /// `left < right` at the newest point.
    LessThan {
        /// Left operand.
        left: Operand,
        /// Right operand.
        right: Operand,
    },
    /// Crossing up or down.
    Crossing {
        /// Left operand.
        left: Operand,
        /// Right operand.
        right: Operand,
    },
    /// `left` crosses above `right`.
    CrossingUp {
        /// Left operand.
        left: Operand,
        /// Right operand.
        right: Operand,
    },
    /// `left` crosses below `right`.
    CrossingDown {
        /// Left operand.
        left: Operand,
        /// Right operand.
        right: Operand,
    },
    /// `value` comes inside `[lower, upper]`.
    EnteringChannel {
        /// The watched value.
        value: Operand,
        /// The channel's lower edge.
        lower: Operand,
        /// The channel's upper edge.
        upper: Operand,
    },
    /// `value` leaves `[lower, upper]`.
    ExitingChannel {
        /// The watched value.
        value: Operand,
        /// The channel's lower edge.
        lower: Operand,
        /// The channel's upper edge.
        upper: Operand,
    },
    /// `value` is inside `[lower, upper]`.
    InsideChannel {
        /// The watched value.
        value: Operand,
        /// The channel's lower edge.
        lower: Operand,
        /// The channel's upper edge.
        upper: Operand,
    },
    /// `value` is outside `[lower, upper]`.
    OutsideChannel {
        /// The watched value.
        value: Operand,
        /// The channel's lower edge.
        lower: Operand,
        /// The channel's upper edge.
        upper: Operand,
    },
    /// `value` rose by at least `percent` % against `bars` bars back.
    MovingUp {
        /// The watched value.
        value: Operand,
        /// Percent, positive.
        percent: f64,
        /// Bars back, 1 to [`MAX_MOVING_BARS`].
        bars: u32,
    },
    /// `value` fell by at least `percent` % against `bars` bars back.
    MovingDown {
        /// The watched value.
        value: Operand,
        /// Percent, positive (below 100).
        percent: f64,
        /// Bars back, 1 to [`MAX_MOVING_BARS`].
        bars: u32,
    },
}

/// The values that made a condition hold, by operand name (constants left out), at the newest
/// point: what a message template can show.
pub type FiredValues = BTreeMap<String, f64>;

impl Condition {
    /// How many points before the newest one it reads (0, 1, or the bars of a move).
    #[must_use]
    pub fn lookback(&self) -> usize {
        match self {
            Self::GreaterThan { .. }
            | Self::LessThan { .. }
            | Self::InsideChannel { .. }
            | Self::OutsideChannel { .. } => 0,
            Self::Crossing { .. }
            | Self::CrossingUp { .. }
            | Self::CrossingDown { .. }
            | Self::EnteringChannel { .. }
            | Self::ExitingChannel { .. } => 1,
            Self::MovingUp { bars, .. } | Self::MovingDown { bars, .. } => *bars as usize,
        }
    }

    /// Its operands, in the order written.
    #[must_use]
    pub fn operands(&self) -> Vec<&Operand> {
        match self {
            Self::GreaterThan { left, right }
            | Self::LessThan { left, right }
            | Self::Crossing { left, right }
            | Self::CrossingUp { left, right }
            | Self::CrossingDown { left, right } => vec![left, right],
            Self::EnteringChannel {
                value,
                lower,
                upper,
            }
            | Self::ExitingChannel {
                value,
                lower,
                upper,
            }
            | Self::InsideChannel {
                value,
                lower,
                upper,
            }
            | Self::OutsideChannel {
                value,
                lower,
                upper,
            } => vec![value, lower, upper],
            Self::MovingUp { value, .. } | Self::MovingDown { value, .. } => vec![value],
        }
    }

    /// Whether it holds at the newest of `points` (oldest first; the newest is `c`), and with
    /// which values. `None` when it does not hold or a value it needs is missing.
    #[must_use]
    pub fn holds(&self, points: &[AlertPoint<'_>]) -> Option<FiredValues> {
        let c = points.last()?;
        let back = |n: usize| -> Option<&AlertPoint<'_>> {
            points.len().checked_sub(n + 1).and_then(|i| points.get(i))
        };
        let pair = |l: &Operand, r: &Operand, at: &AlertPoint<'_>| Some((l.at(at)?, r.at(at)?));
        let inside = |v: &Operand, lo: &Operand, hi: &Operand, at: &AlertPoint<'_>| {
            let (x, lo, hi) = (v.at(at)?, lo.at(at)?, hi.at(at)?);
            Some(lo <= x && x <= hi)
        };
        let held = match self {
            Self::GreaterThan { left, right } => {
                let (x, y) = pair(left, right, c)?;
                x > y
            }
            Self::LessThan { left, right } => {
                let (x, y) = pair(left, right, c)?;
                x < y
            }
            Self::Crossing { left, right }
            | Self::CrossingUp { left, right }
            | Self::CrossingDown { left, right } => {
                let (xp, yp) = pair(left, right, back(1)?)?;
                let (xc, yc) = pair(left, right, c)?;
                let up = xp <= yp && xc > yc;
                let down = xp >= yp && xc < yc;
                match self {
                    Self::CrossingUp { .. } => up,
                    Self::CrossingDown { .. } => down,
                    _ => up || down,
                }
            }
            Self::InsideChannel {
                value,
                lower,
                upper,
            } => inside(value, lower, upper, c)?,
            Self::OutsideChannel {
                value,
                lower,
                upper,
            } => !inside(value, lower, upper, c)?,
            Self::EnteringChannel {
                value,
                lower,
                upper,
            } => !inside(value, lower, upper, back(1)?)? && inside(value, lower, upper, c)?,
            Self::ExitingChannel {
                value,
                lower,
                upper,
            } => inside(value, lower, upper, back(1)?)? && !inside(value, lower, upper, c)?,
            Self::MovingUp {
                value,
                percent,
                bars,
            }
            | Self::MovingDown {
                value,
                percent,
                bars,
            } => {
                let then = value.at(back(*bars as usize)?)?;
                let now = value.at(c)?;
                if then <= 0.0 {
                    return None;
                }
                // The change in percent of `then`, without dividing (10 % of 100 is exactly
                // 10 here, not 10.000000000000002).
                let change = (now - then) * 100.0;
                match self {
                    Self::MovingUp { .. } => change >= percent * then,
                    _ => -change >= percent * then,
                }
            }
        };
        held.then(|| {
            self.operands()
                .into_iter()
                .filter_map(|o| Some((o.label()?, o.at(c)?)))
                .collect()
        })
    }

    fn name(&self) -> &'static str {
        match self {
            Self::GreaterThan { .. } => "greater_than",
            Self::LessThan { .. } => "less_than",
            Self::Crossing { .. } => "crossing",
            Self::CrossingUp { .. } => "crossing_up",
            Self::CrossingDown { .. } => "crossing_down",
            Self::EnteringChannel { .. } => "entering_channel",
            Self::ExitingChannel { .. } => "exiting_channel",
            Self::InsideChannel { .. } => "inside_channel",
            Self::OutsideChannel { .. } => "outside_channel",
            Self::MovingUp { .. } => "moving_up",
            Self::MovingDown { .. } => "moving_down",
        }
    }

    /// Checks what the type cannot: a move's percent and bars.
    fn checked(self) -> Result<Self, AlertRuleError> {
        if let Self::MovingUp { percent, bars, .. } | Self::MovingDown { percent, bars, .. } = &self
        {
            let text = self.to_string();
            let too_far = matches!(self, Self::MovingDown { .. }) && *percent >= 100.0;
            if !(percent.is_finite() && *percent > 0.0) || too_far {
                return Err(AlertRuleError::condition(
                    &text,
                    "the percent must be above 0 (and below 100 for a move down)",
                ));
            }
            if *bars == 0 || *bars > MAX_MOVING_BARS {
                return Err(AlertRuleError::condition(
                    &text,
                    "the bars of a move must be 1 to 100",
                ));
            }
        }
        Ok(self)
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::GreaterThan { left, right } => write!(f, "{left} > {right}"),
            Self::LessThan { left, right } => write!(f, "{left} < {right}"),
            Self::MovingUp {
                value,
                percent,
                bars,
            }
            | Self::MovingDown {
                value,
                percent,
                bars,
            } => write!(f, "{}({value}, {percent}, {bars})", self.name()),
            other => {
                let args: Vec<String> = other.operands().iter().map(ToString::to_string).collect();
                write!(f, "{}({})", other.name(), args.join(", "))
            }
        }
    }
}

impl FromStr for Condition {
    type Err = AlertRuleError;

    /// `x > y`, `x < y`, or `name(args)` with the names of [`Condition`]'s table.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let text = s.trim();
        if text.len() > 256 {
            return Err(AlertRuleError::condition(text, "longer than 256 bytes"));
        }
        // An operand's error names the whole condition.
        let parse = |o: &str| -> Result<Operand, AlertRuleError> {
            o.parse().map_err(|e| match e {
                AlertRuleError::Condition { text: part, why } => {
                    AlertRuleError::condition(text, &format!("{part:?}: {why}"))
                }
                other => other,
            })
        };
        for (op, greater) in [(">", true), ("<", false)] {
            if let Some((l, r)) = text.split_once(op) {
                let (left, right) = (parse(l)?, parse(r)?);
                return Ok(if greater {
                    Self::GreaterThan { left, right }
                } else {
                    Self::LessThan { left, right }
                });
            }
        }
        let bad = |why: &str| AlertRuleError::condition(text, why);
        let (name, rest) = text
            .split_once('(')
            .ok_or_else(|| bad("expected `x > y`, `x < y` or `name(arguments)`"))?;
        let args = rest
            .strip_suffix(')')
            .ok_or_else(|| bad("missing the closing parenthesis"))?;
        let args: Vec<&str> = args.split(',').map(str::trim).collect();
        let operand = |i: usize| -> Result<Operand, AlertRuleError> {
            parse(args.get(i).ok_or_else(|| bad("too few arguments"))?)
        };
        let arity = |n: usize| {
            if args.len() == n {
                Ok(())
            } else {
                Err(bad(&format!("{} takes {n} arguments", name.trim())))
            }
        };
        let condition = match name.trim() {
            two @ ("crossing" | "crossing_up" | "crossing_down" | "greater_than" | "less_than") => {
                arity(2)?;
                let (left, right) = (operand(0)?, operand(1)?);
                match two {
                    "crossing" => Self::Crossing { left, right },
                    "crossing_up" => Self::CrossingUp { left, right },
                    "crossing_down" => Self::CrossingDown { left, right },
                    "greater_than" => Self::GreaterThan { left, right },
                    _ => Self::LessThan { left, right },
                }
            }
            three @ ("entering_channel" | "exiting_channel" | "inside_channel"
            | "outside_channel") => {
                arity(3)?;
                let (value, lower, upper) = (operand(0)?, operand(1)?, operand(2)?);
                match three {
                    "entering_channel" => Self::EnteringChannel {
                        value,
                        lower,
                        upper,
                    },
                    "exiting_channel" => Self::ExitingChannel {
                        value,
                        lower,
                        upper,
                    },
                    "inside_channel" => Self::InsideChannel {
                        value,
                        lower,
                        upper,
                    },
                    _ => Self::OutsideChannel {
                        value,
                        lower,
                        upper,
                    },
                }
            }
            moving @ ("moving_up" | "moving_down") => {
                arity(3)?;
                let value = operand(0)?;
                let percent = args
                    .get(1)
                    .and_then(|p| p.trim_end_matches('%').parse::<f64>().ok())
                    .ok_or_else(|| bad("the percent of a move must be a number"))?;
                let bars = args
                    .get(2)
                    .and_then(|b| b.parse::<u32>().ok())
                    .ok_or_else(|| bad("the bars of a move must be a whole number"))?;
                if moving == "moving_up" {
                    Self::MovingUp {
                        value,
                        percent,
                        bars,
                    }
                } else {
                    Self::MovingDown {
                        value,
                        percent,
                        bars,
                    }
                }
            }
            _ => {
                return Err(bad(
                    "unknown condition; expected one of greater_than, less_than, crossing, crossing_up, crossing_down, entering_channel, exiting_channel, inside_channel, outside_channel, moving_up, moving_down",
                ));
            }
        };
        condition.checked()
    }
}

impl Serialize for Condition {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The tagged-table form of a condition, as TOML and JSON write it.
#[derive(Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Tagged {
    GreaterThan(Pair),
    LessThan(Pair),
    Crossing(Pair),
    CrossingUp(Pair),
    CrossingDown(Pair),
    EnteringChannel(Channel),
    ExitingChannel(Channel),
    InsideChannel(Channel),
    OutsideChannel(Channel),
    MovingUp(Move),
    MovingDown(Move),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Pair {
    left: OperandIn,
    right: OperandIn,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Channel {
    value: OperandIn,
    lower: OperandIn,
    upper: OperandIn,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Move {
    value: OperandIn,
    percent: f64,
    bars: u32,
}

/// An operand as written: a number or a name.
#[derive(Deserialize)]
#[serde(untagged)]
enum OperandIn {
    Number(f64),
    Name(String),
}

impl OperandIn {
    fn operand(self) -> Result<Operand, AlertRuleError> {
        match self {
            Self::Number(v) if v.is_finite() => Ok(Operand::Value(v)),
            Self::Number(v) => Err(AlertRuleError::condition(
                &v.to_string(),
                "not a finite number",
            )),
            Self::Name(n) => n.parse(),
        }
    }
}

impl Tagged {
    fn condition(self) -> Result<Condition, AlertRuleError> {
        type Two = fn(Operand, Operand) -> Condition;
        type Three = fn(Operand, Operand, Operand) -> Condition;
        let pair = |p: Pair, make: Two| {
            Ok::<_, AlertRuleError>(make(p.left.operand()?, p.right.operand()?))
        };
        let channel = |c: Channel, make: Three| {
            Ok::<_, AlertRuleError>(make(
                c.value.operand()?,
                c.lower.operand()?,
                c.upper.operand()?,
            ))
        };
        let condition = match self {
            Self::GreaterThan(p) => pair(p, |left, right| Condition::GreaterThan { left, right })?,
            Self::LessThan(p) => pair(p, |left, right| Condition::LessThan { left, right })?,
            Self::Crossing(p) => pair(p, |left, right| Condition::Crossing { left, right })?,
            Self::CrossingUp(p) => pair(p, |left, right| Condition::CrossingUp { left, right })?,
            Self::CrossingDown(p) => {
                pair(p, |left, right| Condition::CrossingDown { left, right })?
            }
            Self::EnteringChannel(c) => {
                channel(c, |value, lower, upper| Condition::EnteringChannel {
                    value,
                    lower,
                    upper,
                })?
            }
            Self::ExitingChannel(c) => {
                channel(c, |value, lower, upper| Condition::ExitingChannel {
                    value,
                    lower,
                    upper,
                })?
            }
            Self::InsideChannel(c) => channel(c, |value, lower, upper| Condition::InsideChannel {
                value,
                lower,
                upper,
            })?,
            Self::OutsideChannel(c) => {
                channel(c, |value, lower, upper| Condition::OutsideChannel {
                    value,
                    lower,
                    upper,
                })?
            }
            Self::MovingUp(m) => Condition::MovingUp {
                value: m.value.operand()?,
                percent: m.percent,
                bars: m.bars,
            },
            Self::MovingDown(m) => Condition::MovingDown {
                value: m.value.operand()?,
                percent: m.percent,
                bars: m.bars,
            },
        };
        condition.checked()
    }
}

impl<'de> Deserialize<'de> for Condition {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Written {
            Expression(String),
            Table(Tagged),
        }
        let written = Written::deserialize(d).map_err(|_| {
            serde::de::Error::custom(
                "a condition is an expression (\"rsi_14 > 70\", \"crossing_up(ema_20, ema_50)\") or a table ({ crossing_up = { left = \"ema_20\", right = \"ema_50\" } })",
            )
        })?;
        match written {
            Written::Expression(s) => s.parse(),
            Written::Table(t) => t.condition(),
        }
        .map_err(serde::de::Error::custom)
    }
}
