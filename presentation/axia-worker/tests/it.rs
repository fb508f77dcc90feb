//! `axia-worker` processes against the real PostgreSQL (DATABASE_URL): three workers share a
//! backfill's chunk jobs; one is killed with SIGKILL while it holds a job; its job is taken
//! again by the others, every chunk ends done, and the archive equals the source's closed
//! bars; PostgreSQL cut off for 20 s in a backfill loses nothing either.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axia_domain::{
    JobFilter, JobQueue, JobRequest, JobSpec, JobState, OhlcvStore, QueueName, Symbol, TimeRange,
    Timeframe,
};
use axia_parquet::ParquetArchive;
use axia_postgres::PgJobs;
use axia_testkit::tcp_cut::TcpCut;
use chrono::{TimeZone, Utc};

struct Worker(Child);

/// The last lines of each worker's log, for a failure's message.
fn tails(logs: &std::path::Path) -> String {
    let mut files: Vec<_> = std::fs::read_dir(logs)
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = lines[lines.len().saturating_sub(30)..].join("\n");
            format!("== {}\n{tail}", f.display())
        })
        .collect::<Vec<_>>()
        .join("\n")
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_mid_job_loses_nothing() {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL (source scripts/services.sh starts PostgreSQL)");
    let ns = format!(
        "kill{}x{}-",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    let dir = std::env::temp_dir().join(format!("axia-worker-kill-{ns}"));
    let logs = std::env::temp_dir().join(format!("axia-worker-kill-{ns}logs"));
    std::fs::create_dir_all(&logs).unwrap();
    let spawn = |k: usize| {
        Worker(
            Command::new(env!("CARGO_BIN_EXE_axia-worker"))
                .args([
                    "--jobs-namespace",
                    &ns,
                    "--queue",
                    "backfill",
                    "--concurrency",
                    "1",
                    "--heartbeat-secs",
                    "1",
                    "--missed-heartbeats",
                    "2",
                    "--retry-secs",
                    "1",
                    "--no-scheduler",
                ])
                .env("AXIA_ARCHIVE", &dir)
                .env("DATABASE_URL", &url)
                .env("RUST_LOG", "info")
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(logs.join(format!("worker-{k}.log"))).unwrap())
                .spawn()
                .unwrap(),
        )
    };
    let jobs = PgJobs::connect(&url).await.unwrap().namespace(ns.clone());
    jobs.setup().await.unwrap();
    // The first worker alone, so it surely takes jobs; the others once it is killed.
    let mut workers: Vec<Worker> = vec![spawn(0)];
    // Forty days of M1 in the past: forty chunk jobs.
    let symbol: Symbol = "EURUSD".parse().unwrap();
    let range = TimeRange::new(
        Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 10, 11, 0, 0, 0).unwrap(),
    )
    .unwrap();
    let backfill = jobs
        .submit(JobRequest::new(JobSpec::Backfill {
            symbol: symbol.clone(),
            timeframe: Timeframe::M1,
            range,
        }))
        .await
        .unwrap();
    // Kill the first worker the moment it holds a chunk.
    let pool = sqlx::PgPool::connect(&url).await.unwrap();
    let victim = workers[0].0.id();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    let held_job = loop {
        let held: Option<(String,)> = sqlx::query_as(
            "SELECT id FROM apalis.jobs WHERE job_type = $1 AND status IN ('Queued', 'Running') \
             AND lock_by LIKE $2 LIMIT 1",
        )
        .bind(format!("{ns}backfill"))
        .bind(format!("%-{victim}-%"))
        .fetch_optional(&pool)
        .await
        .unwrap();
        if let Some((id,)) = held {
            break id;
        }
        if let Ok(Some(status)) = workers[0].0.try_wait() {
            panic!(
                "the worker exited ({status}): {}",
                std::fs::read_to_string(logs.join("worker-0.log")).unwrap_or_default()
            );
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker never took a job"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    };
    workers[0].0.kill().unwrap();
    let _ = workers[0].0.wait();
    let killed_at = Utc::now();
    workers.push(spawn(1));
    workers.push(spawn(2));
    // Every chunk ends done, the killed one's included.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    loop {
        let v = jobs.status(&backfill.id).await.unwrap();
        if v.progress.is_some_and(|p| p.total > 0 && p.done == p.total) {
            let p = v.progress.unwrap();
            // Forty days, cut at the New York close: 41 chunks.
            assert_eq!((p.total, p.failed), (41, 0), "{v:?}");
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not done: {v:?}\n{}",
            tails(&logs)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A chunk counts itself as its work ends; its job's state follows a moment later.
    let chunks = loop {
        let chunks = jobs
            .list(&JobFilter {
                queue: Some(QueueName::builtin(QueueName::BACKFILL)),
                limit: Some(1_000),
                ..JobFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(chunks.len(), 42, "the backfill and its 41 chunks");
        if chunks.iter().all(|c| c.state == JobState::Done) {
            break chunks;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{chunks:?}\n{}",
            tails(&logs)
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let taken_again = chunks.iter().find(|c| c.id.as_str() == held_job).unwrap();
    // Taken again after the kill (unless it ended in the instant before).
    assert!(
        taken_again.attempts >= 2 || taken_again.done_at.is_some_and(|t| t <= killed_at),
        "the killed worker's job ran again: {taken_again:?}"
    );
    let archive = ParquetArchive::local(&dir);
    let held = archive.get(&symbol, Timeframe::M1, range).await.unwrap();
    let now = Utc::now();
    let truth = axia_simbroker::generate(42, &symbol, Timeframe::M1, range, now)
        .unwrap()
        .closed_at(now);
    assert!(held.len() > 20_000, "{} bars", held.len());
    assert_eq!(held, truth);
    drop(workers);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&logs);
}

/// PostgreSQL unreachable for 20 s in the middle of a backfill: the workers wait and recover;
/// every chunk ends done, counted once in the progress, and the archive equals the source.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_away_for_twenty_seconds_loses_nothing() {
    let url = std::env::var("DATABASE_URL")
        .expect("DATABASE_URL (source scripts/services.sh starts PostgreSQL)");
    let ns = format!(
        "away{}x{}-",
        std::process::id(),
        Utc::now().timestamp_micros()
    );
    let dir = std::env::temp_dir().join(format!("axia-worker-away-{ns}"));
    let logs = std::env::temp_dir().join(format!("axia-worker-away-{ns}logs"));
    std::fs::create_dir_all(&logs).unwrap();
    // The workers reach PostgreSQL through a proxy that the test cuts.
    let cut = TcpCut::start(&TcpCut::target_of(&url)).await;
    let proxied = cut.through(&url);
    let jobs = PgJobs::connect(&url).await.unwrap().namespace(ns.clone());
    jobs.setup().await.unwrap();
    let _workers: Vec<Worker> = (0..2)
        .map(|k| {
            Worker(
                Command::new(env!("CARGO_BIN_EXE_axia-worker"))
                    .args([
                        "--jobs-namespace",
                        &ns,
                        "--queue",
                        "backfill",
                        "--concurrency",
                        "1",
                        "--retry-secs",
                        "1",
                        "--no-scheduler",
                    ])
                    .env("AXIA_ARCHIVE", &dir)
                    .env("DATABASE_URL", &proxied)
                    .env("RUST_LOG", "info")
                    .stdout(Stdio::null())
                    .stderr(std::fs::File::create(logs.join(format!("worker-{k}.log"))).unwrap())
                    .spawn()
                    .unwrap(),
            )
        })
        .collect();
    // Half a year of M1: about 160 chunk jobs keep the workers busy for a while.
    let symbol: Symbol = "USDJPY".parse().unwrap();
    let range = TimeRange::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap(),
        Utc.with_ymd_and_hms(2026, 9, 1, 0, 0, 0).unwrap(),
    )
    .unwrap();
    let backfill = jobs
        .submit(JobRequest::new(JobSpec::Backfill {
            symbol: symbol.clone(),
            timeframe: Timeframe::M1,
            range,
        }))
        .await
        .unwrap();
    // Cut once the first chunks are done.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let v = jobs.status(&backfill.id).await.unwrap();
        if v.progress.is_some_and(|p| p.done >= 3) {
            assert!(
                v.progress.is_some_and(|p| p.done < p.total),
                "too quick to cut: {v:?}"
            );
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{v:?}\n{}",
            tails(&logs)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    cut.set_down(true);
    tokio::time::sleep(Duration::from_secs(20)).await;
    cut.set_down(false);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(240);
    let total = loop {
        let v = jobs.status(&backfill.id).await.unwrap();
        if let Some(p) = v.progress.filter(|p| p.done == p.total) {
            assert_eq!(p.failed, 0, "{v:?}");
            break p.total;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not done: {v:?}\n{}",
            tails(&logs)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    loop {
        let chunks = jobs
            .list(&JobFilter {
                queue: Some(QueueName::builtin(QueueName::BACKFILL)),
                limit: Some(1_000),
                ..JobFilter::default()
            })
            .await
            .unwrap();
        assert_eq!(chunks.len() as u64, total + 1);
        if chunks.iter().all(|c| c.state == JobState::Done) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{chunks:?}\n{}",
            tails(&logs)
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let archive = ParquetArchive::local(&dir);
    let held = archive.get(&symbol, Timeframe::M1, range).await.unwrap();
    let now = Utc::now();
    let truth = axia_simbroker::generate(42, &symbol, Timeframe::M1, range, now)
        .unwrap()
        .closed_at(now);
    assert_eq!(held, truth);
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&logs);
}
