//! The [`OhlcvStore`] contract.
//!
//! An adapter's test module instantiates the whole suite with [`ohlcv_store_contract!`]:
//!
//! ```text
//! axia_testkit::ohlcv_store_contract!(memory, || async {
//!     axia_testkit::ohlcv_store::Subject::new(Arc::new(MemoryStore::new()), fixed_now())
//! });
//! ```
//!
//! Every check writes bars that opened within the 12 hours before the subject's `now`, so stores
//! with a 24 h retention (the hot tier) take part too. Each call of the factory must give a
//! store with nothing in it (a fresh namespace, bucket or directory).

use std::sync::Arc;

use axia_domain::{Bar, OhlcvFrame, OhlcvStore, Symbol, TimeRange, Timeframe};
use chrono::{DateTime, Duration, Utc};

/// A store under test and the time its clock shows.
pub struct Subject {
    /// The store.
    pub store: Arc<dyn OhlcvStore>,
    /// Its clock's now.
    pub now: DateTime<Utc>,
}

impl Subject {
    /// A subject.
    pub fn new(store: Arc<dyn OhlcvStore>, now: DateTime<Utc>) -> Self {
        Self { store, now }
    }
}

fn sym(s: &str) -> Symbol {
    s.parse().unwrap()
}

/// `n` bars of `tf` whose first opens at `start` (floored), with prices from `base`.
fn bars(symbol: &str, tf: Timeframe, start: DateTime<Utc>, n: usize, base: f64) -> OhlcvFrame {
    let mut t = tf.floor(start);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let p = base + i as f64 * 0.0137;
        out.push(Bar::new(t, p, p + 0.031, p - 0.017, p + 0.0071, 10.0 + i as f64).unwrap());
        t = tf.next_open(t);
    }
    OhlcvFrame::from_bars(sym(symbol), tf, out).unwrap()
}

fn everything(now: DateTime<Utc>) -> TimeRange {
    TimeRange::new(now - Duration::days(30), now + Duration::days(30)).unwrap()
}

/// An absent series is an empty frame, not an error.
pub async fn absent_series_is_empty(s: Subject) {
    let got = s
        .store
        .get(&sym("USDJPY"), Timeframe::M1, everything(s.now))
        .await
        .unwrap();
    assert!(got.is_empty());
    assert_eq!(got.symbol(), &sym("USDJPY"));
    assert_eq!(got.timeframe(), Timeframe::M1);
}

/// What is saved comes back bit-exact.
pub async fn round_trip_is_exact(s: Subject) {
    let f = bars(
        "EURUSD",
        Timeframe::M1,
        s.now - Duration::hours(6),
        300,
        1.0831,
    );
    s.store.save(&f).await.unwrap();
    assert_eq!(
        s.store
            .get(&sym("EURUSD"), Timeframe::M1, everything(s.now))
            .await
            .unwrap(),
        f
    );
}

/// `get` returns exactly the bars whose open time is in `[start, end)`.
pub async fn get_is_half_open_on_open_time(s: Subject) {
    let f = bars(
        "USDJPY",
        Timeframe::M5,
        s.now - Duration::hours(10),
        100,
        150.0,
    );
    s.store.save(&f).await.unwrap();
    let t = |i: usize| f.get(i).unwrap().time();
    for (a, b) in [(10, 20), (0, 1), (99, 100), (5, 5)] {
        let range = TimeRange::new(
            t(a),
            if b < 100 {
                t(b)
            } else {
                t(99) + Duration::minutes(5)
            },
        )
        .unwrap();
        let got = s
            .store
            .get(&sym("USDJPY"), Timeframe::M5, range)
            .await
            .unwrap();
        assert_eq!(got, f.slice(range), "[{a}, {b})");
        assert_eq!(got.len(), b - a);
    }
    // Unaligned bounds: a bar counts by its open time only.
    let range = TimeRange::new(t(10) + Duration::minutes(1), t(12) + Duration::minutes(1)).unwrap();
    let got = s
        .store
        .get(&sym("USDJPY"), Timeframe::M5, range)
        .await
        .unwrap();
    assert_eq!(got.first_time(), Some(t(11)));
    assert_eq!(got.len(), 2);
}

/// A save merges into what is stored, and the incoming bars win.
pub async fn save_merges_and_incoming_wins(s: Subject) {
    let a = bars(
        "GBPUSD",
        Timeframe::M15,
        s.now - Duration::hours(10),
        24,
        1.27,
    );
    let b = bars(
        "GBPUSD",
        Timeframe::M15,
        s.now - Duration::hours(6),
        16,
        1.29,
    );
    s.store.save(&a).await.unwrap();
    s.store.save(&b).await.unwrap();
    let got = s
        .store
        .get(&sym("GBPUSD"), Timeframe::M15, everything(s.now))
        .await
        .unwrap();
    assert_eq!(got, a.merge(&b).unwrap());
    assert_eq!(got.len(), 16 + 16);
}

