//! The kill switch: a halt for all trading or for one symbol, with an audit trail.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::Symbol;

/// Whether trading is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum KillSwitchState {
    /// Trading allowed.
    Active,
    /// Trading halted.
    Halted,
}

impl KillSwitchState {
    /// `"ACTIVE"` or `"HALTED"`.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "ACTIVE",
            Self::Halted => "HALTED",
        }
    }
}

impl fmt::Display for KillSwitchState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a kill switch covers.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum KillSwitchScope {
    /// All trading. Written `global`.
    Global,
    /// One symbol. Written as the symbol.
    Symbol(Symbol),
}

impl fmt::Display for KillSwitchScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Global => f.write_str("global"),
            Self::Symbol(s) => f.write_str(s.as_str()),
        }
    }
}

impl FromStr for KillSwitchScope {
    type Err = crate::SymbolError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("global") {
            Ok(Self::Global)
        } else {
            s.parse().map(Self::Symbol)
        }
    }
}

impl TryFrom<String> for KillSwitchScope {
    type Error = crate::SymbolError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<KillSwitchScope> for String {
    fn from(s: KillSwitchScope) -> Self {
        s.to_string()
    }
}

/// The longest reason or actor accepted.
pub const KILL_SWITCH_TEXT_MAX_LEN: usize = 512;

/// A kill-switch change that is refused before it is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KillSwitchChangeError {
    /// Every change needs a reason.
    #[error("a kill-switch change needs a reason")]
    MissingReason,
    /// Every change needs an actor.
    #[error("a kill-switch change needs an actor")]
    MissingActor,
    /// Reason or actor longer than [`KILL_SWITCH_TEXT_MAX_LEN`] or with control characters.
    #[error("kill-switch {field} is too long or has control characters")]
    BadText {
        /// `reason` or `actor`.
        field: &'static str,
    },
}

/// A requested change of a kill switch: the new state, why, and who asked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchChange {
    state: KillSwitchState,
    reason: String,
    actor: String,
}

impl KillSwitchChange {
    /// A change to `state`.
    ///
    /// # Errors
    /// [`KillSwitchChangeError`] for an empty, over-long or control-character reason or actor.
    pub fn new(
        state: KillSwitchState,
        reason: &str,
        actor: &str,
    ) -> Result<Self, KillSwitchChangeError> {
        let check = |field: &'static str, s: &str, empty| {
            let s = s.trim();
            if s.is_empty() {
                Err(empty)
            } else if s.len() > KILL_SWITCH_TEXT_MAX_LEN || s.chars().any(char::is_control) {
                Err(KillSwitchChangeError::BadText { field })
            } else {
                Ok(s.to_owned())
            }
        };
        Ok(Self {
            state,
            reason: check("reason", reason, KillSwitchChangeError::MissingReason)?,
            actor: check("actor", actor, KillSwitchChangeError::MissingActor)?,
        })
    }

    /// The new state.
    #[must_use]
    pub const fn state(&self) -> KillSwitchState {
        self.state
    }
    /// Why.
    #[must_use]
    pub fn reason(&self) -> &str {
        &self.reason
    }
    /// Who.
    #[must_use]
    pub fn actor(&self) -> &str {
        &self.actor
    }
}

/// The state of one kill switch and its last change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchRecord {
    /// What it covers.
    pub scope: KillSwitchScope,
    /// Its state.
    pub state: KillSwitchState,
    /// Why it was last changed.
    pub reason: String,
    /// Who last changed it.
    pub actor: String,
    /// When it last changed; `None` for a switch never set.
    pub changed_at: Option<DateTime<Utc>>,
}

impl KillSwitchRecord {
    /// A switch that was never set: active.
    #[must_use]
    pub const fn never_set(scope: KillSwitchScope) -> Self {
        Self {
            scope,
            state: KillSwitchState::Active,
            reason: String::new(),
            actor: String::new(),
            changed_at: None,
        }
    }

    /// Applies `change` at `at`, giving the audit record of it.
    #[must_use]
    pub fn apply(&self, change: KillSwitchChange, at: DateTime<Utc>) -> KillSwitchAudit {
        KillSwitchAudit {
            previous: self.clone(),
            current: Self {
                scope: self.scope.clone(),
                state: change.state,
                reason: change.reason,
                actor: change.actor,
                changed_at: Some(at),
            },
        }
    }
}

/// One kill-switch change: the record before and after.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillSwitchAudit {
    /// Before.
    pub previous: KillSwitchRecord,
    /// After.
    pub current: KillSwitchRecord,
}

/// Trading in a symbol is allowed only while the global switch and the symbol's are both active.
#[must_use]
pub fn trading_allowed(global: &KillSwitchRecord, symbol: &KillSwitchRecord) -> bool {
    global.state == KillSwitchState::Active && symbol.state == KillSwitchState::Active
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_change_yields_previous_and_current() {
        let scope: KillSwitchScope = "usdjpy".parse().unwrap();
        assert_eq!(scope.to_string(), "USDJPY");
        let before = KillSwitchRecord::never_set(scope.clone());
        let at = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).unwrap();
        let change =
            KillSwitchChange::new(KillSwitchState::Halted, " flash crash ", "ops@desk").unwrap();
        let audit = before.apply(change, at);
        assert_eq!(audit.previous, before);
        assert_eq!(audit.current.state, KillSwitchState::Halted);
        assert_eq!(audit.current.reason, "flash crash");
        assert_eq!(audit.current.changed_at, Some(at));
        let global = KillSwitchRecord::never_set(KillSwitchScope::Global);
        assert!(trading_allowed(&global, &before));
        assert!(!trading_allowed(&global, &audit.current));
        assert!(!trading_allowed(&audit.current, &before));
    }

    #[test]
    fn a_change_needs_reason_and_actor() {
        let st = KillSwitchState::Halted;
        assert_eq!(
            KillSwitchChange::new(st, " ", "me"),
            Err(KillSwitchChangeError::MissingReason)
        );
        assert_eq!(
            KillSwitchChange::new(st, "why", ""),
            Err(KillSwitchChangeError::MissingActor)
        );
        assert!(KillSwitchChange::new(st, "a\u{1b}[2J", "me").is_err());
        assert!(KillSwitchChange::new(st, &"x".repeat(600), "me").is_err());
        assert_eq!(
            "GLOBAL".parse::<KillSwitchScope>().unwrap(),
            KillSwitchScope::Global
        );
        assert!("a/b".parse::<KillSwitchScope>().is_err());
    }
}
