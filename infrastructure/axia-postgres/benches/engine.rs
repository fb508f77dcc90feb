//! The job engine's own cost, on the real PostgreSQL (`DATABASE_URL`; `source
//! scripts/services.sh` starts one), release: `cargo bench -p axia-postgres --bench engine`.
//! Prints figures; asserts nothing about speed.
//!
//! - **No-op jobs per second:** 2,000 jobs whose handler returns at once, run by 1 and by 3
//!   workers (in this process, 4 jobs at once each), from the first fetch to the last job
//!   recorded done; and the submits' own rate (one at a time, one round trip each).
//! - **Tick to start:** a schedule firing every second (one collect job a tick) and one idle
//!   worker: from the tick's instant to the handler's start, p50 / p99 over 30 ticks. The
//!   scheduler's steps are replayed here (`axia_collect::Scheduler` is in the application layer,
//!   out of this crate's reach): wake 2 ms after the tick, read the schedule table, submit the
//!   tick's jobs with their keys.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use axia_domain::{
    CronSpec, JobFailure, JobHandler, JobQueue, JobRequest, JobSpec, JobState, RunningJob,
    Schedule, SchedulePlan, ScheduleStore, Timeframe,
};
use axia_postgres::{PgJobs, WorkerOptions};
use chrono::{DateTime, Utc};

/// Returns at once; notes when each job started.
#[derive(Default)]
struct NoOp {
    starts: Mutex<Vec<DateTime<Utc>>>,
}

#[async_trait]
impl JobHandler for NoOp {
    async fn run(&self, _job: &RunningJob) -> Result<serde_json::Value, JobFailure> {
        self.starts.lock().unwrap().push(Utc::now());
        Ok(serde_json::Value::Null)
    }
}

async fn store(url: &str, what: &str) -> Arc<PgJobs> {
    let jobs = PgJobs::connect(url).await.unwrap().namespace(format!(
        "bench{}{}-{what}-",
        std::process::id(),
        Utc::now().timestamp_micros()
    ));
    jobs.setup().await.unwrap();
    Arc::new(jobs)
}

fn collect() -> JobSpec {
    JobSpec::Collect {
        symbol: "USDJPY".parse().unwrap(),
        timeframe: Timeframe::M1,
    }
}

/// Starts `n` workers on the live queue; the sender stops them.
fn start(
    jobs: &Arc<PgJobs>,
    handler: &Arc<NoOp>,
    n: usize,
) -> (
    tokio::sync::watch::Sender<bool>,
    Vec<tokio::task::JoinHandle<()>>,
) {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let workers = (0..n)
        .map(|_| {
            let (jobs, handler) = (Arc::clone(jobs), Arc::clone(handler));
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                jobs.work(
                    &axia_domain::QueueName::builtin(axia_domain::QueueName::LIVE),
                    handler,
                    WorkerOptions::default(),
                    async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    },
                )
                .await
                .unwrap();
            })
        })
        .collect();
    (stop, workers)
}

async fn done(jobs: &PgJobs) -> u64 {
    jobs.counts()
        .await
        .unwrap()
        .iter()
        .filter(|c| c.state == JobState::Done)
        .map(|c| c.jobs)
        .sum()
}

async fn throughput(url: &str, workers: usize) {
    const JOBS: u64 = 2_000;
    let jobs = store(url, &format!("noop{workers}")).await;
    let t = Instant::now();
    for _ in 0..JOBS {
        jobs.submit(JobRequest::new(collect())).await.unwrap();
    }
    let submit = t.elapsed();
    let handler = Arc::new(NoOp::default());
    let t = Instant::now();
    let (stop, running) = start(&jobs, &handler, workers);
    while done(&jobs).await < JOBS {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let run = t.elapsed();
    stop.send(true).unwrap();
    for w in running {
        w.await.unwrap();
    }
    println!(
        "no-op jobs, {workers} worker(s) x 4 at once: {:>6.0} jobs/s ({JOBS} in {:.2} s); submits one at a time: {:.0}/s",
        JOBS as f64 / run.as_secs_f64(),
        run.as_secs_f64(),
        JOBS as f64 / submit.as_secs_f64(),
    );
}

async fn tick_to_start(url: &str) {
    const TICKS: usize = 30;
    let jobs = store(url, "tick").await;
    jobs.add(&Schedule {
        name: "every-second".parse().unwrap(),
        cron: CronSpec::new("* * * * * *", "UTC").unwrap(),
        plan: SchedulePlan::Collect {
            symbols: vec!["USDJPY".parse().unwrap()],
            timeframes: vec![Timeframe::M1],
        },
        enabled: true,
        last_tick: None,
    })
    .await
    .unwrap();
    let handler = Arc::new(NoOp::default());
    let (stop, running) = start(&jobs, &handler, 1);
    // The scheduler's steps for each tick (`axia_collect::Scheduler`, which this layer cannot
    // use): wake 2 ms after the soonest tick, read the schedule table, submit the tick's jobs
    // with their keys.
    let mut ticks = Vec::new();
    while ticks.len() < TICKS {
        let schedules = jobs.schedules().await.unwrap();
        let tick = schedules[0].cron.next_tick(Utc::now()).unwrap();
        let wait = (tick - Utc::now()).to_std().unwrap_or_default() + Duration::from_millis(2);
        tokio::time::sleep(wait).await;
        for schedule in jobs.schedules().await.unwrap() {
            for (part, spec) in schedule.plan.jobs() {
                jobs.submit(JobRequest::new(spec).key(schedule.key(tick, &part)))
                    .await
                    .unwrap();
            }
        }
        ticks.push(tick);
    }
    while handler.starts.lock().unwrap().len() < TICKS {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.send(true).unwrap();
    for w in running {
        w.await.unwrap();
    }
    let starts = handler.starts.lock().unwrap().clone();
    let mut ms: Vec<f64> = starts
        .iter()
        .zip(&ticks)
        .map(|(start, tick)| (*start - *tick).num_microseconds().unwrap() as f64 / 1e3)
        .collect();
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    println!(
        "tick to job start (the scheduler's steps + 1 idle worker, {} ticks): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        ms.len(),
        at(0.5),
        at(0.99),
        ms[ms.len() - 1]
    );
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL (source scripts/services.sh starts PostgreSQL)");
    throughput(&url, 1).await;
    throughput(&url, 3).await;
    tick_to_start(&url).await;
}
