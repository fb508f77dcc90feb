//! `axia-order-processor`: takes orders off the SQS queue and through the process-order use case
//! (kill switch, validation, paper execution, DynamoDB), until SIGTERM or SIGINT.
//!
//! On a signal it stops receiving, finishes the orders in flight, and exits 0. Logs are JSON
//! lines on stderr (RUST_LOG, default info). Configuration as for the collector: `[orders]` in
//! the TOML file, the standard AWS variables, flags.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axia_config::{CommonArgs, OrdersWiring, Settings};
use axia_domain::{Clock, OrderQueue, SystemClock};
use axia_orders::Handled;
use clap::Parser;
use futures_util::{StreamExt, stream};

/// Process orders from the queue until SIGTERM or SIGINT.
#[derive(Debug, Parser)]
#[command(name = "axia-order-processor", version)]
struct Args {
    #[command(flatten)]
    common: CommonArgs,
    /// Orders processed at once (overrides orders.concurrency).
    #[arg(long)]
    concurrency: Option<usize>,
    /// Create the tables and queues if missing (development and tests).
    #[arg(long)]
    create_resources: bool,
    /// Seconds to long-poll the queue per receive (at most 20).
    #[arg(long, default_value_t = 5)]
    wait_secs: u64,
}

async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

async fn run(args: Args) -> Result<(), String> {
    let mut settings =
        Settings::load(&args.common).map_err(|e| format!("configuration error: {e}"))?;
    if let Some(c) = args.concurrency {
        settings.orders.concurrency = c.max(1);
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let wiring = OrdersWiring::build(&settings, Arc::clone(&clock), args.create_resources)
        .await
        .map_err(|e| format!("configuration error: {e}"))?;
    let process = wiring
        .process_order(&settings, clock)
        .map_err(|e| format!("configuration error: {e}"))?;
    let queue = wiring.queue.clone();
    let concurrency = settings.orders.concurrency.max(1);
    tracing::info!(
        queue = settings.orders.queue,
        concurrency,
        "order processor started"
    );
    let shutdown = shutdown_signal();
    tokio::pin!(shutdown);
    loop {
        let batch = tokio::select! {
            () = &mut shutdown => break,
            r = queue.receive(u16::try_from(concurrency.min(10)).unwrap_or(10), Duration::from_secs(args.wait_secs.min(20))) => r,
        };
        let messages = match batch {
            Ok(m) => m,
            Err(e) => {
                tracing::error!(error = %e, "receive failed; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        // The batch in flight is finished even when a signal arrives meanwhile.
        stream::iter(messages)
            .for_each_concurrent(concurrency, |m| {
                let process = process.clone();
                async move {
                    match process.handle(&m).await {
                        Ok(Handled::Done(status)) => tracing::info!(message_id = m.message_id, %status, "order processed"),
                        Ok(Handled::Duplicate(status)) => tracing::info!(message_id = m.message_id, %status, "duplicate delivery acked"),
                        Ok(Handled::Poison(reason)) => tracing::warn!(message_id = m.message_id, reason, "poison message recorded"),
                        Ok(Handled::Deferred(reason)) => tracing::warn!(message_id = m.message_id, reason, "left for redelivery"),
                        Err(e) => tracing::error!(message_id = m.message_id, error = %e, "not processed; will be redelivered"),
                    }
                }
            })
            .await;
    }
    tracing::info!("order processor stopped");
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    axia_config::app::run(
        "axia-order-processor",
        axia_config::app::Logs::Json,
        "info",
        async move { run(args).await.map(|()| 0) },
    )
}
