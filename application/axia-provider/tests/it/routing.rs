//! Every cell of the priority table, with the exact call order.

use std::sync::Arc;

use axia_domain::{
    MarketDataError, MockMarketData, MockOhlcvStore, OhlcvFrame, Timeframe, UseCase,
};
use axia_provider::{OhlcvDataProvider, OhlcvRequest, Outcome, Source, Window};
use chrono::Duration;
use mockall::Sequence;
use mockall::predicate::{always, eq};

use crate::support::*;

/// Mocks of all four sources, each expected `times` calls (in `seq` when called), all missing.
struct Mocks {
    broker: MockMarketData,
    hot: MockOhlcvStore,
    cold: MockOhlcvStore,
    yahoo: MockMarketData,
}

impl Mocks {
    fn new() -> Self {
        Self {
            broker: MockMarketData::new(),
            hot: MockOhlcvStore::new(),
            cold: MockOhlcvStore::new(),
            yahoo: MockMarketData::new(),
        }
    }

    fn build(self) -> OhlcvDataProvider {
        OhlcvDataProvider::builder(clock())
            .broker(Arc::new(self.broker))
            .hot_cache(Arc::new(self.hot))
            .cold_archive(Arc::new(self.cold))
            .yahoo(Arc::new(self.yahoo))
            .write_through(false)
            .build()
    }
}

fn market_miss(m: &mut MockMarketData, seq: &mut Sequence) {
    m.expect_bars()
        .times(1)
        .in_sequence(seq)
        .with(eq(sym()), eq(Timeframe::H1), always())
        .returning(|_, _, r| Err(MarketDataError::NoData(r)));
}

fn store_miss(m: &mut MockOhlcvStore, seq: &mut Sequence) {
    m.expect_get()
        .times(1)
        .in_sequence(seq)
        .with(eq(sym()), eq(Timeframe::H1), always())
        .returning(|s, tf, _| Ok(OhlcvFrame::empty(s.clone(), tf)));
}

async fn run(p: &OhlcvDataProvider, use_case: UseCase, window: Window) -> Vec<Source> {
    let r = p
        .get(OhlcvRequest::new(sym(), Timeframe::H1, window, use_case))
        .await
        .unwrap();
    assert!(r.frame.is_empty() && !r.meta.complete);
    assert!(r.meta.attempts.iter().all(|a| a.outcome == Outcome::Miss));
    r.meta.attempts.iter().map(|a| a.source).collect()
}

#[tokio::test]
async fn trading_short_window_broker_then_hot_then_yahoo() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    market_miss(&mut m.broker, &mut seq);
    store_miss(&mut m.hot, &mut seq);
    market_miss(&mut m.yahoo, &mut seq);
    m.cold.expect_get().never();
    let order = run(&m.build(), UseCase::Trading, Window::last_hours(6)).await;
    assert_eq!(order, [Source::Broker, Source::HotCache, Source::Yahoo]);
}

#[tokio::test]
async fn trading_long_window_broker_then_yahoo() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    market_miss(&mut m.broker, &mut seq);
    market_miss(&mut m.yahoo, &mut seq);
    m.hot.expect_get().never();
    m.cold.expect_get().never();
    let order = run(&m.build(), UseCase::Trading, Window::last_days(3)).await;
    assert_eq!(order, [Source::Broker, Source::Yahoo]);
}

#[tokio::test]
async fn chart_short_window_hot_then_broker_then_yahoo() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    store_miss(&mut m.hot, &mut seq);
    market_miss(&mut m.broker, &mut seq);
    market_miss(&mut m.yahoo, &mut seq);
    m.cold.expect_get().never();
    let order = run(&m.build(), UseCase::Chart, Window::last_hours(24)).await;
    assert_eq!(order, [Source::HotCache, Source::Broker, Source::Yahoo]);
}

#[tokio::test]
async fn chart_long_window_cold_with_hot_then_yahoo() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    store_miss(&mut m.cold, &mut seq);
    // The hot cache is asked for the last 24 h only.
    m.hot
        .expect_get()
        .times(1)
        .in_sequence(&mut seq)
        .withf(|_, _, r| {
            r.duration() <= Duration::hours(24) + Duration::milliseconds(1) && r.end() > now()
        })
        .returning(|s, tf, _| Ok(OhlcvFrame::empty(s.clone(), tf)));
    market_miss(&mut m.yahoo, &mut seq);
    m.broker.expect_bars().never();
    let order = run(&m.build(), UseCase::Chart, Window::last_days(30)).await;
    assert_eq!(
        order,
        [Source::ColdArchive, Source::HotCache, Source::Yahoo]
    );
}

