//! Leases on instruments with fencing tokens, and writes fenced by them.

use std::time::Duration;

use axia_domain::{
    Fence, Fences, InstrumentOwnership, OhlcvStore, StoreError, TimeRange, Timeframe,
};
use axia_redis::RedisCacheConfig;
use chrono::Duration as Span;

use crate::support::*;

const LONG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn one_holder_at_a_time_and_every_acquisition_a_larger_token() {
    let cache = cache(clock());
    let usdjpy = sym("USDJPY");
    let first = cache.acquire(&usdjpy, "a", LONG).await.unwrap().unwrap();
    assert_eq!(cache.acquire(&usdjpy, "b", LONG).await.unwrap(), None);
    assert_eq!(cache.holder(&usdjpy).await.unwrap().as_deref(), Some("a"));
    assert!(cache.renew(&usdjpy, "a", LONG).await.unwrap());
    assert!(
        !cache.renew(&usdjpy, "b", LONG).await.unwrap(),
        "only the holder renews"
    );
    cache.release(&usdjpy, "b").await.unwrap();
    assert_eq!(
        cache.holder(&usdjpy).await.unwrap().as_deref(),
        Some("a"),
        "only the holder releases"
    );
    cache.release(&usdjpy, "a").await.unwrap();
    let second = cache.acquire(&usdjpy, "b", LONG).await.unwrap().unwrap();
    assert!(second > first, "{second:?} after {first:?}");
    // Another instrument counts on its own.
    assert_eq!(
        cache.acquire(&sym("EURUSD"), "a", LONG).await.unwrap(),
        Some(Fence(1))
    );
    // A lease nobody renews lapses, and the next holder's token is larger still.
    let gbp = sym("GBPUSD");
    let short = cache
        .acquire(&gbp, "a", Duration::from_millis(150))
        .await
        .unwrap()
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!cache.renew(&gbp, "a", LONG).await.unwrap(), "lapsed");
    let next = cache.acquire(&gbp, "b", LONG).await.unwrap().unwrap();
    assert!(next > short);
}

#[tokio::test]
async fn members_are_counted_while_their_heartbeat_lasts() {
    let cache = cache(clock());
    assert_eq!(
        cache
            .heartbeat("a", Duration::from_millis(300))
            .await
            .unwrap(),
        1
    );
    assert_eq!(cache.heartbeat("b", LONG).await.unwrap(), 2);
    assert_eq!(
        cache.heartbeat("b", LONG).await.unwrap(),
        2,
        "a member counts once"
    );
    tokio::time::sleep(Duration::from_millis(450)).await;
    assert_eq!(
        cache.heartbeat("b", LONG).await.unwrap(),
        1,
        "a stopped beating"
    );
}

#[tokio::test]
async fn the_store_refuses_a_write_with_an_older_token() {
    let ns = namespace();
    let config = || RedisCacheConfig::new(redis_url()).namespace(ns.clone());
    let clock = clock();
    let (fa, fb) = (Fences::new(), Fences::new());
    let a = cache_with(config(), clock.clone()).fenced(fa.clone());
    let b = cache_with(config(), clock.clone()).fenced(fb.clone());
    let usdjpy = sym("USDJPY");
    let day = frame(
        "USDJPY",
        Timeframe::M1,
        noon() - Span::minutes(59),
        60,
        150.0,
    )
    .with_forming(true);
    // Without a token for the instrument, a fenced handle writes nothing.
    let e = a.save(&day).await.unwrap_err();
    assert!(matches!(e, StoreError::Fenced(_)), "{e:?}");
    fa.set(usdjpy.clone(), Fence(1));
    a.save(&day).await.unwrap();
    // The next holder writes under a larger token; its first write raises the series' fence,
    // even one that changes no bar (the very bytes stay).
    fb.set(usdjpy.clone(), Fence(2));
    b.save(&day).await.unwrap();
    // The old holder's next write of the newest bar (a patch, the value as it left it) and a
    // whole write are both refused, and change nothing.
    let moved = frame("USDJPY", Timeframe::M1, noon(), 1, 150.5).with_forming(true);
    let e = a.save(&moved).await.unwrap_err();
    assert!(matches!(e, StoreError::Fenced(_)), "patch: {e:?}");
    let older = frame("USDJPY", Timeframe::M1, noon() - Span::hours(2), 3, 149.0);
    let e = a.save(&older).await.unwrap_err();
    assert!(matches!(e, StoreError::Fenced(_)), "whole: {e:?}");
    let all = TimeRange::new(noon() - Span::days(2), noon() + Span::days(1)).unwrap();
    assert_eq!(b.get(&usdjpy, Timeframe::M1, all).await.unwrap(), day);
    // The holder goes on writing; an unfenced handle (the collector) is not fenced.
    b.save(&moved).await.unwrap();
    cache_with(config(), clock.clone())
        .save(&older)
        .await
        .unwrap();
    let stored = b.get(&usdjpy, Timeframe::M1, all).await.unwrap();
    assert_eq!(stored, day.merge(&moved).unwrap().merge(&older).unwrap());
    // Other series of the instrument have fences of their own, raised by their first write.
    let h1 = frame("USDJPY", Timeframe::H1, noon() - Span::hours(3), 3, 150.0);
    a.save(&h1).await.unwrap();
    b.save(&h1).await.unwrap();
    assert!(matches!(a.save(&h1).await, Err(StoreError::Fenced(_))));
}
