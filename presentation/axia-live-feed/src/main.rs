//! `axia-live`: the live feed. Quotes from the configured source's price stream (the simulated
//! market offline, or OANDA's pricing stream) become bars of every configured timeframe in the Redis hot tier: forming
//! bars at most every `[live] flush_ms` per series, closed bars at once, so the server's
//! WebSockets and the feature engine move with the market. `/health` and `/metrics` listen on
//! `[live] listen` (loopback by default).
//!
//! Several `axia-live` processes on one Redis share the instruments: each holds leases on its
//! share and writes only those (fenced); when one dies, the others take its instruments within
//! `[live] failover_ms` (15 s). On SIGTERM or SIGINT it closes the bars whose period has ended, writes every forming bar
//! and exits 0. Exit code 2 when the configuration is wrong or the source refuses the
//! credentials (one line on stderr). Logs are JSON lines on stderr (RUST_LOG, default info).

use std::process::ExitCode;
use std::sync::Arc;

use axia_config::CommonArgs;
use axia_domain::{Fences, InstrumentOwnership, OhlcvStore};
use axia_live::{FeedFactory, LiveFeed, SharedFeed};
use axia_live_feed::Observed;
use chrono::{DateTime, Utc};
use clap::Parser;

/// Stream quotes into the hot tier's bars until SIGTERM or SIGINT.
#[derive(Debug, Parser)]
#[command(name = "axia-live", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Where /health and /metrics listen (overrides live.listen).
    #[arg(long)]
    listen: Option<std::net::SocketAddr>,
    /// Start the clock at this instant (RFC 3339) and let it run: a weekend or a night shows a
    /// moving market too (the simulated source only; for demos and tests).
    #[arg(long)]
    at: Option<DateTime<Utc>>,
}

async fn run(args: Args) -> Result<u8, String> {
    let config_error = |e: axia_config::ConfigError| format!("configuration error: {e}");
    let clock = axia_config::app::clock_at(args.at);
    let (settings, wiring) = axia_config::app::wire(&args.common, Arc::clone(&clock)).await?;
    let Some(hot) = wiring.hot.clone() else {
        return Err(
            "configuration error: axia-live writes into the hot tier: set REDIS_URL (or [hot_cache] url)"
                .into(),
        );
    };
    let stream = wiring.price_stream().map_err(config_error)?;
    let instruments: Vec<_> = settings
        .live_symbols()
        .iter()
        .map(|s| wiring.instruments.resolve(s))
        .collect();
    // The axia-live processes on this Redis share the instruments: each writes those it holds
    // a lease on, its writes fenced by the leases' tokens.
    let fences = Fences::new();
    let ownership: Arc<dyn InstrumentOwnership> = Arc::new(hot.clone());
    let store: Arc<dyn OhlcvStore> = Arc::new(hot.clone().fenced(fences.clone()));
    let presence = Arc::new(hot);
    let source = Arc::clone(&wiring.source);
    let feed_settings = settings.feed_settings();
    let feed_clock = Arc::clone(&clock);
    // The source's candles replace the live-built bars once closed, and fill reconnect gaps.
    let factory: FeedFactory = Box::new(move |held| {
        LiveFeed::new(
            Arc::clone(&stream),
            Arc::clone(&store),
            Arc::clone(&feed_clock),
            held,
        )
        .source(Arc::clone(&source))
        .presence(presence.clone())
        .settings(feed_settings.clone())
    });
    let member = axia_redis::holder_id();
    let shared = SharedFeed::new(
        ownership,
        fences,
        member.clone(),
        instruments.clone(),
        factory,
    )
    .failover(std::time::Duration::from_millis(settings.live.failover_ms));
    let observed = Observed {
        counters: shared.counters(),
        quotes: shared.quote_counts(),
        instruments: instruments.len(),
        held: shared.held(),
    };
    let listen = args.listen.unwrap_or(settings.live.listen);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    let router = axia_live_feed::router(observed.clone());
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, router).await {
            tracing::error!(error = %e, "the health and metrics listener stopped");
        }
    });
    tracing::info!(
        instruments = instruments.len(),
        member,
        listen = %local,
        source = ?settings.source,
        at = ?args.at,
        "axia-live started: http://{local}/metrics"
    );
    let result = shared.run(axia_config::app::shutdown_signal()).await;
    let h = observed.health();
    tracing::info!(
        quotes_accepted = h.quotes_accepted,
        quotes_dropped = h.quotes_dropped,
        reconnects = h.reconnects,
        "axia-live stopped"
    );
    match result {
        Ok(()) => Ok(0),
        Err(e) => Err(e.to_string()),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    axia_config::app::run("axia-live", axia_config::app::Logs::Json, "info", run(args))
}
