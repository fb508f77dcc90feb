//! Schedules (Celery Beat's role): a named cron expression in a time zone and the jobs each of
//! its ticks enqueues ([`Schedule`]), stored through [`ScheduleStore`].

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};

use crate::{JobError, JobSpec, Symbol, Timeframe};

/// When a schedule ticks: a cron expression read in a time zone (`0 5 17 * * Mon-Fri` in
/// `America/New_York`: 17:05 New York time on weekdays, summer time included). Six fields
/// (seconds first) or seven (a year last); five standard fields get second 0.
#[derive(Clone)]
pub struct CronSpec {
    expression: String,
    zone: chrono_tz::Tz,
    parsed: cron::Schedule,
}

impl CronSpec {
    /// Parses `expression` in the zone named `zone` (IANA, e.g. `UTC`, `Europe/London`).
    ///
    /// # Errors
    /// [`JobError::Invalid`] naming what is wrong.
    pub fn new(expression: &str, zone: &str) -> Result<Self, JobError> {
        let shown: String = expression.chars().take(80).collect();
        let fields = expression.split_whitespace().count();
        let full = match fields {
            5 => format!("0 {expression}"),
            6 | 7 => expression.to_owned(),
            _ => {
                return Err(JobError::Invalid(format!(
                    "cron expression {shown:?}: 5, 6 or 7 fields (seconds first when 6 or 7)"
                )));
            }
        };
        let parsed = cron::Schedule::from_str(&full)
            .map_err(|e| JobError::Invalid(format!("cron expression {shown:?}: {e}")))?;
        let zone: chrono_tz::Tz = zone.parse().map_err(|_| {
            JobError::Invalid(format!(
                "time zone {:?}: an IANA name such as UTC or America/New_York",
                zone.chars().take(60).collect::<String>()
            ))
        })?;
        // An expression that never fires (30 February) is refused too.
        if parsed.upcoming(zone).next().is_none() {
            return Err(JobError::Invalid(format!(
                "cron expression {shown:?} never fires"
            )));
        }
        Ok(Self {
            expression: expression.trim().to_owned(),
            zone,
            parsed,
        })
    }

    /// The expression as given.
    #[must_use]
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The time zone's name.
    #[must_use]
    pub fn zone(&self) -> &str {
        self.zone.name()
    }

    /// The last tick at or before `now`.
    #[must_use]
    pub fn last_tick(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        // `after` starts strictly after its instant: from a millisecond on, back one step.
        let local = self
            .zone
            .from_utc_datetime(&(now + chrono::Duration::milliseconds(1)).naive_utc());
        self.parsed
            .after(&local)
            .next_back()
            .map(|t| t.with_timezone(&Utc))
    }

    /// The first tick after `now`.
    #[must_use]
    pub fn next_tick(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let local = self.zone.from_utc_datetime(&now.naive_utc());
        self.parsed
            .after(&local)
            .next()
            .map(|t| t.with_timezone(&Utc))
    }
}

impl fmt::Debug for CronSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} in {}", self.expression, self.zone.name())
    }
}

impl PartialEq for CronSpec {
    fn eq(&self, other: &Self) -> bool {
        self.expression == other.expression && self.zone == other.zone
    }
}

impl Eq for CronSpec {}

/// A schedule's name: 1 to 64 of `a-z`, `0-9`, `_`, `-` and `.`, starting with a letter.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScheduleName(String);

impl ScheduleName {
    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ScheduleName {
    type Err = JobError;

    fn from_str(s: &str) -> Result<Self, JobError> {
        let ok = (1..=64).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars().all(|c| {
                c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-' | '.')
            });
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(JobError::Invalid(format!(
                "schedule name {:?}: 1 to 64 of a-z, 0-9, _, - and ., starting with a letter",
                s.chars().take(80).collect::<String>()
            )))
        }
    }
}

impl TryFrom<String> for ScheduleName {
    type Error = JobError;

    fn try_from(s: String) -> Result<Self, JobError> {
        s.parse()
    }
}

impl From<ScheduleName> for String {
    fn from(n: ScheduleName) -> Self {
        n.0
    }
}

impl fmt::Display for ScheduleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a tick enqueues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum SchedulePlan {
    /// A collect job per symbol x timeframe (the cron collector's run).
    Collect {
        /// The symbols.
        symbols: Vec<Symbol>,
        /// The timeframes.
        timeframes: Vec<Timeframe>,
    },
}

