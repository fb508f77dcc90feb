//! The order path against moto (DynamoDB + SQS) with the simulated broker executing, and the
//! processor binary itself. Each test uses its own queues and tables.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axia_config::{OrdersWiring, Settings};
use axia_domain::{
    ClaimOutcome, CreateOutcome, KillSwitch, KillSwitchChange, KillSwitchScope, KillSwitchState,
    ManualClock, Order, OrderId, OrderQueue, OrderStatus, OrderStore, OrderStoreError,
    OrderValidator, PoisonRecord, QueueMessage,
};
use axia_orders::{Handled, ProcessOrder};
use chrono::{DateTime, TimeZone, Utc};

mod processes;

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap(),
    ))
}

fn settings() -> Settings {
    assert_eq!(
        std::env::var("AWS_EC2_METADATA_DISABLED").as_deref(),
        Ok("true"),
        "run through scripts/test.sh"
    );
    // A counter too: two tests starting in the same microsecond got the same queues (seen in
    // CI: each received the other's message).
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = format!(
        "axia-op-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    );
    let mut s = Settings::default();
    s.orders.queue = format!("{n}-q");
    s.orders.orders_table = format!("{n}-orders");
    s.orders.kill_switch_table = format!("{n}-ks");
    s.orders.visibility_secs = 1;
    s.orders.lease_secs = 2;
    s
}

fn body(id: &str) -> String {
    format!(
        r#"{{"order_id":"{id}","client_order_id":"c-{id}","symbol":"USDJPY","side":"buy","type":"market","quantity":"1000"}}"#
    )
}

async fn send(w: &OrdersWiring, body: &str) {
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    aws_sdk_sqs::Client::new(&conf)
        .send_message()
        .queue_url(&w.queue.urls().orders)
        .message_body(body)
        .send()
        .await
        .unwrap();
}

async fn receive_all(w: &OrdersWiring, n: usize) -> Vec<QueueMessage> {
    let mut out = Vec::new();
    for _ in 0..20 {
        out.extend(w.queue.receive(10, Duration::from_secs(1)).await.unwrap());
        if out.len() >= n {
            break;
        }
    }
    out
}

async fn wiring() -> (Settings, OrdersWiring, ProcessOrder) {
    let s = settings();
    let w = OrdersWiring::build(&s, clock(), true).await.unwrap();
    let p = w.process_order(&s, clock()).unwrap().processor("p1");
    (s, w, p)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_whole_path_and_a_message_delivered_twice_execute_once() {
    let (_s, w, p) = wiring().await;
    send(&w, &body("o-1")).await;
    send(&w, &body("o-1")).await;
    let msgs = receive_all(&w, 2).await;
    assert_eq!(msgs.len(), 2);
    let first = p.handle(&msgs[0]).await.unwrap();
    let second = p.handle(&msgs[1]).await.unwrap();
    assert_eq!(first, Handled::Done(OrderStatus::Filled));
    assert_eq!(second, Handled::Duplicate(OrderStatus::Filled));
    assert_eq!(w.executor.orders_placed(), 1);
    let stored = w.store.get(&"o-1".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.status(), OrderStatus::Filled);
    assert!(stored.fill().is_some());
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(
        w.queue
            .receive(10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty(),
        "both acked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processors_at_once_execute_once() {
    let (s, w, p1) = wiring().await;
    let p2 = w.process_order(&s, clock()).unwrap().processor("p2");
    send(&w, &body("o-2")).await;
    send(&w, &body("o-2")).await;
    let msgs = receive_all(&w, 2).await;
    let (a, b) = tokio::join!(p1.handle(&msgs[0]), p2.handle(&msgs[1]));
    let outcomes = [a.unwrap(), b.unwrap()];
    assert!(
        outcomes.contains(&Handled::Done(OrderStatus::Filled)),
        "{outcomes:?}"
    );
    assert_eq!(w.executor.orders_placed(), 1);
    // The deferred copy comes back (after the claim's lease) and is acked as a duplicate.
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    for m in w.queue.receive(10, Duration::from_secs(2)).await.unwrap() {
        assert_eq!(
            p1.handle(&m).await.unwrap(),
            Handled::Duplicate(OrderStatus::Filled)
        );
    }
    assert_eq!(w.executor.orders_placed(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halted_kill_switch_rejects_and_sends_nothing() {
    let (_s, w, p) = wiring().await;
    w.kill_switch
        .set(
            &KillSwitchScope::Global,
            KillSwitchChange::new(KillSwitchState::Halted, "maintenance", "ops").unwrap(),
        )
        .await
        .unwrap();
    send(&w, &body("o-3")).await;
    let m = receive_all(&w, 1).await.pop().unwrap();
    assert_eq!(
        p.handle(&m).await.unwrap(),
        Handled::Done(OrderStatus::Rejected)
    );
    assert_eq!(w.executor.orders_placed(), 0);
    let stored = w.store.get(&"o-3".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(
        stored.rejection().unwrap().reason.code(),
        "KILL_SWITCH_ACTIVE"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_kill_switch_table_sends_nothing() {
    let (_s, w, _) = wiring().await;
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let missing = axia_dynamodb::DynamoKillSwitch::new(
        aws_sdk_dynamodb::Client::new(&conf),
        "axia-no-such-table",
        clock(),
    );
    let p = ProcessOrder::new(
        w.queue.clone(),
        w.store.clone(),
        missing,
        w.executor.clone(),
        OrderValidator::default(),
    )
    .clock(clock())
    .processor("p1");
    send(&w, &body("o-4")).await;
    let m = receive_all(&w, 1).await.pop().unwrap();
    assert_eq!(
        p.handle(&m).await.unwrap(),
        Handled::Done(OrderStatus::Rejected)
    );
    assert_eq!(w.executor.orders_placed(), 0);
    let stored = w.store.get(&"o-4".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(
        stored.rejection().unwrap().reason.code(),
        "KILL_SWITCH_UNAVAILABLE"
    );
}

/// An order store whose first write of a final status fails: the processor "dies" after the
/// executor filled the order and before the outcome is persisted.
struct CrashAfterSubmit<S> {
    inner: S,
    crashed: AtomicBool,
}

#[async_trait]
impl<S: OrderStore> OrderStore for CrashAfterSubmit<S> {
    async fn create_if_absent(&self, order: &Order) -> Result<CreateOutcome, OrderStoreError> {
        self.inner.create_if_absent(order).await
    }
    async fn get(&self, id: &OrderId) -> Result<Option<Order>, OrderStoreError> {
        self.inner.get(id).await
    }
    async fn claim(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<ClaimOutcome, OrderStoreError> {
        self.inner.claim(id, owner, now, until).await
    }
    async fn renew(
        &self,
        id: &OrderId,
        owner: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<(), OrderStoreError> {
        self.inner.renew(id, owner, now, until).await
    }
    async fn release(&self, id: &OrderId, owner: &str) -> Result<(), OrderStoreError> {
        self.inner.release(id, owner).await
    }
    async fn update(
        &self,
        order: &Order,
        expected: OrderStatus,
        owner: &str,
        now: DateTime<Utc>,
    ) -> Result<(), OrderStoreError> {
        if order.status().is_final() && !self.crashed.swap(true, Ordering::SeqCst) {
            return Err(OrderStoreError::Unavailable("process killed".into()));
        }
        self.inner.update(order, expected, owner, now).await
    }
    async fn record_poison(&self, record: &PoisonRecord) -> Result<(), OrderStoreError> {
        self.inner.record_poison(record).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_submit_and_persist_then_restarted_reconciles_without_resubmitting() {
    let (s, w, _) = wiring().await;
    let clock = clock();
    let crashing = ProcessOrder::new(
        w.queue.clone(),
        CrashAfterSubmit {
            inner: w.store.clone(),
            crashed: AtomicBool::new(false),
        },
        w.kill_switch.clone(),
        w.executor.clone(),
        OrderValidator::default(),
    )
    .clock(clock.clone())
    .processor("crashing")
    .lease(Duration::from_secs(2));
    send(&w, &body("o-5")).await;
    let m = receive_all(&w, 1).await.pop().unwrap();
    assert!(
        crashing.handle(&m).await.is_err(),
        "the outcome was not persisted, nothing acked"
    );
    assert_eq!(w.executor.orders_placed(), 1);
    assert_eq!(
        w.store
            .get(&"o-5".parse().unwrap())
            .await
            .unwrap()
            .unwrap()
            .status(),
        OrderStatus::Submitted
    );
    // A restarted processor gets the message again; while the dead one's claim stands it
    // waits, and once the claim lapsed it reconciles.
    let restarted = w
        .process_order(&s, clock.clone())
        .unwrap()
        .processor("restarted");
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    let again = receive_all(&w, 1).await.pop().unwrap();
    assert_eq!(again.message_id, m.message_id);
    assert!(matches!(
        restarted.handle(&again).await.unwrap(),
        Handled::Deferred(_)
    ));
    clock.advance(chrono::Duration::seconds(3));
    tokio::time::sleep(Duration::from_millis(2_500)).await;
    let again = receive_all(&w, 1).await.pop().unwrap();
    assert_eq!(
        restarted.handle(&again).await.unwrap(),
        Handled::Done(OrderStatus::Filled)
    );
    assert_eq!(w.executor.orders_placed(), 1, "not resubmitted");
    let stored = w.store.get(&"o-5".parse().unwrap()).await.unwrap().unwrap();
    assert_eq!(stored.status(), OrderStatus::Filled);
    // The history says who did what.
    let by: Vec<_> = stored
        .history()
        .iter()
        .map(|t| (t.to, t.by.split('/').next().unwrap().to_owned()))
        .collect();
    assert_eq!(
        by,
        [
            (OrderStatus::Received, "crashing".to_owned()),
            (OrderStatus::Submitted, "crashing".to_owned()),
            (OrderStatus::Filled, "restarted".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_message_is_recorded_and_not_looped() {
    let (_s, w, p) = wiring().await;
    send(&w, "{\"order_id\": 42}").await;
    let m = receive_all(&w, 1).await.pop().unwrap();
    assert!(
        matches!(p.handle(&m).await.unwrap(), Handled::Poison(ref x) if x.code == "INVALID_JSON")
    );
    let records = w.store.poison_records(10).await.unwrap();
    assert_eq!(records.len(), 1);
    assert_eq!(
        (records[0].code.as_str(), records[0].message_id.as_str()),
        ("INVALID_JSON", m.message_id.as_str())
    );
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    assert!(
        w.queue
            .receive(10, Duration::ZERO)
            .await
            .unwrap()
            .is_empty()
    );
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    let recorded = aws_sdk_sqs::Client::new(&conf)
        .receive_message()
        .queue_url(&w.queue.urls().poison)
        .wait_time_seconds(2)
        .send()
        .await
        .unwrap();
    assert_eq!(recorded.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_processes_orders_and_stops_gracefully_on_sigterm() {
    let s = settings();
    let dir = std::env::temp_dir().join(format!("{}-cfg", s.orders.queue));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("orders.toml");
    std::fs::write(&cfg, format!(
        "[orders]\nqueue = \"{}\"\norders_table = \"{}\"\nkill_switch_table = \"{}\"\nvisibility_secs = 5\n",
        s.orders.queue, s.orders.orders_table, s.orders.kill_switch_table
    )).unwrap();
    let log = dir.join("stderr.jsonl");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_axia-order-processor"))
        .args([
            "--create-resources",
            "--wait-secs",
            "1",
            "--concurrency",
            "2",
            // --config after the other flags: accepted anywhere.
            "--config",
            cfg.to_str().unwrap(),
        ])
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let w = OrdersWiring::build(&s, clock(), true).await.unwrap();
    for i in 0..3 {
        send(&w, &body(&format!("b-{i}"))).await;
    }
    let mut filled = 0;
    for _ in 0..60 {
        filled = 0;
        for i in 0..3 {
            if let Some(o) = w
                .store
                .get(&format!("b-{i}").parse().unwrap())
                .await
                .unwrap()
            {
                filled += usize::from(o.status() == OrderStatus::Filled);
            }
        }
        if filled == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(filled, 3);
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let logs = std::fs::read_to_string(&log).unwrap();
    let last = logs.lines().last().unwrap();
    assert!(
        last.starts_with('{') && last.contains("order processor stopped"),
        "JSON logs: {last}"
    );
    // Every line about an order names it, executor calls included.
    let lines: Vec<serde_json::Value> = logs
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let about_orders: Vec<_> = lines
        .iter()
        .filter(|l| l["span"]["name"] == "order")
        .collect();
    assert!(
        about_orders
            .iter()
            .any(|l| l["fields"]["message"] == "submitting to the executor")
    );
    for i in 0..3 {
        let id = format!("b-{i}");
        assert!(
            about_orders
                .iter()
                .filter(|l| l["span"]["order_id"] == id.as_str())
                .count()
                >= 3,
            "{id}: {logs}"
        );
    }
    assert!(!logs.contains("\"level\":\"ERROR\""), "{logs}");
}
