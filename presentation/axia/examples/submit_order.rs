//! Submitting an order through the process-order use case, with the in-memory adapters and the
//! simulated broker's paper execution (`cargo run -p axia --features orders --example
//! submit_order`).

use std::sync::Arc;

use axia::memory::{MemoryExecutionBook, MemoryKillSwitch, MemoryOrderQueue, MemoryOrderStore};
use axia::prelude::*;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let queue = Arc::new(MemoryOrderQueue::default());
    let store = Arc::new(MemoryOrderStore::default());
    let broker = SimulatedBroker::seeded(42).with_book(Arc::new(MemoryExecutionBook::default()));
    let process = ProcessOrder::new(
        queue.clone(),
        store.clone(),
        MemoryKillSwitch::new(SystemClock),
        broker.clone(),
        // Each instrument's safe limits, checked against the market's last price.
        OrderValidator::with_safe_defaults(OrderLimits::new()),
    )
    // The market's last close, from the data provider over the broker.
    .reference_price(
        OhlcvDataProvider::builder()
            .broker(broker)
            .without_write_through()
            .build(),
    );

    // The message a client sends, and an absurd one.
    queue.push(
        r#"{"order_id":"ord-1","client_order_id":"cl-1","symbol":"USDJPY","side":"buy","type":"market","quantity":"100000"}"#,
    );
    queue.push(
        r#"{"order_id":"ord-2","client_order_id":"cl-2","symbol":"USDJPY","side":"buy","type":"market","quantity":"79000000000"}"#,
    );
    for message in queue.receive(10, std::time::Duration::ZERO).await? {
        let handled = process.handle(&message).await?;
        println!("{}: {handled:?}", message.message_id);
    }
    for id in ["ord-1", "ord-2"] {
        let order = store.get(&id.parse()?).await?.ok_or("not stored")?;
        println!("{id}: {}", order.status());
        for t in order.history() {
            println!(
                "  {} {:?} -> {} by {}: {}",
                t.at.to_rfc3339(),
                t.from,
                t.to,
                t.by,
                t.reason
            );
        }
    }
    let filled = store.get(&"ord-1".parse()?).await?.map(|o| o.status());
    let refused = store.get(&"ord-2".parse()?).await?.map(|o| o.status());
    // On a weekend the paper market is closed and the broker rejects the market order.
    if !matches!(filled, Some(OrderStatus::Filled | OrderStatus::Rejected))
        || refused != Some(OrderStatus::Rejected)
    {
        return Err(format!("unexpected: {filled:?} {refused:?}").into());
    }
    Ok(())
}
