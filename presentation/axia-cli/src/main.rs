//! `axia`: the command line. `axia ohlcv` prints bars and how they were found, through the data
//! provider wired from the same configuration as the collector; `axia features` the indicator
//! values of a series; `axia audit` checks the archive; `axia killswitch` reads or flips the
//! kill switch; `axia chart` draws a PNG; `axia jobs` submits and follows the jobs that
//! `axia-worker` runs; `axia alerts` lists the alert rules, tests one over history and reads
//! the alerts recorded.

mod alerts;
mod chart;
mod jobs;

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context, bail};
use axia_config::{CommonArgs, Settings, Wiring};
use axia_domain::{Clock, Instrument, ManualClock, SystemClock, TimeRange, UseCase};
use axia_provider::{OhlcvRequest, OhlcvResponse, Window};
use chrono::{DateTime, Utc};
use clap::{Parser, Subcommand, ValueEnum};

/// axia: OHLCV bars for FX pairs and stocks from a tiered store.
///
/// Configuration as for axia-collector: embedded defaults (simulated broker, ./axia-archive,
/// no Redis), --config FILE, the environment (REDIS_URL, AXIA_ARCHIVE, ...), then flags.
#[derive(Debug, Parser)]
#[command(name = "axia", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Print the bars of SYMBOL TIMEFRAME and how the provider found them.
    Ohlcv(OhlcvArgs),
    /// Read or change the kill switch (DynamoDB, `[orders] kill_switch_table`).
    Killswitch(KillswitchArgs),
    /// Check the archive of SYMBOL TIMEFRAME: closed bars missing against the market calendar,
    /// damaged and quarantined files, and (with --source, or --repair) bars that differ from
    /// the source; --repair moves damaged files aside and rewrites exactly what was found.
    /// Exit code 0 clean, 1 not clean (after --repair: what the repair could not fix).
    Audit(AuditArgs),
    /// Print the indicator values of SYMBOL TIMEFRAME at its newest bar (or the last bar at or
    /// before --at), recomputed from history from the bar's anchor exactly as the feature
    /// engine (axia-features) computes them live; with --stored, what the engine last published
    /// to the Redis feature store.
    Features(FeaturesArgs),
    /// Draw SYMBOL TIMEFRAME as a PNG: candles over an index axis (no weekend gaps) and volume
    /// below, read through the data provider (chart use case).
    Chart(ChartArgs),
    /// The archive's daily alignments: which each symbol's files record, and moving a symbol
    /// to another one.
    Archive(ArchiveArgs),
    /// Jobs that axia-worker runs (PostgreSQL): submit collect, backfill and audit jobs, see
    /// their state and progress, list, retry, cancel. Exit code 1 when a job (or one of its
    /// chunks) failed.
    Jobs(jobs::JobsArgs),
    /// Schedules (Celery Beat's role): each tick of an enabled schedule enqueues its collect
    /// jobs once, however many workers run the scheduler.
    Schedules(jobs::SchedulesArgs),
    /// Alert rules (`[alerts]`): list them, test one over history, read the alerts the
    /// feature engine recorded.
    Alerts(alerts::AlertsArgs),
}

#[derive(Debug, clap::Args)]
struct ArchiveArgs {
    #[command(subcommand)]
    action: ArchiveAction,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum ArchiveAction {
    /// Each symbol the archive holds: the daily alignment its files record, and the one it
    /// would get without them (the settings' or the built-in default).
    Alignments,
    /// Move every series of SYMBOL to the daily alignment --to (default: the settings' or the
    /// built-in one, the New York close for FX pairs and futures): bars up to H1 move to the
    /// new partitions, H4 to MN1 are rebuilt from the archive's H1 bars; the replaced files are
    /// kept under `realigned/` beside `ohlcv/`. Stop the symbol's writers first. Exit code 0
    /// when the new series has every bar the old span expects, 1 when some are left for
    /// `axia audit --repair` (listed).
    Realign {
        /// The symbol.
        symbol: String,
        /// `new_york_close` or `utc_midnight`.
        #[arg(long)]
        to: Option<axia_domain::DailyAlignment>,
    },
}

#[derive(Debug, clap::Args)]
struct ChartArgs {
    /// The symbol.
    symbol: String,
    /// The timeframe.
    timeframe: String,
    /// The last N days.
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// The PNG to write.
    #[arg(short, long, value_name = "FILE")]
    output: std::path::PathBuf,
    /// Width in pixels.
    #[arg(long, default_value_t = 1200)]
    width: u32,
    /// Height in pixels.
    #[arg(long, default_value_t = 700)]
    height: u32,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, clap::Args)]
