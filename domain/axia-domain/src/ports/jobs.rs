//! [`JobQueue`]: background work as jobs on a job engine: what a job is ([`JobSpec`]), where it
//! waits ([`QueueName`]), what a user sees of it ([`JobView`]).

use std::fmt;
use std::str::FromStr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{BoxError, Symbol, TimeRange, Timeframe};

/// A job's id: a ULID (26 Crockford base-32 characters), given when it is submitted.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl JobId {
    /// The id as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for JobId {
    type Err = JobError;

    fn from_str(s: &str) -> Result<Self, JobError> {
        const CROCKFORD: &str = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
        let upper = s.to_ascii_uppercase();
        let ok = upper.len() == 26
            && upper.chars().all(|c| CROCKFORD.contains(c))
            // 48 bits of time first: the first character is at most 7.
            && upper.starts_with(|c: char| ('0'..='7').contains(&c));
        if ok {
            Ok(Self(upper))
        } else {
            Err(JobError::Invalid(format!(
                "{:?} is not a job id (26 characters of Crockford base 32)",
                s.chars().take(40).collect::<String>()
            )))
        }
    }
}

impl TryFrom<String> for JobId {
    type Error = JobError;

    fn try_from(s: String) -> Result<Self, JobError> {
        s.parse()
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A queue's name: 1 to 40 of `a-z`, `0-9`, `_` and `-`, starting with a letter. Workers serve
/// queues; each queue has its own workers, so a busy one never starves another.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct QueueName(String);

impl QueueName {
    /// Collecting the newest bars (the cron collector's work): served first.
    pub const LIVE: &'static str = "live";
    /// Backfill chunks: the low-priority queue.
    pub const BACKFILL: &'static str = "backfill";
    /// Audits and repairs.
    pub const AUDIT: &'static str = "audit";

    /// The name as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A built-in queue (one of the constants).
    #[must_use]
    pub fn builtin(name: &'static str) -> Self {
        Self(name.to_owned())
    }
}

impl FromStr for QueueName {
    type Err = JobError;

    fn from_str(s: &str) -> Result<Self, JobError> {
        let ok = (1..=40).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(JobError::Invalid(format!(
                "queue name {:?}: 1 to 40 of a-z, 0-9, _ and -, starting with a letter",
                s.chars().take(60).collect::<String>()
            )))
        }
    }
}

impl TryFrom<String> for QueueName {
    type Error = JobError;

    fn try_from(s: String) -> Result<Self, JobError> {
        s.parse()
    }
}

impl From<QueueName> for String {
    fn from(q: QueueName) -> Self {
        q.0
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a job does, over the collect use cases.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum JobSpec {
    /// Collect the newest bars of one series (the unit of the collector's report).
    Collect {
        /// The symbol.
        symbol: Symbol,
        /// The timeframe.
        timeframe: Timeframe,
    },
    /// Backfill a range: split into chunks (a day of M1, a month of H1, …), each its own job
    /// on the backfill queue.
    Backfill {
        /// The symbol.
        symbol: Symbol,
        /// The timeframe.
        timeframe: Timeframe,
        /// The range.
        range: TimeRange,
    },
    /// One chunk of a backfill.
    BackfillChunk {
        /// The symbol.
        symbol: Symbol,
        /// The timeframe.
        timeframe: Timeframe,
        /// The chunk.
        range: TimeRange,
        /// The backfill it belongs to.
        parent: JobId,
    },
    /// Audit a range of the archive against the market calendar, and repair it when asked.
    Audit {
        /// The symbol.
        symbol: Symbol,
        /// The timeframe.
        timeframe: Timeframe,
        /// The range.
        range: TimeRange,
        /// Fetch what is missing or damaged again.
        repair: bool,
    },
}

impl JobSpec {
    /// The queue a job goes to unless told otherwise.
    #[must_use]
    pub fn default_queue(&self) -> QueueName {
        QueueName::builtin(match self {
            Self::Collect { .. } => QueueName::LIVE,
            Self::Backfill { .. } | Self::BackfillChunk { .. } => QueueName::BACKFILL,
            Self::Audit { .. } => QueueName::AUDIT,
        })
    }

    /// The job's kind, as in its JSON `type`.
    #[must_use]
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Collect { .. } => "collect",
            Self::Backfill { .. } => "backfill",
            Self::BackfillChunk { .. } => "backfill_chunk",
            Self::Audit { .. } => "audit",
        }
    }

