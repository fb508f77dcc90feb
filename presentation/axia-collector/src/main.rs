//! `axia-collector`: the cron-invoked job that fetches the recent bars of symbols x timeframes,
//! writes them to the cold archive, and merges them into the hot cache.
//!
//! With no configuration it collects the seed job (5 FX pairs x 9 timeframes) from the
//! simulated broker into `./axia-archive`, offline. Exit codes for cron: 0 every task ok (or
//! the lock is held elsewhere and this run skipped), 1 some tasks failed, 2 none succeeded or
//! the configuration is wrong.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axia_collect::{CollectReport, TaskStatus};
use axia_config::{CommonArgs, ConfigError, Settings, Wiring};
use axia_domain::{Clock, ManualClock, Symbol, SystemClock};
use clap::Parser;
use serde::Serialize;

/// Fetch, archive and cache OHLCV bars; meant to run from cron.
///
/// Settings come from the embedded defaults (simulated broker, ./axia-archive, no Redis), a TOML
/// file (--config), the environment (REDIS_URL, AXIA_ARCHIVE, AXIA_SOURCE, AXIA_SYMBOLS,
/// AXIA_TIMEFRAMES, AXIA_S3_FORCE_PATH_STYLE, and the standard AWS variables), then these
/// flags. Logs go to stderr, filtered by RUST_LOG (default: warn).
///
/// Exit codes: 0 all tasks ok (or skipped: another host holds the lock), 1 some failed,
/// 2 none succeeded or a configuration error.
#[derive(Debug, Parser)]
#[command(name = "axia-collector", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Hours of bars to fetch per task (at least one bar of the timeframe is always fetched).
    #[arg(long)]
    lookback_hours: Option<u32>,
    /// Tasks at once.
    #[arg(long)]
    concurrency: Option<usize>,
    /// Retries per task.
    #[arg(long)]
    retries: Option<u32>,
    /// Collect only shard K of N: the symbols are split deterministically (by a stable hash of
    /// the symbol) so N hosts cover them without overlap, each with its own lock.
    #[arg(long, value_name = "K/N", value_parser = parse_shard)]
    shard: Option<(u32, u32)>,
    /// Take a Redis lease first, so two hosts running the same crontab do not both collect.
    #[arg(long)]
    lock: bool,
    /// The lease's TTL in seconds (renewed every third of it).
    #[arg(long)]
    lock_ttl_secs: Option<u64>,
    /// Print one JSON report on stdout instead of the table.
    #[arg(long)]
    json: bool,
    /// Collect as of this instant (RFC 3339) instead of now: for replays and tests.
    #[arg(long, value_name = "RFC3339")]
    at: Option<chrono::DateTime<chrono::Utc>>,
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
    failed: usize,
}

#[derive(Serialize)]
struct JsonReport<'a> {
    version: u32,
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
        failed: count(TaskStatus::Failed),
    }
}

fn print_table(r: &CollectReport) {
    println!(
        "{:<10} {:<4} {:>8} {:>8} {:>8} {:<8} {:>8} {:>8}  ERROR",
        "SYMBOL", "TF", "FETCHED", "STORED", "REJECTED", "STATUS", "ATTEMPTS", "MS"
    );
    for t in &r.tasks {
        let status = match t.status {
            TaskStatus::Ok => "ok",
            TaskStatus::NoData => "no_data",
            TaskStatus::Failed => "FAILED",
        };
        println!(
            "{:<10} {:<4} {:>8} {:>8} {:>8} {:<8} {:>8} {:>8}  {}",
            t.symbol.as_str(),
            t.timeframe.as_str(),
            t.fetched,
            t.stored,
            t.rejected,
            status,
            t.attempts,
            t.duration_ms,
            t.error.as_deref().unwrap_or("")
        );
    }
    let s = summary(r);
    println!(
        "{} tasks: {} ok, {} no data, {} failed in {:.2} s",
        s.tasks,
        s.ok,
        s.no_data,
        s.failed,
        r.duration_ms as f64 / 1000.0
    );
}

fn exit_code(r: &CollectReport) -> u8 {
    match (r.succeeded(), r.failed()) {
        (_, 0) => 0,
        (0, _) => 2,
        _ => 1,
    }
}

async fn run(args: Args) -> Result<u8, ConfigError> {
    let mut settings = Settings::load(&args.common)?;
    if let Some(h) = args.lookback_hours {
        settings.lookback_hours = h;
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
    let mut plan = settings.collect_plan()?;
    if let Some((k, n)) = args.shard {
        plan.symbols.retain(|s| shard_of(s, n) == k);
    }
    let clock: Arc<dyn Clock> = match args.at {
        Some(t) => Arc::new(ManualClock::new(t)),
        None => Arc::new(SystemClock),
    };
    let wiring = Wiring::build(&settings, clock).await?;
    let shard_label = args.shard.map(|(k, n)| format!("{k}/{n}"));

    let lease = if settings.lock.enabled {
        let hot = wiring
            .hot
            .as_ref()
            .ok_or_else(|| ConfigError("--lock needs a hot cache".into()))?;
        let name = args.shard.map_or_else(
            || "collector".to_owned(),
            |(k, n)| format!("collector-shard-{k}-of-{n}"),
        );
        match hot
            .try_lease(&name, Duration::from_secs(settings.lock.ttl_secs.max(1)))
            .await
        {
            Ok(Some(l)) => Some(l),
            Ok(None) => {
                tracing::warn!(
                    lock = name,
                    "another collector holds the lock; skipping this run"
                );
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({"version": 1, "status": "skipped", "reason": "lock held by another collector"})
                    );
                } else {
                    println!("skipped: another collector holds the lock {name}");
                }
                return Ok(0);
            }
            Err(e) => {
                eprintln!("axia-collector: cannot take the lock: {e}");
                return Ok(2);
            }
        }
    } else {
        None
    };

    let total = plan.symbols.len() * plan.timeframes.len();
    let bar = (!args.json && std::io::stderr().is_terminal()).then(|| {
        let b = indicatif::ProgressBar::new(total as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template(
                "{bar:40} {pos}/{len} tasks {elapsed_precise} {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        b
    });
    let report = wiring
        .collect()
        .run_with_progress(&plan, |t| {
            if let Some(b) = &bar {
                b.set_message(format!("{} {}", t.symbol, t.timeframe));
                b.inc(1);
            }
        })
        .await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    if let Some(l) = lease {
        if l.is_lost() {
            tracing::error!("the lock was lost during the run");
        }
        if let Err(e) = l.release().await {
            tracing::warn!(error = %e, "could not release the lock; it will expire");
        }
    }
    let code = exit_code(&report);
    if args.json {
        let status = ["ok", "partial", "failed"]
            .get(usize::from(code))
            .copied()
            .unwrap_or("failed");
        let out = JsonReport {
            version: 1,
            status,
            shard: shard_label,
            summary: summary(&report),
            report: &report,
        };
        println!("{}", serde_json::to_string(&out).unwrap_or_default());
    } else {
        print_table(&report);
    }
    Ok(code)
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
