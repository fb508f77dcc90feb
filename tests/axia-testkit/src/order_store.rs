//! The [`OrderStore`] contract: creation once, claims, and writes under a live claim.
//!
//! ```text
//! axia_testkit::order_store_contract!(memory, || async { Arc::new(MemoryOrderStore::default()) });
//! ```

use std::sync::Arc;

use axia_domain::{
    ClaimOutcome, CreateOutcome, Order, OrderStatus, OrderStore, OrderStoreError, OrderType,
    PoisonRecord, Side,
};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

fn order(id: &str) -> Order {
    Order::new(
        id.parse().unwrap(),
        format!("c-{id}").parse().unwrap(),
        "EURUSD".parse().unwrap(),
        Side::Sell,
        OrderType::Market,
        "250000".parse().unwrap(),
        t0(),
    )
    .received_by("test")
}

/// A duplicate creation returns the stored order; nothing is written twice.
pub async fn an_order_is_created_once(store: Arc<dyn OrderStore>) {
    let o = order("c1");
    assert_eq!(
        store.create_if_absent(&o).await.unwrap(),
        CreateOutcome::Created
    );
    assert_eq!(
        store.create_if_absent(&o).await.unwrap(),
        CreateOutcome::AlreadyExists(Box::new(o.clone()))
    );
    assert_eq!(store.get(o.id()).await.unwrap(), Some(o));
    assert_eq!(store.get(&"nobody".parse().unwrap()).await.unwrap(), None);
}

/// One live claim at a time; the holder may renew it; it lapses; the next owner learns whose
/// claim it replaced.
pub async fn claims_are_exclusive_until_they_lapse(store: Arc<dyn OrderStore>) {
    let o = order("c2");
    store.create_if_absent(&o).await.unwrap();
    let lease = Duration::seconds(30);
    let first = store.claim(o.id(), "a", t0(), t0() + lease).await.unwrap();
    assert_eq!(first, ClaimOutcome::Acquired { previous: None });
    match store
        .claim(o.id(), "b", t0() + Duration::seconds(1), t0() + lease)
        .await
        .unwrap()
    {
        ClaimOutcome::Held(c) => assert_eq!((c.owner.as_str(), c.expires_at), ("a", t0() + lease)),
        other => panic!("{other:?}"),
    }
    // The holder renews; the other still cannot take it.
    store
        .renew(
            o.id(),
            "a",
            t0() + Duration::seconds(10),
            t0() + Duration::seconds(40),
        )
        .await
        .unwrap();
    assert!(matches!(
        store
            .claim(
                o.id(),
                "b",
                t0() + Duration::seconds(35),
                t0() + Duration::seconds(65)
            )
            .await
            .unwrap(),
        ClaimOutcome::Held(_)
    ));
    // Lapsed: b takes it over and learns it was a's; a can no longer renew.
    let later = t0() + Duration::seconds(41);
    match store
        .claim(o.id(), "b", later, later + lease)
        .await
        .unwrap()
    {
        ClaimOutcome::Acquired { previous: Some(p) } => assert_eq!(p.owner, "a"),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        store.renew(o.id(), "a", later, later + lease).await,
        Err(OrderStoreError::ClaimLost { .. })
    ));
    // Releasing someone else's claim does nothing; the holder's own release frees it.
    store.release(o.id(), "a").await.unwrap();
    assert!(matches!(
        store
            .claim(o.id(), "c", later, later + lease)
            .await
            .unwrap(),
        ClaimOutcome::Held(_)
    ));
    store.release(o.id(), "b").await.unwrap();
    assert_eq!(
        store
            .claim(o.id(), "c", later, later + lease)
            .await
            .unwrap(),
        ClaimOutcome::Acquired { previous: None }
    );
    // An absent order cannot be claimed.
    assert!(matches!(
        store
            .claim(&"absent".parse().unwrap(), "a", t0(), t0() + lease)
            .await,
        Err(OrderStoreError::Conflict { actual: None, .. })
    ));
}

/// Of many processors claiming at once, exactly one gets the order.
pub async fn concurrent_claims_have_one_winner(store: Arc<dyn OrderStore>) {
    let o = order("c3");
    store.create_if_absent(&o).await.unwrap();
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (store, id) = (Arc::clone(&store), o.id().clone());
            tokio::spawn(async move {
                store
                    .claim(&id, &format!("p{i}"), t0(), t0() + Duration::seconds(30))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut won = 0;
    for t in tasks {
        won += usize::from(matches!(t.await.unwrap(), ClaimOutcome::Acquired { .. }));
    }
    assert_eq!(won, 1);
}

/// A status write needs the expected status and the writer's live claim.
pub async fn writes_need_the_status_and_a_live_claim(store: Arc<dyn OrderStore>) {
    let o = order("c4");
    store.create_if_absent(&o).await.unwrap();
    let mut submitted = o.clone();
    submitted.mark_submitted(t0(), "a").unwrap();
    // No claim.
    assert!(matches!(
        store
            .update(&submitted, OrderStatus::Received, "a", t0())
            .await,
        Err(OrderStoreError::ClaimLost { .. })
    ));
    store
        .claim(o.id(), "a", t0(), t0() + Duration::seconds(30))
        .await
        .unwrap();
    // Someone else's claim.
    assert!(matches!(
        store.update(&submitted, OrderStatus::Received, "b", t0()).await,
        Err(OrderStoreError::ClaimLost { holder: Some(h), .. }) if h.owner == "a"
    ));
    // A lapsed claim, even one's own.
    assert!(matches!(
        store
            .update(
                &submitted,
                OrderStatus::Received,
                "a",
                t0() + Duration::seconds(31)
            )
            .await,
        Err(OrderStoreError::ClaimLost { .. })
    ));
    store
        .update(&submitted, OrderStatus::Received, "a", t0())
        .await
        .unwrap();
    assert_eq!(store.get(o.id()).await.unwrap(), Some(submitted.clone()));
    // A stale status.
    assert!(matches!(
        store
            .update(&submitted, OrderStatus::Received, "a", t0())
            .await,
        Err(OrderStoreError::Conflict {
            actual: Some(OrderStatus::Submitted),
            ..
        })
    ));
    // The claim survives the write.
    assert!(matches!(
        store
            .claim(o.id(), "b", t0(), t0() + Duration::seconds(30))
            .await
            .unwrap(),
        ClaimOutcome::Held(_)
    ));
    // The history is kept.
    let stored = store.get(o.id()).await.unwrap().unwrap();
    assert_eq!(stored.history().len(), 2);
    assert_eq!(stored.history()[1].by, "a");
}

/// Poison records are kept once per message.
pub async fn poison_records_are_idempotent(store: Arc<dyn OrderStore>) {
    let r = PoisonRecord {
        message_id: "m-1".into(),
        code: "INVALID_JSON".into(),
        detail: "expected value".into(),
        body: "{".into(),
        at: t0(),
        by: "test".into(),
    };
    store.record_poison(&r).await.unwrap();
    store.record_poison(&r).await.unwrap();
}

/// Instantiates every check of the [`OrderStore`] contract as a `#[tokio::test]` in a module
/// named `$name`, each with a fresh store from `$factory`.
#[macro_export]
macro_rules! order_store_contract {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::order_store_contract!(@checks $factory;
                an_order_is_created_once,
                claims_are_exclusive_until_they_lapse,
                concurrent_claims_have_one_winner,
                writes_need_the_status_and_a_live_claim,
                poison_records_are_idempotent,
            );
        }
    };
    (@checks $factory:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let store = ($factory)().await;
                $crate::order_store::$check(store).await;
            }
        )*
    };
}
