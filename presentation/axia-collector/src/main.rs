//! `axia-collector`: the cron-invoked job that keeps the cold archive equal to the source's
//! closed bars (catching up on whatever it lacks) and the hot cache fresh; and `backfill` for
//! historical ranges.
//!
//! With no configuration it collects the default job (5 FX pairs x 9 timeframes, the replaced Python system's) from the
//! simulated broker into `./axia-archive`, offline. Exit codes for cron: 0 every task ok (or
//! the lock is held elsewhere and this run skipped), 1 some tasks failed or are degraded
//! (archived, but the hot cache was not updated), 2 none succeeded or the configuration is
//! wrong.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axia_collect::{Collect, CollectPlan, CollectReport, TaskReport, TaskStatus};
use axia_config::{CommonArgs, ConfigError, Settings, Wiring};
use axia_domain::{Clock, ManualClock, Symbol, SystemClock, TimeRange};
use axia_redis::Lease;
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand};
use serde::Serialize;

/// Fetch, archive and cache OHLCV bars; meant to run from cron.
///
/// A run is gap-driven: for each series it fetches from the newest bar the archive holds (or
/// the catch-up horizon for a new series) up to now, never less than the lookback, so missed
/// runs and outages are caught up. Only closed bars are archived; the forming bar goes to the
/// hot cache, labelled as such.
///
/// Settings come from the embedded defaults (simulated broker, ./axia-archive, no Redis), a TOML
/// file (--config), the environment (REDIS_URL, AXIA_ARCHIVE, AXIA_SOURCE, AXIA_SYMBOLS,
/// AXIA_TIMEFRAMES, AXIA_S3_FORCE_PATH_STYLE, and the standard AWS variables), then these
/// flags. Logs go to stderr, filtered by RUST_LOG (default: warn).
///
/// Exit codes: 0 all tasks ok (or skipped: another host holds the lock), 1 some failed or
/// degraded (archived, hot cache not updated), 2 none succeeded or a configuration error.
#[derive(Debug, Parser)]
#[command(name = "axia-collector", version)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Fill a historical range from the source, in chunks within its request limits;
    /// resumable (a re-run fetches only what is still missing). Same symbols, timeframes,
    /// report and exit codes as a run.
    Backfill {
        /// The first day (YYYY-MM-DD, UTC) or instant (RFC 3339).
        #[arg(long, value_name = "DATE", value_parser = axia_config::dates::parse_from)]
        from: DateTime<Utc>,
        /// The last day included (YYYY-MM-DD, UTC), or an instant (RFC 3339, exclusive).
        #[arg(long, value_name = "DATE", value_parser = axia_config::dates::parse_to)]
        to: DateTime<Utc>,
    },
}

#[derive(Debug, clap::Args)]
struct RunArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// The minimum window of a run, hours (at least one bar of the timeframe is fetched).
    #[arg(long, global = true)]
    lookback_hours: Option<u32>,
    /// How far back a run catches up on what the archive lacks, days.
    #[arg(long, global = true)]
    catch_up_days: Option<u32>,
    /// Tasks at once.
    #[arg(long, global = true)]
    concurrency: Option<usize>,
    /// Retries per task.
    #[arg(long, global = true)]
    retries: Option<u32>,
    /// Collect only shard K of N: the symbols are split deterministically (by a stable hash of
    /// the symbol) so N hosts cover them without overlap, each with its own lock. Deprecated:
    /// removed in the next release; several hosts run axia-worker and a schedule instead.
    #[arg(long, global = true, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<(u32, u32)>,
    /// Take a Redis lease first, so two hosts running the same crontab do not both collect.
    /// Deprecated with --shard: several hosts run axia-worker and a schedule instead.
    #[arg(long, global = true)]
    lock: bool,
    /// The lease's TTL in seconds (renewed every third of it).
    #[arg(long, global = true)]
    lock_ttl_secs: Option<u64>,
    /// Print one JSON report on stdout instead of the table.
    #[arg(long, global = true)]
    json: bool,
    /// Collect as of this instant (RFC 3339) instead of now: for replays and tests.
    #[arg(long, global = true, value_name = "RFC3339")]
    at: Option<DateTime<Utc>>,
}

fn parse_shard(s: &str) -> Result<(u32, u32), String> {
    let (k, n) = s.split_once('/').ok_or("expected K/N, e.g. 2/4")?;
    let (k, n): (u32, u32) = (
        k.trim().parse().map_err(|_| "K is not a number")?,
        n.trim().parse().map_err(|_| "N is not a number")?,
    );
    if n == 0 || k == 0 || k > n {
        return Err(format!("shard {k}/{n}: need 1 <= K <= N"));
    }
    Ok((k, n))
}

/// FNV-1a: stable across builds and hosts, so every host computes the same split.
fn shard_of(symbol: &Symbol, n: u32) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in symbol.as_str().bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    u32::try_from(h % u64::from(n)).unwrap_or(0) + 1
}

