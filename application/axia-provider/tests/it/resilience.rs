//! Errors, timeouts, the breaker, write-through, single-flight, stats.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axia_domain::{
    MarketDataError, MockMarketData, MockOhlcvStore, OhlcvFrame, StoreError, Timeframe, UseCase,
};
use axia_provider::{
    ErrorKind, OhlcvDataProvider, OhlcvRequest, Outcome, ProviderError, Role, Window,
};
use mockall::Sequence;

use crate::support::*;

fn req(use_case: UseCase, window: Window) -> OhlcvRequest {
    OhlcvRequest::new(sym(), Timeframe::H1, window, use_case)
}

#[tokio::test]
async fn an_error_falls_back_to_the_next_source() {
    let mut broker = MockMarketData::new();
    broker
        .expect_bars()
        .times(1)
        .returning(|_, _, _| Err(MarketDataError::Unavailable("refused".into())));
    let mut hot = MockOhlcvStore::new();
    hot.expect_get()
        .times(1)
        .returning(|_, _, r| Ok(full(r, 150.0)));
    let p = OhlcvDataProvider::builder()
        .clock(clock())
        .broker(Arc::new(broker))
        .hot_cache(Arc::new(hot))
        .build();
    let r = p
        .get(req(UseCase::Trading, Window::last_hours(6)))
        .await
        .unwrap();
    assert_eq!(
        r.meta.attempts[0].outcome,
        Outcome::Error(ErrorKind::Unavailable)
    );
    assert_eq!(r.meta.served_by, Some(Role::HotCache));
    assert!(r.meta.complete);
}

#[tokio::test(start_paused = true)]
async fn a_slow_source_times_out_and_the_next_answers() {
    let slow = Arc::new(SlowSource {
        delay: Duration::from_secs(60),
        calls: Default::default(),
        price: 150.0,
    });
    let mut hot = MockOhlcvStore::new();
    hot.expect_get()
        .times(1)
        .returning(|_, _, r| Ok(full(r, 150.0)));
    let p = OhlcvDataProvider::builder()
        .clock(clock())
        .broker(slow.clone())
        .hot_cache(Arc::new(hot))
        .timeout(Role::Broker, Duration::from_millis(250))
        .build();
    let r = p
        .get(req(UseCase::Trading, Window::last_hours(6)))
        .await
        .unwrap();
    assert_eq!(r.meta.attempts[0].outcome, Outcome::Timeout);
    assert_eq!(r.meta.attempts[0].latency_ms, 250.0);
    assert_eq!(r.meta.served_by, Some(Role::HotCache));
    assert_eq!(p.stats().sources[&Role::Broker].timeouts, 1);
}

#[tokio::test]
async fn every_source_failing_is_an_error_and_no_source_is_another() {
    let mut broker = MockMarketData::new();
    broker
        .expect_bars()
        .times(1)
        .returning(|_, _, _| Err(MarketDataError::RateLimited { retry_after: None }));
    let mut yahoo = MockMarketData::new();
    yahoo
        .expect_bars()
        .times(1)
        .returning(|_, _, _| Err(MarketDataError::Unavailable("down".into())));
    let p = OhlcvDataProvider::builder()
        .clock(clock())
        .broker(Arc::new(broker))
        .fallback(Arc::new(yahoo))
        .build();
    let err = p
        .get(req(UseCase::Trading, Window::last_days(2)))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ProviderError::AllFailed { attempts, .. } if attempts.len() == 2),
        "{err:?}"
    );
    // A sentence a person reads: the series, each source and what it did; no debug output.
    let text = err.to_string();
    assert!(
        text.starts_with("no source could give the bars of "),
        "{text}"
    );
    assert!(
        text.contains("the broker ") && text.contains("the fallback "),
        "{text}"
    );
    assert!(!text.contains("Error(") && !text.contains('='), "{text}");
    let only_cold = OhlcvDataProvider::builder()
        .clock(clock())
        .cold_archive(Arc::new(MockOhlcvStore::new()))
        .build();
    assert!(matches!(
        only_cold
            .get(req(UseCase::Trading, Window::last_hours(1)))
            .await,
        Err(ProviderError::NoSource { .. })
    ));
}

#[tokio::test]
async fn absent_tiers_are_skipped() {
    // Only Redis and Yahoo: trading asks the hot cache, then Yahoo.
    let mut seq = Sequence::new();
    let mut hot = MockOhlcvStore::new();
    hot.expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|s, tf, _| Ok(OhlcvFrame::empty(s.clone(), tf)));
    let mut yahoo = MockMarketData::new();
    yahoo
        .expect_bars()
        .times(1)
        .in_sequence(&mut seq)
        .returning(|_, _, r| Ok(fetched(full(r, 150.0))));
    let p = OhlcvDataProvider::builder()
        .clock(clock())
        .hot_cache(Arc::new(hot))
        .fallback(Arc::new(yahoo))
        .without_write_through()
        .build();
    let r = p
        .get(req(UseCase::Trading, Window::last_hours(3)))
        .await
        .unwrap();
    let order: Vec<_> = r.meta.attempts.iter().map(|a| a.source).collect();
    assert_eq!(order, [Role::HotCache, Role::Fallback]);
    assert_eq!(r.meta.served_by, Some(Role::Fallback));
}