struct FeaturesArgs {
    /// The symbol.
    symbol: String,
    /// The timeframe.
    timeframe: String,
    /// The values at the last bar opening at or before this instant (RFC 3339), as of then.
    #[arg(long, conflicts_with = "stored")]
    at: Option<DateTime<Utc>>,
    /// Read the latest values the feature engine published (needs the hot cache's Redis).
    #[arg(long)]
    stored: bool,
    /// Output format: table, csv (name,value,reason) or json (every configured value, null
    /// with the reason when it has not warmed up).
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, clap::Args)]
struct AuditArgs {
    /// The symbol.
    symbol: String,
    /// The timeframe.
    timeframe: String,
    /// The first day (YYYY-MM-DD, UTC) or instant (RFC 3339).
    #[arg(long, value_name = "DATE", value_parser = axia_config::dates::parse_from)]
    from: DateTime<Utc>,
    /// The last day included (YYYY-MM-DD), or an instant (RFC 3339, exclusive); default now.
    #[arg(long, value_name = "DATE", value_parser = axia_config::dates::parse_to)]
    to: Option<DateTime<Utc>>,
    /// Move damaged files aside, refetch and rewrite the missing and differing bars.
    #[arg(long)]
    repair: bool,
    /// One JSON report on stdout.
    #[arg(long)]
    json: bool,
    /// Audit as of this instant (RFC 3339) instead of now.
    #[arg(long)]
    at: Option<DateTime<Utc>>,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, clap::Args)]
