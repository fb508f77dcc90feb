//! Every cell of the priority table, with the exact call order.

use std::sync::Arc;

use axia_domain::{
    ManualClock, MarketDataError, MockMarketData, MockOhlcvStore, OhlcvFrame, TimeRange, Timeframe,
    UseCase,
};
use axia_provider::{OhlcvDataProvider, OhlcvRequest, Outcome, Role, Window};
use chrono::{Duration, TimeZone, Utc};
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
        self.build_at(now())
    }

    fn build_at(self, now: chrono::DateTime<Utc>) -> OhlcvDataProvider {
        OhlcvDataProvider::builder()
            .clock(Arc::new(ManualClock::new(now)))
            .broker(Arc::new(self.broker))
            .hot_cache(Arc::new(self.hot))
            .cold_archive(Arc::new(self.cold))
            .fallback(Arc::new(self.yahoo))
            .without_write_through()
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

async fn run(p: &OhlcvDataProvider, use_case: UseCase, window: Window) -> Vec<Role> {
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
    assert_eq!(order, [Role::Broker, Role::HotCache, Role::Fallback]);
}

#[tokio::test]
async fn trading_long_window_broker_then_yahoo() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    market_miss(&mut m.broker, &mut seq);
    market_miss(&mut m.yahoo, &mut seq);
    m.hot.expect_get().never();
    m.cold.expect_get().never();
    let order = run(&m.build(), UseCase::Trading, Window::last_days(3)).await;
    assert_eq!(order, [Role::Broker, Role::Fallback]);
}

#[tokio::test]
async fn chart_short_window_hot_then_broker_then_yahoo() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    store_miss(&mut m.hot, &mut seq);
    market_miss(&mut m.broker, &mut seq);
    market_miss(&mut m.yahoo, &mut seq);
    m.cold.expect_get().never();
    let order = run(&m.build(), UseCase::Chart, Window::last_hours(24)).await;
    assert_eq!(order, [Role::HotCache, Role::Broker, Role::Fallback]);
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
    assert_eq!(order, [Role::ColdArchive, Role::HotCache, Role::Fallback]);
}

/// Six hours on Monday, two days ago: short, but out of the hot tier's reach, so the long plan.
#[tokio::test]
async fn a_short_window_further_back_than_24_hours_takes_the_long_plan() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    store_miss(&mut m.cold, &mut seq);
    market_miss(&mut m.yahoo, &mut seq);
    m.hot.expect_get().never();
    m.broker.expect_bars().never();
    let start = now() - Duration::days(2);
    let window = Window::Range(TimeRange::new(start, start + Duration::hours(6)).unwrap());
    let order = run(&m.build(), UseCase::Chart, window).await;
    assert_eq!(order, [Role::ColdArchive, Role::Fallback]);
}

/// Monday 05:40 UTC, the last 24 h (the server's `days=1`, its end inclusive): the FX week
/// opened on Sunday at 22:00 UTC, so no bar can be older than 8 hours: the hot tier's plan,
/// not the archive's. The same day window on a Wednesday is a day of trading: the long plan.
#[tokio::test]
async fn a_day_that_reaches_into_the_weekend_is_planned_by_what_can_exist_in_it() {
    let monday = Utc.with_ymd_and_hms(2026, 11, 16, 5, 40, 0).unwrap();
    let day = |now: chrono::DateTime<Utc>| {
        Window::Range(
            TimeRange::new(now - Duration::hours(24), now + Duration::milliseconds(1)).unwrap(),
        )
    };
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    store_miss(&mut m.hot, &mut seq);
    market_miss(&mut m.broker, &mut seq);
    market_miss(&mut m.yahoo, &mut seq);
    m.cold.expect_get().never();
    let order = run(&m.build_at(monday), UseCase::Chart, day(monday)).await;
    assert_eq!(order, [Role::HotCache, Role::Broker, Role::Fallback]);

    let wednesday = monday + Duration::days(2);
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    store_miss(&mut m.cold, &mut seq);
    store_miss(&mut m.hot, &mut seq);
    market_miss(&mut m.yahoo, &mut seq);
    m.broker.expect_bars().never();
    let order = run(&m.build_at(wednesday), UseCase::Chart, day(wednesday)).await;
    assert_eq!(order, [Role::ColdArchive, Role::HotCache, Role::Fallback]);
}

#[tokio::test]
async fn analysis_short_window_hot_then_cold() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    store_miss(&mut m.hot, &mut seq);
    store_miss(&mut m.cold, &mut seq);
    m.broker.expect_bars().never();
    m.yahoo.expect_bars().never();
    let order = run(&m.build(), UseCase::Analysis, Window::last_hours(12)).await;
    assert_eq!(order, [Role::HotCache, Role::ColdArchive]);
}

