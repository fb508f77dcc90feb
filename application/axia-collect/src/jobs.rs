//! [`JobRunner`]: the collect use cases as jobs on a job engine ([`JobQueue`]): what each
//! [`JobSpec`] does, what it returns, and which failures are worth another attempt.

use std::sync::Arc;

use async_trait::async_trait;
use axia_domain::{
    JobFailure, JobHandler, JobId, JobQueue, JobRequest, JobSpec, MarketData, RunningJob, Symbol,
    TimeRange, Timeframe,
};
use serde::Serialize;

use crate::archiving::market_failure;
use crate::{Audit, AuditError, Collect, CollectPlan, TaskReport, TaskStatus, backfill_chunks};

/// Runs jobs through the collect use cases. A chunk of a backfill counts itself in its parent's
/// progress when it ends (done, failed for good, or on its last attempt).
pub struct JobRunner {
    collect: Arc<Collect>,
    audit: Option<Arc<Audit>>,
    source: Arc<dyn MarketData>,
    queue: Arc<dyn JobQueue>,
    plan: CollectPlan,
}

impl std::fmt::Debug for JobRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRunner")
            .field("plan", &self.plan)
            .finish_non_exhaustive()
    }
}

impl JobRunner {
    /// A runner over `collect` (and `source`, for chunk sizes and audits against it), submitting
    /// the jobs it makes to `queue`. Each job retries transient failures inside itself once
    /// (a job engine retries the rest with its own backoff), so the plan's `retries` is 1.
    #[must_use]
    pub fn new(
        collect: Arc<Collect>,
        source: Arc<dyn MarketData>,
        queue: Arc<dyn JobQueue>,
    ) -> Self {
        let mut plan = CollectPlan::new(Vec::new(), Vec::new());
        plan.retries = 1;
        plan.concurrency = 1;
        Self {
            collect,
            audit: None,
            source,
            queue,
            plan,
        }
    }

    /// Runs audit jobs with `audit` (without one they fail permanently).
    #[must_use]
    pub fn audit(mut self, audit: Arc<Audit>) -> Self {
        self.audit = Some(audit);
        self
    }

    /// Uses `plan`'s lookback, catch-up, overlap, retries and backoff (its symbols, timeframes
    /// and concurrency are the job's).
    #[must_use]
    pub fn plan(mut self, plan: CollectPlan) -> Self {
        self.plan = plan;
        self
    }

    fn plan_for(&self, symbol: &Symbol, timeframe: Timeframe) -> CollectPlan {
        let mut plan = self.plan.clone();
        plan.symbols = vec![symbol.clone()];
        plan.timeframes = vec![timeframe];
        plan.concurrency = 1;
        plan
    }

    /// Runs `job`; its result as JSON.
    ///
    /// # Errors
    /// [`JobFailure`]: permanent ones are not worth another attempt.
    pub async fn run_job(&self, job: &RunningJob) -> Result<serde_json::Value, JobFailure> {
        job.spec
            .validate()
            .map_err(|e| JobFailure::Permanent(e.to_string()))?;
        match &job.spec {
            JobSpec::Collect { symbol, timeframe } => {
                let report = self.collect.run(&self.plan_for(symbol, *timeframe)).await;
                task_result(report.tasks.into_iter().next())
            }
            JobSpec::Backfill {
                symbol,
                timeframe,
                range,
            } => self.split(&job.id, symbol, *timeframe, *range).await,
            JobSpec::BackfillChunk {
                symbol,
                timeframe,
                range,
                parent,
            } => {
                let plan = self.plan_for(symbol, *timeframe);
                let report = self.collect.backfill(&plan, *range).await;
                let result = task_result(report.tasks.into_iter().next());
                let ended = match &result {
                    Ok(_) => Some(false),
                    Err(JobFailure::Permanent(_)) => Some(true),
                    Err(JobFailure::Transient(_)) => {
                        (job.attempt >= job.max_attempts).then_some(true)
                    }
                };
                if let Some(failed) = ended {
                    let unit = range.start().timestamp_millis().to_string();
                    self.count(&job.id, parent, &unit, failed).await?;
                }
                result
            }
            JobSpec::Audit {
                symbol,
                timeframe,
                range,
                repair,
            } => self.run_audit(symbol, *timeframe, *range, *repair).await,
        }
    }

    /// Counts a chunk in its backfill's progress, trying for about half a minute while the
    /// store is away; then the chunk fails transiently (its next attempt counts it: the
    /// archive's writes are upserts and a count replaces an earlier one), so no count is lost.
    async fn count(
        &self,
        job: &JobId,
        parent: &JobId,
        unit: &str,
        failed: bool,
    ) -> Result<(), JobFailure> {
        let mut tries = 0;
        loop {
            match self.queue.count_done(parent, unit, failed).await {
                Ok(()) => return Ok(()),
                Err(e) if tries < 5 => {
                    tracing::warn!(%job, %parent, error = %e, "cannot count the chunk in its backfill's progress yet");
                    tokio::time::sleep(std::time::Duration::from_secs(1 << tries)).await;
                    tries += 1;
                }
                Err(e) => {
                    return Err(JobFailure::Transient(format!(
                        "the chunk's work is done but its progress cannot be counted: {e}"
                    )));
                }
            }
        }
    }

