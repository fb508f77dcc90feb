//! The hot cache against the shared test Redis.

use std::sync::Arc;
use std::time::Duration;

use axia_domain::{Bar, OhlcvFrame, OhlcvStore, StoreError, StoreHealth, TimeRange, Timeframe};
use axia_redis::{RedisBarCache, RedisCacheConfig, TtlPolicy, UpdateMessage};
use chrono::Duration as Span;
use futures_util::StreamExt;
use redis::AsyncCommands;

use crate::support::*;

fn all_time() -> TimeRange {
    TimeRange::new(noon() - Span::days(400), noon() + Span::days(400)).unwrap()
}

#[tokio::test]
async fn round_trip_and_range_slicing() {
    let clock = clock();
    let cache = cache(clock);
    let f = frame("USDJPY", Timeframe::M1, noon() - Span::hours(2), 120, 150.0);
    cache.save(&f).await.unwrap();
    let back = cache
        .get(&sym("USDJPY"), Timeframe::M1, all_time())
        .await
        .unwrap();
    assert_eq!(back, f, "bit-exact round trip");
    let hour = TimeRange::new(noon() - Span::hours(1), noon()).unwrap();
    let part = cache
        .get(&sym("USDJPY"), Timeframe::M1, hour)
        .await
        .unwrap();
    assert_eq!(part, f.slice(hour));
    assert_eq!(
        cache
            .get_recent(&sym("USDJPY"), Timeframe::M1, 1)
            .await
            .unwrap()
            .len(),
        60
    );
    // Another series and an absent one are empty, not errors.
    assert!(
        cache
            .get(&sym("USDJPY"), Timeframe::M5, all_time())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        cache
            .get(&sym("EURUSD"), Timeframe::M1, all_time())
            .await
            .unwrap()
            .is_empty()
    );
    let c = cache.counters();
    assert_eq!((c.hits, c.misses), (3, 2));
}

#[tokio::test]
async fn a_series_keeps_its_alignment_and_refuses_the_other() {
    let ny = axia_domain::DailyAlignment::NewYorkClose;
    let cache = cache(clock());
    // H1 bars labelled NY close, and H4 bars on the NY grid (01:00, 05:00 … UTC in July).
    let h1 = frame("NZDUSD", Timeframe::H1, noon() - Span::hours(6), 6, 0.6)
        .with_alignment(ny)
        .unwrap();
    cache.save(&h1).await.unwrap();
    let back = cache
        .get(&sym("NZDUSD"), Timeframe::H1, all_time())
        .await
        .unwrap();
    assert_eq!((back.alignment(), &back), (ny, &h1));
    let h4 = h1.resample(Timeframe::H4).unwrap();
    assert_eq!(
        h4.first_time(),
        Some(noon() - Span::hours(7)),
        "09:00 UTC bar"
    );
    cache.save(&h4).await.unwrap();
    assert_eq!(
        cache
            .get(&sym("NZDUSD"), Timeframe::H4, all_time())
            .await
            .unwrap(),
        h4
    );
    // H4 bars on the UTC grid are refused, and the stored value is untouched.
    let utc = frame("NZDUSD", Timeframe::H4, noon(), 1, 0.61);
    assert!(matches!(
        cache.save(&utc).await,
        Err(StoreError::Frame(
            axia_domain::FrameError::AlignmentMismatch { .. }
        ))
    ));
    assert_eq!(
        cache
            .get(&sym("NZDUSD"), Timeframe::H4, all_time())
            .await
            .unwrap(),
        h4
    );
    // Up to H1 both alignments give the same bars: a bar labelled UTC joins the series, which
    // keeps its label.
    let utc = frame("NZDUSD", Timeframe::H1, noon(), 1, 0.61);
    cache.save(&utc).await.unwrap();
    let back = cache
        .get(&sym("NZDUSD"), Timeframe::H1, all_time())
        .await
        .unwrap();
    assert_eq!(back.alignment(), ny);
    assert_eq!(back.len(), h1.len() + 1);
}

#[tokio::test]
async fn keys_follow_the_documented_layout() {
    let ns = namespace();
    let cache = cache_with(
        RedisCacheConfig::new(redis_url()).namespace(ns.clone()),
        clock(),
    );
    assert_eq!(
        cache.key(&sym("usdjpy"), Timeframe::H1),
        format!("{ns}:ohlcv:USDJPY:H1")
    );
    cache
        .save(&frame(
            "USDJPY",
            Timeframe::H1,
            noon() - Span::hours(3),
            3,
            150.0,
        ))
        .await
        .unwrap();
    let mut con = raw().await;
    let exists: bool = con.exists(format!("{ns}:ohlcv:USDJPY:H1")).await.unwrap();
    assert!(exists);
    let bare = RedisBarCache::new(RedisCacheConfig::new(redis_url()), clock()).unwrap();
    assert_eq!(bare.key(&sym("USDJPY"), Timeframe::H1), "ohlcv:USDJPY:H1");
    for bad in ["a b", "x\ny", "{tag}", "a*"] {
        let r = RedisBarCache::new(RedisCacheConfig::new(redis_url()).namespace(bad), clock());
        assert!(matches!(r, Err(StoreError::InvalidRequest(_))), "{bad:?}");
    }
}