/// Saving the same frame twice leaves the same content.
pub async fn resave_is_idempotent(s: Subject) {
    let f = bars(
        "EURJPY",
        Timeframe::H1,
        s.now - Duration::hours(11),
        10,
        162.0,
    );
    s.store.save(&f).await.unwrap();
    let once = s
        .store
        .get(&sym("EURJPY"), Timeframe::H1, everything(s.now))
        .await
        .unwrap();
    s.store.save(&f).await.unwrap();
    let twice = s
        .store
        .get(&sym("EURJPY"), Timeframe::H1, everything(s.now))
        .await
        .unwrap();
    assert_eq!(once, twice);
    assert_eq!(twice, f);
}

/// Series of other symbols or timeframes do not mix.
pub async fn series_are_isolated(s: Subject) {
    let a = bars(
        "USDJPY",
        Timeframe::M1,
        s.now - Duration::hours(2),
        30,
        150.0,
    );
    let b = bars(
        "USDJPY",
        Timeframe::M5,
        s.now - Duration::hours(2),
        12,
        151.0,
    );
    let c = bars("EURUSD", Timeframe::M1, s.now - Duration::hours(2), 7, 1.08);
    for f in [&a, &b, &c] {
        s.store.save(f).await.unwrap();
    }
    let all = everything(s.now);
    assert_eq!(
        s.store
            .get(&sym("USDJPY"), Timeframe::M1, all)
            .await
            .unwrap(),
        a
    );
    assert_eq!(
        s.store
            .get(&sym("USDJPY"), Timeframe::M5, all)
            .await
            .unwrap(),
        b
    );
    assert_eq!(
        s.store
            .get(&sym("EURUSD"), Timeframe::M1, all)
            .await
            .unwrap(),
        c
    );
}

/// Concurrent saves of disjoint bars into one series all survive.
pub async fn concurrent_disjoint_saves_all_survive(s: Subject) {
    let whole = bars(
        "AUDUSD",
        Timeframe::M1,
        s.now - Duration::hours(8),
        240,
        0.66,
    );
    let writers = 6;
    let tasks: Vec<_> = (0..writers)
        .map(|w| {
            let store = Arc::clone(&s.store);
            let mine: Vec<Bar> = whole.iter().skip(w).step_by(writers).collect();
            tokio::spawn(async move {
                for chunk in mine.chunks(8) {
                    let f = OhlcvFrame::from_bars(sym("AUDUSD"), Timeframe::M1, chunk.to_vec())
                        .unwrap();
                    store.save(&f).await.unwrap();
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        s.store
            .get(&sym("AUDUSD"), Timeframe::M1, everything(s.now))
            .await
            .unwrap(),
        whole
    );
}

/// `info` lists every saved series with its bar span.
pub async fn info_lists_saved_series(s: Subject) {
    let a = bars(
        "USDJPY",
        Timeframe::H1,
        s.now - Duration::hours(5),
        5,
        150.0,
    );
    let b = bars(
        "EURUSD",
        Timeframe::M30,
        s.now - Duration::hours(3),
        6,
        1.08,
    );
    s.store.save(&a).await.unwrap();
    s.store.save(&b).await.unwrap();
    let info = s.store.info().await.unwrap();
    assert_eq!(info.datasets.len(), 2);
    for f in [&a, &b] {
        let d = info
            .datasets
            .iter()
            .find(|d| &d.symbol == f.symbol() && d.timeframe == f.timeframe())
            .unwrap();
        if let Some(n) = d.bars {
            assert_eq!(n, f.len());
        }
        if d.oldest.is_some() || d.newest.is_some() {
            assert_eq!((d.oldest, d.newest), (f.first_time(), f.last_time()));
        }
    }
}

/// Instantiates every check of the [`OhlcvStore`] contract as a `#[tokio::test]` in a module
/// named `$name`, each with a fresh subject from `$factory` (an `async` closure returning a
/// [`Subject`]).
#[macro_export]
macro_rules! ohlcv_store_contract {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::ohlcv_store_contract!(@checks $factory;
                absent_series_is_empty,
                round_trip_is_exact,
                get_is_half_open_on_open_time,
                save_merges_and_incoming_wins,
                resave_is_idempotent,
                series_are_isolated,
                concurrent_disjoint_saves_all_survive,
                info_lists_saved_series,
            );
        }
    };
    (@checks $factory:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let subject = ($factory)().await;
                $crate::ohlcv_store::$check(subject).await;
            }
        )*
    };
}