#[tokio::test]
async fn analysis_short_window_hot_then_cold() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    store_miss(&mut m.hot, &mut seq);
    store_miss(&mut m.cold, &mut seq);
    m.broker.expect_bars().never();
    m.yahoo.expect_bars().never();
    let order = run(&m.build(), UseCase::Analysis, Window::last_hours(12)).await;
    assert_eq!(order, [Source::HotCache, Source::ColdArchive]);
}

#[tokio::test]
async fn analysis_long_window_cold_then_yahoo() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    store_miss(&mut m.cold, &mut seq);
    market_miss(&mut m.yahoo, &mut seq);
    m.broker.expect_bars().never();
    m.hot.expect_get().never();
    let order = run(&m.build(), UseCase::Analysis, Window::last_days(90)).await;
    assert_eq!(order, [Source::ColdArchive, Source::Yahoo]);
}

#[tokio::test]
async fn a_complete_answer_stops_the_chain() {
    let mut m = Mocks::new();
    m.hot
        .expect_get()
        .times(1)
        .returning(|_, _, r| Ok(full(r, 150.0)));
    m.broker.expect_bars().never();
    m.yahoo.expect_bars().never();
    m.cold.expect_get().never();
    let r = m
        .build()
        .get(OhlcvRequest::new(
            sym(),
            Timeframe::H1,
            Window::last_hours(24),
            UseCase::Chart,
        ))
        .await
        .unwrap();
    assert!(r.meta.complete);
    assert_eq!(r.meta.served_by, Some(Source::HotCache));
    assert_eq!(r.meta.attempts.len(), 1);
    assert_eq!(r.meta.attempts[0].outcome, Outcome::Hit);
    assert_eq!(r.meta.bars, 25, "24 closed hours and the forming one");
}

#[tokio::test]
async fn partial_answers_combine_and_earlier_sources_win() {
    let mut m = Mocks::new();
    // The hot cache has all but the last 3 hours; the broker has only the last 5, at another
    // price: the combined answer is complete, with the hot cache's bars where both have one.
    m.hot.expect_get().times(1).returning(|_, _, r| {
        Ok(full(r, 150.0)
            .keep_since(now() - Duration::hours(100))
            .slice(axia_domain::TimeRange::new(r.start(), now() - Duration::hours(2)).unwrap()))
    });
    m.broker.expect_bars().times(1).returning(|_, _, r| {
        Ok(fetched(
            full(r, 151.0).keep_since(now() - Duration::hours(4)),
        ))
    });
    m.yahoo.expect_bars().never();
    let r = m
        .build()
        .get(OhlcvRequest::new(
            sym(),
            Timeframe::H1,
            Window::last_hours(24),
            UseCase::Chart,
        ))
        .await
        .unwrap();
    assert!(r.meta.complete, "{:?}", r.meta.completeness);
    let outcomes: Vec<_> = r
        .meta
        .attempts
        .iter()
        .map(|a| (a.source, a.outcome.clone()))
        .collect();
    assert_eq!(
        outcomes,
        [
            (Source::HotCache, Outcome::Partial),
            (Source::Broker, Outcome::Partial)
        ]
    );
    assert_eq!(r.meta.served_by, Some(Source::HotCache));
    let at = |h| {
        r.frame
            .iter()
            .find(|b| b.time() == now() - Duration::hours(h))
            .unwrap()
            .open()
    };
    assert_eq!(
        at(3),
        150.0,
        "the earlier source wins where both have a bar"
    );
    assert_eq!(at(1), 151.0, "the later source fills the gap");
}

#[tokio::test]
async fn an_incomplete_chain_says_so_and_keeps_every_bar_found() {
    let mut m = Mocks::new();
    m.broker
        .expect_bars()
        .times(1)
        .returning(|_, _, r| Ok(fetched(full(r, 150.0).last_n(3))));
    m.hot
        .expect_get()
        .times(1)
        .returning(|s, tf, _| Ok(OhlcvFrame::empty(s.clone(), tf)));
    m.yahoo
        .expect_bars()
        .times(1)
        .returning(|_, _, r| Ok(fetched(full(r, 150.0).last_n(5))));
    let r = m
        .build()
        .get(OhlcvRequest::new(
            sym(),
            Timeframe::H1,
            Window::last_hours(10),
            UseCase::Trading,
        ))
        .await
        .unwrap();
    assert!(!r.meta.complete);
    assert_eq!(r.frame.len(), 5);
    assert_eq!(r.meta.completeness.present, 5);
    assert_eq!(r.meta.completeness.expected, 11);
    assert_eq!(r.meta.completeness.gaps.len(), 1);
}
