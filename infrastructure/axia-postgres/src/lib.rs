//! Jobs on PostgreSQL through apalis 1.0 (`apalis-postgres`): [`PgJobs`] implements the
//! [`JobQueue`] port, and [`PgJobs::work`] runs a queue's jobs with a [`JobHandler`].
//!
//! - **Storage:** apalis' schema `apalis` (its migrations, run by [`PgJobs::setup`]); a job is a
//!   row of `apalis.jobs` whose `job_type` is the queue's name and whose payload is the
//!   [`JobSpec`] as JSON. axia adds the schema `axia_jobs` for progress (`totals`, `units`).
//! - **Ids and keys:** a job's id is a ULID given at submit, returned at once. A key makes a
//!   submit idempotent per queue (apalis' unique index on `(job_type, idempotency_key)`): a
//!   second submit with it returns the first job's id.
//! - **Retries:** a transient failure puts the job's next attempt `backoff(attempt)` later
//!   (apalis' Postgres backend takes a failed job again at once otherwise); a permanent one ends
//!   it killed; after `max_attempts` it stays failed with its reason.
//! - **At least once:** a worker that dies holding jobs stops its heartbeat; after
//!   `heartbeat × missed_heartbeats` another worker takes them again. Handlers are idempotent
//!   (the archive's writes are upserts; a chunk counts in its backfill's progress once).

use std::sync::Arc;
use std::time::Duration;

use apalis::prelude::{
    AbortError, Attempt, BoxDynError, Data, PollWith, Strategy, TaskBuilder, TaskId, TaskSink,
    WorkerBuilder, WorkerBuilderExt,
};
use apalis_postgres::{Config, PgPool, PostgresStorage, Pubsub};
use async_trait::async_trait;
use axia_domain::{
    Backoff, CronSpec, JobError, JobFailure, JobFilter, JobHandler, JobId, JobProgress, JobQueue,
    JobRequest, JobSpec, JobState, JobView, QueueCount, QueueName, RateGate, RunningJob, Schedule,
    ScheduleName, SchedulePlan, ScheduleStore, Submitted,
};
use chrono::{DateTime, Utc};
use sqlx::{Connection, Row};
use tracing::Instrument;

/// axia's own tables, beside apalis' schema.
const SETUP: &str = r"
CREATE SCHEMA IF NOT EXISTS axia_jobs;
CREATE TABLE IF NOT EXISTS axia_jobs.totals (
    job_id TEXT PRIMARY KEY,
    total BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS axia_jobs.schedules (
    namespace TEXT NOT NULL,
    name TEXT NOT NULL,
    cron TEXT NOT NULL,
    zone TEXT NOT NULL,
    plan JSONB NOT NULL,
    enabled BOOLEAN NOT NULL DEFAULT true,
    last_tick TIMESTAMPTZ,
    PRIMARY KEY (namespace, name)
);
CREATE TABLE IF NOT EXISTS axia_jobs.slots (
    key TEXT PRIMARY KEY,
    next TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS axia_jobs.units (
    job_id TEXT NOT NULL,
    unit TEXT NOT NULL,
    failed BOOLEAN NOT NULL,
    PRIMARY KEY (job_id, unit)
);
";

/// Jobs in one PostgreSQL database.
#[derive(Clone)]
pub struct PgJobs {
    pool: PgPool,
    namespace: String,
    backoff: Backoff,
    heartbeat: Duration,
    missed_heartbeats: usize,
}

impl std::fmt::Debug for PgJobs {
    // The pool's options hold the URL (and its password): never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgJobs")
            .field("backoff", &self.backoff)
            .field("heartbeat", &self.heartbeat)
            .finish_non_exhaustive()
    }
}

/// How a worker serves a queue.
#[derive(Debug, Clone)]
pub struct WorkerOptions {
    /// Jobs at once (default 4).
    pub concurrency: usize,
    /// A job running longer fails (transient; default 30 min).
    pub timeout: Duration,
    /// This worker's name: unique per process and queue (default host-pid-queue).
    pub name: Option<String>,
    /// How often an idle worker looks for jobs whose time came (a retry's backoff ended, a
    /// dead worker's job handed back); new jobs wake it at once (default 1 s).
    pub poll: Duration,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            timeout: Duration::from_secs(30 * 60),
            name: None,
            poll: Duration::from_secs(1),
        }
    }
}