#[derive(Serialize)]
struct Summary {
    tasks: usize,
    ok: usize,
    no_data: usize,
    degraded: usize,
    failed: usize,
    archived: usize,
    quarantined: usize,
}

/// The JSON report: `version` 2 (tasks carry `archived`, `cached`, `forming`, `unreachable`,
/// `quarantined`, `warning`).
#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
    mode: &'a str,
    status: &'a str,
    shard: Option<String>,
    summary: Summary,
    #[serde(flatten)]
    report: &'a CollectReport,
}

fn summary(r: &CollectReport) -> Summary {
    let count = |s| r.tasks.iter().filter(|t| t.status == s).count();
    Summary {
        tasks: r.tasks.len(),
        ok: count(TaskStatus::Ok),
        no_data: count(TaskStatus::NoData),
        degraded: count(TaskStatus::Degraded),
        failed: count(TaskStatus::Failed),
        archived: r.tasks.iter().map(|t| t.archived).sum(),
        quarantined: r.tasks.iter().map(|t| t.quarantined.len()).sum(),
    }
}

fn status_word(t: &TaskReport) -> &'static str {
    match t.status {
        TaskStatus::Ok => "ok",
        TaskStatus::NoData => "no_data",
        TaskStatus::Degraded => "DEGRADED",
        TaskStatus::Failed => "FAILED",
    }
}

fn print_table(r: &CollectReport) {
    println!(
        "{:<10} {:<4} {:>8} {:>8} {:>8} {:>8} {:<8} {:>8} {:>8}  NOTE",
        "SYMBOL", "TF", "FETCHED", "ARCHIVED", "CACHED", "REJECTED", "STATUS", "ATTEMPTS", "MS"
    );
    for t in &r.tasks {
        let mut notes: Vec<String> = Vec::new();
        notes.extend(t.error.clone());
        notes.extend(t.warning.clone());
        notes.extend(t.unreachable.iter().map(|u| format!("unreachable {u}")));
        notes.extend(
            t.quarantined
                .iter()
                .map(|q| format!("quarantined {}", q.original)),
        );
        if let Some(c) = t.chunks {
            notes.push(format!(
                "chunks {}/{} fetched, {} already complete",
                c.fetched, c.total, c.complete
            ));
        }
        println!(
            "{:<10} {:<4} {:>8} {:>8} {:>8} {:>8} {:<8} {:>8} {:>8}  {}",
            t.symbol.as_str(),
            t.timeframe.as_str(),
            t.fetched,
            t.archived,
            t.cached,
            t.rejected,
            status_word(t),
            t.attempts,
            t.duration_ms,
            notes.join("; ")
        );
    }
    let s = summary(r);
    println!(
        "{} tasks: {} ok, {} no data, {} degraded, {} failed; {} closed bars archived in {:.2} s",
        s.tasks,
        s.ok,
        s.no_data,
        s.degraded,
        s.failed,
        s.archived,
        r.duration_ms as f64 / 1000.0
    );
}

/// The settings with the run flags applied.
fn settings(args: &RunArgs) -> Result<Settings, ConfigError> {
    let mut settings = Settings::load(&args.common.overrides())?;
    if let Some(h) = args.lookback_hours {
        settings.lookback_hours = h;
    }
    if let Some(d) = args.catch_up_days {
        settings.catch_up_days = d;
    }
    if let Some(c) = args.concurrency {
        settings.concurrency = c;
    }
    if let Some(r) = args.retries {
        settings.retries = r;
    }
    if args.lock {
        settings.lock.enabled = true;
    }
    if let Some(t) = args.lock_ttl_secs {
        settings.lock.ttl_secs = t;
    }
    settings.validate()?;
    Ok(settings)
}

/// What this invocation does.
enum Mode {
    Run,
    Backfill(TimeRange),
}

impl Mode {
    fn of(command: Option<Command>) -> Result<Self, ConfigError> {
        Ok(match command {
            None => Self::Run,
            Some(Command::Backfill { from, to }) => Self::Backfill(
                TimeRange::new(from, to).map_err(|e| ConfigError(format!("--from/--to: {e}")))?,
            ),
        })
    }
}

async fn execute(collect: &Collect, plan: &CollectPlan, mode: &Mode, json: bool) -> CollectReport {
    let total = plan.symbols.len() * plan.timeframes.len();
    let bar = (!json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} tasks {per_sec} {elapsed_precise} ETA {eta} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let bars = std::sync::atomic::AtomicUsize::new(0);
    let progress = |t: &TaskReport| {
        if let Some(b) = &bar {
            let so_far =
                bars.fetch_add(t.archived, std::sync::atomic::Ordering::Relaxed) + t.archived;
            b.set_message(format!("{so_far} bars; {} {}", t.symbol, t.timeframe));
            b.inc(1);
        }
    };
    let report = match mode {
        Mode::Run => collect.run_with_progress(plan, progress).await,
        Mode::Backfill(range) => collect.backfill_with_progress(plan, *range, progress).await,
    };
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    report
}