struct KillswitchArgs {
    #[command(subcommand)]
    action: KillswitchAction,
    /// Create the kill-switch table if missing (development).
    #[arg(long, global = true)]
    create_resources: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum KillswitchAction {
    /// Show the global switch and, with --symbol, the symbol's.
    Status {
        /// A symbol's switch too.
        #[arg(long)]
        symbol: Option<String>,
    },
    /// Halt trading (all of it, or one symbol).
    Halt(ChangeArgs),
    /// Resume trading (all of it, or one symbol).
    Resume(ChangeArgs),
}

#[derive(Debug, clap::Args)]
struct ChangeArgs {
    /// Why (recorded in the audit trail).
    #[arg(long)]
    reason: String,
    /// Only this symbol.
    #[arg(long)]
    symbol: Option<String>,
    /// Who (default: $USER).
    #[arg(long)]
    actor: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum UseCaseArg {
    Trading,
    Chart,
    Analysis,
}

#[derive(Debug, clap::Args)]
struct OhlcvArgs {
    /// The symbol (USDJPY, AAPL, 7203.T, ^N225).
    symbol: String,
    /// The timeframe (M1 M5 M15 M30 H1 H4 D1 W1 MN1).
    timeframe: String,
    /// The last N days.
    #[arg(long, conflicts_with_all = ["hours", "from"])]
    days: Option<i64>,
    /// The last N hours.
    #[arg(long, conflicts_with = "from")]
    hours: Option<i64>,
    /// Start of a fixed range (RFC 3339), with --to.
    #[arg(long, requires = "to")]
    from: Option<DateTime<Utc>>,
    /// End of a fixed range (RFC 3339, exclusive).
    #[arg(long, requires = "from")]
    to: Option<DateTime<Utc>>,
    /// What the bars are for; picks the order of sources.
    #[arg(long, value_enum, default_value = "chart")]
    use_case: UseCaseArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    /// Answer as of this instant (RFC 3339) instead of now.
    #[arg(long)]
    at: Option<DateTime<Utc>>,
    #[command(flatten)]
    common: CommonArgs,
}

/// Prints the bars at the instrument's precision (table and CSV: its decimals, or for a
/// catch-all tick the ones the bars use, [`axia_domain::Tick::shown_decimals`]; JSON: numbers
/// on its tick grid, and the tick's `price_decimals`).
fn print(resp: &OhlcvResponse, format: Format, instrument: &Instrument) -> anyhow::Result<()> {
    let m = &resp.meta;
    let forming = resp.frame.forming_millis();
    let tick = instrument.tick();
    let shown = usize::try_from(
        tick.shown_decimals(
            resp.frame
                .iter()
                .flat_map(|b| [b.open(), b.high(), b.low(), b.close()]),
        ),
    )
    .unwrap_or(8);
    let px = |p: f64| format!("{p:.shown$}");
    match format {
        Format::Json => {
            let bars: Vec<_> = resp.frame.iter().collect();
            let instrument = serde_json::json!({
                "symbol": instrument.symbol(),
                "tick": tick,
                "price_decimals": tick.decimals(),
                "volume": instrument.volume(),
                "alignment": resp.frame.alignment(),
            });
            println!(
                "{}",
                serde_json::to_string(
                    &serde_json::json!({"bars": bars, "meta": m, "instrument": instrument})
                )?
            );
        }
        Format::Csv => {
            println!("time,open,high,low,close,volume,forming");
            for b in resp.frame.iter() {
                println!(
                    "{},{},{},{},{},{},{}",
                    b.time().to_rfc3339(),
                    px(b.open()),
                    px(b.high()),
                    px(b.low()),
                    px(b.close()),
                    b.volume(),
                    forming == Some(b.time_millis())
                );
            }
        }
        Format::Table => {
            println!(
                "{:<25} {:>14} {:>14} {:>14} {:>14} {:>12}",
                "TIME (UTC, open)", "OPEN", "HIGH", "LOW", "CLOSE", "VOLUME"
            );
            for b in resp.frame.iter() {
                println!(
                    "{:<25} {:>14} {:>14} {:>14} {:>14} {:>12}{}",
                    b.time().format("%Y-%m-%d %H:%M"),
                    px(b.open()),
                    px(b.high()),
                    px(b.low()),
                    px(b.close()),
                    b.volume(),
                    if forming == Some(b.time_millis()) {
                        "  forming"
                    } else {
                        ""
                    }
                );
            }
        }
    }
    if !matches!(format, Format::Json) {
        eprintln!(
            "{} bars from {}, {}; complete {} ({}/{} expected slots, {} gaps)",
            m.bars,
            m.served_by.map_or("no source", |s| s.as_str()),
            m.range,
            m.complete,
            m.completeness.present,
            m.completeness.expected,
            m.completeness.gaps.len()
        );
        for a in &m.attempts {
            eprintln!(
                "  {:<13} {:<22} {:>6} bars {:>9.1} ms",
                a.source.as_str(),
                format!("{:?}", a.outcome),
                a.bars,
                a.latency_ms
            );
        }
    }
    Ok(())
}

async fn ohlcv(args: OhlcvArgs) -> anyhow::Result<()> {
    let (settings, symbol, timeframe, clock) =
        series_command(&args.common, &args.symbol, &args.timeframe, args.at)?;
    let window = match (args.days, args.hours, args.from, args.to) {
        (Some(d), _, _, _) if d > 0 => Window::last_days(d),
        (_, Some(h), _, _) if h > 0 => Window::last_hours(h),
        (None, None, Some(f), Some(t)) => Window::Range(TimeRange::new(f, t)?),
        (None, None, None, None) => Window::last_hours(24),
        _ => bail!("give a positive --days or --hours, or --from and --to"),
    };
    let use_case = match args.use_case {
        UseCaseArg::Trading => UseCase::Trading,
        UseCaseArg::Chart => UseCase::Chart,
        UseCaseArg::Analysis => UseCase::Analysis,
    };
    let wiring = Wiring::build(&settings, clock).await?;
    let instrument = warn_if_unknown(&wiring, &symbol);
    let resp = wiring
        .provider()
        .get(OhlcvRequest::new(symbol, timeframe, window, use_case))
        .await?;
    print(&resp, args.format, &instrument)
}

async fn chart(args: ChartArgs) -> anyhow::Result<()> {
    let (settings, symbol, timeframe, clock) =
        series_command(&args.common, &args.symbol, &args.timeframe, None)?;
    if !(1..=3660).contains(&args.days) {
        bail!("--days must be from 1 to 3660");
    }
    let wiring = Wiring::build(&settings, clock).await?;
    let instrument = warn_if_unknown(&wiring, &symbol);
    let request = OhlcvRequest::new(
        symbol,
        timeframe,
        Window::last_days(args.days),
        UseCase::Chart,
    );
    let resp = wiring.serving_provider().get(request).await?;
    chart::render_png(
        &resp.frame,
        &instrument,
        &args.output,
        (args.width, args.height),
    )?;
    eprintln!(
        "{} bars of {} {} drawn into {}{}",
        resp.frame.len(),
        resp.frame.symbol(),
        resp.frame.timeframe(),
        args.output.display(),
        if resp.meta.complete {
            ""
        } else {
            " (incomplete: gaps)"
        }
    );
    Ok(())
}

async fn killswitch(args: KillswitchArgs) -> anyhow::Result<()> {
    use axia_domain::{KillSwitch, KillSwitchScope, KillSwitchState};
    let settings = Settings::from_file(args.common.config.as_deref())?
        .with_env()?
        .with_overrides(&args.common.overrides());
    let conf = axia_config::aws_sdk_config().await;
    let ks = axia_config::kill_switch(&conf, &settings, Arc::new(SystemClock));
    let from = if args.common.config.is_some() {
        "from --config"
    } else if std::env::var_os("AXIA_KILL_SWITCH_TABLE").is_some() {
        "from AXIA_KILL_SWITCH_TABLE"
    } else {
        "the default: give --config or AXIA_KILL_SWITCH_TABLE for another"
    };
    eprintln!("kill switch table: {} ({from})", ks.table());
    if args.create_resources {
        let _ = ks.create_table().await;
    } else {
        ks.check_table().await?;
    }
    let scope_of = |symbol: &Option<String>| -> anyhow::Result<KillSwitchScope> {
        Ok(match symbol {
            None => KillSwitchScope::Global,
            Some(s) => KillSwitchScope::Symbol(s.parse().with_context(|| format!("symbol {s:?}"))?),
        })
    };
    match args.action {
        KillswitchAction::Status { symbol } => {
            let mut scopes = vec![KillSwitchScope::Global];
            if symbol.is_some() {
                scopes.push(scope_of(&symbol)?);
            }
            for scope in scopes {
                let r = ks.read(&scope).await?;
                let when = r
                    .changed_at
                    .map_or_else(|| "never set".to_owned(), |t| t.to_rfc3339());
                println!(
                    "{:<10} {:<7} {when} {} {}",
                    scope.to_string(),
                    r.state.as_str(),
                    r.actor,
                    r.reason
                );
            }
        }
        KillswitchAction::Halt(c) => change(&ks, KillSwitchState::Halted, c, scope_of).await?,
        KillswitchAction::Resume(c) => change(&ks, KillSwitchState::Active, c, scope_of).await?,
    }
    Ok(())
}

async fn change(
    ks: &dyn axia_domain::KillSwitch,
    state: axia_domain::KillSwitchState,
    c: ChangeArgs,
    scope_of: impl Fn(&Option<String>) -> anyhow::Result<axia_domain::KillSwitchScope>,
) -> anyhow::Result<()> {
    use axia_domain::KillSwitchChange;
    let actor = c
        .actor
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "unknown".into());
    let audit = ks
        .set(
            &scope_of(&c.symbol)?,
            KillSwitchChange::new(state, &c.reason, &actor)?,
        )
        .await?;
    println!(
        "{}: {} -> {} by {} ({})",
        audit.current.scope,
        audit.previous.state.as_str(),
        audit.current.state.as_str(),
        audit.current.actor,
        audit.current.reason
    );
    Ok(())
}

fn print_audit(r: &axia_collect::AuditReport) {
    println!(
        "{} {} {}: {} of {} expected closed bars archived ({} missing in {} runs)",
        r.symbol,
        r.timeframe,
        r.checked,
        r.present,
        r.expected,
        r.missing
            .iter()
            .map(|g| g.duration().num_minutes())
            .sum::<i64>()
            / (r.timeframe.max_millis() / 60_000).max(1),
        r.missing.len()
    );
    for g in r.missing.iter().take(20) {
        println!("  missing   {g}");
    }
    for d in &r.damaged {
        println!("  damaged   {} ({}): {}", d.object, d.range, d.reason);
    }
    for q in &r.quarantined {
        println!(
            "  quarantined {} (from {}, {} bytes, found {})",
            q.object,
            q.original,
            q.bytes,
            q.found_at.to_rfc3339()
        );
    }
    if let Some(s) = &r.source {
        println!(
            "  source: {} bars compared over {}; {} differ, {} missing from the archive, {} only in the archive",
            s.source_bars,
            s.compared.map_or_else(
                || "nothing (out of its reach)".to_owned(),
                |c| c.to_string()
            ),
            s.differing.len(),
            s.missing_from_archive.len(),
            s.only_in_archive.len()
        );
        for d in s.differing.iter().take(20) {
            println!(
                "  differs   {} archive {:?} source {:?}",
                d.archive.time().to_rfc3339(),
                d.archive,
                d.source
            );
        }
    }
    println!("  {}", if r.is_clean() { "clean" } else { "NOT clean" });
}

/// What a command on one series starts from: the settings (file, environment, flags), the
/// parsed symbol and timeframe, and the clock (`--at`, or the system's).
fn series_command(
    common: &CommonArgs,
    symbol: &str,
    timeframe: &str,
    at: Option<DateTime<Utc>>,
) -> anyhow::Result<(
    Settings,
    axia_domain::Symbol,
    axia_domain::Timeframe,
    Arc<dyn Clock>,
)> {
    let settings = Settings::from_file(common.config.as_deref())?
        .with_env()?
        .with_overrides(&common.overrides());
    let symbol = symbol
        .parse()
        .with_context(|| format!("symbol {symbol:?}"))?;
    let timeframe = timeframe.parse()?;
    let clock: Arc<dyn Clock> = match at {
        Some(t) => Arc::new(ManualClock::new(t)),
        None => Arc::new(SystemClock),
    };
    Ok((settings, symbol, timeframe, clock))
}

/// `axia audit`: exit code 0 when clean (after a repair: when the repair left it clean), 1 when
/// not.
async fn audit(args: AuditArgs) -> anyhow::Result<u8> {
    // --source (a common flag) names the source to compare with; --repair uses the
    // configured one when it is not given.
    let (settings, symbol, timeframe, clock) =
        series_command(&args.common, &args.symbol, &args.timeframe, args.at)?;
    let to = args.to.unwrap_or_else(|| clock.now());
    let range = TimeRange::new(args.from, to)?;
    let wiring = Wiring::build(&settings, clock).await?;
    let audit = wiring.audit();
    let clean = if args.repair {
        let r = audit
            .repair(&symbol, timeframe, range, wiring.source.as_ref())
            .await?;
        if args.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            println!("before:");
            print_audit(&r.before);
            for q in &r.quarantined {
                println!("quarantined {} -> {}", q.original, q.object);
            }
            for u in &r.unreachable {
                println!("not rebuilt (out of the source's reach): {u}");
            }
            println!("rewrote {} bars; after:", r.rewritten);
            print_audit(&r.after);
        }
        r.after.is_clean()
    } else {
        let source = args.common.source.map(|_| wiring.source.as_ref());
        let r = audit.check(&symbol, timeframe, range, source).await?;
        if args.json {
            println!("{}", serde_json::to_string(&r)?);
        } else {
            print_audit(&r);
        }
        r.is_clean()
    };
    Ok(if clean { 0 } else { 1 })
}

