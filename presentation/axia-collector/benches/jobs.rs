//! The collector's work as jobs vs the collector run directly, on the same kind of archive (a
//! local directory, no Redis: what the job engine adds, not what moto or Redis cost). Release:
//! `cargo bench -p axia-collector --bench jobs`; needs PostgreSQL (`DATABASE_URL`; `source
//! scripts/services.sh`). Prints figures; asserts nothing about speed.
//!
//! 1. The default job (5 FX pairs x 9 timeframes = 45 tasks): `Collect::run` at concurrency 8
//!    vs 45 collect jobs on one worker serving 8 at once, from the first submit to the last
//!    job recorded done (goal: jobs <= 1.5x direct).
//! 2. 1,000 symbols x 9 timeframes: one collector at concurrency 16 vs three workers (in this
//!    process, as three hosts would share the queue) at 16 at once each.
//!
//! Every run starts from an empty archive at the same instant, with a one-day catch-up.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::cast_precision_loss,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_collect::JobRunner;
use axia_config::{Settings, Wiring};
use axia_domain::{JobQueue, JobRequest, JobSpec, JobState, ManualClock, QueueName, Symbol};
use axia_postgres::{PgJobs, WorkerOptions};
use chrono::{TimeZone, Utc};

fn settings(dir: &std::path::Path, symbols: Vec<Symbol>, concurrency: usize) -> Settings {
    let mut s = Settings {
        symbols,
        concurrency,
        ..Settings::default()
    };
    s.archive.location = dir.display().to_string();
    s.hot_cache = None;
    s.catch_up_days = 1;
    s
}

fn fresh_dir(what: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!(
        "axia-bench-jobs-{what}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros()
    ))
}

async fn wiring(s: &Settings) -> Wiring {
    let at = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    Wiring::build(s, Arc::new(ManualClock::new(at)))
        .await
        .unwrap()
}

/// The direct run: wall seconds.
async fn direct(symbols: Vec<Symbol>, concurrency: usize) -> f64 {
    let dir = fresh_dir("direct");
    let s = settings(&dir, symbols, concurrency);
    let w = wiring(&s).await;
    let plan = s.collect_plan().unwrap();
    let t = Instant::now();
    let report = w.collect().run(&plan).await;
    let wall = t.elapsed().as_secs_f64();
    assert_eq!(report.failed(), 0);
    let _ = std::fs::remove_dir_all(dir);
    wall
}

/// The same tasks as collect jobs on `workers` workers, `concurrency` at once each: wall
/// seconds from the first submit to the last job done.
async fn as_jobs(url: &str, symbols: Vec<Symbol>, workers: usize, concurrency: usize) -> f64 {
    let dir = fresh_dir("jobs");
    let s = settings(&dir, symbols, concurrency);
    let w = wiring(&s).await;
    let jobs = Arc::new(PgJobs::connect(url).await.unwrap().namespace(format!(
        "benchjobs{}{}-",
        std::process::id(),
        Utc::now().timestamp_micros()
    )));
    jobs.setup().await.unwrap();
    let runner = Arc::new(
        JobRunner::new(Arc::new(w.collect()), Arc::clone(&w.source), jobs.clone())
            .plan(s.collect_plan().unwrap()),
    );
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let running: Vec<_> = (0..workers)
        .map(|_| {
            let (jobs, runner) = (Arc::clone(&jobs), Arc::clone(&runner));
            let mut stopped = stopped.clone();
            tokio::spawn(async move {
                jobs.work(
                    &QueueName::builtin(QueueName::LIVE),
                    runner,
                    WorkerOptions {
                        concurrency,
                        ..WorkerOptions::default()
                    },
                    async move {
                        let _ = stopped.wait_for(|s| *s).await;
                    },
                )
                .await
                .unwrap();
            })
        })
        .collect();
    // Let the workers register and go idle first: the run starts at the first submit.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let plan = s.collect_plan().unwrap();
    let total = (plan.symbols.len() * plan.timeframes.len()) as u64;
    let t = Instant::now();
    for symbol in &plan.symbols {
        for timeframe in &plan.timeframes {
            jobs.submit(JobRequest::new(JobSpec::Collect {
                symbol: symbol.clone(),
                timeframe: *timeframe,
            }))
            .await
            .unwrap();
        }
    }
    loop {
        let counts = jobs.counts().await.unwrap();
        let ended: u64 = counts
            .iter()
            .filter(|c| {
                matches!(
                    c.state,
                    JobState::Done | JobState::Failed | JobState::Killed
                )
            })
            .map(|c| c.jobs)
            .sum();
        if ended >= total {
            let failed: u64 = counts
                .iter()
                .filter(|c| c.state != JobState::Done)
                .map(|c| c.jobs)
                .sum();
            assert_eq!(failed, 0, "{counts:?}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let wall = t.elapsed().as_secs_f64();
    stop.send(true).unwrap();
    for r in running {
        r.await.unwrap();
    }
    let _ = std::fs::remove_dir_all(dir);
    wall
}

#[tokio::main]
async fn main() {
    let Ok(url) = std::env::var("DATABASE_URL") else {
        println!("skipped: `source scripts/services.sh` first (needs PostgreSQL)");
        return;
    };
    let seed = Settings::default().symbols;
    for _ in 0..3 {
        let d = direct(seed.clone(), 8).await;
        let j = as_jobs(&url, seed.clone(), 1, 8).await;
        println!(
            "1. default job, 45 tasks, local dir: direct {d:.3} s, as jobs (1 worker x 8) {j:.3} s: {:.2}x",
            j / d
        );
    }
    let many: Vec<Symbol> = (0..1000)
        .map(|i| format!("SYM{i:04}").parse().unwrap())
        .collect();
    let d = direct(many.clone(), 16).await;
    let j = as_jobs(&url, many, 3, 16).await;
    println!(
        "2. 1000 symbols x 9 TFs, local dir: one collector (16 at once) {d:.2} s, as jobs (3 workers x 16) {j:.2} s: {:.2}x",
        j / d
    );
}
