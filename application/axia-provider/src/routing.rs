//! The priority table.

use std::fmt;

use axia_domain::UseCase;
use chrono::Duration;
use serde::{Deserialize, Serialize};

/// A source of bars the provider can ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// The broker (or the simulated broker).
    Broker,
    /// The hot cache: the last 24 h.
    HotCache,
    /// The cold archive: everything, forever.
    ColdArchive,
    /// Yahoo Finance.
    Yahoo,
}

impl Source {
    /// The snake-case name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Broker => "broker",
            Self::HotCache => "hot_cache",
            Self::ColdArchive => "cold_archive",
            Self::Yahoo => "yahoo",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a plan.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Step {
    /// Ask one source.
    Ask(Source),
    /// Ask the cold archive and the hot cache for the last 24 h, the hot cache's bars winning.
    ColdWithHot,
}

const DAY_MS: i64 = 24 * 3_600_000;

/// The steps for `use_case` and a window of `window` length (the seed's table, exactly).
#[must_use]
pub fn plan(use_case: UseCase, window: Duration) -> &'static [Step] {
    use Source::{Broker, ColdArchive, HotCache, Yahoo};
    use Step::{Ask, ColdWithHot};
    let short = window.num_milliseconds() <= DAY_MS;
    match (use_case, short) {
        (UseCase::Trading, true) => &[Ask(Broker), Ask(HotCache), Ask(Yahoo)],
        (UseCase::Trading, false) => &[Ask(Broker), Ask(Yahoo)],
        (UseCase::Chart, true) => &[Ask(HotCache), Ask(Broker), Ask(Yahoo)],
        (UseCase::Chart, false) => &[ColdWithHot, Ask(Yahoo)],
        (UseCase::Analysis, true) => &[Ask(HotCache), Ask(ColdArchive)],
        (UseCase::Analysis, false) => &[Ask(ColdArchive), Ask(Yahoo)],
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
                Step::Ask(Source::HotCache),
                Step::Ask(Source::Broker),
                Step::Ask(Source::Yahoo)
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