impl fmt::Display for SchedulePlan {
    /// `collect USDJPY, EURUSD x M1, M5`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Collect {
                symbols,
                timeframes,
            } => {
                f.write_str("collect ")?;
                for (i, s) in symbols.iter().enumerate() {
                    write!(f, "{}{s}", if i == 0 { "" } else { ", " })?;
                }
                f.write_str(" x ")?;
                for (i, t) in timeframes.iter().enumerate() {
                    write!(f, "{}{t}", if i == 0 { "" } else { ", " })?;
                }
                Ok(())
            }
        }
    }
}

impl SchedulePlan {
    /// The jobs of one tick, each with its part of the tick's key.
    #[must_use]
    pub fn jobs(&self) -> Vec<(String, JobSpec)> {
        match self {
            Self::Collect {
                symbols,
                timeframes,
            } => symbols
                .iter()
                .flat_map(|s| {
                    timeframes.iter().map(move |tf| {
                        (
                            format!("collect:{s}:{tf}"),
                            JobSpec::Collect {
                                symbol: s.clone(),
                                timeframe: *tf,
                            },
                        )
                    })
                })
                .collect(),
        }
    }

    /// Checks the plan has something to do.
    ///
    /// # Errors
    /// [`JobError::Invalid`].
    pub fn validate(&self) -> Result<(), JobError> {
        match self {
            Self::Collect {
                symbols,
                timeframes,
            } => {
                if symbols.is_empty() || timeframes.is_empty() {
                    Err(JobError::Invalid(
                        "a collect schedule needs symbols and timeframes".to_owned(),
                    ))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// A named schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    /// Its name.
    pub name: ScheduleName,
    /// When it ticks.
    pub cron: CronSpec,
    /// What each tick enqueues.
    pub plan: SchedulePlan,
    /// A paused schedule enqueues nothing.
    pub enabled: bool,
    /// The last tick that enqueued its jobs, when one did.
    pub last_tick: Option<DateTime<Utc>>,
}

impl Schedule {
    /// The idempotency key of one job of the tick at `tick`: every host that sees the tick
    /// submits the same keys, so the tick's jobs are enqueued once.
    #[must_use]
    pub fn key(&self, tick: DateTime<Utc>, part: &str) -> String {
        format!("schedule:{}:{}:{part}", self.name, tick.timestamp_millis())
    }

    /// The schedule as a user sees it at `now` (the CLI's `--json`, the server's JSON and
    /// operator page): its next tick included.
    #[must_use]
    pub fn view(&self, now: DateTime<Utc>) -> ScheduleView {
        ScheduleView {
            name: self.name.clone(),
            cron: self.cron.expression().to_owned(),
            zone: self.cron.zone().to_owned(),
            plan: self.plan.clone(),
            enabled: self.enabled,
            last_tick: self.last_tick,
            next_tick: self.cron.next_tick(now),
        }
    }
}

/// A schedule as a user sees it: [`Schedule::view`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleView {
    /// Its name.
    pub name: ScheduleName,
    /// Its cron expression.
    pub cron: String,
    /// The IANA time zone the expression is read in.
    pub zone: String,
    /// What each tick enqueues.
    pub plan: SchedulePlan,
    /// A paused schedule enqueues nothing.
    pub enabled: bool,
    /// The last tick that enqueued its jobs.
    pub last_tick: Option<DateTime<Utc>>,
    /// The next tick after now (none for an expression that never fires again).
    pub next_tick: Option<DateTime<Utc>>,
}

/// The schedule table.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    /// Every schedule, by name.
    ///
    /// # Errors
    /// [`JobError::Unavailable`]; [`JobError::Backend`] for a row that cannot be read.
    async fn schedules(&self) -> Result<Vec<Schedule>, JobError>;

    /// Adds a schedule.
    ///
    /// # Errors
    /// [`JobError::Invalid`] for an empty plan or a name that is taken;
    /// [`JobError::Unavailable`].
    async fn add(&self, schedule: &Schedule) -> Result<(), JobError>;

    /// Pauses (false) or resumes (true) a schedule; false when there is no such schedule.
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    async fn set_enabled(&self, name: &ScheduleName, enabled: bool) -> Result<bool, JobError>;

    /// Removes a schedule; false when there was none.
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    async fn remove(&self, name: &ScheduleName) -> Result<bool, JobError>;

    /// Records that `tick` enqueued its jobs (kept when a later tick is already recorded).
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    async fn record_tick(&self, name: &ScheduleName, tick: DateTime<Utc>) -> Result<(), JobError>;
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, s).unwrap()
    }