#[tokio::test]
async fn the_breaker_skips_a_failing_source_for_its_cool_down() {
    let clock = clock();
    let mut broker = MockMarketData::new();
    broker
        .expect_bars()
        .times(3)
        .returning(|_, _, _| Err(MarketDataError::Unavailable("down".into())));
    let mut hot = MockOhlcvStore::new();
    hot.expect_get().returning(|_, _, r| Ok(full(r, 150.0)));
    let p = OhlcvDataProvider::builder()
        .clock(clock.clone())
        .broker(Arc::new(broker))
        .hot_cache(Arc::new(hot))
        .circuit_breaker(2, Duration::from_secs(30))
        .build();
    let outcome = |r: axia_provider::OhlcvResponse| r.meta.attempts[0].outcome.clone();
    for _ in 0..2 {
        assert_eq!(
            outcome(
                p.get(req(UseCase::Trading, Window::last_hours(6)))
                    .await
                    .unwrap()
            ),
            Outcome::Error(ErrorKind::Unavailable)
        );
    }
    // Open: the broker is not called.
    assert_eq!(
        outcome(
            p.get(req(UseCase::Trading, Window::last_hours(5)))
                .await
                .unwrap()
        ),
        Outcome::CircuitOpen
    );
    assert_eq!(p.stats().sources[&Role::Broker].skipped, 1);
    // After the cool-down it is tried again (the mock's third call).
    clock.advance(chrono::Duration::seconds(31));
    assert_eq!(
        outcome(
            p.get(req(UseCase::Trading, Window::last_hours(4)))
                .await
                .unwrap()
        ),
        Outcome::Error(ErrorKind::Unavailable)
    );
}

#[tokio::test]
async fn bars_from_the_broker_for_the_last_24_h_are_written_to_the_hot_cache() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut broker = MockMarketData::new();
    broker
        .expect_bars()
        .times(1)
        .returning(|_, _, r| Ok(fetched(full(r, 150.0))));
    let mut hot = MockOhlcvStore::new();
    hot.expect_get().never();
    hot.expect_save().times(1).returning(move |f| {
        tx.send(f.clone()).unwrap();
        // A failing hot cache does not fail the request.
        Err(StoreError::Unavailable("redis down".into()))
    });
    let p = OhlcvDataProvider::builder()
        .clock(clock())
        .broker(Arc::new(broker))
        .hot_cache(Arc::new(hot))
        .build();
    // A 3-day window: only the last 24 h go to the hot cache.
    let r = p
        .get(req(UseCase::Trading, Window::last_days(3)))
        .await
        .unwrap();
    assert!(r.meta.complete);
    let written = tokio::time::timeout(Duration::from_secs(5), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(written.len(), 25);
    assert!(written.first_time().unwrap() >= now() - chrono::Duration::hours(24));
    assert_eq!(r.frame.len(), 73);
}

#[tokio::test]
async fn concurrent_identical_requests_share_one_fetch() {
    let slow = Arc::new(SlowSource {
        delay: Duration::from_millis(200),
        calls: Default::default(),
        price: 150.0,
    });
    let p = OhlcvDataProvider::builder()
        .clock(clock())
        .broker(slow.clone())
        .build();
    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let p = p.clone();
            tokio::spawn(async move {
                p.get(req(UseCase::Trading, Window::last_hours(8)))
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.unwrap());
    }
    assert_eq!(
        slow.calls.load(Ordering::SeqCst),
        1,
        "one backend fetch for 100 requests"
    );
    assert!(answers.iter().all(|a| a.frame == answers[0].frame));
    assert_eq!(answers.iter().filter(|a| a.meta.shared).count(), 99);
    let stats = p.stats();
    assert_eq!((stats.requests, stats.shared), (100, 99));
    // Afterwards a new request fetches again.
    p.get(req(UseCase::Trading, Window::last_hours(8)))
        .await
        .unwrap();
    assert_eq!(slow.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn stats_count_outcomes_and_the_cache_hit_rate() {
    let mut hot = MockOhlcvStore::new();
    let mut n = 0;
    hot.expect_get().times(4).returning(move |s, tf, r| {
        n += 1;
        Ok(if n <= 3 {
            full(r, 150.0)
        } else {
            OhlcvFrame::empty(s.clone(), tf)
        })
    });
    let mut broker = MockMarketData::new();
    broker
        .expect_bars()
        .times(1)
        .returning(|_, _, r| Ok(fetched(full(r, 150.0))));
    let p = OhlcvDataProvider::builder()
        .clock(clock())
        .hot_cache(Arc::new(hot))
        .broker(Arc::new(broker))
        .without_write_through()
        .build();
    for h in 1..=4 {
        p.get(req(UseCase::Chart, Window::last_hours(h)))
            .await
            .unwrap();
    }
    let s = p.stats();
    assert_eq!(s.sources[&Role::HotCache].hits, 3);
    assert_eq!(s.sources[&Role::HotCache].misses, 1);
    assert_eq!(s.sources[&Role::Broker].hits, 1);
    assert_eq!(s.cache_hit_rate(), Some(0.75));
    assert_eq!(s.sources[&Role::HotCache].latency.calls(), 4);
}
