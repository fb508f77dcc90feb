//! [`Collect::backfill`]: a historical range, in chunks, resumable.

use std::sync::Mutex;

use axia_domain::{Grid, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::archiving::{Archiver, Failure, fetch, store_failure};
use crate::collect::{
    Collect, CollectPlan, CollectReport, TaskReport, TaskStatus, elapsed_ms, with_retries,
};

/// How a backfill went through its chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Chunks {
    /// Chunks in the range.
    pub total: usize,
    /// Chunks fetched from the source.
    pub fetched: usize,
    /// Chunks the archive already held complete (a resumed backfill skips them).
    pub complete: usize,
}

/// Where the chunk that starts at `t` ends: the end of its archive partition's period (a day
/// for M1-M30, a month for H1 and H4, a year for D1, W1 and MN1; trading days, months and years
/// under the New York close), so every chunk writes whole partitions.
fn period_end(grid: Grid, t: DateTime<Utc>) -> DateTime<Utc> {
    let a = grid.alignment();
    match grid.timeframe() {
        Timeframe::M1 | Timeframe::M5 | Timeframe::M15 | Timeframe::M30 => {
            Timeframe::D1.aligned(a).next_open(t)
        }
        Timeframe::H1 | Timeframe::H4 => Timeframe::MN1.aligned(a).next_open(t),
        Timeframe::D1 | Timeframe::W1 | Timeframe::MN1 => {
            NaiveDate::from_ymd_opt(a.date_of(t).year() + 1, 1, 1)
                .map_or(DateTime::<Utc>::MAX_UTC, |d| a.day_start(d))
        }
    }
}

/// The chunks of `range`, oldest first: whole partition periods, split further where the
/// source serves less at once.
#[must_use]
pub fn backfill_chunks(
    timeframe: impl Into<Grid>,
    range: TimeRange,
    max_span: Option<chrono::Duration>,
) -> Vec<TimeRange> {
    let grid = timeframe.into();
    let mut out = Vec::new();
    let mut t = range.start();
    while t < range.end() {
        let mut end = period_end(grid, t).min(range.end());
        if let Some(span) = max_span.filter(|s| *s > chrono::Duration::zero()) {
            end = end.min(t + span);
        }
        if end <= t {
            break;
        }
        out.extend(TimeRange::new(t, end).ok());
        t = end;
    }
    out
}

impl Collect {
    /// Fills `range` for every series of `plan` from the source, oldest chunk first
    /// ([`backfill_chunks`]); closed bars only. Resumable: a chunk the archive already holds
    /// complete against the market calendar is skipped, so a backfill re-run after an
    /// interruption fetches only what is still missing. A damaged partition met is moved
    /// aside and rebuilt. A series stops at its first chunk that fails after the retries (so
    /// what it archived is a prefix of the range); the others go on.
    pub async fn backfill(&self, plan: &CollectPlan, range: TimeRange) -> CollectReport {
        self.backfill_with_progress(plan, range, |_| {}).await
    }

    /// As [`Collect::backfill`], calling `on_done` as each series finishes.
    pub async fn backfill_with_progress(
        &self,
        plan: &CollectPlan,
        range: TimeRange,
        on_done: impl Fn(&TaskReport),
    ) -> CollectReport {
        let now = self.clock.now();
        self.for_each_task(plan, now, on_done, |symbol, timeframe| {
            self.backfill_series(plan, symbol, timeframe, range, now)
        })
        .await
    }