    /// A backfill: its chunks, each a job on the backfill queue with a key of the backfill and
    /// the chunk's start (so a re-run of the split submits nothing twice).
    async fn split(
        &self,
        id: &JobId,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<serde_json::Value, JobFailure> {
        let grid = timeframe.aligned((self.collect.alignment)(symbol));
        let chunks = backfill_chunks(grid, range, self.source.limits(timeframe).max_span);
        let total = u64::try_from(chunks.len()).unwrap_or(u64::MAX);
        self.queue
            .set_total(id, total)
            .await
            .map_err(|e| JobFailure::Transient(e.to_string()))?;
        let mut created = 0usize;
        for chunk in &chunks {
            let spec = JobSpec::BackfillChunk {
                symbol: symbol.clone(),
                timeframe,
                range: *chunk,
                parent: id.clone(),
            };
            let key = format!("{id}:{}", chunk.start().timestamp_millis());
            let submitted = self
                .queue
                .submit(JobRequest::new(spec).key(key))
                .await
                .map_err(|e| JobFailure::Transient(e.to_string()))?;
            created += usize::from(submitted.created);
        }
        Ok(json(&Split {
            chunks: chunks.len(),
            submitted: created,
        }))
    }

    async fn run_audit(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
        repair: bool,
    ) -> Result<serde_json::Value, JobFailure> {
        let Some(audit) = &self.audit else {
            return Err(JobFailure::Permanent(
                "this worker runs no audits (no archive to audit)".to_owned(),
            ));
        };
        let failure = |e: AuditError| match e {
            AuditError::Source(m) if !market_failure(&m).transient => {
                JobFailure::Permanent(m.to_string())
            }
            other => JobFailure::Transient(other.to_string()),
        };
        if repair {
            let r = audit
                .repair(symbol, timeframe, range, self.source.as_ref())
                .await
                .map_err(failure)?;
            Ok(json(&r))
        } else {
            let r = audit
                .check(symbol, timeframe, range, Some(self.source.as_ref()))
                .await
                .map_err(failure)?;
            Ok(json(&r))
        }
    }
}

#[async_trait]
impl JobHandler for JobRunner {
    async fn run(&self, job: &RunningJob) -> Result<serde_json::Value, JobFailure> {
        self.run_job(job).await
    }
}

#[derive(Serialize)]
struct Split {
    chunks: usize,
    submitted: usize,
}

fn json(v: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

fn task_result(task: Option<TaskReport>) -> Result<serde_json::Value, JobFailure> {
    let Some(task) = task else {
        return Err(JobFailure::Permanent("the job made no task".to_owned()));
    };
    match task.status {
        TaskStatus::Failed => {
            let why = task.error.clone().unwrap_or_else(|| "failed".to_owned());
            Err(if task.permanent {
                JobFailure::Permanent(why)
            } else {
                JobFailure::Transient(why)
            })
        }
        _ => Ok(json(&task)),
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::{
        JobError, MockBarArchive, MockJobQueue, MockMarketData, QueueName, SourceLimits, Submitted,
    };
    use chrono::{TimeZone, Utc};
    use mockall::predicate::{always, eq};

    use super::*;

    fn id(n: u8) -> JobId {
        format!("01ARZ3NDEKTSV4RRFFQ69G5FA{}", char::from(b'0' + n))
            .parse()
            .unwrap()
    }

    fn runner(queue: MockJobQueue, max_span: Option<chrono::Duration>) -> JobRunner {
        let mut source = MockMarketData::new();
        source.expect_limits().returning(move |_| SourceLimits {
            max_span,
            ..SourceLimits::UNLIMITED
        });
        let source = Arc::new(source);
        let collect = Collect::new(Arc::clone(&source), MockBarArchive::new());
        JobRunner::new(Arc::new(collect), source, Arc::new(queue))
    }

    /// A backfill submits one chunk job a trading day (M1), each keyed by the backfill and the chunk's
    /// start on the backfill queue, after setting its progress total.
    #[tokio::test]
    async fn a_backfill_submits_its_chunks_once_each() {
        let parent = id(1);
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 12, 0, 0).unwrap();
        let range = TimeRange::new(start, start + chrono::Duration::days(2)).unwrap();
        let mut queue = MockJobQueue::new();
        queue
            .expect_set_total()
            .with(eq(parent.clone()), eq(3))
            .times(1)
            .returning(|_, _| Ok(()));
        // USDJPY's days end at the New York close (22:00 UTC before US summer time).
        let starts = [
            start,
            Utc.with_ymd_and_hms(2026, 3, 2, 22, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 3, 22, 0, 0).unwrap(),
        ];
        for (k, s) in starts.into_iter().enumerate() {
            let key = format!("{parent}:{}", s.timestamp_millis());
            let p = parent.clone();
            queue
                .expect_submit()
                .withf(move |r| {
                    r.key.as_deref() == Some(key.as_str())
                        && r.queue.as_str() == QueueName::BACKFILL
                        && matches!(&r.spec, JobSpec::BackfillChunk { range, parent, .. }
                            if range.start() == s && *parent == p)
                })
                .times(1)
                .returning(move |_| {
                    Ok(Submitted {
                        id: id(2 + u8::try_from(k).unwrap()),
                        created: k != 1,
                    })
                });
        }
        let job = RunningJob {
            id: parent,
            spec: JobSpec::Backfill {
                symbol: "USDJPY".parse().unwrap(),
                timeframe: Timeframe::M1,
                range,
            },
            attempt: 1,
            max_attempts: 3,
        };
        let v = runner(queue, None).run_job(&job).await.unwrap();
        assert_eq!(v["chunks"], 3);
        assert_eq!(v["submitted"], 2, "one chunk was there already");
    }

    /// A source that serves less at once makes smaller chunks; a store that is down makes the
    /// split fail transiently (tried again), not permanently.
    #[tokio::test]
    async fn chunks_follow_the_sources_limit_and_a_down_store_is_transient() {
        let start = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        let range = TimeRange::new(start, start + chrono::Duration::hours(10)).unwrap();
        let mut queue = MockJobQueue::new();
        queue
            .expect_set_total()
            .with(always(), eq(5))
            .times(1)
            .returning(|_, _| Ok(()));
        queue
            .expect_submit()
            .times(1)
            .returning(|_| Err(JobError::Unavailable("connection refused".into())));
        let job = RunningJob {
            id: id(1),
            spec: JobSpec::Backfill {
                symbol: "USDJPY".parse().unwrap(),
                timeframe: Timeframe::M1,
                range,
            },
            attempt: 1,
            max_attempts: 3,
        };
        let e = runner(queue, Some(chrono::Duration::hours(2)))
            .run_job(&job)
            .await
            .unwrap_err();
        assert!(matches!(e, JobFailure::Transient(_)), "{e:?}");
    }

    /// A chunk's count waits for a store that is away (about half a minute), then fails the
    /// chunk transiently: a count is never dropped.
    #[tokio::test(start_paused = true)]
    async fn a_count_outlasts_a_short_outage_and_fails_the_chunk_after_a_long_one() {
        let mut queue = MockJobQueue::new();
        let mut left = 3;
        queue
            .expect_count_done()
            .with(eq(id(1)), eq("42"), eq(false))
            .times(4)
            .returning(move |_, _, _| {
                left -= 1;
                if left >= 0 {
                    Err(JobError::Unavailable("connection refused".into()))
                } else {
                    Ok(())
                }
            });
        let started = tokio::time::Instant::now();
        runner(queue, None)
            .count(&id(2), &id(1), "42", false)
            .await
            .unwrap();
        assert_eq!(started.elapsed(), std::time::Duration::from_secs(1 + 2 + 4));

        let mut queue = MockJobQueue::new();
        queue
            .expect_count_done()
            .times(6)
            .returning(|_, _, _| Err(JobError::Unavailable("connection refused".into())));
        let e = runner(queue, None)
            .count(&id(2), &id(1), "42", true)
            .await
            .unwrap_err();
        assert!(matches!(e, JobFailure::Transient(_)), "{e:?}");
    }

    /// An empty range and an audit without an archive fail permanently, touching nothing.
    #[tokio::test]
    async fn what_cannot_run_fails_for_good() {
        let t = Utc.with_ymd_and_hms(2026, 3, 2, 0, 0, 0).unwrap();
        for spec in [
            JobSpec::Backfill {
                symbol: "USDJPY".parse().unwrap(),
                timeframe: Timeframe::M1,
                range: TimeRange::new(t, t).unwrap(),
            },
            JobSpec::Audit {
                symbol: "USDJPY".parse().unwrap(),
                timeframe: Timeframe::H1,
                range: TimeRange::new(t, t + chrono::Duration::days(1)).unwrap(),
                repair: false,
            },
        ] {
            let job = RunningJob {
                id: id(1),
                spec,
                attempt: 1,
                max_attempts: 3,
            };
            let e = runner(MockJobQueue::new(), None)
                .run_job(&job)
                .await
                .unwrap_err();
            assert!(matches!(e, JobFailure::Permanent(_)), "{e:?}");
        }
    }
}