fn unavailable(e: impl std::fmt::Display) -> JobError {
    JobError::Unavailable(e.to_string())
}

impl PgJobs {
    /// Connects to `url` (`postgres://user@host:port/db`); the error never shows the URL.
    ///
    /// # Errors
    /// [`JobError::Unavailable`] when the database does not answer.
    pub async fn connect(url: &str) -> Result<Self, JobError> {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await
            .map_err(|e| {
                let secrets: Vec<String> = axia_domain::url_password(url)
                    .into_iter()
                    .chain([url.to_owned()])
                    .collect();
                JobError::Unavailable(axia_domain::scrub(&e.to_string(), &secrets))
            })?;
        Ok(Self {
            pool,
            namespace: String::new(),
            backoff: Backoff::new(Duration::from_secs(5), Duration::from_secs(10 * 60)),
            heartbeat: Duration::from_secs(30),
            missed_heartbeats: 4,
        })
    }

    /// Keeps this deployment's queues apart from others' in the same database (stored queue
    /// names are `{namespace}{queue}`; default none). Tests give each their own.
    #[must_use]
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// The namespace given to [`PgJobs::namespace`] (empty by default).
    #[must_use]
    pub fn namespace_name(&self) -> &str {
        &self.namespace
    }

    fn job_type(&self, queue: &QueueName) -> String {
        format!("{}{queue}", self.namespace)
    }

    /// Delays between attempts of a failed job (default 5 s doubling to 10 min, jittered).
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How often workers say they are alive, and how many missed beats make their jobs
    /// another worker's (default 30 s x 4).
    #[must_use]
    pub fn heartbeat(mut self, every: Duration, missed: usize) -> Self {
        self.heartbeat = every;
        self.missed_heartbeats = missed.max(1);
        self
    }

    /// Creates or upgrades the schemas (apalis' migrations, then axia's tables). Safe to run
    /// from every process at start, at the same moment too: one at a time (an advisory lock),
    /// the others then find it done.
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    pub async fn setup(&self) -> Result<(), JobError> {
        /// The advisory lock's key ("axiajobs").
        const SETUP_LOCK: i64 = 0x6178_6961_6a6f_6273;
        let mut conn = self.pool.acquire().await.map_err(unavailable)?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(SETUP_LOCK)
            .execute(&mut *conn)
            .await
            .map_err(unavailable)?;
        // apalis' migrations on another of the pool's connections, while this one holds the
        // lock.
        let done = async {
            PostgresStorage::setup(&self.pool)
                .await
                .map_err(unavailable)?;
            sqlx::raw_sql(SETUP)
                .execute(&mut *conn)
                .await
                .map_err(unavailable)?;
            Ok(())
        }
        .await;
        // Closing the session releases its lock, whatever happened above.
        let _ = conn.detach().close().await;
        done
    }

    fn storage(&self, queue: &QueueName) -> PostgresStorage<JobSpec> {
        PostgresStorage::new(&self.pool).with_config(
            Config::default()
                .queue(self.job_type(queue))
                .heartbeat_interval(self.heartbeat)
                .missed_heartbeats(self.missed_heartbeats),
        )
    }

    async fn by_key(&self, queue: &QueueName, key: &str) -> Result<Option<JobId>, JobError> {
        let row =
            sqlx::query("SELECT id FROM apalis.jobs WHERE job_type = $1 AND idempotency_key = $2")
                .bind(self.job_type(queue))
                .bind(key)
                .fetch_optional(&self.pool)
                .await
                .map_err(unavailable)?;
        row.map(|r| {
            r.try_get::<String, _>("id")
                .map_err(unavailable)
                .and_then(|id| id.parse())
        })
        .transpose()
    }

    /// Runs `sql` (an update of the job `$1` guarded by its state); a job in another state is a
    /// conflict (`what` says which states it takes), a job that is not there not found.
    async fn transition(&self, id: &JobId, sql: &'static str, what: &str) -> Result<(), JobError> {
        let done = sqlx::query(sql)
            .bind(id.as_str())
            .execute(&self.pool)
            .await
            .map_err(unavailable)?;
        if done.rows_affected() == 1 {
            return Ok(());
        }
        let state = self.status(id).await?.state;
        Err(JobError::Conflict {
            id: id.clone(),
            state,
            what: what.to_owned(),
        })
    }