async fn features(args: FeaturesArgs) -> anyhow::Result<()> {
    let (settings, symbol, timeframe, clock) =
        series_command(&args.common, &args.symbol, &args.timeframe, args.at)?;
    let now = clock.now();
    let wiring = Wiring::build(&settings, clock).await?;
    warn_if_unknown(&wiring, &symbol);
    let engine = wiring.feature_engine(&settings, axia_memory::MemoryFeatureStore::new())?;
    let snapshot = if args.stored {
        let store = wiring.feature_store(&settings).context(
            "--stored reads the Redis feature store: configure the hot cache (REDIS_URL or [hot_cache] url)",
        )?;
        use axia_domain::FeatureStore;
        store.latest(&symbol, timeframe).await?
    } else {
        engine.compute_at(&symbol, timeframe, now).await?
    };
    let Some(s) = snapshot else {
        bail!(
            "{symbol} {timeframe} has no bar at or before {} in any source{}",
            now.to_rfc3339(),
            if args.stored {
                " (--stored: the feature engine has published nothing for it)"
            } else {
                ""
            }
        );
    };
    // Every configured value, in the configuration's order; those without a value have not
    // warmed up (fewer bars since their anchor than they need).
    let config = engine.feature_config();
    let anchor = config
        .anchoring_for(timeframe)
        .start_for(s.bar_open.timestamp_millis());
    let anchor =
        DateTime::from_timestamp_millis(anchor).map_or_else(String::new, |t| t.to_rfc3339());
    let values = &s.values;
    let rows: Vec<(String, Option<f64>, Option<String>)> = config
        .specs_for(&symbol, timeframe)
        .iter()
        .flat_map(|spec| {
            let needs = axia_features::FeatureSet::new(&[*spec]).map_or(0, |set| set.lookback());
            let anchor = anchor.clone();
            spec.names().into_iter().map(move |name| {
                let value = values.get(&name).copied();
                let reason = value.is_none().then(|| {
                    format!("not warmed up: needs {needs} bars from its anchor at {anchor}, fewer are there")
                });
                (name, value, reason)
            })
        })
        .collect();
    match args.format {
        Format::Json => {
            let values: serde_json::Map<String, serde_json::Value> = rows
                .iter()
                .map(|(n, v, _)| (n.clone(), v.map_or(serde_json::Value::Null, Into::into)))
                .collect();
            let reasons: serde_json::Map<String, serde_json::Value> = rows
                .iter()
                .filter_map(|(n, _, r)| r.clone().map(|r| (n.clone(), r.into())))
                .collect();
            let out = serde_json::json!({
                "symbol": s.symbol,
                "timeframe": s.timeframe,
                "bar_open": s.bar_open,
                "forming": s.forming,
                "values": values,
                "not_warmed_up": reasons,
            });
            println!("{out}");
        }
        Format::Csv => {
            println!("name,value,reason");
            for (name, value, reason) in &rows {
                let value = value.map_or_else(String::new, |v| v.to_string());
                println!("{name},{value},{}", reason.as_deref().unwrap_or(""));
            }
        }
        Format::Table => {
            println!(
                "{symbol} {timeframe} bar opening {} UTC{}",
                s.bar_open.format("%Y-%m-%d %H:%M"),
                if s.forming {
                    " (forming: provisional values)"
                } else {
                    ""
                }
            );
            for (name, value, reason) in &rows {
                match value {
                    Some(v) => println!("{name:<22} {v}"),
                    None => println!("{name:<22} - ({})", reason.as_deref().unwrap_or("")),
                }
            }
        }
    }
    Ok(())
}

