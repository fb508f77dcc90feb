//! Jobs on the real PostgreSQL (DATABASE_URL) through apalis: submitted once per key, bad
//! input refused with nothing enqueued, a backfill run as chunk jobs by two workers with its
//! progress counted and the archive equal to the source, a permanent failure not retried, a
//! transient one retried after its backoff. Each test has its own queue namespace.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use axia_collect::{Collect, JobRunner};
use axia_domain::{
    FetchedBars, JobError, JobFilter, JobId, JobQueue, JobRequest, JobSpec, JobState, ManualClock,
    MarketData, MarketDataError, OhlcvStore, QueueName, SourceLimits, Symbol, TimeRange, Timeframe,
};
use axia_parquet::ParquetArchive;
use axia_postgres::{PgJobs, WorkerOptions};
use axia_simbroker::{SimulatedBroker, generate};
use chrono::{DateTime, TimeZone, Utc};

const SEED: u64 = 23;

async fn jobs(what: &str) -> PgJobs {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL (source scripts/services.sh starts PostgreSQL)");
    let jobs = PgJobs::connect(&url)
        .await
        .expect("PostgreSQL answers at DATABASE_URL")
        .namespace(format!(
            "t{}{}-{what}-",
            std::process::id(),
            Utc::now().timestamp_micros()
        ))
        .backoff(axia_domain::Backoff::new(
            Duration::from_millis(300),
            Duration::from_millis(300),
        ))
        .heartbeat(Duration::from_secs(1), 3);
    jobs.setup().await.unwrap();
    jobs
}

fn temp_dir(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "axia-jobs-{what}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    ))
}

fn at(d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, d, h, 0, 0).unwrap()
}

/// Waits until `done` holds of the job (polling), or fails after 60 s.
async fn until(jobs: &PgJobs, id: &JobId, done: impl Fn(&axia_domain::JobView) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let v = jobs.status(id).await.unwrap();
        if done(&v) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "job never got there: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_makes_one_job_and_bad_input_enqueues_nothing() {
    let jobs = Arc::new(jobs("keys").await);
    let spec = JobSpec::Backfill {
        symbol: "USDJPY".parse().unwrap(),
        timeframe: Timeframe::M1,
        range: TimeRange::new(at(2, 0), at(4, 0)).unwrap(),
    };
    // Eight submits at once with one key: one job, every caller told its id.
    let submits = (0..8).map(|_| {
        let jobs = Arc::clone(&jobs);
        let spec = spec.clone();
        tokio::spawn(async move {
            jobs.submit(JobRequest::new(spec).key("backfill:USDJPY:M1:2026-03"))
                .await
                .unwrap()
        })
    });
    let results: Vec<_> = futures_util::future::join_all(submits)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    assert_eq!(
        results.iter().filter(|s| s.created).count(),
        1,
        "{results:?}"
    );
    assert!(results.iter().all(|s| s.id == results[0].id));
    let id = results[0].id.clone();
    let listed = jobs.list(&JobFilter::default()).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].id, id);
    assert_eq!(listed[0].state, JobState::Pending);
    assert_eq!(listed[0].queue.as_str(), QueueName::BACKFILL);
    assert_eq!(listed[0].spec, spec);

    // Bad input: one clear error each, nothing enqueued.
    let empty = JobSpec::Audit {
        symbol: "USDJPY".parse().unwrap(),
        timeframe: Timeframe::H1,
        range: TimeRange::new(at(3, 0), at(3, 0)).unwrap(),
        repair: false,
    };
    let e = jobs.submit(JobRequest::new(empty)).await.unwrap_err();
    assert!(matches!(e, JobError::Invalid(_)), "{e}");
    for bad in [
        "",
        "Live",
        "9live",
        "live queue",
        "live;drop",
        "{live}",
        &"q".repeat(41),
    ] {
        let e = bad.parse::<QueueName>().unwrap_err();
        assert!(e.to_string().contains("queue name"), "{bad:?}: {e}");
    }
    for bad in [
        r#"{"type": "explode", "symbol": "USDJPY", "timeframe": "M1"}"#,
        r#"{"type": "collect", "symbol": "USD/JPY;", "timeframe": "M1"}"#,
        r#"{"type": "collect", "symbol": "USDJPY", "timeframe": "M7"}"#,
        r#"{"type": "backfill", "symbol": "USDJPY", "timeframe": "M1", "range": {"start": "2026-03-04T00:00:00Z", "end": "2026-03-02T00:00:00Z"}}"#,
    ] {
        assert!(serde_json::from_str::<JobSpec>(bad).is_err(), "{bad}");
    }
    for bad in [
        "",
        "01ARZ3NDEKTSV4RRFFQ69G5FA",
        "U1ARZ3NDEKTSV4RRFFQ69G5FAV",
        "8ZZZZZZZZZZZZZZZZZZZZZZZZZ",
    ] {
        assert!(bad.parse::<JobId>().is_err(), "{bad:?}");
    }
    assert_eq!(jobs.list(&JobFilter::default()).await.unwrap().len(), 1);

    // Cancel a waiting job; a cancelled one cannot be cancelled again, but retried.
    jobs.cancel(&id).await.unwrap();
    let v = jobs.status(&id).await.unwrap();
    assert_eq!(v.state, JobState::Killed);
    assert_eq!(v.error.as_deref(), Some("cancelled"));
    let e = jobs.cancel(&id).await.unwrap_err();
    assert!(
        matches!(
            e,
            JobError::Conflict {
                state: JobState::Killed,
                ..
            }
        ),
        "{e}"
    );
    jobs.retry(&id).await.unwrap();
    assert_eq!(jobs.status(&id).await.unwrap().state, JobState::Pending);
    let e = jobs.retry(&id).await.unwrap_err();
    assert!(matches!(e, JobError::Conflict { .. }), "{e}");
    let nobody: JobId = "01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().unwrap();
    assert!(matches!(
        jobs.status(&nobody).await,
        Err(JobError::NotFound(_))
    ));
    let killed = jobs
        .list(&JobFilter {
            state: Some(JobState::Killed),
            ..JobFilter::default()
        })
        .await
        .unwrap();
    assert!(killed.is_empty());
}

