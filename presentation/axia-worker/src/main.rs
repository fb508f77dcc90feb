//! `axia-worker`: runs collect, backfill and audit jobs from the job store (PostgreSQL through
//! apalis) until SIGTERM; any number of them on any number of hosts share the queues.
//!
//! Each queue has its own workers, so the backfill queue never holds up live collection. A job
//! that fails transiently is tried again after a backoff; a permanent failure (an unknown
//! symbol, refused credentials) is not. On SIGTERM the jobs running finish, then it exits;
//! a worker killed outright has its jobs taken again by the others once its heartbeat stops.
//! Logs are JSON lines on stderr, each line of a job carrying its id.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axia_collect::{JobRunner, Paced, Scheduler};
use axia_config::{CommonArgs, Settings, Wiring};
use axia_domain::QueueName;
use axia_postgres::{PgJobs, WorkerOptions};
use clap::Parser;

/// Serve job queues (collect, backfill, audit) from PostgreSQL.
///
/// Settings (source, archive, Redis) as for axia-collector: embedded defaults, a TOML file
/// (--config), the environment, then flags. The job store: --database-url or
/// AXIA_DATABASE_URL / DATABASE_URL (postgres://user@host:port/db).
#[derive(Debug, Parser)]
#[command(name = "axia-worker", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// The job store's URL (its password never appears in logs or errors).
    #[arg(long, env = "AXIA_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// A queue to serve (repeat; default: live, backfill, audit).
    #[arg(long = "queue", value_name = "NAME", value_parser = parse_queue)]
    queues: Vec<QueueName>,
    /// Jobs at once, per queue.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// A job running longer than this fails (and is tried again), seconds.
    #[arg(long, default_value_t = 1800)]
    timeout_secs: u64,
    /// Queue and schedule names are kept apart under this prefix (several deployments in one
    /// database).
    #[arg(long, default_value = "")]
    jobs_namespace: String,
    /// How often this worker says it is alive, seconds.
    #[arg(long, default_value_t = 30)]
    heartbeat_secs: u64,
    /// Missed heartbeats after which another worker takes this one's jobs.
    #[arg(long, default_value_t = 4)]
    missed_heartbeats: usize,
    /// The first retry's delay after a transient failure, seconds (doubling to 10 min).
    #[arg(long, default_value_t = 5)]
    retry_secs: u64,
    /// Do not run the scheduler here (by default every worker runs one: each tick is
    /// enqueued once however many do).
    #[arg(long)]
    no_scheduler: bool,
    /// Requests a second to the source, shared by every worker on every host using this job
    /// store and source (slots in PostgreSQL); on top of the source's own per-process pacing.
    #[arg(long, env = "AXIA_SOURCE_RATE", value_name = "PER_SECOND", value_parser = parse_rate)]
    source_rate: Option<f64>,
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!("{s:?}: a positive number of requests a second")),
    }
}

fn parse_queue(s: &str) -> Result<QueueName, String> {
    s.parse().map_err(|e: axia_domain::JobError| e.to_string())
}

fn database_url(args: &Args) -> Result<String, String> {
    args.database_url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .filter(|u| !u.is_empty())
        .ok_or_else(|| {
            "no job store: set --database-url, AXIA_DATABASE_URL or DATABASE_URL".to_owned()
        })
}

async fn run(args: Args) -> Result<u8, String> {
    let url = database_url(&args)?;
    let settings = Settings::load(&args.common.overrides())
        .map_err(|e| format!("configuration error: {e}"))?;
    settings
        .validate()
        .map_err(|e| format!("configuration error: {e}"))?;
    let mut wiring = Wiring::build(&settings, Arc::new(axia_domain::SystemClock))
        .await
        .map_err(|e| format!("configuration error: {e}"))?;
    let jobs = Arc::new(
        PgJobs::connect(&url)
            .await
            .map_err(|e| e.to_string())?
            .namespace(args.jobs_namespace.clone())
            .heartbeat(
                Duration::from_secs(args.heartbeat_secs.max(1)),
                args.missed_heartbeats,
            )
            .backoff(axia_domain::Backoff::new(
                Duration::from_secs(args.retry_secs.max(1)),
                Duration::from_secs(600).max(Duration::from_secs(args.retry_secs)),
            )),
    );
    jobs.setup().await.map_err(|e| e.to_string())?;
    if let Some(rate) = args.source_rate {
        // Every request of this process's collect, backfill and audit jobs takes its slot.
        wiring.source = Arc::new(Paced::new(
            Arc::clone(&wiring.source),
            jobs.clone(),
            format!("source:{}", settings.source),
            rate,
        )?);
    }
    let plan = settings
        .collect_plan()
        .map_err(|e| format!("configuration error: {e}"))?;
    let runner = Arc::new(
        JobRunner::new(
            Arc::new(wiring.collect()),
            Arc::clone(&wiring.source),
            jobs.clone(),
        )
        .audit(Arc::new(wiring.audit()))
        .plan(plan),
    );
    let queues = if args.queues.is_empty() {
        [QueueName::LIVE, QueueName::BACKFILL, QueueName::AUDIT]
            .map(QueueName::builtin)
            .to_vec()
    } else {
        args.queues.clone()
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let options = WorkerOptions {
        concurrency: args.concurrency.max(1),
        timeout: Duration::from_secs(args.timeout_secs.max(1)),
        ..WorkerOptions::default()
    };
    let workers = queues.iter().map(|queue| {
        let (jobs, runner, options) = (Arc::clone(&jobs), Arc::clone(&runner), options.clone());
        let mut stopped = stopped.clone();
        let queue = queue.clone();
        tokio::spawn(async move {
            let r = jobs
                .work(&queue, runner, options, async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
            (queue, r)
        })
    });
    let workers: Vec<_> = workers.collect();
    let scheduler = (!args.no_scheduler).then(|| {
        let mut stopped = stopped.clone();
        tokio::spawn(
            Scheduler::new(
                jobs.clone(),
                jobs.clone(),
                Arc::new(axia_domain::SystemClock),
            )
            .run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            }),
        )
    });
    tracing::info!(queues = ?queues.iter().map(QueueName::as_str).collect::<Vec<_>>(), concurrency = options.concurrency, "serving job queues");
    axia_config::app::shutdown_signal().await;
    tracing::info!("stopping: the jobs running finish first");
    let _ = stop.send(true);
    if let Some(s) = scheduler {
        let _ = s.await;
    }
    let mut code = 0;
    for w in futures_util::future::join_all(workers).await {
        match w {
            Ok((_, Ok(()))) => {}
            Ok((queue, Err(e))) => {
                tracing::error!(%queue, error = %e, "worker failed");
                code = 1;
            }
            Err(e) => {
                tracing::error!(error = %e, "worker panicked");
                code = 1;
            }
        }
    }
    Ok(code)
}

fn main() -> ExitCode {
    let args = Args::parse();
    axia_config::app::run(
        "axia-worker",
        axia_config::app::Logs::Json,
        "info",
        run(args),
    )
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_flags_are_consistent() {
        Args::command().debug_assert();
        let a = Args::try_parse_from(["axia-worker", "--queue", "backfill", "--queue", "live"])
            .unwrap();
        assert_eq!(a.queues.len(), 2);
        assert!(Args::try_parse_from(["axia-worker", "--queue", "Back Fill"]).is_err());
    }
}
