//! [`Audit`]: what the archive lacks or holds wrong, and its repair.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use axia_domain::{
    Bar, BarArchive, Clock, DamagedPartition, MarketCalendar, MarketData, MarketDataError,
    OhlcvFrame, QuarantinedFile, StoreError, Symbol, TimeRange, Timeframe, default_calendar,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::archiving::Archiver;
use crate::collect::{AlignmentFn, CalendarFn, builtin_alignment};

/// Why an audit could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// The archive could not be read or written.
    #[error("archive: {0}")]
    Archive(#[from] StoreError),
    /// The source could not be asked.
    #[error("source: {0}")]
    Source(#[from] MarketDataError),
    /// Moving a damaged partition aside or rebuilding it failed.
    #[error("repair: {0}")]
    Repair(String),
}

/// A bar the archive holds differently from the source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BarDiff {
    /// The bar as archived.
    pub archive: Bar,
    /// The bar as the source has it.
    pub source: Bar,
}

/// The archive compared with a source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceCheck {
    /// The part of the audited range the source serves (its reach).
    pub compared: Option<TimeRange>,
    /// Closed bars the source returned there.
    pub source_bars: usize,
    /// Bars both hold, with other values.
    pub differing: Vec<BarDiff>,
    /// Open times of bars the source has and the archive lacks.
    pub missing_from_archive: Vec<DateTime<Utc>>,
    /// Open times of bars the archive has and the source does not.
    pub only_in_archive: Vec<DateTime<Utc>>,
}

/// What an audit found.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditReport {
    /// The series.
    pub symbol: Symbol,
    /// Its timeframe.
    pub timeframe: Timeframe,
    /// The range asked for.
    pub range: TimeRange,
    /// The part of it checked: bars closed at `checked_at`.
    pub checked: TimeRange,
    /// When.
    pub checked_at: DateTime<Utc>,
    /// Bar slots the market calendar expects in `checked`.
    pub expected: usize,
    /// Of those, the slots the archive holds a readable bar for.
    pub present: usize,
    /// Runs of missing closed bars against the calendar.
    pub missing: Vec<TimeRange>,
    /// Partitions that cannot be read.
    pub damaged: Vec<DamagedPartition>,
    /// Files of the series moved to quarantine so far.
    pub quarantined: Vec<QuarantinedFile>,
    /// The comparison with a source, when one was given.
    pub source: Option<SourceCheck>,
}

impl AuditReport {
    /// True when nothing is missing, damaged or different.
    #[must_use]
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty()
            && self.damaged.is_empty()
            && self.source.as_ref().is_none_or(|s| {
                s.differing.is_empty()
                    && s.missing_from_archive.is_empty()
                    && s.only_in_archive.is_empty()
            })
    }
}

/// What a repair did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RepairReport {
    /// The audit before.
    pub before: AuditReport,
    /// Damaged partitions moved aside (then rebuilt from the source).
    pub quarantined: Vec<QuarantinedFile>,
    /// Bars written: the missing and differing ones, and those of rebuilt partitions.
    pub rewritten: usize,
    /// Periods that could not be rebuilt: the source does not reach them.
    pub unreachable: Vec<TimeRange>,
    /// The audit after.
    pub after: AuditReport,
}

/// Audits the archive of a series against the market calendar and, optionally, a source; and
/// repairs what it finds. The use case behind `axia audit`.
#[derive(Clone)]
pub struct Audit {
    archive: Arc<dyn BarArchive>,
    clock: Arc<dyn Clock>,
    calendar: CalendarFn,
    alignment: AlignmentFn,
}

impl std::fmt::Debug for Audit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Audit").finish_non_exhaustive()
    }
}

impl Audit {
    /// An audit of `archive`, as of the system clock's now.
    #[must_use]
    pub fn new(archive: impl BarArchive + 'static) -> Self {
        Self {
            archive: Arc::new(archive),
            clock: Arc::new(axia_domain::SystemClock),
            calendar: Arc::new(default_calendar),
            alignment: Arc::new(builtin_alignment),
        }
    }

    /// Where a symbol's daily bars start (default: the built-in instruments', UTC midnight).
    #[must_use]
    pub fn alignment(
        mut self,
        f: impl Fn(&Symbol) -> axia_domain::DailyAlignment + Send + Sync + 'static,
    ) -> Self {
        self.alignment = Arc::new(f);
        self
    }

    /// The clock "now" comes from (default: the system's).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The market calendar of a symbol (default: [`axia_domain::default_calendar`]).
    #[must_use]
    pub fn calendar(
        mut self,
        f: impl Fn(&Symbol) -> Arc<dyn MarketCalendar> + Send + Sync + 'static,
    ) -> Self {
        self.calendar = Arc::new(f);
        self
    }

    /// Reports the closed bars of `range` the archive lacks against the calendar, its damaged
    /// and quarantined files and, given a `source`, the bars that differ from it.
    ///
    /// # Errors
    /// [`AuditError`] when the archive or the source cannot be read.
    pub async fn check(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
        source: Option<&dyn MarketData>,
    ) -> Result<AuditReport, AuditError> {
        Ok(self.check_with(symbol, timeframe, range, source).await?.0)
    }

