//! `axia-server`: axia over HTTP on `--listen` (default 127.0.0.1:8080), wired from the same
//! configuration as the collector. On embedded defaults it runs offline: the local archive,
//! with the simulated broker for the bars it lacks; with a hot tier (REDIS_URL) the chart and
//! the WebSockets go live. Stops gracefully on SIGTERM or SIGINT. Logs are JSON lines on
//! stderr (RUST_LOG, default info); exit code 2 when the configuration is wrong.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;

use axia_config::CommonArgs;
use axia_domain::FeatureStore;
use std::time::Duration;

use axia_server::{Api, Limits, Policy, ServeOptions};
use clap::Parser;

/// Serve bars, live updates and charts over HTTP.
#[derive(Debug, Parser)]
#[command(name = "axia-server", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve as of this instant (RFC 3339): the clock starts there and runs at real speed. For
    /// demos and tests of a market state (a weekend, a Monday before the open); default now.
    #[arg(long, value_name = "INSTANT", value_parser = parse_instant)]
    at: Option<chrono::DateTime<chrono::Utc>>,
    /// A web origin whose pages may read the API and open its WebSockets (repeat it; default
    /// any origin: the read-only API holds nothing private).
    #[arg(long = "allow-origin", value_name = "ORIGIN")]
    allow_origins: Vec<String>,
    /// A host name the server answers to (repeat it). Default on loopback: localhost,
    /// 127.0.0.1 and [::1] (a DNS-rebinding page is refused); elsewhere any.
    #[arg(long = "allow-host", value_name = "HOST")]
    allow_hosts: Vec<String>,
    /// Seconds a client may take to send a request's headers, and a kept-alive connection may
    /// stay idle.
    #[arg(long, default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds one request may take before it is answered 503.
    #[arg(long, default_value_t = 10)]
    request_timeout_secs: u64,
    /// Connections open at once at most.
    #[arg(long, default_value_t = 1024)]
    max_connections: usize,
    /// WebSockets open at once per client address at most.
    #[arg(long, default_value_t = 64)]
    ws_per_client: usize,
    /// The job store (PostgreSQL, as for axia-worker): serves /api/v1/jobs, /api/v1/schedules
    /// and the operator page /jobs. Its password never appears in logs or errors.
    #[arg(long, env = "AXIA_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// The job store's queue and schedule prefix (as axia-worker's).
    #[arg(long, default_value = "")]
    jobs_namespace: String,
    /// The token operator routes need (submit, retry, cancel, pause, resume, the page /jobs).
    /// Without one they answer only requests from this host.
    #[arg(long, env = "AXIA_OPERATOR_TOKEN", hide_env_values = true)]
    operator_token: Option<String>,
}

fn parse_instant(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    chrono::DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&chrono::Utc))
        .map_err(|e| format!("{s:?} is not an RFC 3339 instant: {e}"))
}

async fn run(args: Args) -> Result<(), String> {
    let clock = axia_config::app::clock_at(args.at);
    let (settings, wiring) = axia_config::app::wire(&args.common, Arc::clone(&clock)).await?;
    let mut api = Api::builder(wiring.serving_provider())
        .instruments(Arc::clone(&wiring.instruments))
        .clock(clock)
        .catalog("cold_archive", wiring.archive.clone());
    if let (Some(hot), Some(features)) = (&wiring.hot, wiring.feature_store(&settings)) {
        let features: Arc<dyn FeatureStore> = Arc::new(features);
        let hot = Arc::new(hot.clone());
        api = api.hot_tier(hot.clone(), hot).feature_store(features);
    }
    if let Some(log) = wiring.alert_log() {
        api = api.alert_log(Arc::new(log));
    }
    if let Some(url) = args.database_url.as_deref().filter(|u| !u.is_empty()) {
        let jobs = Arc::new(
            axia_postgres::PgJobs::connect(url)
                .await
                .map_err(|e| e.to_string())?
                .namespace(args.jobs_namespace.clone()),
        );
        jobs.setup().await.map_err(|e| e.to_string())?;
        api = api.jobs(jobs.clone(), jobs);
        match args.operator_token.as_deref().filter(|t| !t.is_empty()) {
            Some(token) => api = api.operator_token(token),
            None if !args.listen.ip().is_loopback() => tracing::warn!(
                "no AXIA_OPERATOR_TOKEN: the operator routes and page answer only this host"
            ),
            None => {}
        }
    }
    let mut policy = Policy::open();
    if !args.allow_origins.is_empty() {
        policy = policy.origins(args.allow_origins.clone());
    }
    if !args.allow_hosts.is_empty() {
        policy = policy.hosts(args.allow_hosts.clone());
    } else if args.listen.ip().is_loopback() {
        policy = policy.loopback_hosts();
    }
    let mut limits = Limits::default();
    limits.request_timeout = Duration::from_secs(args.request_timeout_secs.max(1));
    limits.ws_per_client = args.ws_per_client.max(1);
    let api = api.policy(policy).limits(limits).build();
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(
        listen = %local,
        hot = wiring.hot.is_some(),
        at = ?args.at,
        "axia-server started: open http://{local}/chart/USDJPY/H1"
    );
    let mut options = ServeOptions::default();
    options.header_read_timeout = Duration::from_secs(args.header_timeout_secs.max(1));
    options.max_connections = args.max_connections.max(1);
    axia_server::serve(
        listener,
        api.router(),
        options,
        axia_config::app::shutdown_signal(),
    )
    .await
    .map_err(|e| format!("server: {e}"))?;
    tracing::info!("axia-server stopped");
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    axia_config::app::run(
        "axia-server",
        axia_config::app::Logs::Json,
        "info",
        async move { run(args).await.map(|()| 0) },
    )
}