/// `axia archive …`.
async fn archive(args: ArchiveArgs) -> anyhow::Result<u8> {
    let settings = Settings::from_file(args.common.config.as_deref())?
        .with_env()?
        .with_overrides(&args.common.overrides());
    let wiring = Wiring::build(&settings, Arc::new(SystemClock)).await?;
    // What each symbol gets from the settings and the built-in defaults, the archive aside.
    let defaults = settings.instrument_registry();
    match args.action {
        ArchiveAction::Alignments => {
            let found = wiring.archive.recorded_alignments(|_| true).await?;
            println!("{:<14} {:<16} DEFAULT", "SYMBOL", "RECORDED");
            for (symbol, recorded) in found {
                let default = defaults.resolve(&symbol).alignment();
                let note = if recorded == default {
                    String::new()
                } else {
                    format!("  (axia archive realign {symbol})")
                };
                println!("{symbol:<14} {recorded:<16} {default}{note}");
            }
            Ok(0)
        }
        ArchiveAction::Realign { symbol, to } => {
            let symbol: axia_domain::Symbol = symbol
                .parse()
                .with_context(|| format!("symbol {symbol:?}"))?;
            let to = to.unwrap_or_else(|| defaults.resolve(&symbol).alignment());
            let Some(from) = wiring.archive.recorded_alignment(&symbol).await? else {
                println!("the archive holds no series of {symbol}: nothing to realign");
                return Ok(0);
            };
            eprintln!("realigning {symbol} from {from} to {to}");
            let done = wiring.archive.realign(&symbol, to).await?;
            let mut left = 0;
            for r in &done {
                println!(
                    "{symbol} {:<4} {:>8} bars before {:>8} after {:>5} files set aside{}",
                    r.timeframe.as_str(),
                    r.bars_before,
                    r.bars_after,
                    r.files_set_aside,
                    if r.gaps.is_empty() {
                        String::new()
                    } else {
                        format!(", {} gaps", r.gaps.len())
                    }
                );
                for g in r.gaps.iter().take(5) {
                    println!(
                        "  missing {g}: axia audit {symbol} {} --from {} --to {} --repair",
                        r.timeframe.as_str(),
                        g.start().to_rfc3339(),
                        g.end().to_rfc3339()
                    );
                }
                left += r.gaps.len();
            }
            Ok(u8::from(left > 0))
        }
    }
}