#[tokio::test]
async fn every_write_trims_to_the_retention_but_keeps_the_newest_bar() {
    let clock = clock();
    let cache = cache(clock.clone());
    // 30 hours of M5 bars up to now: only the last 24 h stay.
    let f = frame(
        "EURUSD",
        Timeframe::M5,
        noon() - Span::hours(30),
        30 * 12,
        1.08,
    );
    cache.save(&f).await.unwrap();
    let held = cache
        .get(&sym("EURUSD"), Timeframe::M5, all_time())
        .await
        .unwrap();
    assert_eq!(held.len(), 24 * 12);
    assert_eq!(held.first_time(), Some(noon() - Span::hours(24)));
    // A D1 key keeps its current bar even when it opened more than 24 h ago...
    let d1 = frame("EURUSD", Timeframe::D1, noon() - Span::days(3), 3, 1.08);
    cache.save(&d1).await.unwrap();
    let held = cache
        .get(&sym("EURUSD"), Timeframe::D1, all_time())
        .await
        .unwrap();
    assert_eq!(held.len(), 1);
    assert_eq!(held.last(), d1.last());
    // ...and so does an MN1 key after time passes and cleanup runs.
    cache
        .save(&frame(
            "EURUSD",
            Timeframe::MN1,
            noon() - Span::days(40),
            2,
            1.08,
        ))
        .await
        .unwrap();
    clock.advance(Span::hours(6));
    let changed = cache.cleanup().await.unwrap();
    assert_eq!(changed, 1, "only the M5 series had bars to drop");
    let m5 = cache
        .get(&sym("EURUSD"), Timeframe::M5, all_time())
        .await
        .unwrap();
    assert_eq!(m5.first_time(), Some(noon() - Span::hours(18)));
    assert_eq!(
        cache
            .get(&sym("EURUSD"), Timeframe::MN1, all_time())
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn ttl_is_anchored_to_the_new_york_close() {
    let clock = clock();
    let cache = cache(clock.clone());
    let key = cache.key(&sym("GBPUSD"), Timeframe::H1);
    cache
        .save(&frame(
            "GBPUSD",
            Timeframe::H1,
            noon() - Span::hours(2),
            2,
            1.27,
        ))
        .await
        .unwrap();
    let mut con = raw().await;
    let pttl: i64 = con.pttl(&key).await.unwrap();
    // 12:00 UTC in July: the close is 21:00 UTC, 9 h away.
    assert!(
        (9 * 3_600_000 - 5_000..=9 * 3_600_000).contains(&pttl),
        "pttl {pttl}"
    );
    // 16:30 New York: less than an hour to the close, so tomorrow's (24.5 h).
    clock.set(noon() + Span::hours(8) + Span::minutes(30));
    cache
        .save(&frame(
            "GBPUSD",
            Timeframe::H1,
            noon() + Span::hours(8),
            1,
            1.27,
        ))
        .await
        .unwrap();
    let pttl: i64 = con.pttl(&key).await.unwrap();
    assert!(
        (24 * 3_600_000 + 1_800_000 - 5_000..=24 * 3_600_000 + 1_800_000).contains(&pttl),
        "pttl {pttl}"
    );
}

#[tokio::test]
async fn fixed_ttl_policy() {
    let cache = cache_with(
        RedisCacheConfig::new(redis_url())
            .namespace(namespace())
            .ttl(TtlPolicy::Fixed(Duration::from_secs(25 * 3600))),
        clock(),
    );
    cache
        .save(&frame(
            "AUDUSD",
            Timeframe::M15,
            noon() - Span::hours(1),
            4,
            0.66,
        ))
        .await
        .unwrap();
    let pttl: i64 = raw()
        .await
        .pttl(cache.key(&sym("AUDUSD"), Timeframe::M15))
        .await
        .unwrap();
    assert!(
        (25 * 3_600_000 - 5_000..=25 * 3_600_000).contains(&pttl),
        "pttl {pttl}"
    );
}

#[tokio::test]
async fn a_corrupt_value_or_an_old_schema_is_a_miss_and_is_deleted() {
    let cache = cache(clock());
    let mut con = raw().await;
    let key = cache.key(&sym("USDJPY"), Timeframe::H1);
    // Garbage, a truncated value and a value of another schema version.
    let good = {
        let c2 = cache.clone();
        c2.save(&frame(
            "USDJPY",
            Timeframe::H1,
            noon() - Span::hours(3),
            3,
            150.0,
        ))
        .await
        .unwrap();
        let v: Vec<u8> = con.get(&key).await.unwrap();
        v
    };
    let mut old_version = good.clone();
    old_version[1] = 0;
    let values: [Vec<u8>; 3] = [
        b"not msgpack at all".to_vec(),
        good[..good.len() / 2].to_vec(),
        old_version,
    ];
    for (i, v) in values.iter().enumerate() {
        let _: () = con.set(&key, v.as_slice()).await.unwrap();
        let got = cache
            .get(&sym("USDJPY"), Timeframe::H1, all_time())
            .await
            .unwrap();
        assert!(got.is_empty(), "case {i}: a miss");
        let exists: bool = con.exists(&key).await.unwrap();
        assert!(!exists, "case {i}: the bad value is deleted");
        assert_eq!(cache.counters().corrupt, i as u64 + 1);
    }
    // A write over a corrupt value replaces it.
    let _: () = con.set(&key, b"\xff\xff").await.unwrap();
    let f = frame("USDJPY", Timeframe::H1, noon() - Span::hours(2), 2, 151.0);
    cache.save(&f).await.unwrap();
    assert_eq!(
        cache
            .get(&sym("USDJPY"), Timeframe::H1, all_time())
            .await
            .unwrap(),
        f
    );
}

#[tokio::test]
async fn concurrent_writers_of_disjoint_bars_all_survive() {
    let clock = clock();
    let cache = cache(clock);
    let writers = 8;
    let per = 30;
    let start = noon() - Span::hours(8);
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let cache = cache.clone();
            // Writer w owns minutes w, w + 8, w + 16, …
            let bars: Vec<_> = frame("USDJPY", Timeframe::M1, start, writers * per, 150.0)
                .iter()
                .skip(w)
                .step_by(writers)
                .collect();
            tokio::spawn(async move {
                for chunk in bars.chunks(5) {
                    let f = axia_domain::OhlcvFrame::from_bars(
                        sym("USDJPY"),
                        Timeframe::M1,
                        chunk.to_vec(),
                    )
                    .unwrap();
                    cache.save(&f).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let all = cache
        .get(&sym("USDJPY"), Timeframe::M1, all_time())
        .await
        .unwrap();
    assert_eq!(all.len(), writers * per, "no writer lost another's bars");
    assert_eq!(
        all,
        frame("USDJPY", Timeframe::M1, start, writers * per, 150.0)
    );
    // Every staged value was committed or dropped: none is left behind, whichever writer
    // won each race.
    assert_eq!(stage_keys(&cache).await, Vec::<String>::new());
}

/// The staged values of `cache`'s namespace still in Redis.
async fn stage_keys(cache: &RedisBarCache) -> Vec<String> {
    let key = cache.key(&sym("USDJPY"), Timeframe::M1);
    let prefix = key.split("ohlcv:").next().unwrap();
    let mut con = raw().await;
    let mut iter: redis::AsyncIter<String> = con
        .scan_match(format!("{prefix}ohlcv:stage:*"))
        .await
        .unwrap();
    let mut found = Vec::new();
    while let Some(k) = iter.next_item().await {
        found.push(k.unwrap());
    }
    found
}

#[tokio::test]
async fn incoming_bars_win_and_resaving_is_idempotent() {
    let cache = cache(clock());
    let a = frame("EURJPY", Timeframe::M30, noon() - Span::hours(5), 10, 160.0);
    let b = frame("EURJPY", Timeframe::M30, noon() - Span::hours(3), 6, 161.0);
    cache.save(&a).await.unwrap();
    cache.save(&b).await.unwrap();
    let expected = a.merge(&b).unwrap();
    let got = cache
        .get(&sym("EURJPY"), Timeframe::M30, all_time())
        .await
        .unwrap();
    assert_eq!(got, expected);
    let key = cache.key(&sym("EURJPY"), Timeframe::M30);
    let mut con = raw().await;
    let before: Vec<u8> = con.get(&key).await.unwrap();
    // Saving bars the key already holds changes nothing, byte for byte (token included),
    // from this handle and from a fresh one that has to read the value first.
    cache.save(&b).await.unwrap();
    let fresh = cache_with(
        RedisCacheConfig::new(redis_url())
            .namespace(key.split("ohlcv:").next().unwrap().trim_end_matches(':')),
        clock(),
    );
    fresh.save(&b).await.unwrap();
    let after: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(after, before);
    assert_eq!(
        cache
            .get(&sym("EURJPY"), Timeframe::M30, all_time())
            .await
            .unwrap(),
        expected
    );
    // A change is a new value with a new token.
    let c = frame("EURJPY", Timeframe::M30, noon() - Span::hours(1), 1, 162.0);
    cache.save(&c).await.unwrap();
    let changed: Vec<u8> = con.get(&key).await.unwrap();
    assert_ne!(
        axia_redis::codec::token_of(&changed),
        axia_redis::codec::token_of(&before)
    );
}

#[tokio::test]
async fn info_reports_keys_bytes_health_and_bar_spans() {
    let ns = namespace();
    let cache = cache_with(
        RedisCacheConfig::new(redis_url()).namespace(ns.clone()),
        clock(),
    );
    let f1 = frame(
        "USDJPY",
        Timeframe::M1,
        noon() - Span::hours(24),
        1440,
        150.0,
    );
    let f2 = frame("EURUSD", Timeframe::H1, noon() - Span::hours(5), 5, 1.08);
    cache.save(&f1).await.unwrap();
    cache.save(&f2).await.unwrap();
    let info = cache.info().await.unwrap();
    assert_eq!(info.datasets.len(), 2);
    assert_eq!(info.health, StoreHealth::Ok);
    let usd = info
        .datasets
        .iter()
        .find(|d| d.symbol == sym("USDJPY"))
        .unwrap();
    assert_eq!(usd.bars, Some(1440));
    assert_eq!((usd.oldest, usd.newest), (f1.first_time(), f1.last_time()));
    let bytes = usd.bytes.unwrap();
    // These prices are not on a tick grid (f64 columns), the volumes are whole: between 20
    // and 45 bytes a bar with Redis's overhead.
    assert!(
        bytes > 1440 * 20 && bytes < 1440 * 45,
        "a day of M1 takes {bytes} bytes"
    );
    assert!(info.bytes_used.unwrap() > bytes);
    // Tight limits flip the health.
    let tight = cache_with(
        RedisCacheConfig::new(redis_url())
            .namespace(ns.clone())
            .memory_limits(1_000, 1_000_000),
        clock(),
    );
    assert_eq!(tight.info().await.unwrap().health, StoreHealth::Warning);
    let tighter = cache_with(
        RedisCacheConfig::new(redis_url())
            .namespace(ns.clone())
            .memory_limits(100, 1_000),
        clock(),
    );
    assert_eq!(tighter.info().await.unwrap().health, StoreHealth::Critical);
    // An expired key leaves the index.
    let _: () = raw()
        .await
        .del(cache.key(&sym("EURUSD"), Timeframe::H1))
        .await
        .unwrap();
    assert_eq!(cache.info().await.unwrap().datasets.len(), 1);
}

#[tokio::test]
async fn a_subscriber_receives_the_update_message_and_the_forming_bar_is_labelled_until_it_closes()
{
    let cache = cache(clock());
    let channel = cache.channel(&sym("GBPJPY"), Timeframe::M5);
    let client = redis::Client::open(redis_url()).unwrap();
    let mut pubsub = client.get_async_pubsub().await.unwrap();
    pubsub.subscribe(&channel).await.unwrap();
    // Twelve M5 bars, the newest one seen while it formed.
    let f = frame("GBPJPY", Timeframe::M5, noon() - Span::hours(1), 12, 190.0).with_forming(true);
    let newest = f.last().unwrap();
    cache.save(&f).await.unwrap();
    let mut messages = pubsub.on_message();
    let mut next = async || -> UpdateMessage {
        let msg = tokio::time::timeout(Duration::from_secs(5), messages.next())
            .await
            .expect("a message within 5 s")
            .unwrap();
        assert_eq!(msg.get_channel_name(), channel);
        serde_json::from_slice(msg.get_payload_bytes()).unwrap()
    };
    let first = next().await;
    assert_eq!(
        (
            &first.symbol,
            first.timeframe,
            first.newest_open_ms,
            first.bars,
            first.forming_open_ms
        ),
        (
            &sym("GBPJPY"),
            Timeframe::M5,
            newest.time_millis(),
            12,
            Some(newest.time_millis())
        )
    );
    let held = cache
        .get(&sym("GBPJPY"), Timeframe::M5, all_time())
        .await
        .unwrap();
    assert_eq!(
        first.tail_frame().unwrap().unwrap(),
        held,
        "the message carries the bars as stored, the forming one labelled"
    );
    assert_eq!(
        held.forming(),
        Some(newest),
        "the value says which bar is forming"
    );
    // The bar closes: its closed copy replaces it, and the label goes.
    let closed = Bar::new(
        newest.time(),
        newest.open(),
        newest.high() + 0.5,
        newest.low(),
        newest.close(),
        newest.volume() + 10.0,
    )
    .unwrap();
    cache
        .save(&OhlcvFrame::from_bars(sym("GBPJPY"), Timeframe::M5, [closed]).unwrap())
        .await
        .unwrap();
    let update = next().await;
    assert_eq!((update.bars, update.forming_open_ms), (12, None));
    let tail = update.tail_frame().unwrap().unwrap();
    assert_eq!(
        (tail.len(), tail.forming(), tail.last()),
        (1, None, Some(closed))
    );
    let held = cache
        .get(&sym("GBPJPY"), Timeframe::M5, all_time())
        .await
        .unwrap();
    assert_eq!((held.forming(), held.last()), (None, Some(closed)));
}

#[tokio::test]
async fn clones_share_counters_and_connection() {
    let cache = cache(clock());
    let clone = cache.clone();
    let _ = clone
        .get(&sym("USDJPY"), Timeframe::M1, all_time())
        .await
        .unwrap();
    assert_eq!(cache.counters().misses, 1);
    let dyn_store: Arc<dyn OhlcvStore> = Arc::new(cache);
    assert!(dyn_store.info().await.unwrap().datasets.is_empty());
}

#[tokio::test]
async fn a_lease_has_one_holder_is_renewed_and_released() {
    let cache = cache(clock());
    let ttl = Duration::from_millis(600);
    let first = cache
        .try_lease("collector", ttl)
        .await
        .unwrap()
        .expect("free");
    assert!(
        cache.try_lease("collector", ttl).await.unwrap().is_none(),
        "held"
    );
    // Renewed while held: still held after three TTLs.
    tokio::time::sleep(ttl * 3).await;
    assert!(!first.is_lost());
    assert!(cache.try_lease("collector", ttl).await.unwrap().is_none());
    assert!(
        cache
            .try_lease("collector-shard-2-of-3", ttl)
            .await
            .unwrap()
            .is_some(),
        "names are separate"
    );
    assert!(first.release().await.unwrap());
    let second = cache
        .try_lease("collector", ttl)
        .await
        .unwrap()
        .expect("free after release");
    // A holder that dies (drop without release) lets it expire after the TTL.
    drop(second);
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    assert!(cache.try_lease("collector", ttl).await.unwrap().is_some());
}

#[tokio::test]
async fn one_feed_carries_every_series_updates_of_its_namespace_only() {
    let cache = cache(clock());
    // Another namespace whose name starts like ours would if the pattern were too loose.
    let other = cache_with(
        RedisCacheConfig::new(redis_url()).namespace(format!("x{}", namespace())),
        clock(),
    );
    let mut feed = cache.updates().await.unwrap();
    let a = frame(
        "USDJPY",
        Timeframe::M1,
        noon() - Span::minutes(10),
        10,
        150.0,
    );
    let b = frame("EURUSD", Timeframe::H1, noon() - Span::hours(3), 3, 1.08);
    other.save(&a).await.unwrap(); // another namespace: not on this feed
    cache.save(&a).await.unwrap();
    cache.save(&b).await.unwrap();
    let mut got = Vec::new();
    for _ in 0..2 {
        let u = tokio::time::timeout(Duration::from_secs(5), feed.next())
            .await
            .expect("an update within 5 s")
            .unwrap();
        got.push((u.symbol.to_string(), u.timeframe, u.bars));
    }
    assert_eq!(
        got,
        [
            ("USDJPY".to_owned(), Timeframe::M1, 10),
            ("EURUSD".to_owned(), Timeframe::H1, 3)
        ]
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), feed.next())
            .await
            .is_err(),
        "nothing else"
    );
}

#[tokio::test]
async fn values_of_earlier_versions_are_read_then_rewritten_in_the_current_version() {
    use axia_redis::codec;
    type Encode = fn(&OhlcvFrame) -> Vec<u8>;
    let encoders: [(u8, Encode); 3] = [
        (2, codec::encode_version_2),
        (3, codec::encode_version_3),
        (4, codec::encode_version_4),
    ];
    for (version, encode) in encoders {
        let cache = cache(clock());
        let key = cache.key(&sym("EURJPY"), Timeframe::M15);
        // What an earlier axia left in Redis (version 3: prices on the instrument's tick).
        let old = frame("EURJPY", Timeframe::M15, noon() - Span::hours(3), 12, 162.0);
        let client = redis::Client::open(redis_url()).unwrap();
        let mut con = client.get_multiplexed_async_connection().await.unwrap();
        let _: () = con.set(&key, encode(&old)).await.unwrap();
        let stored: Vec<u8> = con.get(&key).await.unwrap();
        assert_eq!(stored.get(1), Some(&version));
        let back = cache
            .get(&sym("EURJPY"), Timeframe::M15, all_time())
            .await
            .unwrap();
        assert_eq!(back, old, "version {version}: read as it was");
        // A write merges into it (compared whole: the value has no token) and stores the
        // current version, with a token.
        let newer = frame("EURJPY", Timeframe::M15, noon(), 1, 162.5);
        cache.save(&newer).await.unwrap();
        let raw: Vec<u8> = con.get(&key).await.unwrap();
        assert_eq!(raw.get(1), Some(&codec::SCHEMA_VERSION));
        assert!(codec::token_of(&raw).is_some());
        let merged = cache
            .get(&sym("EURJPY"), Timeframe::M15, all_time())
            .await
            .unwrap();
        assert_eq!(merged, old.merge(&newer).unwrap(), "version {version}");
        // A value of an earlier version written behind the writer's back after that is not
        // overwritten blindly: the token it expects is gone, so it reads and merges.
        let other = frame("EURJPY", Timeframe::M15, noon() - Span::hours(6), 2, 161.0);
        let _: () = con.set(&key, encode(&other)).await.unwrap();
        let last = frame(
            "EURJPY",
            Timeframe::M15,
            noon() + Span::minutes(15),
            1,
            162.7,
        );
        cache.save(&last).await.unwrap();
        assert_eq!(
            cache
                .get(&sym("EURJPY"), Timeframe::M15, all_time())
                .await
                .unwrap(),
            other.merge(&last).unwrap(),
            "version {version}"
        );
    }
}

#[tokio::test]
async fn an_unchanged_value_is_decoded_once_and_any_change_is_seen() {
    let ns = namespace();
    let config = RedisCacheConfig::new(redis_url()).namespace(ns.clone());
    let reader = cache_with(config.clone(), clock());
    let writer = cache_with(config.clone(), clock());
    let no_memo = cache_with(config.decoded_memo_bytes(0), clock());
    let (s, tf) = (sym("USDJPY"), Timeframe::M1);
    let first = frame("USDJPY", tf, noon() - Span::hours(2), 90, 150.0);
    writer.save(&first).await.unwrap();
    // The first read decodes; the next ones of the same bytes reuse it, and equal it.
    for i in 0..3 {
        assert_eq!(reader.get(&s, tf, all_time()).await.unwrap(), first);
        assert_eq!(reader.counters().reused, i);
    }
    // A value another handle changed (a revised forming bar: same length, other bytes) is
    // decoded afresh.
    let revised = frame("USDJPY", tf, noon() - Span::hours(2), 90, 150.5).with_forming(true);
    writer.save(&revised).await.unwrap();
    let seen = reader.get(&s, tf, all_time()).await.unwrap();
    assert_eq!(seen, revised);
    assert_eq!(
        seen.forming().map(|b| b.time()),
        revised.last().map(|b| b.time())
    );
    assert_eq!(reader.counters().reused, 2);
    // So is one changed behind the library's back, byte for byte (garbage is a miss).
    let mut con = raw().await;
    let key = reader.key(&s, tf);
    let _: () = con.set(&key, b"not a value".as_slice()).await.unwrap();
    assert!(reader.get(&s, tf, all_time()).await.unwrap().is_empty());
    // The writer's own next read reuses what it wrote, without decoding.
    writer.save(&first).await.unwrap();
    let before = writer.counters().reused;
    assert_eq!(writer.get(&s, tf, all_time()).await.unwrap(), first);
    assert_eq!(writer.counters().reused, before + 1);
    // Turned off, nothing is reused.
    for _ in 0..2 {
        assert_eq!(no_memo.get(&s, tf, all_time()).await.unwrap(), first);
    }
    assert_eq!(no_memo.counters().reused, 0);
}

#[tokio::test]
async fn a_write_after_the_server_lost_its_scripts_loads_them_again() {
    let cache = cache(clock());
    let (s, tf) = (sym("EURJPY"), Timeframe::M5);
    let first = frame("EURJPY", tf, noon() - Span::hours(1), 6, 160.0);
    cache.save(&first).await.unwrap();
    // A restarted or flushed server holds no script: the compare-and-set's EVALSHA fails
    // with NOSCRIPT, and the write loads the script and goes through.
    let mut con = raw().await;
    let _: () = redis::cmd("SCRIPT")
        .arg("FLUSH")
        .query_async(&mut con)
        .await
        .unwrap();
    let second = frame("EURJPY", tf, noon() - Span::minutes(30), 6, 161.0);
    cache.save(&second).await.unwrap();
    let got = cache.get(&s, tf, all_time()).await.unwrap();
    assert_eq!(got, first.merge(&second).unwrap());
    // Both writes indexed the series once.
    let members: Vec<String> = con
        .smembers(format!(
            "{}ohlcv:index",
            cache.key(&s, tf).split("ohlcv:").next().unwrap()
        ))
        .await
        .unwrap();
    assert_eq!(members, vec!["EURJPY:M5".to_owned()]);
}

/// Calls of `cmd` the server has answered (client calls and script calls alike).
async fn calls(con: &mut redis::aio::MultiplexedConnection, cmd: &str) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(con)
        .await
        .unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{cmd}:calls=")))
        .and_then(|rest| rest.split(',').next())
        .map_or(0, |n| n.parse().unwrap())
}

#[tokio::test]
async fn a_writer_starts_from_what_it_wrote_and_reads_only_when_another_wrote_since() {
    let server = PrivateRedis::start(&[]).await;
    let client = redis::Client::open(server.url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let config = RedisCacheConfig::new(server.url()).namespace(namespace());
    let a = cache_with(config.clone(), clock());
    let b = cache_with(config, clock());
    let (s, tf) = (sym("USDJPY"), Timeframe::M1);
    let start = noon() - Span::hours(1);
    let bar = |i: i64, base: f64| frame("USDJPY", tf, start + Span::minutes(i), 1, base);
    a.save(&bar(0, 150.0)).await.unwrap();
    let count = |con: &mut redis::aio::MultiplexedConnection| {
        let mut con = con.clone();
        async move {
            let mut n = Vec::new();
            for cmd in [
                "get",
                "getrange",
                "evalsha",
                "script|load",
                "set",
                "rename",
                "append",
            ] {
                n.push(calls(&mut con, cmd).await);
            }
            n
        }
    };
    let before = count(&mut con).await;
    for i in 1..5 {
        a.save(&bar(i, 150.0)).await.unwrap();
    }
    // Four writes of a newer bar: four patches appended (APPEND), each commit reading the
    // key's 16 token bytes (GETRANGE), never the value; nothing staged or renamed, no read
    // of its own. (The append script is loaded once on this fresh server: one EVALSHA more.)
    let after = count(&mut con).await;
    let delta: Vec<u64> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    let loads = delta[3];
    assert_eq!(
        delta,
        vec![0, 4, 4 + loads, loads, 0, 0, 4],
        "get, getrange, evalsha, script load, set, rename, append"
    );
    // Another handle writes; the first one's next write finds its last value gone, reads,
    // and merges: nothing is lost.
    b.save(&bar(5, 151.0)).await.unwrap();
    let refused = calls(&mut con, "del").await;
    a.save(&bar(6, 152.0)).await.unwrap();
    // Its first attempt (a patch: the key no longer has the length it left) was refused
    // without staging anything, so nothing was dropped; the second read and wrote it whole.
    assert_eq!(calls(&mut con, "del").await - refused, 0);
    let staged: Vec<String> = redis::cmd("KEYS")
        .arg("*ohlcv:stage:*")
        .query_async(&mut con)
        .await
        .unwrap();
    assert_eq!(staged, Vec::<String>::new(), "nothing left staged");
    let all = a.get(&s, tf, all_time()).await.unwrap();
    assert_eq!(all.len(), 7);
    assert_eq!(
        all.get(5).unwrap().close(),
        bar(5, 151.0).get(0).unwrap().close()
    );
    assert_eq!(
        a.counters().write_conflicts,
        0,
        "a stale start is not a conflict"
    );
    // An expired key is not resurrected from memory: the write starts from nothing.
    let _: () = redis::cmd("DEL")
        .arg(a.key(&s, tf))
        .query_async(&mut con)
        .await
        .unwrap();
    a.save(&bar(7, 153.0)).await.unwrap();
    assert_eq!(a.get(&s, tf, all_time()).await.unwrap().len(), 1);
}

/// Random writes into one series: after each, the message's tail is the stored series from
/// the oldest bar written on, so applying the tails in order rebuilds what Redis holds.
#[tokio::test]
async fn update_tails_replayed_in_order_rebuild_the_stored_series() {
    let clock = clock();
    let cache = cache(Arc::clone(&clock));
    let symbol = sym("EURGBP");
    let mut feed = cache.updates().await.unwrap();
    let mut rebuilt = OhlcvFrame::empty(symbol.clone(), Timeframe::M1);
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next_random = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let start = noon() - Span::minutes(80);
    let mut with_tail = 0;
    for round in 0..80 {
        // A few bars somewhere in the last 80 minutes (some rewrite stored ones), the newest
        // now and then still forming.
        let n = 1 + next_random(5) as usize;
        let at = start + Span::minutes(next_random(76) as i64);
        let base = 0.85 + next_random(100) as f64 * 1e-4;
        let mut written = frame("EURGBP", Timeframe::M1, at, n, base);
        if round % 4 == 3 {
            written = written.with_forming(true);
        }
        cache.save(&written).await.unwrap();
        let message = tokio::time::timeout(Duration::from_secs(5), feed.next())
            .await
            .expect("a message")
            .expect("the feed");
        let held = cache.get(&symbol, Timeframe::M1, all_time()).await.unwrap();
        let Some(tail) = message.tail_frame() else {
            // More than a message carries from the oldest bar written on: read the series.
            assert!(held.keep_since(written.first_time().unwrap()).len() > UpdateMessage::MAX_TAIL);
            rebuilt = held;
            continue;
        };
        let tail = tail.unwrap();
        with_tail += 1;
        assert!(tail.first_time() >= written.first_time());
        // The stored series: what came before the tail, then the tail.
        let before = rebuilt
            .closed()
            .slice(TimeRange::new(start - Span::days(1), tail.first_time().unwrap()).unwrap());
        rebuilt = before.merge(&tail).unwrap();
        assert_eq!(
            rebuilt.closed(),
            held.closed(),
            "round {round}: the tails rebuild the stored closed bars"
        );
        assert_eq!(rebuilt.forming(), held.forming(), "round {round}");
    }
    assert!(
        with_tail > 40,
        "most writes carry their tail: {with_tail} of 80"
    );
}

#[tokio::test]
async fn a_write_of_many_bars_sends_no_tail_and_a_trim_an_empty_one() {
    let clock = clock();
    let cache = cache(Arc::clone(&clock));
    let mut feed = cache.updates().await.unwrap();
    let many = frame(
        "AUDCAD",
        Timeframe::M1,
        noon() - Span::hours(2),
        UpdateMessage::MAX_TAIL + 1,
        0.9,
    );
    cache.save(&many).await.unwrap();
    let m = feed.next().await.unwrap();
    assert_eq!(
        (m.bars, m.tail.is_none()),
        (UpdateMessage::MAX_TAIL + 1, true)
    );
    // A day later every bar but the newest is past the retention: the trim drops them.
    clock.set(noon() + Span::hours(30));
    assert_eq!(cache.cleanup().await.unwrap(), 1);
    let m = feed.next().await.unwrap();
    assert_eq!((m.bars, m.tail.as_ref().map(Vec::len)), (1, Some(0)));
}

/// The newest bar of `f` with its close moved by `d` (still inside its high and low).
fn moved_close(f: &OhlcvFrame, d: f64) -> OhlcvFrame {
    let b = f.last_n(1);
    let bar = b.iter().next().unwrap();
    let moved = Bar::new(
        bar.time(),
        bar.open(),
        bar.high() + d.abs(),
        bar.low() - d.abs(),
        bar.close() + d,
        bar.volume() + 1.0,
    )
    .unwrap();
    OhlcvFrame::from_bars(f.symbol().clone(), f.timeframe(), [moved])
        .unwrap()
        .with_forming(true)
}

#[tokio::test]
async fn a_write_of_the_newest_bars_appends_a_patch_of_constant_size() {
    use axia_redis::{MAX_PATCHES, codec};
    let clock = clock();
    let ns = namespace();
    let config = || RedisCacheConfig::new(redis_url()).namespace(ns.clone());
    let writer = cache_with(config(), Arc::clone(&clock));
    // Another process: its own handle, its own connection, nothing remembered.
    let reader = cache_with(config(), Arc::clone(&clock));
    let usdjpy = sym("USDJPY");
    let key = writer.key(&usdjpy, Timeframe::M1);
    let client = redis::Client::open(redis_url()).unwrap();
    let mut con = client.get_multiplexed_async_connection().await.unwrap();
    let mut feed = reader.updates().await.unwrap();

    // A day of M1, its newest bar forming: one whole write.
    let day = frame(
        "USDJPY",
        Timeframe::M1,
        noon() - Span::minutes(1439),
        1440,
        150.0,
    )
    .with_forming(true);
    writer.save(&day).await.unwrap();
    let whole: usize = con.strlen(&key).await.unwrap();
    assert!(whole > 5_000, "a day of M1 takes {whole} bytes");

    // Forming updates of the newest bar: each appends the same few dozen bytes.
    let mut expected = day.clone();
    let mut sizes = vec![whole];
    for i in 0..10 {
        let update = moved_close(&expected, 0.001 * f64::from(i + 1));
        writer.save(&update).await.unwrap();
        expected = expected.merge(&update).unwrap();
        sizes.push(con.strlen(&key).await.unwrap());
    }
    let steps: Vec<usize> = sizes.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        steps.iter().all(|&s| s == steps[0] && s < 64),
        "bytes added per update: {steps:?}"
    );
    let raw: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(codec::patch_count(&raw), Some(10));
    // Every reader sees the merge of the writes, the newest bar still forming.
    let read = reader
        .get(&usdjpy, Timeframe::M1, all_time())
        .await
        .unwrap();
    assert_eq!(read, expected);
    assert!(read.forming().is_some());
    // The update messages say the same as a whole write would: one bar in the tail.
    let mut messages = 0;
    while let Ok(Some(m)) = tokio::time::timeout(Duration::from_millis(500), feed.next()).await {
        messages += 1;
        assert_eq!(m.bars, 1440);
        if messages > 1 {
            assert_eq!(m.tail.as_ref().map(Vec::len), Some(1), "{m:?}");
        }
        if messages == 11 {
            break;
        }
    }
    assert_eq!(messages, 11);

    // A write by another handle in between changes the length: the first writer's next
    // append is refused, it reads, merges, and loses nothing.
    let other = moved_close(&expected, -0.002);
    reader.save(&other).await.unwrap();
    expected = expected.merge(&other).unwrap();
    let mine = moved_close(&expected, 0.003);
    writer.save(&mine).await.unwrap();
    expected = expected.merge(&mine).unwrap();
    assert_eq!(
        writer
            .get(&usdjpy, Timeframe::M1, all_time())
            .await
            .unwrap(),
        expected
    );
    assert_eq!(
        reader
            .get(&usdjpy, Timeframe::M1, all_time())
            .await
            .unwrap(),
        expected
    );

    // Past MAX_PATCHES patches the next write rewrites the value whole, without patches.
    for i in 0..MAX_PATCHES {
        let update = moved_close(&expected, 0.0001 * (i % 7) as f64);
        writer.save(&update).await.unwrap();
        expected = expected.merge(&update).unwrap();
    }
    let raw: Vec<u8> = con.get(&key).await.unwrap();
    assert!(
        codec::patch_count(&raw).is_some_and(|n| n <= MAX_PATCHES),
        "{:?}",
        codec::patch_count(&raw)
    );
    assert_eq!(
        reader
            .get(&usdjpy, Timeframe::M1, all_time())
            .await
            .unwrap(),
        expected
    );

    // The minute closes and the next opens two minutes on: the oldest bars leave the
    // retention, so the write rewrites the value whole (trimmed), without patches.
    clock.set(noon() + Span::minutes(2));
    let closed = expected.last_n(1).with_forming(false);
    let next =
        frame("USDJPY", Timeframe::M1, noon() + Span::minutes(2), 1, 150.9).with_forming(true);
    let write = closed.merge(&next).unwrap();
    writer.save(&write).await.unwrap();
    expected = expected.merge(&write).unwrap();
    let raw: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(codec::patch_count(&raw), Some(0));
    let read = reader
        .get(&usdjpy, Timeframe::M1, all_time())
        .await
        .unwrap();
    assert_eq!(read.last_n(3), expected.last_n(3));
    assert!(read.len() < expected.len(), "trimmed to the retention");
}
