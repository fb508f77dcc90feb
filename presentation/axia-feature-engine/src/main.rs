//! `axia-features`: keeps the indicators of every configured series up to date in the Redis
//! feature store, refreshed on each of the hot tier's update messages, until SIGTERM or SIGINT.
//!
//! Series and indicators come from `[features]` (default: the standard six indicators on every
//! collected symbol x timeframe); the hot cache (REDIS_URL or `[hot_cache] url`) is required:
//! it is both the feed and the feature store. Each series is warmed up from history (the
//! provider's analysis use case: archive and hot tier) from its anchor, so live values equal
//! the values `axia features` recomputes. On a signal it stops taking messages, finishes the
//! refreshes in flight and exits 0. Logs are JSON lines on stderr (RUST_LOG, default info).
//! Alert rules (`[alerts]`) are evaluated on every value before it is published; the alerts
//! they fire are recorded once each in the Redis alert history (`axia alerts history`) and
//! posted to their webhooks (`[alerts.webhooks]`), retried, and dead-lettered after
//! `max_attempts`.
//! Exit code 2 when the configuration is wrong (one line on stderr), a bad alert rule included.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axia_config::{CommonArgs, Settings, Wiring};
use axia_domain::{Clock, SystemClock};
use axia_feature_engine::Runner;
use clap::Parser;

/// Keep the features of every configured series up to date until SIGTERM or SIGINT.
#[derive(Debug, Parser)]
#[command(name = "axia-features", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Seconds between refreshes of every series without a message (overrides
    /// features.resync_secs).
    #[arg(long)]
    resync_secs: Option<u64>,
}

async fn run(args: Args) -> Result<(), String> {
    let config_error = |e: axia_config::ConfigError| format!("configuration error: {e}");
    let settings = Settings::load(&args.common.overrides()).map_err(config_error)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let wiring = Wiring::build(&settings, clock)
        .await
        .map_err(config_error)?;
    let (Some(cache), Some(store)) = (wiring.hot.clone(), wiring.feature_store(&settings)) else {
        return Err(
            "configuration error: axia-features needs a hot cache (REDIS_URL or [hot_cache] url)"
                .into(),
        );
    };
    let mut engine = wiring
        .feature_engine(&settings, store)
        .map_err(config_error)?;
    let rules = settings.alert_rules().map_err(config_error)?;
    if !rules.is_empty()
        && let Some(log) = wiring.alert_log()
    {
        tracing::info!(
            rules = rules.len(),
            "alert rules evaluated on every published value"
        );
        engine = engine.alerts(rules, log);
    }
    let series = settings.feature_series();
    let resync = Duration::from_secs(args.resync_secs.unwrap_or(settings.features.resync_secs));
    tracing::info!(
        series = series.len(),
        resync_secs = resync.as_secs(),
        ?cache,
        "feature engine started"
    );
    let dispatcher = wiring.webhook_dispatcher(&settings).map_err(config_error)?;
    let runner = Runner::new(engine, Arc::new(cache), series).resync_every(resync);
    let counters = runner.counters();
    // One signal stops both: the runner, and the webhook dispatcher when there is one.
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let posting = dispatcher.map(|d| {
        tracing::info!(
            webhooks = settings.alerts.webhooks.len(),
            "alert webhooks dispatched"
        );
        let mut stopped = stopped.clone();
        tokio::spawn(d.run(async move {
            let _ = stopped.wait_for(|s| *s).await;
        }))
    });
    runner
        .run(async move {
            axia_config::app::shutdown_signal().await;
            let _ = stop.send(true);
        })
        .await;
    if let Some(p) = posting {
        let _ = p.await;
    }
    tracing::info!(
        refreshes = axia_feature_engine::RunCounters::get(&counters.refreshes),
        errors = axia_feature_engine::RunCounters::get(&counters.errors),
        "feature engine stopped"
    );
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    axia_config::app::run(
        "axia-features",
        axia_config::app::Logs::Json,
        "info",
        async move { run(args).await.map(|()| 0) },
    )
}