    /// Serves `queue` with `runner` until `shutdown`: at most `concurrency` jobs at once, each
    /// within `timeout`. Jobs running when `shutdown` comes finish first.
    ///
    /// apalis ends a worker at its first database error (a failed fetch, heartbeat or result
    /// write: the result of a job that ended is then not recorded). So this runs one worker
    /// after another: when one ends before `shutdown`, the jobs it held go back to the queue
    /// (they run again: handlers are idempotent) and a new worker, under a new name, takes
    /// over once the database answers, after a backoff (0.5 s doubling to 30 s).
    ///
    /// # Errors
    /// None so far: a worker that cannot run is retried until `shutdown`.
    pub async fn work(
        &self,
        queue: &QueueName,
        runner: Arc<dyn JobHandler>,
        options: WorkerOptions,
        shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> Result<(), JobError> {
        let base = options.name.clone().unwrap_or_else(|| {
            format!(
                "{}-{}-{queue}-{}",
                hostname(),
                std::process::id(),
                ulid::Ulid::generate()
            )
        });
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let _signal = AbortOnDrop(tokio::spawn(async move {
            shutdown.await;
            let _ = stop.send(true);
        }));
        let context = Arc::new(Handler {
            runner,
            pool: self.pool.clone(),
            backoff: self.backoff,
        });
        let restarts = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
        let mut failures = 0u32;
        for incarnation in 0u64.. {
            // Each worker has its own name: apalis refuses a name seen lately.
            let name = if incarnation == 0 {
                base.clone()
            } else {
                format!("{base}-{incarnation}")
            };
            let started = tokio::time::Instant::now();
            let mut until = stopped.clone();
            // An idle worker fetches when a job is inserted (LISTEN/NOTIFY) and every `poll`
            // (a retry's or a handed-back job's time comes without a notification); apalis
            // alone would wait for its next heartbeat.
            let wake = Strategy::new()
                .interval(options.poll.max(Duration::from_millis(10)))
                .stream(Pubsub::new(self.pool.clone(), self.job_type(queue)));
            let ended = WorkerBuilder::new(name.clone())
                .backend(PollWith::new(self.storage(queue), wake))
                .data(Arc::clone(&context))
                .concurrency(options.concurrency.max(1))
                .timeout(options.timeout)
                .build(handle)
                .run_until(async move {
                    let _ = until.wait_for(|s| *s).await;
                    Ok::<(), std::io::Error>(())
                })
                .await;
            if *stopped.borrow() {
                return ended.map_err(unavailable);
            }
            match ended {
                Err(e) => {
                    tracing::warn!(%queue, worker = %name, error = %e, "the worker stopped; starting another")
                }
                Ok(()) => {
                    tracing::warn!(%queue, worker = %name, "the worker's queue stream ended; starting another")
                }
            }
            if started.elapsed() > Duration::from_secs(60) {
                failures = 0;
            }
            // What it held goes back (apalis dropped those jobs' futures with the worker).
            loop {
                match self.hand_back(queue, &name).await {
                    Ok(n) => {
                        if n > 0 {
                            tracing::info!(%queue, worker = %name, jobs = n, "jobs handed back");
                        }
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(%queue, error = %e, "the job store does not answer; waiting");
                        if wait_or_stop(&stopped, restarts.delay(failures)).await {
                            return Ok(());
                        }
                        failures = failures.saturating_add(1);
                    }
                }
            }
            if wait_or_stop(&stopped, restarts.delay(failures)).await {
                return Ok(());
            }
            failures = failures.saturating_add(1);
        }
        Ok(())
    }

    /// Puts the jobs that the worker `name` held (and no longer runs) back in `queue`, as a
    /// dead worker's are: pending again, the attempt counted.
    async fn hand_back(&self, queue: &QueueName, name: &str) -> Result<u64, JobError> {
        let done = sqlx::query(
            "UPDATE apalis.jobs SET status = 'Pending', done_at = NULL, lock_by = NULL, \
             lock_at = NULL, attempts = attempts + 1, \
             last_result = '{\"Err\": \"handed back: its worker stopped\"}'::jsonb \
             WHERE job_type = $1 AND lock_by = $2 AND status IN ('Queued', 'Running')",
        )
        .bind(self.job_type(queue))
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected())
    }
}

