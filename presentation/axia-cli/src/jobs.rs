//! `axia jobs`: submit, watch and manage the jobs that `axia-worker` runs (PostgreSQL through
//! apalis).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context, bail};
use axia_config::dates;
use axia_domain::{
    JobFilter, JobId, JobQueue, JobRequest, JobSpec, JobState, JobView, QueueName, Symbol,
    TimeRange, Timeframe,
};
use axia_postgres::PgJobs;
use chrono::{DateTime, Utc};
use clap::Subcommand;

#[derive(Debug, clap::Args)]
pub(crate) struct JobsArgs {
    #[command(subcommand)]
    action: JobsAction,
    #[command(flatten)]
    store: StoreArgs,
}

/// Where the jobs are, and how to print them (both `axia jobs` and `axia schedules`).
#[derive(Debug, clap::Args)]
struct StoreArgs {
    /// The job store's URL (its password never appears in errors).
    #[arg(long, global = true, env = "AXIA_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// Queue and schedule names are kept apart under this prefix (as the workers'
    /// --jobs-namespace).
    #[arg(long, global = true, default_value = "")]
    jobs_namespace: String,
    /// JSON on stdout.
    #[arg(long, global = true)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum JobsAction {
    /// Submit a job; prints its id at once.
    Submit {
        #[command(subcommand)]
        job: SubmitJob,
        /// The queue (default: live for collect, backfill for backfill, audit for audit).
        #[arg(long, value_parser = parse_queue)]
        queue: Option<QueueName>,
        /// An idempotency key: a second submit with it returns the first job's id.
        #[arg(long)]
        key: Option<String>,
        /// Higher runs first within its queue.
        #[arg(long, default_value_t = 0)]
        priority: u16,
        /// Attempts before the job is reported failed.
        #[arg(long, default_value_t = 3)]
        max_attempts: u16,
    },
    /// A job's state, attempts, progress and result or error; --watch follows it to its end.
    Status {
        /// The job id.
        id: String,
        /// Print again every second until the job ends (and its progress is complete).
        #[arg(long)]
        watch: bool,
    },
    /// Jobs, newest first.
    List {
        /// Only in this state (pending, queued, running, done, failed, killed).
        #[arg(long)]
        state: Option<String>,
        /// Only on this queue.
        #[arg(long, value_parser = parse_queue)]
        queue: Option<QueueName>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Run a failed or killed job again.
    Retry {
        /// The job id.
        id: String,
    },
    /// Cancel a job that has not started.
    Cancel {
        /// The job id.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum SubmitJob {
    /// Collect the newest bars of SYMBOL TIMEFRAME.
    Collect {
        /// The symbol.
        symbol: String,
        /// The timeframe.
        timeframe: String,
    },
    /// Backfill SYMBOL TIMEFRAME over --from..--to, in chunk jobs on the backfill queue.
    Backfill {
        /// The symbol.
        symbol: String,
        /// The timeframe.
        timeframe: String,
        /// The first day (YYYY-MM-DD, UTC) or instant (RFC 3339).
        #[arg(long, value_name = "DATE", value_parser = dates::parse_from)]
        from: DateTime<Utc>,
        /// The last day included (YYYY-MM-DD, UTC), or an instant (RFC 3339, exclusive).
        #[arg(long, value_name = "DATE", value_parser = dates::parse_to)]
        to: DateTime<Utc>,
    },
    /// Audit SYMBOL TIMEFRAME over --from..--to; --repair rewrites what is missing or differs.
    Audit {
        /// The symbol.
        symbol: String,
        /// The timeframe.
        timeframe: String,
        /// The first day (YYYY-MM-DD, UTC) or instant (RFC 3339).
        #[arg(long, value_name = "DATE", value_parser = dates::parse_from)]
        from: DateTime<Utc>,
        /// The last day included (YYYY-MM-DD, UTC), or an instant (RFC 3339, exclusive).
        #[arg(long, value_name = "DATE", value_parser = dates::parse_to)]
        to: DateTime<Utc>,
        /// Repair as well.
        #[arg(long)]
        repair: bool,
    },
}

fn parse_queue(s: &str) -> Result<QueueName, String> {
    s.parse().map_err(|e: axia_domain::JobError| e.to_string())
}

fn series(symbol: &str, timeframe: &str) -> anyhow::Result<(Symbol, Timeframe)> {
    Ok((
        symbol.parse().context("symbol")?,
        timeframe.parse().context("timeframe")?,
    ))
}

fn range(from: DateTime<Utc>, to: DateTime<Utc>) -> anyhow::Result<TimeRange> {
    let r = TimeRange::new(from, to).map_err(|e| anyhow::anyhow!("--from/--to: {e}"))?;
    if r.is_empty() {
        bail!("--from/--to: the range is empty");
    }
    Ok(r)
}

impl SubmitJob {
    fn spec(&self) -> anyhow::Result<JobSpec> {
        Ok(match self {
            Self::Collect { symbol, timeframe } => {
                let (symbol, timeframe) = series(symbol, timeframe)?;
                JobSpec::Collect { symbol, timeframe }
            }
            Self::Backfill {
                symbol,
                timeframe,
                from,
                to,
            } => {
                let (symbol, timeframe) = series(symbol, timeframe)?;
                JobSpec::Backfill {
                    symbol,
                    timeframe,
                    range: range(*from, *to)?,
                }
            }
            Self::Audit {
                symbol,
                timeframe,
                from,
                to,
                repair,
            } => {
                let (symbol, timeframe) = series(symbol, timeframe)?;
                JobSpec::Audit {
                    symbol,
                    timeframe,
                    range: range(*from, *to)?,
                    repair: *repair,
                }
            }
        })
    }
}

fn line(v: &JobView) -> String {
    let (symbol, timeframe) = v.spec.series();
    let progress = v.progress.map_or_else(String::new, |p| {
        let failed = if p.failed > 0 {
            format!(" ({} failed)", p.failed)
        } else {
            String::new()
        };
        format!(" progress {}/{}{failed}", p.done, p.total)
    });
    let error = v
        .error
        .as_deref()
        .map_or_else(String::new, |e| format!(" error: {e}"));
    format!(
        "{}  {:<8} {:<8} {:<14} {} {}  attempts {}/{}{progress}{error}",
        v.id,
        v.queue,
        v.state.as_str(),
        v.spec.kind(),
        symbol,
        timeframe,
        v.attempts,
        v.max_attempts
    )
}

fn print(v: &JobView, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string(v)?);
    } else {
        println!("{}", line(v));
        if let Some(r) = &v.result {
            println!("  result: {r}");
        }
    }
    Ok(())
}

