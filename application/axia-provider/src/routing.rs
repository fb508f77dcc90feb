//! The priority table.

use std::fmt;

use axia_domain::UseCase;
use chrono::Duration;
use serde::{Deserialize, Serialize};

/// The part a source plays in the provider's plans. Any [`MarketData`](axia_domain::MarketData)
/// can be the broker or the fallback (the simulated broker, Yahoo, OANDA…), any
/// [`OhlcvStore`](axia_domain::OhlcvStore) the hot cache or the cold archive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// The broker: the freshest bars.
    Broker,
    /// The hot cache: the last 24 h.
    HotCache,
    /// The cold archive: everything, forever.
    ColdArchive,
    /// The source of last resort (Yahoo Finance in the production setup).
    Fallback,
}

impl Role {
    /// Every role, in the order the table names them.
    pub const ALL: [Self; 4] = [
        Self::Broker,
        Self::HotCache,
        Self::ColdArchive,
        Self::Fallback,
    ];

    /// The snake-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Broker => "broker",
            Self::HotCache => "hot_cache",
            Self::ColdArchive => "cold_archive",
            Self::Fallback => "fallback",
        }
    }

    /// How long one call may take unless configured: broker 3 s, hot cache 500 ms, cold
    /// archive 10 s, fallback 15 s.
    #[must_use]
    pub const fn default_timeout(self) -> std::time::Duration {
        match self {
            Self::Broker => std::time::Duration::from_secs(3),
            Self::HotCache => std::time::Duration::from_millis(500),
            Self::ColdArchive => std::time::Duration::from_secs(10),
            Self::Fallback => std::time::Duration::from_secs(15),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Ask the source in one role.
    Ask(Role),
    /// Ask the cold archive and the hot cache for the last 24 h, the hot cache's bars winning.
    ColdWithHot,
}

const DAY_MS: i64 = 24 * 3_600_000;

/// The steps for `use_case` and a window of `window` length (the replaced Python system's table, exactly).
#[must_use]
pub fn plan(use_case: UseCase, window: Duration) -> &'static [Step] {
    use Role::{Broker, ColdArchive, Fallback, HotCache};
    use Step::{Ask, ColdWithHot};
    let short = window.num_milliseconds() <= DAY_MS;
    match (use_case, short) {
        (UseCase::Trading, true) => &[Ask(Broker), Ask(HotCache), Ask(Fallback)],
        (UseCase::Trading, false) => &[Ask(Broker), Ask(Fallback)],
        (UseCase::Chart, true) => &[Ask(HotCache), Ask(Broker), Ask(Fallback)],
        (UseCase::Chart, false) => &[ColdWithHot, Ask(Fallback)],
        (UseCase::Analysis, true) => &[Ask(HotCache), Ask(ColdArchive)],
        (UseCase::Analysis, false) => &[Ask(ColdArchive), Ask(Fallback)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boundary_is_24_hours_inclusive() {
        assert_eq!(plan(UseCase::Analysis, Duration::hours(24)).len(), 2);
        assert_eq!(
            plan(UseCase::Chart, Duration::hours(24)),
            &[
                Step::Ask(Role::HotCache),
                Step::Ask(Role::Broker),
                Step::Ask(Role::Fallback)
            ]
        );
        assert_eq!(
            plan(
                UseCase::Chart,
                Duration::hours(24) + Duration::milliseconds(1)
            )[0],
            Step::ColdWithHot
        );
    }
}