/// A task that ends with its owner.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Sleeps `wait` unless `stopped` turns true first (then true).
async fn wait_or_stop(stopped: &tokio::sync::watch::Receiver<bool>, wait: Duration) -> bool {
    let mut stopped = stopped.clone();
    tokio::select! {
        _ = stopped.wait_for(|s| *s) => true,
        () = tokio::time::sleep(wait) => false,
    }
}

/// What a worker's handler needs.
struct Handler {
    runner: Arc<dyn JobHandler>,
    pool: PgPool,
    backoff: Backoff,
}

async fn handle(
    spec: JobSpec,
    id: TaskId,
    attempt: Attempt,
    handler: Data<Arc<Handler>>,
) -> Result<serde_json::Value, BoxDynError> {
    let id_text = id.to_string();
    let job_id: JobId = id_text
        .parse()
        .map_err(|e: JobError| -> BoxDynError { Box::new(AbortError::new(e)) })?;
    let max_attempts = sqlx::query("SELECT max_attempts FROM apalis.jobs WHERE id = $1")
        .bind(&id_text)
        .fetch_optional(&handler.pool)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.try_get::<i32, _>("max_attempts").ok())
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(1);
    let attempt = u32::try_from(attempt.current()).unwrap_or(u32::MAX);
    // Every line logged while the job runs carries its id (the span, not a guard held
    // across awaits: other tasks share the thread).
    let span = tracing::info_span!("job", job = %job_id, kind = spec.kind(), attempt);
    let job = RunningJob {
        id: job_id,
        spec,
        attempt,
        max_attempts,
    };
    run_one(&handler, &id_text, &job).instrument(span).await
}

async fn run_one(
    handler: &Handler,
    id_text: &str,
    job: &RunningJob,
) -> Result<serde_json::Value, BoxDynError> {
    tracing::info!("job started");
    match handler.runner.run(job).await {
        Ok(v) => {
            tracing::info!("job done");
            Ok(v)
        }
        Err(JobFailure::Permanent(why)) => {
            tracing::warn!(error = %why, "job failed for good");
            Err(Box::new(AbortError::new(std::io::Error::other(why))))
        }
        Err(JobFailure::Transient(why)) => {
            // The next attempt waits (apalis would take it again at once).
            let wait = handler.backoff.delay(job.attempt.saturating_sub(1));
            let _ = sqlx::query(
                "UPDATE apalis.jobs SET run_at = now() + make_interval(secs => $2) WHERE id = $1",
            )
            .bind(id_text)
            .bind(wait.as_secs_f64())
            .execute(&handler.pool)
            .await;
            tracing::warn!(error = %why, retry_in_ms = axia_domain::millis::whole(wait), "job failed");
            Err(why.into())
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_owned())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "host".to_owned())
}

fn state_of(s: &str) -> JobState {
    s.parse().unwrap_or(JobState::Pending)
}

/// The columns a view is read from (a literal, for `concat!`).
macro_rules! view_sql {
    () => {
        "SELECT j.id, j.job_type, j.job, j.status, j.attempts, j.max_attempts, \
    j.run_at, j.done_at, j.last_result::text AS last_result, t.total, \
    (SELECT count(*) FROM axia_jobs.units u WHERE u.job_id = j.id) AS done, \
    (SELECT count(*) FROM axia_jobs.units u WHERE u.job_id = j.id AND u.failed) AS failed \
    FROM apalis.jobs j LEFT JOIN axia_jobs.totals t ON t.job_id = j.id"
    };
}