    /// The series it works on.
    #[must_use]
    pub fn series(&self) -> (&Symbol, Timeframe) {
        match self {
            Self::Collect { symbol, timeframe }
            | Self::Backfill {
                symbol, timeframe, ..
            }
            | Self::BackfillChunk {
                symbol, timeframe, ..
            }
            | Self::Audit {
                symbol, timeframe, ..
            } => (symbol, *timeframe),
        }
    }

    /// Checks what a type cannot: a range with something in it.
    ///
    /// # Errors
    /// [`JobError::Invalid`] naming the problem.
    pub fn validate(&self) -> Result<(), JobError> {
        match self {
            Self::Collect { .. } => Ok(()),
            Self::Backfill { range, .. }
            | Self::BackfillChunk { range, .. }
            | Self::Audit { range, .. } => {
                if range.is_empty() {
                    Err(JobError::Invalid(format!("the range {range} is empty")))
                } else {
                    Ok(())
                }
            }
        }
    }
}

/// A job to submit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobRequest {
    /// What it does.
    pub spec: JobSpec,
    /// Where it waits.
    pub queue: QueueName,
    /// Jobs with the same key (in one queue) are one job: a second submit returns the first's
    /// id (a schedule's tick, a backfill's chunk, a user's retry of a submit).
    pub key: Option<String>,
    /// Higher runs first within its queue (default 0).
    pub priority: u16,
    /// Attempts before it is reported failed (at least 1; default 3).
    pub max_attempts: u16,
}

impl JobRequest {
    /// A request for `spec` on its default queue, no key, priority 0, 3 attempts.
    #[must_use]
    pub fn new(spec: JobSpec) -> Self {
        Self {
            queue: spec.default_queue(),
            spec,
            key: None,
            priority: 0,
            max_attempts: 3,
        }
    }

    /// With an idempotency key.
    #[must_use]
    pub fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    /// On another queue.
    #[must_use]
    pub fn queue(mut self, queue: QueueName) -> Self {
        self.queue = queue;
        self
    }
}

/// A submitted job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Submitted {
    /// Its id.
    pub id: JobId,
    /// False when a job with the same key was already there (its id is returned).
    pub created: bool,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    /// Waiting (for a worker, or for its next attempt's time).
    Pending,
    /// Taken by a worker, not started yet.
    Queued,
    /// Running.
    Running,
    /// Done; its result is there.
    Done,
    /// Failed; retried while attempts remain, else final.
    Failed,
    /// Given up: cancelled, or failed in a way trying again cannot fix.
    Killed,
}

impl JobState {
    /// Every state.
    pub const ALL: [Self; 6] = [
        Self::Pending,
        Self::Queued,
        Self::Running,
        Self::Done,
        Self::Failed,
        Self::Killed,
    ];

    /// The state's name, as in JSON.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Failed => "failed",
            Self::Killed => "killed",
        }
    }
}

impl FromStr for JobState {
    type Err = JobError;

    fn from_str(s: &str) -> Result<Self, JobError> {
        Self::ALL
            .into_iter()
            .find(|x| x.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| {
                JobError::Invalid(format!(
                    "job state {:?}: one of pending, queued, running, done, failed, killed",
                    s.chars().take(40).collect::<String>()
                ))
            })
    }
}

/// How far a job got: units of work done out of the total (a backfill's chunks).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobProgress {
    /// Done (successfully or not).
    pub done: u64,
    /// Of them failed.
    pub failed: u64,
    /// All.
    pub total: u64,
}

/// A job as a user sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobView {
    /// Its id.
    pub id: JobId,
    /// Its queue.
    pub queue: QueueName,
    /// What it does.
    pub spec: JobSpec,
    /// Where it is.
    pub state: JobState,
    /// Attempts made so far.
    pub attempts: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
    /// When it may run (its next attempt's time while pending).
    pub run_at: DateTime<Utc>,
    /// When it ended (done, failed, killed).
    pub done_at: Option<DateTime<Utc>>,
    /// Its result (JSON) when done.
    pub result: Option<serde_json::Value>,
    /// Why it failed, when it did.
    pub error: Option<String>,
    /// Progress, for jobs that report it.
    pub progress: Option<JobProgress>,
}

/// How many jobs of a queue are in a state: [`JobQueue::counts`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueCount {
    /// The queue.
    pub queue: QueueName,
    /// The state.
    pub state: JobState,
    /// Jobs.
    pub jobs: u64,
}