/// A source that does not know one symbol and fails the first `fail` calls for another.
struct Picky {
    inner: SimulatedBroker,
    unknown: Symbol,
    flaky: Symbol,
    fail: std::sync::atomic::AtomicU32,
}

#[async_trait]
impl MarketData for Picky {
    fn limits(&self, timeframe: Timeframe) -> SourceLimits {
        self.inner.limits(timeframe)
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        if symbol == &self.unknown {
            return Err(MarketDataError::SymbolNotFound(symbol.clone()));
        }
        if symbol == &self.flaky {
            let left = self.fail.load(std::sync::atomic::Ordering::SeqCst);
            if left > 0 {
                self.fail
                    .store(left - 1, std::sync::atomic::Ordering::SeqCst);
                return Err(MarketDataError::Unavailable("down for a moment".into()));
            }
        }
        self.inner.bars(symbol, timeframe, range).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backfill_runs_as_chunk_jobs_on_two_workers_and_the_archive_equals_the_source() {
    let jobs = Arc::new(jobs("backfill").await);
    let now = at(9, 10);
    let clock = Arc::new(ManualClock::new(now));
    let dir = temp_dir("backfill");
    let archive = ParquetArchive::local(&dir);
    let source = Arc::new(Picky {
        inner: SimulatedBroker::new(SEED, clock.clone()),
        unknown: "NOPE".parse().unwrap(),
        flaky: "GBPUSD".parse().unwrap(),
        // Every attempt's own retry fails too: the job fails twice, then succeeds.
        fail: std::sync::atomic::AtomicU32::new(4),
    });
    let collect = Arc::new(Collect::new(Arc::clone(&source), archive.clone()).clock(clock.clone()));
    let runner = Arc::new(JobRunner::new(collect, source.clone(), jobs.clone()));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for (queue, n) in [(QueueName::BACKFILL, 2), (QueueName::LIVE, 1)] {
        for k in 0..n {
            let jobs = Arc::clone(&jobs);
            let runner = Arc::clone(&runner);
            let mut stopped = stopped.clone();
            let queue = QueueName::builtin(queue);
            workers.push(tokio::spawn(async move {
                jobs.work(
                    &queue,
                    runner,
                    WorkerOptions {
                        concurrency: 2,
                        name: Some(format!("test-{}-{queue}-{k}", std::process::id())),
                        ..WorkerOptions::default()
                    },
                    async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    },
                )
                .await
            }));
        }
    }
    // Six days of M1 (Sunday to Saturday: a chunk a trading day, the weekend's empty).
    let symbol: Symbol = "EURUSD".parse().unwrap();
    let range = TimeRange::new(at(1, 0), at(7, 0)).unwrap();
    let backfill = jobs
        .submit(JobRequest::new(JobSpec::Backfill {
            symbol: symbol.clone(),
            timeframe: Timeframe::M1,
            range,
        }))
        .await
        .unwrap();
    // A permanent failure: not retried. A transient one: retried after its backoff.
    let unknown = jobs
        .submit(JobRequest::new(JobSpec::Collect {
            symbol: "NOPE".parse().unwrap(),
            timeframe: Timeframe::H1,
        }))
        .await
        .unwrap();
    let flaky = jobs
        .submit(JobRequest::new(JobSpec::Collect {
            symbol: "GBPUSD".parse().unwrap(),
            timeframe: Timeframe::H1,
        }))
        .await
        .unwrap();
    until(&jobs, &backfill.id, |v| {
        v.progress.is_some_and(|p| p.total > 0 && p.done == p.total)
    })
    .await;
    let v = jobs.status(&backfill.id).await.unwrap();
    assert_eq!(v.state, JobState::Done, "{v:?}");
    let p = v.progress.unwrap();
    // EURUSD's days end at the New York close (22:00 UTC in March): the first and last
    // chunks are the ends of trading days.
    assert_eq!((p.total, p.failed), (7, 0), "{v:?}");
    assert_eq!(v.result.as_ref().unwrap()["chunks"], 7);
    // A chunk counts itself as its work ends; its job's state follows a moment later.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let chunks: Vec<_> = jobs
            .list(&JobFilter {
                queue: Some(QueueName::builtin(QueueName::BACKFILL)),
                ..JobFilter::default()
            })
            .await
            .unwrap()
            .into_iter()
            .filter(|c| matches!(c.spec, JobSpec::BackfillChunk { .. }))
            .collect();
        assert_eq!(chunks.len(), 7);
        if chunks.iter().all(|c| c.state == JobState::Done) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{chunks:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = archive.get(&symbol, Timeframe::M1, range).await.unwrap();
    let truth = generate(SEED, &symbol, Timeframe::M1, range, now)
        .unwrap()
        .closed_at(now);
    assert!(held.len() > 5_000);
    assert_eq!(held, truth);

    until(&jobs, &unknown.id, |v| v.state == JobState::Killed).await;
    let v = jobs.status(&unknown.id).await.unwrap();
    assert_eq!(v.attempts, 1, "not retried: {v:?}");
    assert!(
        v.error.as_deref().unwrap_or_default().contains("NOPE"),
        "{v:?}"
    );

    until(&jobs, &flaky.id, |v| v.state == JobState::Done).await;
    let v = jobs.status(&flaky.id).await.unwrap();
    assert_eq!(v.attempts, 3, "two failed attempts, then done: {v:?}");
    assert!(v.result.is_some());

    // The same backfill again, with a key: one job.
    let again = JobRequest::new(JobSpec::Backfill {
        symbol,
        timeframe: Timeframe::M1,
        range,
    })
    .key("k");
    let first = jobs.submit(again.clone()).await.unwrap();
    let second = jobs.submit(again).await.unwrap();
    assert_eq!((first.created, second.created), (true, false));
    assert_eq!(first.id, second.id);

    stop.send(true).unwrap();
    for w in workers {
        w.await.unwrap().unwrap();
    }
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_schedulers_enqueue_each_tick_once_and_a_paused_schedule_nothing() {
    use axia_collect::Scheduler;
    use axia_domain::{CronSpec, Schedule, SchedulePlan, ScheduleStore};
    let jobs = Arc::new(jobs("schedules").await);
    let start = at(2, 10);
    let clock = Arc::new(ManualClock::new(start));
    let plan = SchedulePlan::Collect {
        symbols: vec!["USDJPY".parse().unwrap(), "EURUSD".parse().unwrap()],
        timeframes: vec![Timeframe::M1],
    };
    let schedule = |name: &str, enabled| Schedule {
        name: name.parse().unwrap(),
        cron: CronSpec::new("* * * * *", "America/New_York").unwrap(),
        plan: plan.clone(),
        enabled,
        last_tick: None,
    };
    jobs.add(&schedule("fx", true)).await.unwrap();
    jobs.add(&schedule("paused", false)).await.unwrap();
    let e = jobs.add(&schedule("fx", true)).await.unwrap_err();
    assert!(e.to_string().contains("exists"), "{e}");
    let empty = Schedule {
        plan: SchedulePlan::Collect {
            symbols: vec![],
            timeframes: vec![Timeframe::M1],
        },
        ..schedule("empty", true)
    };
    assert!(matches!(jobs.add(&empty).await, Err(JobError::Invalid(_))));

    let mut a = Scheduler::new(jobs.clone(), jobs.clone(), clock.clone());
    let mut b = Scheduler::new(jobs.clone(), jobs.clone(), clock.clone());
    // The tick at the instant they started is not theirs to replay.
    assert_eq!(a.tick().await.unwrap() + b.tick().await.unwrap(), 0);
    for minute in 1..=3 {
        clock.set(start + chrono::Duration::minutes(minute) + chrono::Duration::seconds(5));
        let (x, y) = tokio::join!(a.tick(), b.tick());
        assert_eq!(
            x.unwrap() + y.unwrap(),
            2,
            "minute {minute}: two jobs, once"
        );
        // Looking again within the minute changes nothing.
        assert_eq!(a.tick().await.unwrap(), 0);
    }
    let all = jobs.list(&JobFilter::default()).await.unwrap();
    assert_eq!(all.len(), 6, "three ticks x two jobs: {all:?}");
    assert!(all.iter().all(|j| j.queue.as_str() == QueueName::LIVE));
    let fx = jobs
        .schedules()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.name.as_str() == "fx")
        .unwrap();
    assert_eq!(fx.last_tick, Some(start + chrono::Duration::minutes(3)));

    // Paused: nothing; resumed: the next tick; removed: gone.
    assert!(
        jobs.set_enabled(&"fx".parse().unwrap(), false)
            .await
            .unwrap()
    );
    clock.set(start + chrono::Duration::minutes(4));
    assert_eq!(a.tick().await.unwrap(), 0);
    assert!(
        jobs.set_enabled(&"fx".parse().unwrap(), true)
            .await
            .unwrap()
    );
    clock.set(start + chrono::Duration::minutes(5));
    assert_eq!(a.tick().await.unwrap(), 2);
    assert!(jobs.remove(&"fx".parse().unwrap()).await.unwrap());
    assert!(!jobs.remove(&"fx".parse().unwrap()).await.unwrap());
    assert!(
        !jobs
            .set_enabled(&"nope".parse().unwrap(), true)
            .await
            .unwrap()
    );
    clock.set(start + chrono::Duration::minutes(6));
    assert_eq!(a.tick().await.unwrap(), 0);
    assert_eq!(jobs.list(&JobFilter::default()).await.unwrap().len(), 8);
}

/// A handler whose first run waits until the test lets it end; later runs end at once.
#[derive(Default)]
struct Gate {
    runs: std::sync::atomic::AtomicU32,
    started: tokio::sync::Notify,
    release: tokio::sync::Notify,
}

#[async_trait]
impl axia_domain::JobHandler for Gate {
    async fn run(
        &self,
        _job: &axia_domain::RunningJob,
    ) -> Result<serde_json::Value, axia_domain::JobFailure> {
        let run = self.runs.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
        if run == 1 {
            self.started.notify_one();
            self.release.notified().await;
        }
        Ok(serde_json::json!({ "run": run }))
    }
}

/// The database goes away while a job runs, so the job's end cannot be recorded (apalis then
/// ends its worker): once the database is back, the job is handed back and runs again to the
/// end, and the queue is served again, without waiting for a heartbeat to expire.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_that_loses_the_database_mid_job_hands_the_job_back_and_serves_again() {
    use axia_testkit::tcp_cut::TcpCut;
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL (source scripts/services.sh starts PostgreSQL)");
    let direct = jobs("away").await;
    let cut = TcpCut::start(&TcpCut::target_of(&url)).await;
    // The worker's side: the same namespace, through the proxy; heartbeats far apart, so only
    // the hand-back can bring the job back within the test's time.
    let proxied = PgJobs::connect(&cut.through(&url))
        .await
        .unwrap()
        .namespace(direct.namespace_name().to_owned())
        .heartbeat(Duration::from_secs(60), 10);
    let gate = Arc::new(Gate::default());
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = {
        let gate = Arc::clone(&gate);
        let mut stopped = stopped.clone();
        tokio::spawn(async move {
            proxied
                .work(
                    &QueueName::builtin(QueueName::LIVE),
                    gate,
                    WorkerOptions::default(),
                    async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    },
                )
                .await
        })
    };
    let collect = |symbol: &str| {
        JobRequest::new(JobSpec::Collect {
            symbol: symbol.parse().unwrap(),
            timeframe: Timeframe::M5,
        })
    };
    let first = direct.submit(collect("USDJPY")).await.unwrap();
    tokio::time::timeout(Duration::from_secs(30), gate.started.notified())
        .await
        .expect("the worker took the job");
    cut.set_down(true);
    gate.release.notify_one();
    // The job's end cannot be written: it still shows taken.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let v = direct.status(&first.id).await.unwrap();
    assert!(
        matches!(v.state, JobState::Queued | JobState::Running),
        "{v:?}"
    );
    cut.set_down(false);
    until(&direct, &first.id, |v| v.state == JobState::Done).await;
    let v = direct.status(&first.id).await.unwrap();
    assert_eq!(v.result, Some(serde_json::json!({ "run": 2 })), "{v:?}");
    // And the queue is served again.
    let second = direct.submit(collect("EURUSD")).await.unwrap();
    until(&direct, &second.id, |v| v.state == JobState::Done).await;
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(30), worker)
        .await
        .expect("the worker stops")
        .unwrap()
        .unwrap();
}

