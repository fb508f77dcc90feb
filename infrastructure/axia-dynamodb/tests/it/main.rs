//! The DynamoDB adapters against moto (`AWS_ENDPOINT_URL`, started by scripts/test.sh), a
//! fresh table per test.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

use std::sync::Arc;

use axia_domain::{
    CreateOutcome, KillSwitch, KillSwitchChange, KillSwitchError, KillSwitchScope, KillSwitchState,
    ManualClock, Order, OrderStatus, OrderStore, OrderStoreError, OrderType, Side,
};
use axia_dynamodb::{DynamoKillSwitch, DynamoOrderStore};
use chrono::{TimeZone, Utc};

async fn client() -> aws_sdk_dynamodb::Client {
    assert_eq!(
        std::env::var("AWS_EC2_METADATA_DISABLED").as_deref(),
        Ok("true"),
        "run through scripts/test.sh"
    );
    aws_sdk_dynamodb::Client::new(
        &axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await,
    )
}

fn table(what: &str) -> String {
    // A counter too: two tests in the same microsecond must not share a name.
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    format!(
        "axia-{what}-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap(),
    ))
}

fn order(id: &str) -> Order {
    Order::new(
        id.parse().unwrap(),
        format!("c-{id}").parse().unwrap(),
        "USDJPY".parse().unwrap(),
        Side::Buy,
        OrderType::Market,
        "1000".parse().unwrap(),
        clock().now_for_test(),
    )
}

trait NowForTest {
    fn now_for_test(&self) -> chrono::DateTime<Utc>;
}
impl NowForTest for Arc<ManualClock> {
    fn now_for_test(&self) -> chrono::DateTime<Utc> {
        axia_domain::Clock::now(self.as_ref())
    }
}

#[tokio::test]
async fn orders_are_created_once_and_updated_only_from_the_expected_status() {
    let store = DynamoOrderStore::new(client().await, table("orders"));
    store.create_table().await.unwrap();
    let o = order("o-1");
    assert_eq!(
        store.create_if_absent(&o).await.unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(
        store.create_if_absent(&o).await.unwrap(),
        CreateOutcome::AlreadyExists(Box::new(o.clone()))
    );
    let now = clock().now_for_test();
    let mut submitted = o.clone();
    submitted.mark_submitted(now, "p1").unwrap();
    store
        .claim(o.id(), "p1", now, now + chrono::Duration::seconds(30))
        .await
        .unwrap();
    store
        .update(&submitted, OrderStatus::Received, "p1", now)
        .await
        .unwrap();
    // A stale writer that still thinks it is Received gets a typed conflict.
    let err = store
        .update(&submitted, OrderStatus::Received, "p1", now)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            OrderStoreError::Conflict {
                expected: OrderStatus::Received,
                actual: Some(OrderStatus::Submitted),
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(store.get(o.id()).await.unwrap(), Some(submitted.clone()));
    assert_eq!(store.get(&"absent".parse().unwrap()).await.unwrap(), None);
    let absent = order("o-2");
    assert!(matches!(
        store
            .update(&absent, OrderStatus::Received, "p1", now)
            .await,
        Err(OrderStoreError::Conflict { actual: None, .. })
    ));
    let listed = store.by_status(OrderStatus::Submitted, 10).await.unwrap();
    assert_eq!(listed, vec![submitted]);
}

#[tokio::test]
async fn concurrent_creates_make_one_order() {
    let store = DynamoOrderStore::new(client().await, table("orders"));
    store.create_table().await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let s = store.clone();
            tokio::spawn(async move { s.create_if_absent(&order("o-9")).await.unwrap() })
        })
        .collect();
    let mut created = 0;
    for t in tasks {
        if t.await.unwrap() == CreateOutcome::Created {
            created += 1;
        }
    }
    assert_eq!(created, 1);
}

#[tokio::test]
async fn a_missing_table_is_unavailable() {
    let store = DynamoOrderStore::new(client().await, table("never-created"));
    assert!(matches!(
        store.get(&"o-1".parse().unwrap()).await,
        Err(OrderStoreError::Unavailable(_))
    ));
    let ks = DynamoKillSwitch::new(client().await, table("never-created"), clock());
    assert!(matches!(
        ks.read(&KillSwitchScope::Global).await,
        Err(KillSwitchError::Unavailable(_))
    ));
}

#[tokio::test]
async fn kill_switch_changes_are_read_back_and_audited() {
    let clock = clock();
    let ks = DynamoKillSwitch::new(client().await, table("ks"), clock.clone());
    ks.create_table().await.unwrap();
    let usd: KillSwitchScope = "USDJPY".parse().unwrap();
    assert_eq!(
        ks.read(&KillSwitchScope::Global).await.unwrap().state,
        KillSwitchState::Active,
        "never set: active"
    );
    let a1 = ks
        .set(
            &usd,
            KillSwitchChange::new(KillSwitchState::Halted, "flash crash", "ops@desk").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(a1.previous.state, KillSwitchState::Active);
    assert_eq!(ks.read(&usd).await.unwrap(), a1.current);
    assert_eq!(
        ks.read(&KillSwitchScope::Global).await.unwrap().state,
        KillSwitchState::Active,
        "scopes are separate"
    );
    clock.advance(chrono::Duration::minutes(5));
    let a2 = ks
        .set(
            &usd,
            KillSwitchChange::new(KillSwitchState::Active, "all clear", "risk@desk").unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(a2.previous, a1.current);
    assert_eq!(ks.audit(&usd).await.unwrap(), vec![a1, a2]);
    // Concurrent changes: every one audited, none lost.
    let tasks: Vec<_> = (0..5)
        .map(|i| {
            let ks = ks.clone();
            let scope = usd.clone();
            tokio::spawn(async move {
                ks.set(
                    &scope,
                    KillSwitchChange::new(KillSwitchState::Halted, &format!("r{i}"), "bot")
                        .unwrap(),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let trail = ks.audit(&usd).await.unwrap();
    assert_eq!(trail.len(), 7);
    for w in trail.windows(2).skip(1) {
        assert_eq!(w[1].previous, w[0].current, "the trail is a chain");
    }
}
