//! `axia-order-processor`: takes orders off the SQS queue and through the process-order use case
//! (claim, kill switch, validation, paper execution, DynamoDB), until SIGTERM or SIGINT.
//!
//! Any number of processors may share one queue: an order is executed by the one holding its
//! claim, and taken over (reconciled with the executor first) only after that claim lapsed. On
//! a signal it stops receiving, finishes the orders in flight, makes any message received
//! meanwhile visible again at once, and exits 0. Logs are JSON lines on stderr (RUST_LOG,
//! default info), each line of an order carrying its order id. Configuration as for the
//! collector: `[orders]` in the TOML file, AXIA_ORDERS_QUEUE / AXIA_ORDERS_TABLE /
//! AXIA_KILL_SWITCH_TABLE, the standard AWS variables, flags. Exit code 2 when the
//! configuration is wrong or the queues or tables are missing (one line on stderr).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use axia_config::{CommonArgs, OrdersWiring, Settings};
use axia_domain::{Backoff, Clock, OrderQueue, QueueMessage, SystemClock};
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
    /// Seconds to long-poll the queue per receive, 1 to 20 (overrides orders.wait_secs).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=20))]
    wait_secs: Option<u64>,
    /// Seconds a claim on an order lasts (overrides orders.lease_secs).
    #[arg(long)]
    lease_secs: Option<u64>,
    /// This processor's name in claims and order histories (default: host, pid, random).
    #[arg(long)]
    processor_id: Option<String>,
}

/// Messages received as the processor stops: visible again at once for another processor.
async fn hand_back(queue: &dyn OrderQueue, messages: &[QueueMessage]) {
    for m in messages {
        if let Err(e) = queue.retry_later(m, Duration::ZERO).await {
            tracing::warn!(message_id = m.message_id, error = %e, "could not hand a message back; it returns after its visibility timeout");
        }
    }
    if !messages.is_empty() {
        tracing::info!(
            count = messages.len(),
            "messages received during shutdown handed back"
        );
    }
}

async fn run(args: Args) -> Result<(), String> {
    let config_error = |e: axia_config::ConfigError| format!("configuration error: {e}");
    let mut settings = Settings::load(&args.common.overrides()).map_err(config_error)?;
    if let Some(c) = args.concurrency {
        settings.orders.concurrency = c.max(1);
    }
    if let Some(w) = args.wait_secs {
        settings.orders.wait_secs = w;
    }
    if let Some(l) = args.lease_secs {
        settings.orders.lease_secs = l;
    }
    settings.validate().map_err(config_error)?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let wiring = OrdersWiring::build(&settings, Arc::clone(&clock), args.create_resources)
        .await
        .map_err(|e| e.to_string())?;
    let mut process = wiring
        .process_order(&settings, clock)
        .map_err(config_error)?;
    if let Some(id) = &args.processor_id {
        process = process.processor(id);
    }
    let queue = wiring.queue.clone();
    let o = &settings.orders;
    let concurrency = o.concurrency.max(1);
    let wait = Duration::from_secs(o.wait_secs);
    tracing::info!(
        queue = o.queue,
        orders_table = o.orders_table,
        kill_switch_table = o.kill_switch_table,
        concurrency,
        wait_secs = o.wait_secs,
        lease_secs = o.lease_secs,
        ?process,
        "order processor started"
    );
    let shutdown = axia_config::app::shutdown_signal();
    tokio::pin!(shutdown);
    let backoff = Backoff::new(Duration::from_millis(500), Duration::from_secs(30));
    let mut failed_receives = 0;
    let mut stopping = false;
    while !stopping {
        // A receive in flight is never dropped: what it brings is processed, or handed back
        // at once when the processor is stopping.
        let receive = queue.receive(u16::try_from(concurrency.min(10)).unwrap_or(10), wait);
        tokio::pin!(receive);
        let batch = tokio::select! {
            r = &mut receive => r,
            () = &mut shutdown => {
                stopping = true;
                tracing::info!("stopping: waiting for the receive in flight");
                receive.await
            }
        };
        let messages = match batch {
            Ok(m) => {
                failed_receives = 0;
                m
            }
            Err(e) => {
                let wait = backoff.delay(failed_receives);
                failed_receives = failed_receives.saturating_add(1);
                tracing::warn!(error = %e, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "receive failed");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {},
                    () = &mut shutdown => stopping = true,
                }
                continue;
            }
        };
        if stopping {
            hand_back(&queue, &messages).await;
            break;
        }
        // The batch in flight is finished even when a signal arrives meanwhile.
        let work = stream::iter(messages).for_each_concurrent(concurrency, |m| {
            let process = process.clone();
            async move {
                // Outcomes and errors are logged inside the order's span.
                let _ = process.handle(&m).await;
            }
        });
        tokio::pin!(work);
        tokio::select! {
            () = &mut work => {},
            () = &mut shutdown => {
                stopping = true;
                tracing::info!("stopping: finishing the orders in flight");
                work.await;
            }
        }
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