/// Says, once, on stderr at the default level, that `symbol` is not a registered instrument
/// and which defaults it gets.
fn warn_if_unknown(wiring: &Wiring, symbol: &axia_domain::Symbol) -> Instrument {
    wiring.instruments.resolve_reporting(symbol, |i| {
        tracing::warn!(
            "{symbol} is not a known instrument: using the defaults for {} (tick {}, {} hours); add it under [instruments] in the settings to change them",
            describe_class(i),
            i.tick(),
            i.hours().as_str()
        );
    })
}

fn describe_class(i: &Instrument) -> String {
    match i.asset_class() {
        axia_domain::AssetClass::FxPair { base, quote } => format!("an FX pair ({base}/{quote})"),
        axia_domain::AssetClass::Equity => "a stock".to_owned(),
        axia_domain::AssetClass::Index => "an index".to_owned(),
        axia_domain::AssetClass::Future => "a future".to_owned(),
        _ => "an instrument".to_owned(),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Warnings reach stderr by default: an unknown instrument, a source that failed.
    axia_config::app::run("axia", axia_config::app::Logs::Text, "warn", async move {
        let result = match cli.command {
            Command::Ohlcv(a) => ohlcv(a).await.map(|()| 0),
            Command::Killswitch(a) => killswitch(a).await.map(|()| 0),
            Command::Audit(a) => audit(a).await,
            Command::Features(a) => features(a).await.map(|()| 0),
            Command::Chart(a) => chart(a).await.map(|()| 0),
            Command::Archive(a) => archive(a).await,
            Command::Jobs(a) => jobs::jobs(a).await,
            Command::Schedules(a) => jobs::schedules(a).await,
            Command::Alerts(a) => alerts::alerts(a).await,
        };
        result.map_err(|e| format!("{e:#}"))
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_flags_are_consistent() {
        Cli::command().debug_assert();
        let c = Cli::try_parse_from([
            "axia",
            "jobs",
            "submit",
            "backfill",
            "USDJPY",
            "M1",
            "--from",
            "2026-01-01",
            "--to",
            "2026-01-31",
        ])
        .unwrap();
        assert!(matches!(c.command, Command::Jobs(_)));
        assert!(Cli::try_parse_from(["axia", "jobs", "list", "--queue", "no such queue"]).is_err());
        assert!(
            Cli::try_parse_from([
                "axia",
                "schedules",
                "add",
                "fx",
                "--cron",
                "* * * * *",
                "--symbols",
                "USDJPY",
                "--timeframes",
                "M1",
            ])
            .is_ok()
        );
    }
}