/// Every worker sets the schemas up at start, several at the same moment on a new database:
/// each succeeds and the schemas are there once (a race here failed with a duplicate schema).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_processes_set_up_a_fresh_database_at_once() {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL (source scripts/services.sh starts PostgreSQL)");
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let db = format!(
        "axia_setup_{}_{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}")))
        .execute(&admin)
        .await
        .unwrap();
    // The same server, the new database (any `?options` kept).
    let (path, query) = url
        .split_once('?')
        .map_or((url.as_str(), None), |(p, q)| (p, Some(q)));
    let (server, _) = path.rsplit_once('/').unwrap();
    let fresh = format!(
        "{server}/{db}{}",
        query.map(|q| format!("?{q}")).unwrap_or_default()
    );
    let setups = (0..6).map(|_| {
        let fresh = fresh.clone();
        tokio::spawn(async move {
            let jobs = PgJobs::connect(&fresh).await.unwrap();
            jobs.setup().await
        })
    });
    let results = futures_util::future::join_all(setups).await;
    for r in results {
        r.unwrap().unwrap();
    }
    let jobs = PgJobs::connect(&fresh).await.unwrap();
    jobs.setup().await.unwrap();
    let id = jobs
        .submit(JobRequest::new(JobSpec::Collect {
            symbol: "USDJPY".parse().unwrap(),
            timeframe: Timeframe::M1,
        }))
        .await
        .unwrap()
        .id;
    assert_eq!(jobs.status(&id).await.unwrap().state, JobState::Pending);
    drop(jobs);
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE {db} WITH (FORCE)"
    )))
    .execute(&admin)
    .await
    .unwrap();
}

