//! `axia alerts …`: the rules of `[alerts]`, what a rule would have fired over history, and
//! the alerts the feature engine recorded.

use anyhow::{Context, bail};
use axia_config::{CommonArgs, Settings, Wiring};
use axia_domain::{Alert, AlertLog, Clock, SystemClock, TimeRange};
use chrono::{DateTime, Utc};
use clap::Subcommand;
use std::sync::Arc;

/// `axia alerts`.
#[derive(Debug, clap::Args)]
pub(crate) struct AlertsArgs {
    #[command(subcommand)]
    action: AlertsAction,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Subcommand)]
enum AlertsAction {
    /// The bars at which RULE (an id of `[alerts]`) would have fired between --from and --to,
    /// recomputed from history exactly as the feature engine evaluates it live (closed bars;
    /// a `once` rule: its first bar in the range). Exit code 0 whether it fired or not.
    Test {
        /// The rule's id.
        rule: String,
        /// The first day (YYYY-MM-DD, UTC) or instant (RFC 3339).
        #[arg(long, value_name = "DATE", value_parser = axia_config::dates::parse_from)]
        from: DateTime<Utc>,
        /// The last day included (YYYY-MM-DD), or an instant (RFC 3339, exclusive); default now.
        #[arg(long, value_name = "DATE", value_parser = axia_config::dates::parse_to)]
        to: Option<DateTime<Utc>>,
        /// One JSON alert per line.
        #[arg(long)]
        json: bool,
    },
    /// The rules of `[alerts]`, checked against the feature engine's configuration.
    List {
        /// One JSON rule per line.
        #[arg(long)]
        json: bool,
    },
    /// The webhook deliveries that gave up (after `[alerts] max_attempts`, or refused for good),
    /// with their last error (needs the hot cache's Redis).
    Dead {
        /// How many.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// One JSON dead letter per line.
        #[arg(long)]
        json: bool,
    },
    /// The newest alerts the feature engine recorded (needs the hot cache's Redis).
    History {
        /// How many.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
        /// One JSON alert per line.
        #[arg(long)]
        json: bool,
    },
}

fn print(alerts: &[Alert], json: bool) -> anyhow::Result<()> {
    for a in alerts {
        if json {
            println!("{}", serde_json::to_string(a)?);
        } else {
            println!(
                "{}  {:<24} {} {:<3} {}{}",
                a.bar_open.format("%Y-%m-%d %H:%M"),
                a.rule.as_str(),
                a.symbol,
                a.timeframe.to_string(),
                a.message,
                if a.forming { " (forming bar)" } else { "" }
            );
        }
    }
    Ok(())
}

pub(crate) async fn alerts(args: AlertsArgs) -> anyhow::Result<u8> {
    let settings = Settings::load(&args.common.overrides())?;
    let rules = settings.alert_rules()?;
    match args.action {
        AlertsAction::List { json } => {
            let mut all: Vec<_> = rules.iter().collect();
            all.sort_by(|a, b| a.id.cmp(&b.id));
            if all.is_empty() && !json {
                println!("no alert rules ([[alerts.rules]] in the settings file)");
            }
            for r in all {
                if json {
                    println!("{}", serde_json::to_string(r)?);
                } else {
                    println!(
                        "{:<24} {} {:<3} {:<48} {}{}{}",
                        r.id.as_str(),
                        r.symbol,
                        r.timeframe.to_string(),
                        r.condition.to_string(),
                        serde_json::to_value(r.frequency)?
                            .as_str()
                            .unwrap_or_default(),
                        r.expires_at
                            .map(|e| format!(", expires {}", e.to_rfc3339()))
                            .unwrap_or_default(),
                        if r.enabled { "" } else { ", paused" }
                    );
                }
            }
        }
        AlertsAction::Test {
            rule,
            from,
            to,
            json,
        } => {
            let Some(r) = rules.iter().find(|r| r.id.as_str() == rule).cloned() else {
                bail!("no alert rule {rule:?} in the settings (`axia alerts list` shows them)");
            };
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let to = to.unwrap_or_else(|| clock.now());
            let range = TimeRange::new(from, to).context("--from must be before --to")?;
            let wiring = Wiring::build(&settings, clock).await?;
            let engine =
                wiring.feature_engine(&settings, axia_memory::MemoryFeatureStore::new())?;
            let one = axia_features::AlertRules::new([r.clone()], engine.feature_config())?;
            let fired = engine
                .alerts_over(&one, &r.symbol, r.timeframe, range)
                .await?;
            print(&fired, json)?;
            if !json {
                eprintln!(
                    "{} alert(s) of {} over {} .. {}",
                    fired.len(),
                    r.id,
                    from.to_rfc3339(),
                    to.to_rfc3339()
                );
            }
        }
        AlertsAction::Dead { limit, json } => {
            use axia_domain::WebhookOutbox;
            let wiring = Wiring::build(&settings, Arc::new(SystemClock)).await?;
            let log = wiring.alert_log().context(
                "the alert outbox is in Redis: configure the hot cache (REDIS_URL or [hot_cache] url)",
            )?;
            for d in log.dead_letters(limit as usize).await? {
                if json {
                    println!("{}", serde_json::to_string(&d)?);
                } else {
                    let at = DateTime::from_timestamp_millis(d.dead_at_ms)
                        .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M:%S").to_string());
                    println!(
                        "{at}  {}  after {} attempt(s): {}",
                        d.delivery.id, d.delivery.attempt, d.error
                    );
                }
            }
        }
        AlertsAction::History { limit, json } => {
            let wiring = Wiring::build(&settings, Arc::new(SystemClock)).await?;
            let log = wiring.alert_log().context(
                "the alert history is in Redis: configure the hot cache (REDIS_URL or [hot_cache] url)",
            )?;
            let recent = log.recent(limit as usize).await?;
            let alerts: Vec<Alert> = recent.into_iter().map(|l| l.alert).collect();
            print(&alerts, json)?;
        }
    }
    Ok(0)
}
