//! The [`BarUpdates`] contract: what every source of a hot tier's updates promises its
//! followers.
//!
//! An adapter's test module instantiates the whole suite with [`bar_updates_contract!`]; the
//! factory gives a [`Subject`] whose `store` publishes to `updates` (the same hot tier), with
//! nothing in it (a fresh namespace). Every check writes bars within the 12 hours before the
//! subject's `now`.

use std::sync::Arc;
use std::time::Duration;

use axia_domain::{
    Bar, BarUpdate, BarUpdates, OhlcvFrame, OhlcvStore, Symbol, Timeframe, UpdateStream,
};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

/// A hot tier under test: its store, its updates, the time its clock shows.
pub struct Subject {
    /// Where the checks write.
    pub store: Arc<dyn OhlcvStore>,
    /// What announces the writes.
    pub updates: Arc<dyn BarUpdates>,
    /// Its clock's now.
    pub now: DateTime<Utc>,
}

impl Subject {
    /// A subject.
    pub fn new(
        store: Arc<dyn OhlcvStore>,
        updates: Arc<dyn BarUpdates>,
        now: DateTime<Utc>,
    ) -> Self {
        Self {
            store,
            updates,
            now,
        }
    }
}

/// How long an update may take to arrive.
const WITHIN: Duration = Duration::from_secs(5);

/// The next update of `stream`, or a panic naming what was awaited.
async fn next_within(stream: &mut UpdateStream, within: Duration, what: &str) -> BarUpdate {
    match tokio::time::timeout(within, stream.next()).await {
        Ok(Some(u)) => u,
        Ok(None) => panic!("the subscription ended while waiting for {what}"),
        Err(_) => panic!("no update within {within:?} for {what}"),
    }
}

fn sym(s: &str) -> Symbol {
    s.parse().unwrap()
}

/// `n` bars of `tf` ending with the one that opened `back` periods before `now`'s bar.
fn bars(symbol: &str, tf: Timeframe, now: DateTime<Utc>, back: i32, n: usize) -> OhlcvFrame {
    let mut t = tf.floor(now);
    for _ in 0..(back as usize + n - 1) {
        t = tf.prev_open(t);
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let p = 1.1 + i as f64 * 0.0013;
        out.push(Bar::new(t, p, p + 0.0031, p - 0.0017, p + 0.0007, 10.0 + i as f64).unwrap());
        t = tf.next_open(t);
    }
    OhlcvFrame::from_bars(sym(symbol), tf, out).unwrap()
}

fn same_bars(tail: &OhlcvFrame, expected: &OhlcvFrame) -> bool {
    tail.len() == expected.len()
        && tail
            .iter()
            .zip(expected.iter())
            .all(|(a, b)| a.time_millis() == b.time_millis() && a.close() == b.close())
}

/// A write of closed bars is announced: its series, its newest bar's open, nothing forming,
/// and (when the source carries tails) the bars as written.
pub async fn a_write_is_announced(s: Subject) {
    let mut feed = s.updates.subscribe().await.unwrap();
    let frame = bars("EURUSD", Timeframe::M1, s.now, 5, 3);
    s.store.save(&frame).await.unwrap();
    let u = next_within(&mut feed, WITHIN, "a write of three closed bars").await;
    assert_eq!(u.symbol, sym("EURUSD"));
    assert_eq!(u.timeframe, Timeframe::M1);
    assert_eq!(Some(u.newest_open), frame.last().map(|b| b.time()));
    assert_eq!(u.forming_open, None, "{u:?}");
    if let Some(tail) = &u.tail {
        assert!(same_bars(tail, &frame), "{tail:?}");
        assert!(tail.forming().is_none());
    }
}

/// A forming bar is announced as forming, and the tail's newest bar says so too.
pub async fn a_forming_bar_is_labelled(s: Subject) {
    let mut feed = s.updates.subscribe().await.unwrap();
    let frame = bars("USDJPY", Timeframe::M5, s.now, 0, 2).with_forming_at(s.now);
    assert!(frame.forming().is_some());
    s.store.save(&frame).await.unwrap();
    let u = next_within(&mut feed, WITHIN, "a write with a forming bar").await;
    let newest = frame.last().map(|b| b.time());
    assert_eq!(Some(u.newest_open), newest);
    assert_eq!(u.forming_open, newest, "{u:?}");
    if let Some(tail) = &u.tail {
        assert!(tail.forming().is_some(), "{tail:?}");
        assert!(same_bars(tail, &frame));
    }
}

/// The updates of one subscription arrive in the order of the writes, one per write.
pub async fn updates_arrive_in_order(s: Subject) {
    let mut feed = s.updates.subscribe().await.unwrap();
    let all = bars("GBPUSD", Timeframe::M1, s.now, 2, 6);
    for bar in all.iter() {
        let one = OhlcvFrame::from_bars(sym("GBPUSD"), Timeframe::M1, vec![bar]).unwrap();
        s.store.save(&one).await.unwrap();
    }
    let mut seen = Vec::new();
    for i in 0..all.len() {
        let u: BarUpdate = next_within(&mut feed, WITHIN, &format!("write {i}")).await;
        seen.push(u.newest_open);
    }
    let written: Vec<_> = all.iter().map(|b| b.time()).collect();
    assert_eq!(seen, written);
}

/// Every subscription sees every update, and a series' updates name that series only.
pub async fn every_subscriber_sees_every_series(s: Subject) {
    let mut a = s.updates.subscribe().await.unwrap();
    let mut b = s.updates.subscribe().await.unwrap();
    let x = bars("AUDUSD", Timeframe::H1, s.now, 1, 2);
    let y = bars("AAPL", Timeframe::M15, s.now, 1, 2);
    s.store.save(&x).await.unwrap();
    s.store.save(&y).await.unwrap();
    for feed in [&mut a, &mut b] {
        let first = next_within(feed, WITHIN, "the first series").await;
        let second = next_within(feed, WITHIN, "the second series").await;
        assert_eq!(
            (first.symbol, first.timeframe),
            (sym("AUDUSD"), Timeframe::H1)
        );
        assert_eq!(
            (second.symbol, second.timeframe),
            (sym("AAPL"), Timeframe::M15)
        );
    }
}

/// The source answers a ping.
pub async fn ping_answers(s: Subject) {
    let took = s.updates.ping().await.unwrap();
    assert!(took < WITHIN, "{took:?}");
}

/// Instantiates every check of the [`BarUpdates`] contract as a `#[tokio::test]` in a module
/// named `$name`, each with a fresh subject from `$factory` (an `async` closure returning a
/// [`Subject`]).
#[macro_export]
macro_rules! bar_updates_contract {
    ($name:ident, $factory:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            $crate::bar_updates_contract!(@checks $factory;
                a_write_is_announced,
                a_forming_bar_is_labelled,
                updates_arrive_in_order,
                every_subscriber_sees_every_series,
                ping_answers,
            );
        }
    };
    (@checks $factory:expr; $($check:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $check() {
                let subject = ($factory)().await;
                $crate::bar_updates::$check(subject).await;
            }
        )*
    };
}