fn view(row: &sqlx::postgres::PgRow, namespace: &str) -> Result<JobView, JobError> {
    let corrupt =
        |what: &str| JobError::Backend(format!("a job row's {what} cannot be read").into());
    let id: String = row.try_get("id").map_err(|_| corrupt("id"))?;
    let queue: String = row.try_get("job_type").map_err(|_| corrupt("queue"))?;
    let payload: Vec<u8> = row.try_get("job").map_err(|_| corrupt("payload"))?;
    let spec: JobSpec = serde_json::from_slice(&payload).map_err(|_| corrupt("payload"))?;
    let status: String = row.try_get("status").map_err(|_| corrupt("status"))?;
    let attempts: i32 = row.try_get("attempts").map_err(|_| corrupt("attempts"))?;
    let max_attempts: i32 = row
        .try_get("max_attempts")
        .map_err(|_| corrupt("max_attempts"))?;
    let run_at: DateTime<Utc> = row.try_get("run_at").map_err(|_| corrupt("run_at"))?;
    let done_at: Option<DateTime<Utc>> = row.try_get("done_at").map_err(|_| corrupt("done_at"))?;
    let last: Option<String> = row.try_get("last_result").map_err(|_| corrupt("result"))?;
    let total: Option<i64> = row.try_get("total").map_err(|_| corrupt("total"))?;
    let done: i64 = row.try_get("done").map_err(|_| corrupt("progress"))?;
    let failed: i64 = row.try_get("failed").map_err(|_| corrupt("progress"))?;
    let state = state_of(&status);
    // apalis keeps `{"Ok": value}` or `{"Err": "reason"}`.
    let last: Option<serde_json::Value> = last.and_then(|t| serde_json::from_str(&t).ok());
    let (result, error) = match last {
        Some(serde_json::Value::Object(mut m)) => (
            m.remove("Ok"),
            m.remove("Err").map(|e| match e {
                serde_json::Value::String(s) => s,
                other => other.to_string(),
            }),
        ),
        _ => (None, None),
    };
    let to_u64 = |n: i64| u64::try_from(n).unwrap_or(0);
    Ok(JobView {
        id: id.parse()?,
        queue: queue.strip_prefix(namespace).unwrap_or(&queue).parse()?,
        spec,
        state,
        attempts: u32::try_from(attempts).unwrap_or(0),
        max_attempts: u32::try_from(max_attempts).unwrap_or(0),
        run_at,
        done_at,
        result: if state == JobState::Done {
            result
        } else {
            None
        },
        error: if state == JobState::Done { None } else { error },
        progress: total.map(|t| JobProgress {
            done: to_u64(done),
            failed: to_u64(failed),
            total: to_u64(t),
        }),
    })
}

#[async_trait]
impl JobQueue for PgJobs {
    async fn submit(&self, request: JobRequest) -> Result<Submitted, JobError> {
        request.spec.validate()?;
        if let Some(key) = &request.key {
            if key.is_empty() || key.len() > 200 {
                return Err(JobError::Invalid(
                    "a job's key is 1 to 200 characters".to_owned(),
                ));
            }
            if let Some(id) = self.by_key(&request.queue, key).await? {
                return Ok(Submitted { id, created: false });
            }
        }
        let ulid = ulid::Ulid::generate();
        let id: JobId = ulid.to_string().parse()?;
        let mut task = TaskBuilder::new(request.spec.clone())
            .task_id(TaskId::from_ulid(ulid))
            .priority(usize::from(request.priority))
            .max_attempts(usize::from(request.max_attempts.max(1)));
        if let Some(key) = &request.key {
            task = task.idempotency_key(key);
        }
        let mut storage = self.storage(&request.queue);
        match storage.push_task(task.build()).await {
            Ok(()) => Ok(Submitted { id, created: true }),
            Err(e) => {
                // Another submit with the key won the race: its job is this one. (Its row can
                // take a moment to be seen by this connection: look a few times.)
                if let Some(key) = &request.key {
                    for _ in 0..20 {
                        if let Some(id) = self.by_key(&request.queue, key).await? {
                            return Ok(Submitted { id, created: false });
                        }
                        tokio::time::sleep(Duration::from_millis(25)).await;
                    }
                }
                Err(unavailable(e))
            }
        }
    }