#[tokio::test]
async fn analysis_long_window_cold_then_yahoo() {
    let (mut m, mut seq) = (Mocks::new(), Sequence::new());
    store_miss(&mut m.cold, &mut seq);
    market_miss(&mut m.yahoo, &mut seq);
    m.broker.expect_bars().never();
    m.hot.expect_get().never();
    let order = run(&m.build(), UseCase::Analysis, Window::last_days(90)).await;
    assert_eq!(order, [Role::ColdArchive, Role::Fallback]);
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
    assert_eq!(r.meta.served_by, Some(Role::HotCache));
    assert_eq!(r.meta.attempts.len(), 1);
    assert_eq!(r.meta.attempts[0].outcome, Outcome::Hit);
    assert_eq!(r.meta.bars, 25, "24 closed hours and the forming one");
    // The measured latency is milliseconds to the microsecond, a clean decimal when printed.
    let printed = r.meta.attempts[0].latency_ms.to_string();
    let decimals = printed.split_once('.').map_or(0, |(_, f)| f.len());
    assert!(decimals <= 3, "latency printed as {printed}");
}

#[tokio::test]
async fn partial_answers_combine_and_earlier_sources_win() {
    let mut m = Mocks::new();
    // The hot cache lacks the bar of 10 hours ago and the last 2 hours; the broker, at another
    // price, is asked for the span of those gaps only, and overlaps the hot cache in between:
    // the combined answer is complete, with the hot cache's bars where both have one.
    m.hot.expect_get().times(1).returning(|_, _, r| {
        let hole =
            axia_domain::TimeRange::new(now() - Duration::hours(10), now() - Duration::hours(9))
                .unwrap();
        let bars: Vec<_> = full(r, 150.0)
            .iter()
            .filter(|b| !hole.contains(b.time()) && b.time() < now() - Duration::hours(2))
            .collect();
        Ok(OhlcvFrame::from_bars(sym(), Timeframe::H1, bars).unwrap())
    });
    m.broker
        .expect_bars()
        .times(1)
        .withf(|_, _, r| r.start() == now() - Duration::hours(10) && r.end() > now())
        .returning(|_, _, r| Ok(fetched(full(r, 151.0))));
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
            (Role::HotCache, Outcome::Partial),
            // It covered everything it was asked for.
            (Role::Broker, Outcome::Hit)
        ]
    );
    assert_eq!(r.meta.served_by, Some(Role::HotCache));
    let at = |h| {
        r.frame
            .iter()
            .find(|b| b.time() == now() - Duration::hours(h))
            .unwrap()
            .open()
    };
    assert_eq!(
        at(5),
        150.0,
        "the earlier source wins where both have a bar"
    );
    assert_eq!(at(10), 151.0, "the later source fills the hole");
    assert_eq!(at(1), 151.0, "and the missing end");
    assert_eq!(at(20), 150.0);
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
    // Yahoo is asked only for the span the broker left missing: up to the broker's first bar.
    m.yahoo
        .expect_bars()
        .times(1)
        .withf(|_, _, r| {
            r.end() == now() - Duration::hours(2) && r.duration() == Duration::hours(8)
        })
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
    assert_eq!(r.frame.len(), 8);
    assert_eq!(r.meta.completeness.present, 8);
    assert_eq!(r.meta.completeness.expected, 11);
    assert_eq!(r.meta.completeness.gaps.len(), 1);
}

#[tokio::test]
async fn analysis_answers_closed_bars_only() {
    // 12:00 exactly: the H1 bar opening now is forming.
    let mut m = Mocks::new();
    m.hot
        .expect_get()
        .times(1)
        .withf(|_, _, r| r.end() == now())
        .returning(|_, _, r| Ok(full(r, 150.0)));
    m.cold.expect_get().never();
    let r = m
        .build()
        .get(OhlcvRequest::new(
            sym(),
            Timeframe::H1,
            Window::last_hours(12),
            UseCase::Analysis,
        ))
        .await
        .unwrap();
    assert!(r.meta.complete, "{:?}", r.meta.completeness);
    assert_eq!((r.meta.forming, r.frame.forming()), (None, None));
    assert_eq!(r.frame.last_time(), Some(now() - Duration::hours(1)));
    // The same window for a chart includes the forming bar, labelled.
    let mut m = Mocks::new();
    m.hot
        .expect_get()
        .times(1)
        .returning(|_, _, r| Ok(full(r, 150.0).with_forming_at(now())));
    let r = m
        .build()
        .get(OhlcvRequest::new(
            sym(),
            Timeframe::H1,
            Window::last_hours(12),
            UseCase::Chart,
        ))
        .await
        .unwrap();
    assert_eq!(r.meta.forming, Some(now()));
}

/// A provider over `broker` whose archive must not be asked (the trading plan).
fn trading_over(broker: MockMarketData) -> OhlcvDataProvider {
    let mut cold = MockOhlcvStore::new();
    cold.expect_get().never();
    OhlcvDataProvider::builder()
        .clock(clock())
        .broker(Arc::new(broker))
        .cold_archive(Arc::new(cold))
        .without_write_through()
        .build()
}