/// Which jobs to list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobFilter {
    /// Only in this state.
    pub state: Option<JobState>,
    /// Only on this queue.
    pub queue: Option<QueueName>,
    /// At most this many, newest first (default 100, at most 1,000).
    pub limit: Option<u32>,
}

/// What can go wrong with jobs.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// Bad input: a malformed id, queue name or state, an empty range. Nothing was changed.
    #[error("{0}")]
    Invalid(String),
    /// No such job.
    #[error("no job {0}")]
    NotFound(JobId),
    /// The job is in a state where this cannot be done (cancelling a finished job, retrying a
    /// running one).
    #[error("job {id} is {state:?}: {what}")]
    Conflict {
        /// The job.
        id: JobId,
        /// Its state.
        state: JobState,
        /// What could not be done.
        what: String,
    },
    /// The job engine's store cannot be reached.
    #[error("the job store is unavailable: {0}")]
    Unavailable(String),
    /// Anything else from the engine.
    #[error("job store: {0}")]
    Backend(#[source] BoxError),
}

/// Jobs on a job engine: submitted, seen, retried, cancelled; progress reported by handlers.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Submits a job; with a key that is already there, returns that job's id instead.
    ///
    /// # Errors
    /// [`JobError::Invalid`] for a spec that does not validate; [`JobError::Unavailable`].
    async fn submit(&self, request: JobRequest) -> Result<Submitted, JobError>;

    /// A job, with its progress.
    ///
    /// # Errors
    /// [`JobError::NotFound`], [`JobError::Unavailable`].
    async fn status(&self, id: &JobId) -> Result<JobView, JobError>;

    /// Jobs, newest first.
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    async fn list(&self, filter: &JobFilter) -> Result<Vec<JobView>, JobError>;

    /// How many jobs each queue holds in each state (states without jobs left out), by queue
    /// then state.
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    async fn counts(&self) -> Result<Vec<QueueCount>, JobError>;

    /// Runs a failed or killed job again (its attempts start over).
    ///
    /// # Errors
    /// [`JobError::NotFound`]; [`JobError::Conflict`] when it is not failed or killed.
    async fn retry(&self, id: &JobId) -> Result<(), JobError>;

    /// Cancels a job that has not started (it ends killed). A running job is not interrupted.
    ///
    /// # Errors
    /// [`JobError::NotFound`]; [`JobError::Conflict`] when it already started or ended.
    async fn cancel(&self, id: &JobId) -> Result<(), JobError>;

    /// Sets a job's progress total (a backfill, once it knows its chunks).
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    async fn set_total(&self, id: &JobId, total: u64) -> Result<(), JobError>;

    /// Counts `unit` of a job's work (a chunk) done, failed or not. Counting a unit again
    /// (its job ran twice) replaces its first count: progress never runs past the total.
    ///
    /// # Errors
    /// [`JobError::Unavailable`].
    async fn count_done(&self, id: &JobId, unit: &str, failed: bool) -> Result<(), JobError>;
}

/// Requests paced across every process that shares a store (a source's quota shared by the
/// workers on all hosts): each request takes the next free slot of its key, slots `every`
/// apart, and waits until its slot comes.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait RateGate: Send + Sync {
    /// Takes the next slot of `key` for requests `every` apart; how long to wait for it (zero
    /// when it is now).
    ///
    /// # Errors
    /// [`JobError::Unavailable`] when the store cannot be reached.
    async fn reserve(
        &self,
        key: &str,
        every: std::time::Duration,
    ) -> Result<std::time::Duration, JobError>;
}

/// A job being run: its id, what it does, and which attempt this is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunningJob {
    /// Its id.
    pub id: JobId,
    /// What it does.
    pub spec: JobSpec,
    /// This attempt (1 for the first).
    pub attempt: u32,
    /// Attempts allowed.
    pub max_attempts: u32,
}

/// Why a job failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JobFailure {
    /// Trying again cannot help (an unknown symbol, refused credentials, a range the source
    /// does not serve): the engine does not retry it.
    #[error("{0}")]
    Permanent(String),
    /// Worth another attempt after a while (the source or the archive unavailable).
    #[error("{0}")]
    Transient(String),
}

/// What runs a job for a job engine's worker (the collect use cases: `axia_collect::JobRunner`).
#[async_trait]
pub trait JobHandler: Send + Sync {
    /// Runs `job`; its result as JSON.
    ///
    /// # Errors
    /// [`JobFailure`]: a permanent one is not tried again.
    async fn run(&self, job: &RunningJob) -> Result<serde_json::Value, JobFailure>;
}