    async fn status(&self, id: &JobId) -> Result<JobView, JobError> {
        let row = sqlx::query(concat!(view_sql!(), " WHERE j.id = $1"))
            .bind(id.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| JobError::NotFound(id.clone()))?;
        view(&row, &self.namespace)
    }

    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobView>, JobError> {
        let status = filter.state.map(|s| match s {
            JobState::Pending => "Pending",
            JobState::Queued => "Queued",
            JobState::Running => "Running",
            JobState::Done => "Done",
            JobState::Failed => "Failed",
            JobState::Killed => "Killed",
        });
        let limit = i64::from(filter.limit.unwrap_or(100).clamp(1, 1_000));
        let rows = sqlx::query(concat!(
            view_sql!(),
            " WHERE ($1::text IS NULL OR j.status = $1) \
             AND ($2::text IS NULL OR j.job_type = $2) AND starts_with(j.job_type, $4) \
             ORDER BY j.id DESC LIMIT $3"
        ))
        .bind(status)
        .bind(filter.queue.as_ref().map(|q| self.job_type(q)))
        .bind(limit)
        .bind(&self.namespace)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter().map(|r| view(r, &self.namespace)).collect()
    }

    async fn counts(&self) -> Result<Vec<QueueCount>, JobError> {
        let rows = sqlx::query(
            "SELECT job_type, status, count(*) AS jobs FROM apalis.jobs \
             WHERE starts_with(job_type, $1) GROUP BY job_type, status ORDER BY job_type, status",
        )
        .bind(&self.namespace)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        let mut counts = Vec::with_capacity(rows.len());
        for r in &rows {
            let queue: String = r.try_get("job_type").map_err(unavailable)?;
            let status: String = r.try_get("status").map_err(unavailable)?;
            let jobs: i64 = r.try_get("jobs").map_err(unavailable)?;
            // Another deployment's queue under a longer prefix is not a queue name here.
            let Ok(queue) = queue
                .strip_prefix(&self.namespace)
                .unwrap_or(&queue)
                .parse()
            else {
                continue;
            };
            counts.push(QueueCount {
                queue,
                state: state_of(&status),
                jobs: u64::try_from(jobs).unwrap_or(0),
            });
        }
        Ok(counts)
    }

    async fn retry(&self, id: &JobId) -> Result<(), JobError> {
        self.transition(
            id,
            "UPDATE apalis.jobs SET status = 'Pending', attempts = 0, run_at = now(), \
             done_at = NULL, lock_by = NULL, lock_at = NULL \
             WHERE id = $1 AND status IN ('Failed', 'Killed')",
            "only a failed or killed job is retried",
        )
        .await
    }

    async fn cancel(&self, id: &JobId) -> Result<(), JobError> {
        self.transition(
            id,
            "UPDATE apalis.jobs SET status = 'Killed', done_at = now(), \
             last_result = '{\"Err\": \"cancelled\"}'::jsonb \
             WHERE id = $1 AND (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts))",
            "only a job that waits is cancelled",
        )
        .await
    }