/// The provider is a reference price for the order path: the trading plan's newest M1 close,
/// the broker first.
#[tokio::test]
async fn the_last_price_is_the_trading_plans_newest_close() {
    use axia_domain::ReferencePrice;
    let mut broker = MockMarketData::new();
    broker
        .expect_bars()
        .times(1)
        .with(eq(sym()), eq(Timeframe::M1), always())
        .returning(|s, tf, r| {
            let t = tf.floor(r.end() - Duration::milliseconds(1));
            let bar = axia_domain::Bar::new(t, 150.1, 150.2, 150.0, 150.123, 5.0).unwrap();
            Ok(fetched(
                OhlcvFrame::from_bars(s.clone(), tf, vec![bar]).unwrap(),
            ))
        });
    let p = trading_over(broker);
    let price = p.last_price(&sym()).await.unwrap().unwrap();
    assert_eq!(price.get(), rust_decimal::Decimal::new(150_123, 3));
}

/// A broker that refuses the credentials: the reference price says so (the order path tells a
/// refused token from a missing price), and nothing else is asked.
#[tokio::test]
async fn a_refused_credential_is_the_reference_prices_error() {
    use axia_domain::ReferencePrice;
    let mut broker = MockMarketData::new();
    broker
        .expect_bars()
        .times(1)
        .returning(|_, _, _| Err(MarketDataError::Unauthorized("token refused".into())));
    let p = trading_over(broker);
    let e = p.last_price(&sym()).await.unwrap_err();
    assert!(matches!(e, MarketDataError::Unauthorized(_)), "{e:?}");
}

/// A broker with a bar in every H1 slot in which the FX market is open.
struct OpenHours;

#[async_trait::async_trait]
impl axia_domain::MarketData for OpenHours {
    async fn bars(
        &self,
        symbol: &axia_domain::Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<axia_domain::FetchedBars, MarketDataError> {
        let calendar = axia_domain::default_calendar(symbol);
        let mut bars = Vec::new();
        let mut t = timeframe.ceil(range.start());
        while t < range.end() {
            if calendar.is_open_during(TimeRange::new(t, timeframe.next_open(t)).unwrap()) {
                bars.push(axia_domain::Bar::new(t, 150.0, 150.1, 149.9, 150.0, 1.0).unwrap());
            }
            t = timeframe.next_open(t);
        }
        Ok(fetched(
            OhlcvFrame::from_bars(symbol.clone(), timeframe, bars).unwrap(),
        ))
    }
}

/// The last N bars are counted on the calendar: on a Sunday they are Friday's and
/// Thursday's, the range starts at the oldest, the answer is complete; `before` moves the end.
#[tokio::test]
async fn the_last_n_bars_skip_the_weekend() {
    // Sunday 2026-03-08 12:00 UTC: the FX week closed Friday 22:00 UTC.
    let sunday = Utc.with_ymd_and_hms(2026, 3, 8, 12, 0, 0).unwrap();
    let p = OhlcvDataProvider::builder()
        .clock(Arc::new(ManualClock::new(sunday)))
        .broker(OpenHours)
        .without_write_through()
        .build();
    let friday_last = Utc.with_ymd_and_hms(2026, 3, 6, 21, 0, 0).unwrap();
    for count in [1, 30, 200] {
        let a = p
            .get(OhlcvRequest::new(
                sym(),
                Timeframe::H1,
                Window::last_bars(count),
                UseCase::Trading,
            ))
            .await
            .unwrap();
        assert_eq!(a.frame.len(), count);
        assert_eq!(a.frame.last_time(), Some(friday_last));
        assert_eq!(Some(a.meta.range.start()), a.frame.first_time());
        assert!(a.meta.complete, "{:?}", a.meta.completeness);
    }
    // 30 bars back from Friday 21:00 reach Thursday 16:00 (the market trades every hour).
    let a = p
        .get(OhlcvRequest::new(
            sym(),
            Timeframe::H1,
            Window::last_bars(30),
            UseCase::Trading,
        ))
        .await
        .unwrap();
    assert_eq!(
        a.frame.first_time(),
        Some(friday_last - Duration::hours(29))
    );
    // Five bars before Friday noon.
    let before = Utc.with_ymd_and_hms(2026, 3, 6, 12, 0, 0).unwrap();
    let a = p
        .get(OhlcvRequest::new(
            sym(),
            Timeframe::H1,
            Window::Bars {
                count: 5,
                before: Some(before),
            },
            UseCase::Trading,
        ))
        .await
        .unwrap();
    assert_eq!(a.frame.len(), 5);
    assert_eq!(a.frame.last_time(), Some(before - Duration::hours(1)));
}