    #[test]
    fn a_plan_reads_as_its_symbols_by_its_timeframes() {
        let plan = SchedulePlan::Collect {
            symbols: vec!["USDJPY".parse().unwrap(), "EURUSD".parse().unwrap()],
            timeframes: vec![crate::Timeframe::M1, crate::Timeframe::H4],
        };
        assert_eq!(plan.to_string(), "collect USDJPY, EURUSD x M1, H4");
        let one = SchedulePlan::Collect {
            symbols: vec!["AAPL".parse().unwrap()],
            timeframes: vec![crate::Timeframe::D1],
        };
        assert_eq!(one.to_string(), "collect AAPL x D1");
    }

    #[test]
    fn a_new_york_schedule_follows_summer_time() {
        let c = CronSpec::new("5 17 * * Mon-Fri", "America/New_York").unwrap();
        // Winter: 17:05 in New York is 22:05 UTC; summer: 21:05.
        assert_eq!(
            c.next_tick(utc(2026, 3, 2, 12, 0, 0)),
            Some(utc(2026, 3, 2, 22, 5, 0))
        );
        assert_eq!(
            c.next_tick(utc(2026, 3, 9, 12, 0, 0)),
            Some(utc(2026, 3, 9, 21, 5, 0))
        );
        // Friday evening to Monday: no weekend tick.
        assert_eq!(
            c.next_tick(utc(2026, 3, 13, 22, 0, 0)),
            Some(utc(2026, 3, 16, 21, 5, 0))
        );
        assert_eq!(
            c.last_tick(utc(2026, 3, 15, 12, 0, 0)),
            Some(utc(2026, 3, 13, 21, 5, 0))
        );
    }

    #[test]
    fn the_last_tick_includes_the_instant_itself() {
        let c = CronSpec::new("0 * * * * *", "UTC").unwrap();
        let t = utc(2026, 3, 2, 10, 7, 0);
        assert_eq!(c.last_tick(t), Some(t));
        assert_eq!(
            c.last_tick(t + chrono::Duration::milliseconds(999)),
            Some(t)
        );
        assert_eq!(c.next_tick(t), Some(t + chrono::Duration::minutes(1)));
    }

    #[test]
    fn bad_expressions_and_zones_are_refused_with_a_reason() {
        for (expr, zone) in [
            ("", "UTC"),
            ("* * *", "UTC"),
            ("61 * * * * *", "UTC"),
            ("0 0 0 30 Feb *", "UTC"),
            ("every minute", "UTC"),
            ("* * * * *", "Mars/Olympus"),
            ("* * * * * * * *", "UTC"),
        ] {
            let e = CronSpec::new(expr, zone).unwrap_err();
            assert!(matches!(e, JobError::Invalid(_)), "{expr:?} {zone:?}");
        }
        for bad in ["", "Nightly", "9am", "a b", "a/b"] {
            assert!(bad.parse::<ScheduleName>().is_err(), "{bad:?}");
        }
        assert!("nightly.fx-m1".parse::<ScheduleName>().is_ok());
    }

    #[test]
    fn a_tick_has_one_key_per_job() {
        let s = Schedule {
            name: "fx".parse().unwrap(),
            cron: CronSpec::new("* * * * *", "UTC").unwrap(),
            plan: SchedulePlan::Collect {
                symbols: vec!["USDJPY".parse().unwrap(), "EURUSD".parse().unwrap()],
                timeframes: vec![Timeframe::M1, Timeframe::H1],
            },
            enabled: true,
            last_tick: None,
        };
        let jobs = s.plan.jobs();
        assert_eq!(jobs.len(), 4);
        let t = utc(2026, 3, 2, 10, 7, 0);
        let keys: std::collections::BTreeSet<_> =
            jobs.iter().map(|(part, _)| s.key(t, part)).collect();
        assert_eq!(keys.len(), 4);
        assert!(
            keys.contains("schedule:fx:1772446020000:collect:USDJPY:M1"),
            "{keys:?}"
        );
    }
}