    /// The audit and the source's closed bars it compared with.
    async fn check_with(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
        source: Option<&dyn MarketData>,
    ) -> Result<(AuditReport, Option<OhlcvFrame>), AuditError> {
        let now = self.clock.now();
        let checked = TimeRange::new(
            range.start(),
            range
                .end()
                .min(timeframe.aligned((self.alignment)(symbol)).floor(now))
                .max(range.start()),
        )
        .unwrap_or(range);
        let read = self.archive.read(symbol, timeframe, checked).await?;
        let archived = read.frame.closed_at(now);
        let calendar = (self.calendar)(symbol);
        let completeness = archived.completeness(calendar.as_ref(), checked);
        let mut report = AuditReport {
            symbol: symbol.clone(),
            timeframe,
            range,
            checked,
            checked_at: now,
            expected: completeness.expected,
            present: completeness.present,
            missing: completeness.gaps,
            damaged: read.damaged,
            quarantined: self.archive.quarantined(symbol, timeframe).await?,
            source: None,
        };
        let Some(source) = source else {
            return Ok((report, None));
        };
        let earliest = source.limits(timeframe).earliest(now);
        let compared = TimeRange::new(
            earliest.map_or(checked.start(), |e| e.max(checked.start())),
            checked.end(),
        )
        .ok()
        .filter(|r| !r.is_empty());
        let theirs = match compared {
            None => OhlcvFrame::empty(symbol.clone(), timeframe),
            Some(r) => match source.bars(symbol, timeframe, r).await {
                Ok(f) => f.frame.closed_at(now),
                Err(MarketDataError::NoData(_)) => OhlcvFrame::empty(symbol.clone(), timeframe),
                Err(e) => return Err(e.into()),
            },
        };
        let ours = compared.map_or_else(|| archived.slice(checked), |r| archived.slice(r));
        report.source = Some(compare(&ours, &theirs, compared));
        Ok((report, Some(theirs)))
    }

    /// Audits against `source`, then moves damaged partitions aside and rebuilds them, and
    /// rewrites exactly the missing and differing bars from the source; audits again.
    ///
    /// # Errors
    /// [`AuditError`] when the archive or the source cannot be read or written.
    pub async fn repair(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
        source: &dyn MarketData,
    ) -> Result<RepairReport, AuditError> {
        let (before, theirs) = self
            .check_with(symbol, timeframe, range, Some(source))
            .await?;
        let theirs = theirs.unwrap_or_else(|| OhlcvFrame::empty(symbol.clone(), timeframe));
        let quarantined = Mutex::new(Vec::new());
        let archiver = Archiver {
            archive: self.archive.as_ref(),
            source,
            now: before.checked_at,
            quarantined: &quarantined,
        };
        let unreachable = archiver
            .rebuild(symbol, timeframe, &before.damaged)
            .await
            .map_err(|f| AuditError::Repair(f.text))?;
        let mut rewritten: usize = 0;
        let wanted: BTreeSet<i64> = before
            .source
            .iter()
            .flat_map(|s| {
                s.differing.iter().map(|d| d.source.time_millis()).chain(
                    s.missing_from_archive
                        .iter()
                        .map(DateTime::timestamp_millis),
                )
            })
            .collect();
        let fix: Vec<Bar> = theirs
            .iter()
            .filter(|b| wanted.contains(&b.time_millis()))
            .collect();
        if !fix.is_empty() {
            // On the source's grid: the instrument's daily alignment.
            let on_grid = || -> Result<OhlcvFrame, axia_domain::FrameError> {
                let mut b = OhlcvFrame::builder(symbol.clone(), timeframe, fix.len())
                    .aligned(theirs.alignment())?;
                for bar in &fix {
                    b.push_bar(bar)?;
                }
                Ok(b.finish())
            };
            let frame = on_grid().map_err(|e| AuditError::Repair(e.to_string()))?;
            self.archive.save(&frame).await?;
            rewritten += frame.len();
        }
        for d in &before.damaged {
            rewritten += theirs.slice(d.range).len();
        }
        let after = self.check(symbol, timeframe, range, Some(source)).await?;
        Ok(RepairReport {
            before,
            quarantined: axia_domain::locks::into_inner(quarantined),
            rewritten,
            unreachable,
            after,
        })
    }
}

/// The archive's closed bars `ours` against the source's `theirs`, over the same range.
fn compare(ours: &OhlcvFrame, theirs: &OhlcvFrame, compared: Option<TimeRange>) -> SourceCheck {
    let mut check = SourceCheck {
        compared,
        source_bars: theirs.len(),
        differing: Vec::new(),
        missing_from_archive: Vec::new(),
        only_in_archive: Vec::new(),
    };
    let (mut a, mut b) = (ours.iter().peekable(), theirs.iter().peekable());
    loop {
        match (a.peek().copied(), b.peek().copied()) {
            (None, None) => break,
            (Some(x), Some(y)) if x.time_millis() == y.time_millis() => {
                if x != y {
                    check.differing.push(BarDiff {
                        archive: x,
                        source: y,
                    });
                }
                a.next();
                b.next();
            }
            (Some(x), Some(y)) if x.time_millis() < y.time_millis() => {
                check.only_in_archive.push(x.time());
                a.next();
            }
            (Some(x), None) => {
                check.only_in_archive.push(x.time());
                a.next();
            }
            (_, Some(y)) => {
                check.missing_from_archive.push(y.time());
                b.next();
            }
        }
    }
    check
}
