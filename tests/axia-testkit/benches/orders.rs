//! Orders per second through the process-order use case (release:
//! `cargo bench -p axia-testkit --bench orders`): with in-memory adapters, and with DynamoDB and
//! SQS on moto (`source scripts/services.sh` first). The simulated broker executes.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use axia_domain::{Clock, ManualClock, OrderQueue, OrderValidator};
use axia_dynamodb::{DynamoKillSwitch, DynamoOrderStore};
use axia_memory::{MemoryKillSwitch, MemoryOrderQueue, MemoryOrderStore};
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

async fn drain(
    p: &ProcessOrder,
    q: &dyn OrderQueue,
    n: usize,
    concurrency: usize,
) -> (usize, Duration) {
    let t = Instant::now();
    let mut done = 0;
    while done < n {
        let batch = q.receive(10, Duration::from_secs(1)).await.unwrap();
        let results: Vec<_> = stream::iter(batch)
            .map(|m| async move { p.handle(&m).await.unwrap() })
            .buffer_unordered(concurrency)
            .collect()
            .await;
        done += results
            .iter()
            .filter(|h| matches!(h, Handled::Done(_)))
            .count();
    }
    (done, t.elapsed())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap(),
    ));
    let broker = SimulatedBroker::new(1, clock.clone());

    let n = 20_000;
    let queue = Arc::new(MemoryOrderQueue::default());
    for i in 0..n {
        queue.push(body(i));
    }
    let p = ProcessOrder::new(
        queue.clone(),
        Arc::new(MemoryOrderStore::default()),
        Arc::new(MemoryKillSwitch::new(clock.clone())),
        Arc::new(broker.clone()),
        OrderValidator::default(),
        clock.clone(),
    );
    let (done, t) = drain(&p, queue.as_ref(), n, 8).await;
    println!(
        "in-memory adapters: {done} orders in {:.2} s = {:.0} orders/s",
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
    let p = ProcessOrder::new(
        Arc::new(queue.clone()),
        Arc::new(store),
        Arc::new(ks),
        Arc::new(broker),
        OrderValidator::default(),
        clock,
    );
    let (done, t) = drain(&p, &queue, n, 8).await;
    println!(
        "DynamoDB + SQS on moto: {done} orders in {:.2} s = {:.0} orders/s (concurrency 8)",
        t.as_secs_f64(),
        done as f64 / t.as_secs_f64()
    );
}