async fn run(args: Args) -> Result<u8, ConfigError> {
    let settings = settings(&args.run)?;
    let mode = Mode::of(args.command)?;
    let (shard, json) = (args.run.shard, args.run.json);
    let mut plan = settings.collect_plan()?;
    if shard.is_some() || settings.lock.enabled {
        tracing::warn!(
            "--shard and the collector's lock are deprecated and go in the next release: run axia-worker on each host and a schedule (docs/OPERATIONS.md, Operating jobs)"
        );
    }
    if let Some((k, n)) = shard {
        plan.symbols.retain(|s| shard_of(s, n) == k);
    }
    let clock: Arc<dyn Clock> = match args.run.at {
        Some(t) => Arc::new(ManualClock::new(t)),
        None => Arc::new(SystemClock),
    };
    let wiring = Wiring::build(&settings, clock).await?;
    let lease = match take_lock(&settings, &wiring, shard, json).await? {
        Lock::Taken(lease) => lease,
        Lock::HeldElsewhere => return Ok(0),
        Lock::Failed => return Ok(2),
    };
    let report = execute(&wiring.collect(), &plan, &mode, json).await;
    release(lease).await;
    print_report(&report, &mode, shard, json);
    Ok(report.exit_code())
}

/// The outcome of taking the run lock.
enum Lock {
    /// Go ahead (holding this lease, if locking is on).
    Taken(Option<Lease>),
    /// Another collector holds it: this run is skipped (reported).
    HeldElsewhere,
    /// The lock could not be taken (reported).
    Failed,
}

/// Takes the run lock when `[lock] enabled`, so overlapping cron runs do not collect twice.
async fn take_lock(
    settings: &Settings,
    wiring: &Wiring,
    shard: Option<(u32, u32)>,
    json: bool,
) -> Result<Lock, ConfigError> {
    if !settings.lock.enabled {
        return Ok(Lock::Taken(None));
    }
    let hot = wiring
        .hot
        .as_ref()
        .ok_or_else(|| ConfigError("--lock needs a hot cache".into()))?;
    let name = shard.map_or_else(
        || "collector".to_owned(),
        |(k, n)| format!("collector-shard-{k}-of-{n}"),
    );
    let ttl = Duration::from_secs(settings.lock.ttl_secs.max(1));
    Ok(match hot.try_lease(&name, ttl).await {
        Ok(Some(l)) => Lock::Taken(Some(l)),
        Ok(None) => {
            tracing::warn!(
                lock = name,
                "another collector holds the lock; skipping this run"
            );
            if json {
                println!(
                    "{}",
                    serde_json::json!({"version": 2, "status": "skipped", "reason": "lock held by another collector"})
                );
            } else {
                println!("skipped: another collector holds the lock {name}");
            }
            Lock::HeldElsewhere
        }
        Err(e) => {
            eprintln!("axia-collector: cannot take the lock: {e}");
            Lock::Failed
        }
    })
}

async fn release(lease: Option<Lease>) {
    let Some(l) = lease else { return };
    if l.is_lost() {
        tracing::error!("the lock was lost during the run");
    }
    if let Err(e) = l.release().await {
        tracing::warn!(error = %e, "could not release the lock; it will expire");
    }
}

fn print_report(report: &CollectReport, mode: &Mode, shard: Option<(u32, u32)>, json: bool) {
    if !json {
        print_table(report);
        return;
    }
    let status = ["ok", "partial", "failed"]
        .get(usize::from(report.exit_code()))
        .copied()
        .unwrap_or("failed");
    let out = JsonReport {
        version: 2,
        mode: match mode {
            Mode::Run => "run",
            Mode::Backfill(_) => "backfill",
        },
        status,
        shard: shard.map(|(k, n)| format!("{k}/{n}")),
        summary: summary(report),
        report,
    };
    println!("{}", serde_json::to_string(&out).unwrap_or_default());
}

fn main() -> ExitCode {
    let args = Args::parse();
    axia_config::app::run(
        "axia-collector",
        axia_config::app::Logs::Text,
        "warn",
        async move {
            run(args)
                .await
                .map_err(|e| format!("configuration error: {e}"))
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_symbols_without_overlap() {
        let symbols: Vec<Symbol> = (0..1000)
            .map(|i| format!("S{i}").parse().unwrap())
            .collect();
        let n = 4;
        let mut counts = [0; 4];
        for s in &symbols {
            let k = shard_of(s, n);
            assert!((1..=n).contains(&k));
            counts[(k - 1) as usize] += 1;
        }
        assert!(counts.iter().all(|&c| c > 150), "{counts:?}");
        assert_eq!(parse_shard("2/4"), Ok((2, 4)));
        assert!(
            parse_shard("5/4").is_err() && parse_shard("0/4").is_err() && parse_shard("x").is_err()
        );
    }
}