    async fn set_total(&self, id: &JobId, total: u64) -> Result<(), JobError> {
        sqlx::query(
            "INSERT INTO axia_jobs.totals (job_id, total) VALUES ($1, $2) \
             ON CONFLICT (job_id) DO UPDATE SET total = EXCLUDED.total",
        )
        .bind(id.as_str())
        .bind(i64::try_from(total).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn count_done(&self, id: &JobId, unit: &str, failed: bool) -> Result<(), JobError> {
        sqlx::query(
            "INSERT INTO axia_jobs.units (job_id, unit, failed) VALUES ($1, $2, $3) \
             ON CONFLICT (job_id, unit) DO UPDATE SET failed = EXCLUDED.failed",
        )
        .bind(id.as_str())
        .bind(unit)
        .bind(failed)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}

/// Slots in one row per key (`axia_jobs.slots`, under the namespace): a request takes
/// `max(next, now)` and moves `next` one interval past it, in one statement (the row's lock
/// orders concurrent requests), so however many processes share the key, slots stay
/// `every` apart.
#[async_trait]
impl RateGate for PgJobs {
    async fn reserve(&self, key: &str, every: Duration) -> Result<Duration, JobError> {
        let row = sqlx::query(
            "INSERT INTO axia_jobs.slots AS s (key, next) \
             VALUES ($1, clock_timestamp() + make_interval(secs => $2)) \
             ON CONFLICT (key) DO UPDATE SET \
             next = GREATEST(s.next, clock_timestamp()) + make_interval(secs => $2) \
             RETURNING GREATEST(EXTRACT(EPOCH FROM (next - clock_timestamp())) - $2, 0)::float8 AS wait",
        )
        .bind(format!("{}{key}", self.namespace))
        .bind(every.as_secs_f64())
        .fetch_one(&self.pool)
        .await
        .map_err(unavailable)?;
        let wait: f64 = row.try_get("wait").map_err(unavailable)?;
        Ok(Duration::try_from_secs_f64(wait).unwrap_or_default())
    }
}

#[async_trait]
impl ScheduleStore for PgJobs {
    async fn schedules(&self) -> Result<Vec<Schedule>, JobError> {
        let rows = sqlx::query(
            "SELECT name, cron, zone, plan::text AS plan, enabled, last_tick \
             FROM axia_jobs.schedules WHERE namespace = $1 ORDER BY name",
        )
        .bind(&self.namespace)
        .fetch_all(&self.pool)
        .await
        .map_err(unavailable)?;
        rows.iter()
            .map(|r| {
                let bad = |what: &str| {
                    JobError::Backend(format!("a schedule row's {what} cannot be read").into())
                };
                let name: String = r.try_get("name").map_err(|_| bad("name"))?;
                let cron: String = r.try_get("cron").map_err(|_| bad("cron"))?;
                let zone: String = r.try_get("zone").map_err(|_| bad("zone"))?;
                let plan: String = r.try_get("plan").map_err(|_| bad("plan"))?;
                let plan: SchedulePlan = serde_json::from_str(&plan).map_err(|_| bad("plan"))?;
                Ok(Schedule {
                    name: name.parse()?,
                    cron: CronSpec::new(&cron, &zone)?,
                    plan,
                    enabled: r.try_get("enabled").map_err(|_| bad("enabled"))?,
                    last_tick: r.try_get("last_tick").map_err(|_| bad("last_tick"))?,
                })
            })
            .collect()
    }

    async fn add(&self, schedule: &Schedule) -> Result<(), JobError> {
        schedule.plan.validate()?;
        let plan =
            serde_json::to_string(&schedule.plan).map_err(|e| JobError::Backend(Box::new(e)))?;
        let done = sqlx::query(
            "INSERT INTO axia_jobs.schedules (namespace, name, cron, zone, plan, enabled) \
             VALUES ($1, $2, $3, $4, $5::jsonb, $6) ON CONFLICT DO NOTHING",
        )
        .bind(&self.namespace)
        .bind(schedule.name.as_str())
        .bind(schedule.cron.expression())
        .bind(schedule.cron.zone())
        .bind(plan)
        .bind(schedule.enabled)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(JobError::Invalid(format!(
                "a schedule named {} exists (remove it first)",
                schedule.name
            )))
        }
    }

    async fn set_enabled(&self, name: &ScheduleName, enabled: bool) -> Result<bool, JobError> {
        let done = sqlx::query(
            "UPDATE axia_jobs.schedules SET enabled = $3 WHERE namespace = $1 AND name = $2",
        )
        .bind(&self.namespace)
        .bind(name.as_str())
        .bind(enabled)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn remove(&self, name: &ScheduleName) -> Result<bool, JobError> {
        let done =
            sqlx::query("DELETE FROM axia_jobs.schedules WHERE namespace = $1 AND name = $2")
                .bind(&self.namespace)
                .bind(name.as_str())
                .execute(&self.pool)
                .await
                .map_err(unavailable)?;
        Ok(done.rows_affected() == 1)
    }

    async fn record_tick(&self, name: &ScheduleName, tick: DateTime<Utc>) -> Result<(), JobError> {
        sqlx::query(
            "UPDATE axia_jobs.schedules SET last_tick = GREATEST(COALESCE(last_tick, $3), $3) \
             WHERE namespace = $1 AND name = $2",
        )
        .bind(&self.namespace)
        .bind(name.as_str())
        .bind(tick)
        .execute(&self.pool)
        .await
        .map_err(unavailable)?;
        Ok(())
    }
}