/// A job's progress as one line: state, a bar, done/total (failed), rate, time left.
fn progress_line(state: JobState, p: axia_domain::JobProgress, per_sec: f64) -> String {
    const WIDTH: u64 = 30;
    let filled = (p.done.min(p.total) * WIDTH)
        .checked_div(p.total)
        .unwrap_or(0);
    let bar: String = (0..WIDTH)
        .map(|i| if i < filled { '#' } else { '.' })
        .collect();
    let failed = if p.failed > 0 {
        format!(" ({} failed)", p.failed)
    } else {
        String::new()
    };
    let left = p.total.saturating_sub(p.done);
    let eta = if per_sec > 0.0 && left > 0 {
        let secs = (left as f64 / per_sec).round() as u64;
        format!(
            "  ETA {}:{:02}:{:02}",
            secs / 3600,
            secs / 60 % 60,
            secs % 60
        )
    } else {
        String::new()
    };
    format!(
        "{:<8} [{bar}] {}/{}{failed}  {per_sec:.1}/s{eta}",
        state.as_str(),
        p.done,
        p.total
    )
}

fn ended(v: &JobView) -> bool {
    let final_state = match v.state {
        JobState::Done | JobState::Killed => true,
        JobState::Failed => v.attempts >= v.max_attempts,
        JobState::Pending | JobState::Queued | JobState::Running => false,
    };
    final_state && v.progress.is_none_or(|p| p.done >= p.total)
}