    async fn backfill_series(
        &self,
        plan: &CollectPlan,
        symbol: Symbol,
        timeframe: Timeframe,
        range: TimeRange,
        now: DateTime<Utc>,
    ) -> TaskReport {
        let started = Instant::now();
        let mut report = TaskReport::new(symbol.clone(), timeframe);
        let quarantined = Mutex::new(Vec::new());
        let archiver = self.archiver(now, &quarantined);
        // Closed bars only: up to the open of the bar forming now.
        let grid = timeframe.aligned((self.alignment)(&symbol));
        let closed_end = range.end().min(grid.floor(now));
        let limits = self.source.limits(timeframe);
        let earliest = limits.earliest(now).unwrap_or(DateTime::<Utc>::MIN_UTC);
        let start = range.start().max(earliest);
        if start > range.start() {
            report.unreachable.extend(
                TimeRange::new(range.start(), start.min(closed_end))
                    .ok()
                    .filter(|r| !r.is_empty()),
            );
        }
        let target = TimeRange::new(start.min(closed_end), closed_end).unwrap_or(range);
        report.range = Some(target);
        let chunks = backfill_chunks(grid, target, limits.max_span);
        let mut counts = Chunks {
            total: chunks.len(),
            ..Chunks::default()
        };
        report.status = TaskStatus::Ok;
        for chunk in chunks {
            let label = format!("{symbol} {timeframe} {chunk}");
            let (result, attempts) = with_retries(plan.retries, plan.backoff, &label, || {
                self.backfill_chunk(&archiver, &symbol, timeframe, chunk)
            })
            .await;
            report.attempts += attempts;
            match result {
                Ok(None) => counts.complete += 1,
                Ok(Some(done)) => {
                    counts.fetched += 1;
                    report.fetched += done.fetched;
                    report.rejected += done.rejected;
                    report.archived += done.archived;
                    report.unreachable.extend(done.unreachable);
                }
                Err(f) => {
                    report.status = TaskStatus::Failed;
                    report.permanent = !f.transient;
                    report.error = Some(f.text);
                    break;
                }
            }
        }
        if report.status == TaskStatus::Ok && counts.fetched > 0 && report.fetched == 0 {
            report.status = TaskStatus::NoData;
        }
        report.chunks = Some(counts);
        report.quarantined = axia_domain::locks::into_inner(quarantined);
        report.duration_ms = elapsed_ms(started);
        report
    }

    /// One chunk: `None` when the archive already holds it complete.
    async fn backfill_chunk(
        &self,
        archiver: &Archiver<'_>,
        symbol: &Symbol,
        timeframe: Timeframe,
        chunk: TimeRange,
    ) -> Result<Option<ChunkDone>, Failure> {
        let held = self
            .archive
            .read(symbol, timeframe, chunk)
            .await
            .map_err(|e| store_failure("archive", &e))?;
        let calendar = (self.calendar)(symbol);
        if held.damaged.is_empty()
            && held
                .frame
                .completeness(calendar.as_ref(), chunk)
                .is_complete()
        {
            return Ok(None);
        }
        let mut done = ChunkDone {
            unreachable: archiver.rebuild(symbol, timeframe, &held.damaged).await?,
            ..ChunkDone::default()
        };
        if let Some(fetched) = fetch(archiver.source, symbol, timeframe, chunk).await? {
            done.fetched = fetched.frame.len();
            done.rejected = fetched.report.dropped.len();
            let saved = archiver.save_closed(&fetched.frame).await?;
            done.archived = saved.archived;
            done.unreachable.extend(saved.unreachable);
        }
        Ok(Some(done))
    }
}

#[derive(Debug, Default)]
struct ChunkDone {
    fetched: usize,
    rejected: usize,
    archived: usize,
    unreachable: Vec<TimeRange>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn utc(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
    }

    #[test]
    fn chunks_are_whole_partition_periods_split_to_the_source_limit() {
        let r = TimeRange::new(utc(2026, 1, 30, 12), utc(2026, 3, 2, 6)).unwrap();
        let h1 = backfill_chunks(Timeframe::H1, r, None);
        assert_eq!(h1.len(), 3);
        assert_eq!(h1[0].end(), utc(2026, 2, 1, 0));
        assert_eq!(
            h1[2],
            TimeRange::new(utc(2026, 3, 1, 0), utc(2026, 3, 2, 6)).unwrap()
        );
        let m1 = backfill_chunks(Timeframe::M1, r, Some(chrono::Duration::hours(7)));
        assert!(
            m1.iter()
                .all(|c| c.duration() <= chrono::Duration::hours(7))
        );
        assert!(m1.windows(2).all(|w| w[0].end() == w[1].start()));
        assert_eq!(
            (m1[0].start(), m1[m1.len() - 1].end()),
            (r.start(), r.end())
        );
        // No chunk crosses a UTC day.
        assert!(m1.iter().all(|c| Timeframe::D1.floor(c.start())
            == Timeframe::D1.floor(c.end() - chrono::Duration::milliseconds(1))));
        let d1 = backfill_chunks(
            Timeframe::D1,
            TimeRange::new(utc(2020, 6, 1, 0), utc(2023, 1, 1, 0)).unwrap(),
            None,
        );
        assert_eq!(d1.len(), 3);
    }
}
