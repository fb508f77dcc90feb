//! The feature store against the shared test Redis.

use std::collections::BTreeMap;

use axia_domain::{
    FeaturePublished, FeatureSnapshot, FeatureStore, StoreError, TimeRange, Timeframe,
};
use axia_redis::RedisFeatureStore;
use chrono::Duration as Span;
use futures_util::StreamExt;
use redis::AsyncCommands;

use crate::support::*;

fn snapshot(minute: i64, forming: bool, x: f64) -> FeatureSnapshot {
    FeatureSnapshot {
        symbol: sym("EURUSD"),
        timeframe: Timeframe::M1,
        bar_open: noon() + Span::minutes(minute),
        forming,
        values: BTreeMap::from([
            ("sma_20".to_owned(), 1.1 + x),
            ("rsi_14".to_owned(), 50.0 + x * 1e4),
            // Shortest round-trip decimal form, so the value reads back bit for bit.
            ("macd_12_26_9".to_owned(), 1.0 / 3.0 * 1e-5 + x),
        ]),
    }
}

#[tokio::test]
async fn a_bar_writes_the_hash_one_stream_entry_and_one_message() {
    let cache = cache(clock());
    let store = RedisFeatureStore::new(cache.clone());
    let s = sym("EURUSD");
    // Subscribe first: one message per change.
    let client = redis::Client::open(redis_url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub
        .subscribe(store.key(&s, Timeframe::M1, "updates"))
        .await
        .unwrap();
    let mut messages = pubsub.into_on_message();

    // A forming bar: latest only.
    let forming = snapshot(0, true, 0.0001);
    assert_eq!(
        store.publish(&forming).await.unwrap(),
        FeaturePublished::Forming
    );
    assert_eq!(
        store.latest(&s, Timeframe::M1).await.unwrap(),
        Some(forming.clone())
    );
    // It closes: latest replaced, one stream entry.
    let closed = snapshot(0, false, 0.0002);
    assert_eq!(
        store.publish(&closed).await.unwrap(),
        FeaturePublished::Appended
    );
    assert_eq!(
        store.latest(&s, Timeframe::M1).await.unwrap(),
        Some(closed.clone())
    );
    // A replay of the same bar appends nothing; an older bar neither moves latest back.
    assert_eq!(
        store.publish(&closed).await.unwrap(),
        FeaturePublished::AlreadyInHistory
    );
    let next = snapshot(1, false, 0.0003);
    assert_eq!(
        store.publish(&next).await.unwrap(),
        FeaturePublished::Appended
    );
    let old = snapshot(0, false, 0.0009);
    assert_eq!(
        store.publish(&old).await.unwrap(),
        FeaturePublished::AlreadyInHistory
    );
    assert_eq!(
        store.latest(&s, Timeframe::M1).await.unwrap(),
        Some(next.clone())
    );

    let all = TimeRange::new(noon() - Span::hours(1), noon() + Span::hours(1)).unwrap();
    let history = store.history(&s, Timeframe::M1, all).await.unwrap();
    assert_eq!(history, vec![closed.clone(), next.clone()]);
    let mut raw = raw().await;
    let len: usize = redis::cmd("XLEN")
        .arg(store.key(&s, Timeframe::M1, "stream"))
        .query_async(&mut raw)
        .await
        .unwrap();
    assert_eq!(len, 2, "one entry per closed bar, replays refused");
    // The hash holds every feature and the bar's time.
    let hash: BTreeMap<String, String> = raw
        .hgetall(store.key(&s, Timeframe::M1, "latest"))
        .await
        .unwrap();
    assert_eq!(
        hash["_bar_open_ms"],
        (noon() + Span::minutes(1)).timestamp_millis().to_string()
    );
    assert_eq!(hash["_forming"], "0");
    assert!(hash.contains_key("sma_20") && hash.contains_key("rsi_14"));
    // Three changes published (forming, closed, next); the replays published nothing.
    let mut got = Vec::new();
    for _ in 0..3 {
        let m = tokio::time::timeout(std::time::Duration::from_secs(2), messages.next())
            .await
            .unwrap()
            .unwrap();
        let v: serde_json::Value =
            serde_json::from_str(&m.get_payload::<String>().unwrap()).unwrap();
        got.push((
            v["bar_open_ms"].as_i64().unwrap(),
            v["forming"].as_bool().unwrap(),
        ));
    }
    let t0 = noon().timestamp_millis();
    assert_eq!(got, [(t0, true), (t0, false), (t0 + 60_000, false)]);
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(300), messages.next())
            .await
            .is_err(),
        "no message for a replay"
    );
}

#[tokio::test]
async fn the_history_is_bounded_and_bad_values_are_refused() {
    // A shared store is a port too (`Arc<T>: FeatureStore`), as services pass it around.
    fn port(s: impl FeatureStore) -> impl FeatureStore {
        s
    }
    let store = port(std::sync::Arc::new(
        RedisFeatureStore::new(cache(clock())).history_len(10),
    ));
    for m in 0..500 {
        store
            .publish(&snapshot(m, false, m as f64 * 1e-6))
            .await
            .unwrap();
    }
    let all = TimeRange::new(noon(), noon() + Span::days(1)).unwrap();
    let kept = store
        .history(&sym("EURUSD"), Timeframe::M1, all)
        .await
        .unwrap();
    // MAXLEN ~ trims whole macro nodes: about the bound, never everything.
    assert!(
        (10..=200).contains(&kept.len()),
        "{} entries kept",
        kept.len()
    );
    assert_eq!(kept.last().unwrap().bar_open, noon() + Span::minutes(499));
    let mut bad = snapshot(600, false, 0.0);
    bad.values.insert("x".into(), f64::NAN);
    assert!(matches!(
        store.publish(&bad).await,
        Err(StoreError::InvalidRequest(_))
    ));
    let mut bad = snapshot(600, false, 0.0);
    bad.values.insert("_bar_open_ms".into(), 1.0);
    assert!(matches!(
        store.publish(&bad).await,
        Err(StoreError::InvalidRequest(_))
    ));
    assert_eq!(
        store
            .latest(&sym("EURUSD"), Timeframe::M1)
            .await
            .unwrap()
            .unwrap()
            .bar_open,
        noon() + Span::minutes(499),
        "nothing written by a refused snapshot"
    );
}