pub(crate) async fn jobs(args: JobsArgs) -> anyhow::Result<u8> {
    let store = store(&args.store).await?;
    let id = |s: &str| -> anyhow::Result<JobId> { Ok(s.parse::<JobId>()?) };
    match &args.action {
        JobsAction::Submit {
            job,
            queue,
            key,
            priority,
            max_attempts,
        } => {
            let spec = job.spec()?;
            let mut request = JobRequest::new(spec);
            if let Some(q) = queue {
                request = request.queue(q.clone());
            }
            if let Some(k) = key {
                request = request.key(k.clone());
            }
            request.priority = *priority;
            request.max_attempts = (*max_attempts).max(1);
            let submitted = store.submit(request).await?;
            if args.store.json {
                println!("{}", serde_json::to_string(&submitted)?);
            } else if submitted.created {
                println!("{}", submitted.id);
            } else {
                println!("{} (already submitted with this key)", submitted.id);
            }
            Ok(0)
        }
        JobsAction::Status { id: raw, watch } => {
            let id = id(raw)?;
            // On a terminal (and not --json) a watched job with progress is one redrawn bar;
            // elsewhere a line each time the job changes.
            let terminal = *watch && !args.store.json && std::io::stdout().is_terminal();
            let started = std::time::Instant::now();
            let mut first_done = None;
            let mut last: Option<JobView> = None;
            loop {
                let v = store.status(&id).await?;
                let end = !*watch || ended(&v);
                match v.progress {
                    Some(p) if terminal && !end => {
                        let done0 = *first_done.get_or_insert(p.done);
                        let rate = p.done.saturating_sub(done0) as f64
                            / started.elapsed().as_secs_f64().max(1e-3);
                        print!("\r\x1b[2K{}", progress_line(v.state, p, rate));
                        std::io::stdout().flush()?;
                    }
                    _ => {
                        if last.as_ref() != Some(&v) {
                            if terminal {
                                print!("\r\x1b[2K");
                            }
                            print(&v, args.store.json)?;
                        }
                    }
                }
                last = Some(v.clone());
                if end {
                    return Ok(match v.state {
                        JobState::Done if v.progress.is_none_or(|p| p.failed == 0) => 0,
                        JobState::Done | JobState::Failed | JobState::Killed => 1,
                        _ => 0,
                    });
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        JobsAction::List {
            state,
            queue,
            limit,
        } => {
            let state = state.as_deref().map(str::parse::<JobState>).transpose()?;
            let listed = store
                .list(&JobFilter {
                    state,
                    queue: queue.clone(),
                    limit: Some(*limit),
                })
                .await?;
            for v in &listed {
                print(v, args.store.json)?;
            }
            Ok(0)
        }
        JobsAction::Retry { id: raw } => {
            store.retry(&id(raw)?).await?;
            Ok(0)
        }
        JobsAction::Cancel { id: raw } => {
            store.cancel(&id(raw)?).await?;
            Ok(0)
        }
    }
}

#[derive(Debug, clap::Args)]
pub(crate) struct SchedulesArgs {
    #[command(subcommand)]
    action: SchedulesAction,
    #[command(flatten)]
    store: StoreArgs,
}

#[derive(Debug, Subcommand)]
enum SchedulesAction {
    /// Every schedule: its cron and zone, enabled or paused, its last and next tick.
    List,
    /// Add a schedule that collects SYMBOLS x TIMEFRAMES at each tick.
    Add {
        /// Its name (a-z, 0-9, _, - and .).
        name: String,
        /// The cron expression: 5 fields (minute first) or 6-7 (seconds first), e.g.
        /// "* * * * *" (every minute) or "5 17 * * Mon-Fri".
        #[arg(long)]
        cron: String,
        /// The time zone the expression is read in (IANA name).
        #[arg(long, default_value = "UTC")]
        zone: String,
        /// The symbols, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        symbols: Vec<String>,
        /// The timeframes, comma-separated.
        #[arg(long, value_delimiter = ',', required = true)]
        timeframes: Vec<String>,
        /// Add it paused.
        #[arg(long)]
        paused: bool,
    },
    /// Pause a schedule: its ticks enqueue nothing.
    Pause {
        /// Its name.
        name: String,
    },
    /// Resume a paused schedule (from its next tick; missed ticks are not replayed).
    Resume {
        /// Its name.
        name: String,
    },
    /// Remove a schedule.
    Remove {
        /// Its name.
        name: String,
    },
}

async fn store(args: &StoreArgs) -> anyhow::Result<PgJobs> {
    let url = args
        .database_url
        .clone()
        .or_else(|| std::env::var("DATABASE_URL").ok())
        .filter(|u| !u.is_empty())
        .context("no job store: set --database-url, AXIA_DATABASE_URL or DATABASE_URL")?;
    let store = PgJobs::connect(&url)
        .await?
        .namespace(args.jobs_namespace.clone());
    store.setup().await?;
    Ok(store)
}

pub(crate) async fn schedules(args: SchedulesArgs) -> anyhow::Result<u8> {
    use axia_domain::{CronSpec, Schedule, ScheduleName, SchedulePlan, ScheduleStore};
    let store = store(&args.store).await?;
    let name = |s: &str| -> anyhow::Result<ScheduleName> { Ok(s.parse()?) };
    match &args.action {
        SchedulesAction::List => {
            let now = Utc::now();
            for s in store.schedules().await? {
                let line = s.view(now);
                if args.store.json {
                    println!("{}", serde_json::to_string(&line)?);
                } else {
                    println!(
                        "{:<20} {:<8} {:?} {}  {}  last {}  next {}",
                        line.name.as_str(),
                        if s.enabled { "enabled" } else { "paused" },
                        line.cron,
                        line.zone,
                        line.plan,
                        line.last_tick
                            .map_or_else(|| "-".to_owned(), |t| t.to_rfc3339()),
                        line.next_tick
                            .map_or_else(|| "-".to_owned(), |t| t.to_rfc3339()),
                    );
                }
            }
            Ok(0)
        }
        SchedulesAction::Add {
            name: raw,
            cron,
            zone,
            symbols,
            timeframes,
            paused,
        } => {
            let symbols = symbols
                .iter()
                .map(|s| s.trim().parse::<Symbol>().context("symbol"))
                .collect::<anyhow::Result<Vec<_>>>()?;
            let timeframes = timeframes
                .iter()
                .map(|s| s.trim().parse::<Timeframe>().context("timeframe"))
                .collect::<anyhow::Result<Vec<_>>>()?;
            store
                .add(&Schedule {
                    name: name(raw)?,
                    cron: CronSpec::new(cron, zone)?,
                    plan: SchedulePlan::Collect {
                        symbols,
                        timeframes,
                    },
                    enabled: !paused,
                    last_tick: None,
                })
                .await?;
            Ok(0)
        }
        SchedulesAction::Pause { name: raw } | SchedulesAction::Resume { name: raw } => {
            let enabled = matches!(args.action, SchedulesAction::Resume { .. });
            if !store.set_enabled(&name(raw)?, enabled).await? {
                bail!("no schedule named {raw}");
            }
            Ok(0)
        }
        SchedulesAction::Remove { name: raw } => {
            if !store.remove(&name(raw)?).await? {
                bail!("no schedule named {raw}");
            }
            Ok(0)
        }
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::JobProgress;

    use super::*;

    #[test]
    fn a_progress_line_has_the_bar_the_counts_the_rate_and_the_time_left() {
        let p = |done, failed, total| JobProgress {
            done,
            failed,
            total,
        };
        let half = progress_line(JobState::Done, p(12, 1, 24), 2.0);
        assert_eq!(
            half,
            format!(
                "done     [{}{}] 12/24 (1 failed)  2.0/s  ETA 0:00:06",
                "#".repeat(15),
                ".".repeat(15)
            )
        );
        // Nothing done yet, no rate: no ETA; a total of 0 is an empty bar, never a division.
        assert!(progress_line(JobState::Running, p(0, 0, 41), 0.0).ends_with("0/41  0.0/s"));
        assert!(progress_line(JobState::Running, p(0, 0, 0), 0.0).contains(&".".repeat(30)));
        // Hours: 7,200 left at one a second.
        assert!(progress_line(JobState::Running, p(0, 0, 7_200), 1.0).ends_with("ETA 2:00:00"));
        assert!(progress_line(JobState::Done, p(9, 0, 9), 3.0).contains(&"#".repeat(30)));
    }
}