/// A source whose every request touching one day fails, as a source that is down for it.
struct DownOneDay {
    inner: SimulatedBroker,
    day: TimeRange,
}

#[async_trait]
impl MarketData for DownOneDay {
    fn limits(&self, timeframe: Timeframe) -> SourceLimits {
        self.inner.limits(timeframe)
    }

    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        if range.start() < self.day.end() && self.day.start() < range.end() {
            return Err(MarketDataError::Unavailable(
                "the source is down for 2025-06-11".into(),
            ));
        }
        self.inner.bars(symbol, timeframe, range).await
    }
}

/// Runs the job runner, noting when each job started and what it was.
struct Starts {
    runner: Arc<JobRunner>,
    starts: std::sync::Mutex<Vec<(JobSpec, tokio::time::Instant)>>,
}

#[async_trait]
impl axia_domain::JobHandler for Starts {
    async fn run(
        &self,
        job: &axia_domain::RunningJob,
    ) -> Result<serde_json::Value, axia_domain::JobFailure> {
        self.starts
            .lock()
            .unwrap()
            .push((job.spec.clone(), tokio::time::Instant::now()));
        self.runner.run(job).await
    }
}

/// Two years of M1 as 731 chunk jobs on two backfill workers: progress reaches
/// done/total; the chunk of a day the source cannot serve is tried again after its backoff,
/// then reported failed with its reason, counted once; live collection jobs submitted during
/// the backfill start before the chunks still waiting (their own queue and worker).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_year_backfill_reports_its_failing_chunk_and_never_holds_up_live_jobs() {
    let jobs = Arc::new(jobs("twoyears").await);
    let now = Utc.with_ymd_and_hms(2026, 3, 9, 10, 0, 0).unwrap();
    let clock = Arc::new(ManualClock::new(now));
    let dir = temp_dir("twoyears");
    let archive = ParquetArchive::local(&dir);
    let down = TimeRange::new(
        Utc.with_ymd_and_hms(2025, 6, 11, 12, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2025, 6, 11, 13, 0, 0).unwrap(),
    )
    .unwrap();
    let source = Arc::new(DownOneDay {
        inner: SimulatedBroker::new(SEED, clock.clone()),
        day: down,
    });
    let collect = Arc::new(Collect::new(Arc::clone(&source), archive.clone()).clock(clock.clone()));
    let handler = Arc::new(Starts {
        runner: Arc::new(JobRunner::new(collect, source.clone(), jobs.clone())),
        starts: std::sync::Mutex::default(),
    });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut workers = Vec::new();
    for (queue, n) in [(QueueName::BACKFILL, 2), (QueueName::LIVE, 1)] {
        for _ in 0..n {
            let (jobs, handler) = (Arc::clone(&jobs), Arc::clone(&handler));
            let mut stopped = stopped.clone();
            let queue = QueueName::builtin(queue);
            workers.push(tokio::spawn(async move {
                jobs.work(
                    &queue,
                    handler,
                    WorkerOptions {
                        concurrency: 2,
                        ..WorkerOptions::default()
                    },
                    async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    },
                )
                .await
            }));
        }
    }
    let range = TimeRange::new(
        Utc.with_ymd_and_hms(2024, 3, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
    )
    .unwrap();
    let backfill = jobs
        .submit(JobRequest::new(JobSpec::Backfill {
            symbol: "USDJPY".parse().unwrap(),
            timeframe: Timeframe::M1,
            range,
        }))
        .await
        .unwrap();
    // Live jobs once the backfill is under way, with most of its chunks still waiting.
    until(&jobs, &backfill.id, |v| {
        v.progress.is_some_and(|p| p.done >= 10)
    })
    .await;
    let mut live = Vec::new();
    for (symbol, timeframe) in [("EURUSD", Timeframe::H1), ("GBPUSD", Timeframe::M5)] {
        live.push(
            jobs.submit(JobRequest::new(JobSpec::Collect {
                symbol: symbol.parse().unwrap(),
                timeframe,
            }))
            .await
            .unwrap()
            .id,
        );
    }
    for id in &live {
        until(&jobs, id, |v| v.state == JobState::Done).await;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let progress = loop {
        let v = jobs.status(&backfill.id).await.unwrap();
        if let Some(p) = v.progress.filter(|p| p.total > 0 && p.done == p.total) {
            break p;
        }
        assert!(tokio::time::Instant::now() < deadline, "{v:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // A chunk a day, cut at the New York close (the weekends' are empty); one failed.
    let days = (range.end() - range.start()).num_days();
    assert_eq!(
        progress.total,
        u64::try_from(days).unwrap() + 1,
        "{progress:?}"
    );
    assert_eq!(progress.failed, 1, "{progress:?}");
    // A chunk counts itself as its work ends; its job's state follows a moment later.
    let failed = loop {
        let failed = jobs
            .list(&JobFilter {
                state: Some(JobState::Failed),
                ..JobFilter::default()
            })
            .await
            .unwrap();
        if !failed.is_empty() {
            break failed;
        }
        assert!(tokio::time::Instant::now() < deadline, "no failed chunk");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(failed.len(), 1, "{failed:?}");
    let chunk = &failed[0];
    assert!(
        matches!(&chunk.spec, JobSpec::BackfillChunk { range, .. } if range.start() < down.end() && down.start() < range.end()),
        "{chunk:?}"
    );
    assert_eq!(chunk.attempts, 3, "tried again, then failed: {chunk:?}");
    assert!(
        chunk
            .error
            .as_deref()
            .unwrap_or_default()
            .contains("down for 2025-06-11"),
        "{chunk:?}"
    );
    // The live jobs started while backfill chunks were still to start.
    let starts = handler.starts.lock().unwrap().clone();
    let last_chunk = starts
        .iter()
        .filter(|(s, _)| matches!(s, JobSpec::BackfillChunk { .. }))
        .map(|(_, t)| *t)
        .max()
        .unwrap();
    for (spec, started) in starts
        .iter()
        .filter(|(s, _)| matches!(s, JobSpec::Collect { .. }))
    {
        let after = starts
            .iter()
            .filter(|(s, t)| matches!(s, JobSpec::BackfillChunk { .. }) && t > started)
            .count();
        assert!(
            *started < last_chunk && after > 100,
            "{spec:?} started with {after} chunks still to start"
        );
    }
    stop.send(true).unwrap();
    for w in workers {
        w.await.unwrap().unwrap();
    }
    let _ = std::fs::remove_dir_all(dir);
}

/// A source that notes when each request reached it.
struct Noted {
    inner: SimulatedBroker,
    at: std::sync::Mutex<Vec<tokio::time::Instant>>,
}

#[async_trait]
impl MarketData for Noted {
    async fn bars(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<FetchedBars, MarketDataError> {
        self.at.lock().unwrap().push(tokio::time::Instant::now());
        self.inner.bars(symbol, timeframe, range).await
    }
}

/// Two processes' sources paced through one job store at 20 requests a second: however the
/// requests come, the source sees them paced (n + 1 of them span at least n x 50 ms, less
/// some scheduling slack).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_rate_is_shared_by_every_process_using_the_store() {
    use axia_collect::Paced;
    let a = Arc::new(jobs("rate").await);
    // The second process: its own connections, the same namespace.
    let url = std::env::var("DATABASE_URL").unwrap();
    let b = Arc::new(
        PgJobs::connect(&url)
            .await
            .unwrap()
            .namespace(a.namespace_name().to_owned()),
    );
    let source = Arc::new(Noted {
        inner: SimulatedBroker::new(SEED, Arc::new(ManualClock::new(at(9, 10)))),
        at: std::sync::Mutex::default(),
    });
    let paced: Vec<Arc<dyn MarketData>> = [a.clone(), b.clone()]
        .into_iter()
        .map(|gate| -> Arc<dyn MarketData> {
            Arc::new(Paced::new(source.clone(), gate, "source:simulated", 20.0).unwrap())
        })
        .collect();
    let calls = (0..24).map(|i| {
        let p = Arc::clone(&paced[i % 2]);
        tokio::spawn(async move {
            p.bars(
                &"USDJPY".parse().unwrap(),
                Timeframe::H1,
                TimeRange::new(at(3, 0), at(4, 0)).unwrap(),
            )
            .await
            .unwrap();
        })
    });
    for c in futures_util::future::join_all(calls).await {
        c.unwrap();
    }
    let mut seen = source.at.lock().unwrap().clone();
    seen.sort();
    assert_eq!(seen.len(), 24);
    // Any n + 1 requests span n intervals, less some scheduling slack: the slots are kept at
    // the store, but a busy process (this suite runs its tests side by side on two cores) may
    // start one request tens of ms late and the next on time. Unpaced, all 24 would come
    // within a few ms.
    for (i, first) in seen.iter().enumerate() {
        for (n, later) in seen.iter().skip(i + 1).enumerate() {
            let span = *later - *first;
            let least = Duration::from_millis(50 * (n as u64 + 1))
                .saturating_sub(Duration::from_millis(60));
            assert!(span >= least, "{} requests within {span:?}", n + 2);
        }
    }
    // Another key is paced on its own: its first request goes at once.
    let wait = axia_domain::RateGate::reserve(&*b, "source:other", Duration::from_secs(10))
        .await
        .unwrap();
    assert_eq!(wait, Duration::ZERO);
}
