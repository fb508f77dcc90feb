//! Orders per second through the process-order use case with two processors sharing one queue,
//! one order store and one paper book (release: `cargo bench -p axia-testkit --bench orders`):
//! with in-memory adapters, and with DynamoDB and SQS on moto (`source scripts/services.sh`
//! first). The simulated broker executes. Each order is claimed, checked against the kill
//! switch and the safe limits, submitted, settled and acked.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_domain::{
    Clock, ExecutionBook, KillSwitch, ManualClock, OrderExecutor, OrderLimits, OrderQueue,
    OrderStore, OrderValidator,
};
use axia_dynamodb::{DynamoKillSwitch, DynamoOrderStore};
use axia_memory::{MemoryExecutionBook, MemoryKillSwitch, MemoryOrderQueue, MemoryOrderStore};
use axia_orders::{Handled, ProcessOrder};
use axia_simbroker::SimulatedBroker;
use axia_sqs::SqsOrderQueue;
use chrono::{TimeZone, Utc};
use futures_util::{StreamExt, stream};

fn body(i: usize) -> String {
    format!(
        r#"{{"order_id":"o-{i}","client_order_id":"c-{i}","symbol":"USDJPY","side":"buy","type":"market","quantity":"1000"}}"#
    )
}

/// One processor's loop: receive, handle `concurrency` at once, until `n` orders are done
/// between all processors sharing `done`.
async fn drain(
    p: ProcessOrder,
    q: Arc<dyn OrderQueue>,
    n: usize,
    concurrency: usize,
    done: Arc<std::sync::atomic::AtomicUsize>,
) {
    use std::sync::atomic::Ordering;
    while done.load(Ordering::SeqCst) < n {
        let batch = q.receive(10, Duration::from_secs(1)).await.unwrap();
        let results: Vec<_> = stream::iter(batch)
            .map(|m| {
                let p = p.clone();
                async move { p.handle(&m).await.unwrap() }
            })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        let finished = results
            .iter()
            .filter(|h| matches!(h, Handled::Done(_)))
            .count();
        done.fetch_add(finished, Ordering::SeqCst);
    }
}

/// Two processors (named apart, as two hosts would be) over the same adapters.
async fn two_processors(
    queue: Arc<dyn OrderQueue>,
    store: Arc<dyn OrderStore>,
    ks: Arc<dyn KillSwitch>,
    executors: [Arc<dyn OrderExecutor>; 2],
    clock: Arc<dyn Clock>,
    n: usize,
) -> (usize, Duration) {
    let t = Instant::now();
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let reference = Arc::new(
        axia_provider::OhlcvDataProvider::builder()
            .broker(SimulatedBroker::new(1, clock.clone()))
            .clock(clock.clone())
            .without_write_through()
            .build(),
    );
    let tasks: Vec<_> = executors
        .into_iter()
        .enumerate()
        .map(|(i, executor)| {
            let p = ProcessOrder::new(
                queue.clone(),
                store.clone(),
                ks.clone(),
                executor,
                OrderValidator::with_safe_defaults(OrderLimits::new()),
            )
            .clock(clock.clone())
            .processor(&format!("bench-{i}"))
            .reference_price(reference.clone());
            tokio::spawn(drain(p, queue.clone(), n, 8, done.clone()))
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (done.load(std::sync::atomic::Ordering::SeqCst), t.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap(),
    ));

    let n = 20_000;
    let queue = Arc::new(MemoryOrderQueue::default());
    for i in 0..n {
        queue.push(body(i));
    }
    let book: Arc<dyn ExecutionBook> = Arc::new(MemoryExecutionBook::default());
    let executors: [Arc<dyn OrderExecutor>; 2] = [
        Arc::new(SimulatedBroker::new(1, clock.clone()).with_book(book.clone())),
        Arc::new(SimulatedBroker::new(1, clock.clone()).with_book(book.clone())),
    ];
    let (done, t) = two_processors(
        queue.clone(),
        Arc::new(MemoryOrderStore::default()),
        Arc::new(MemoryKillSwitch::new(clock.clone())),
        executors,
        clock.clone(),
        n,
    )
    .await;
    println!(
        "in-memory adapters, two processors x 8: {done} orders in {:.2} s = {:.0} orders/s",
        t.as_secs_f64(),
        done as f64 / t.as_secs_f64()
    );

    if std::env::var("AWS_ENDPOINT_URL").is_err() {
        println!("moto: skipped (`source scripts/services.sh` first)");
        return;
    }
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let name = format!("axia-bench-orders-{}", std::process::id());
    let ddb = aws_sdk_dynamodb::Client::new(&conf);
    let sqs = aws_sdk_sqs::Client::new(&conf);
    let store = DynamoOrderStore::new(ddb.clone(), format!("{name}-orders"));
    store.create_table().await.unwrap();
    let ks = DynamoKillSwitch::new(ddb, format!("{name}-ks"), clock.clone());
    ks.create_table().await.unwrap();
    let urls = SqsOrderQueue::create(&sqs, &name, 5).await.unwrap();
    let n = 500;
    for chunk in (0..n).collect::<Vec<_>>().chunks(10) {
        let mut batch = sqs.send_message_batch().queue_url(&urls.orders);
        for i in chunk {
            batch = batch.entries(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("e{i}"))
                    .message_body(body(100_000 + i))
                    .build()
                    .unwrap(),
            );
        }
        batch.send().await.unwrap();
    }
    let queue = SqsOrderQueue::new(sqs, urls, Duration::from_secs(30));
    let book: Arc<dyn ExecutionBook> = Arc::new(store.execution_book());
    let executors: [Arc<dyn OrderExecutor>; 2] = [
        Arc::new(SimulatedBroker::new(1, clock.clone()).with_book(book.clone())),
        Arc::new(SimulatedBroker::new(1, clock.clone()).with_book(book.clone())),
    ];
    let (done, t) = two_processors(
        Arc::new(queue),
        Arc::new(store),
        Arc::new(ks),
        executors,
        clock,
        n,
    )
    .await;
    println!(
        "DynamoDB + SQS on moto, two processors x 8: {done} orders in {:.2} s = {:.0} orders/s (moto-bound: about 10 requests an order)",
        t.as_secs_f64(),
        done as f64 / t.as_secs_f64()
    );
}
