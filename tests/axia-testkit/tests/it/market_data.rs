//! The MarketData contract on: the simulated broker, the Yahoo gateway against the fake
//! Yahoo server, and the OANDA gateway against the fake OANDA; then what is OANDA's own:
//! alignment, paging past 5,000 candles, the forming candle, errors, the token.

use std::sync::Arc;

use axia_domain::ManualClock;
use axia_oanda::{OandaConfig, OandaGateway, PriceComponent};
use axia_simbroker::SimulatedBroker;
use axia_testkit::fake_oanda::FakeOanda;
use axia_testkit::fake_yahoo::FakeYahoo;
use axia_testkit::market_data::Subject;
use axia_testkit::market_data_contract;
use axia_yahoo::{YahooConfig, YahooGateway};
use chrono::{DateTime, TimeZone, Utc};

/// Wednesday 2026-03-04 12:00 UTC: the FX market has been open all day.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap()
}

market_data_contract!(simulated_broker, || async {
    let broker = SimulatedBroker::new(42, Arc::new(ManualClock::new(now())));
    Subject::new(Arc::new(broker), "USDJPY".parse().unwrap(), now())
});

market_data_contract!(yahoo_on_fake_server, || async {
    let fake = FakeYahoo::start(42, now()).await;
    let config = YahooConfig::default()
        .base_url(fake.uri())
        .requests_per_second(1000.0);
    let gateway = YahooGateway::new(config, Arc::new(ManualClock::new(now()))).unwrap();
    Subject::new(Arc::new(gateway), "EURUSD".parse().unwrap(), now()).with_guard(fake)
});

const TOKEN: &str = "fake-oanda-token-0123456789";

/// A gateway whose series are on UTC midnight (the New York close, the FX default, has its
/// own test below).
async fn oanda(now: DateTime<Utc>) -> (FakeOanda, OandaGateway) {
    let fake = FakeOanda::start(42, now, TOKEN).await;
    let config = OandaConfig::new(TOKEN)
        .base_url(fake.uri())
        .instruments(axia_testkit::utc_instruments())
        .requests_per_second(1000.0)
        .retries(
            2,
            std::time::Duration::from_millis(1),
            std::time::Duration::from_millis(5),
        );
    let gateway = OandaGateway::new(config, Arc::new(ManualClock::new(now))).unwrap();
    (fake, gateway)
}

market_data_contract!(oanda_on_fake_server, || async {
    let (fake, gateway) = oanda(now()).await;
    Subject::new(Arc::new(gateway), "USDJPY".parse().unwrap(), now()).with_guard(fake)
});

mod oanda_specifics {
    use super::*;
    use axia_domain::{DropReason, MarketData, MarketDataError, TimeRange, Timeframe};
    use chrono::Duration;

    fn usdjpy() -> axia_domain::Symbol {
        "USDJPY".parse().unwrap()
    }

    /// Every request names axia's alignment; every bar of every timeframe is on the UTC grid
    /// (the fake answers New York-aligned candles to a request without the parameters).
    #[tokio::test]
    async fn every_request_asks_for_the_utc_grid_and_every_bar_is_on_it() {
        let (fake, gateway) = oanda(now()).await;
        let range = TimeRange::new(now() - Duration::days(40), now()).unwrap();
        for tf in [
            Timeframe::H1,
            Timeframe::H4,
            Timeframe::D1,
            Timeframe::W1,
            Timeframe::MN1,
        ] {
            let got = gateway.bars(&usdjpy(), tf, range).await.unwrap();
            assert!(!got.frame.is_empty(), "{tf}");
            assert!(
                got.frame.iter().all(|b| tf.floor(b.time()) == b.time()),
                "{tf}: a bar off the UTC grid"
            );
        }
        for r in fake.requests().await {
            let q: std::collections::HashMap<String, String> =
                r.url.query_pairs().into_owned().collect();
            assert_eq!(
                q.get("dailyAlignment").map(String::as_str),
                Some("0"),
                "{}",
                r.url
            );
            assert_eq!(q.get("alignmentTimezone").map(String::as_str), Some("UTC"));
            assert_eq!(q.get("weeklyAlignment").map(String::as_str), Some("Monday"));
            assert_eq!(
                r.headers.get("authorization").unwrap().to_str().unwrap(),
                format!("Bearer {TOKEN}")
            );
        }
    }

    /// The fake aligns to New York unless told otherwise, as OANDA does; a server that ignores
    /// the parameters gives no bar of a shifted timeframe: every candle is off the grid, and
    /// the error says so. Intraday timeframes up to H1 are the same on both grids.
    #[tokio::test]
    async fn candles_off_the_grid_are_refused() {
        let (fake, gateway) = oanda(now()).await;
        let body: serde_json::Value = reqwest::Client::new()
            .get(format!(
                "{}/v3/instruments/USD_JPY/candles?granularity=D&count=10",
                fake.uri()
            ))
            .bearer_auth(TOKEN)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let first = body["candles"][0]["time"].as_str().unwrap();
        assert!(
            first.contains("T21:00:00") || first.contains("T22:00:00"),
            "the fake aligns to New York by default: {first}"
        );
        fake.ignore_alignment(true);
        let range = TimeRange::new(now() - Duration::days(20), now()).unwrap();
        for tf in [Timeframe::H4, Timeframe::D1] {
            let e = gateway.bars(&usdjpy(), tf, range).await.unwrap_err();
            assert!(
                matches!(&e, MarketDataError::InvalidResponse(m) if m.contains("alignment")),
                "{tf}: {e:?}"
            );
        }
        let h1 = gateway.bars(&usdjpy(), Timeframe::H1, range).await.unwrap();
        assert!(h1.report.is_clean());
    }

    /// A series on the New York close (an FX pair's default) asks OANDA for its own alignment
    /// and takes its bars.
    #[tokio::test]
    async fn a_new_york_close_series_asks_for_its_own_grid() {
        let fake = FakeOanda::start(42, now(), TOKEN).await;
        let config = OandaConfig::new(TOKEN).base_url(fake.uri());
        let gateway = OandaGateway::new(config, Arc::new(ManualClock::new(now()))).unwrap();
        let range = TimeRange::new(now() - Duration::days(20), now()).unwrap();
        let got = gateway.bars(&usdjpy(), Timeframe::D1, range).await.unwrap();
        assert!(got.report.is_clean(), "{:?}", got.report);
        assert!(got.frame.len() >= 13, "{} daily bars", got.frame.len());
        assert!(got.frame.iter().all(|b| {
            let h = chrono::Timelike::hour(&b.time());
            h == 21 || h == 22
        }));
        let q: std::collections::HashMap<String, String> = fake.requests().await[0]
            .url
            .query_pairs()
            .into_owned()
            .collect();
        assert_eq!(q["dailyAlignment"], "17");
        assert_eq!(q["alignmentTimezone"], "America/New_York");
    }

    /// The candle OANDA marks incomplete is the forming bar even when our clock says its
    /// period has ended: it is never taken for a closed bar.
    #[tokio::test]
    async fn the_incomplete_candle_is_forming_whatever_our_clock_says() {
        let fake = FakeOanda::start(42, now(), TOKEN).await;
        let later = now() + Duration::seconds(90);
        let config = OandaConfig::new(TOKEN).base_url(fake.uri());
        let gateway = OandaGateway::new(config, Arc::new(ManualClock::new(later))).unwrap();
        let range = TimeRange::new(now() - Duration::minutes(30), later).unwrap();
        let got = gateway.bars(&usdjpy(), Timeframe::M1, range).await.unwrap();
        assert_eq!(got.frame.last().unwrap().time(), now());
        assert_eq!(got.frame.forming().map(|b| b.time()), Some(now()));
        assert_eq!(got.frame.closed().len(), got.frame.len() - 1);
    }

    /// 30 days of M1 are more than 5,000 candles: read in pages, none twice, none missing,
    /// and the forming bar is the one OANDA marks incomplete.
    #[tokio::test]
    async fn long_ranges_are_paged_past_5000_candles() {
        let (fake, gateway) = oanda(now()).await;
        let range = TimeRange::new(now() - Duration::days(30), now() + Duration::hours(1)).unwrap();
        let got = gateway.bars(&usdjpy(), Timeframe::M1, range).await.unwrap();
        let expected =
            axia_simbroker::generate(42, &usdjpy(), Timeframe::M1, range, now()).unwrap();
        assert_eq!(got.frame.len(), expected.len());
        assert!(got.frame.len() > 3 * 5_000);
        assert_eq!(got.frame.timestamps_millis(), expected.timestamps_millis());
        assert_eq!(got.frame.columns().close, expected.columns().close);
        assert_eq!(got.frame.forming().map(|b| b.time()), Some(now()));
        assert!(got.report.is_clean(), "{:?}", got.report);
        let requests = fake.requests().await;
        assert!(requests.len() >= 4, "{} requests", requests.len());
        for r in &requests {
            let q: std::collections::HashMap<String, String> =
                r.url.query_pairs().into_owned().collect();
            assert!(
                !q.contains_key("to"),
                "never a `to`, so never one in the future"
            );
            assert!(q["count"].parse::<usize>().unwrap() <= 5_000);
        }
    }

    #[tokio::test]
    async fn bid_and_ask_are_selectable() {
        let fake = FakeOanda::start(42, now(), TOKEN).await;
        let range = TimeRange::new(now() - Duration::hours(3), now()).unwrap();
        let mut closes = Vec::new();
        for p in [
            PriceComponent::Bid,
            PriceComponent::Mid,
            PriceComponent::Ask,
        ] {
            let config = OandaConfig::new(TOKEN).base_url(fake.uri()).price(p);
            let g = OandaGateway::new(config, Arc::new(ManualClock::new(now()))).unwrap();
            closes.push(
                g.bars(&usdjpy(), Timeframe::H1, range)
                    .await
                    .unwrap()
                    .frame
                    .columns()
                    .close
                    .clone(),
            );
        }
        let (bid, mid, ask) = (&closes[0], &closes[1], &closes[2]);
        assert!(!mid.is_empty());
        for ((b, m), a) in bid.iter().zip(mid).zip(ask) {
            assert!(b < m && m < a, "bid {b} mid {m} ask {a}");
        }
    }

    #[tokio::test]
    async fn one_malformed_candle_costs_one_bar_and_is_reported() {
        let (fake, gateway) = oanda(now()).await;
        let bad = now() - Duration::hours(2);
        fake.corrupt_candle_at(bad);
        let range = TimeRange::new(now() - Duration::hours(5), now()).unwrap();
        let got = gateway.bars(&usdjpy(), Timeframe::M5, range).await.unwrap();
        assert_eq!(got.report.dropped.len(), 1);
        assert_eq!(got.report.dropped[0].reason, DropReason::MissingValue);
        assert!(got.frame.iter().all(|b| b.time() != bad));
        assert_eq!(got.frame.len(), got.report.received - 1);
    }

    #[tokio::test]
    async fn errors_are_typed_and_never_show_the_token() {
        let (fake, gateway) = oanda(now()).await;
        let range = TimeRange::new(now() - Duration::hours(3), now()).unwrap();
        let unknown = gateway
            .bars(&"ZZZQQQ".parse().unwrap(), Timeframe::H1, range)
            .await
            .unwrap_err();
        assert!(
            matches!(unknown, MarketDataError::SymbolNotFound(_)),
            "{unknown:?}"
        );

        let wrong = OandaGateway::new(
            OandaConfig::new("not-the-token").base_url(fake.uri()),
            Arc::new(ManualClock::new(now())),
        )
        .unwrap();
        let e = wrong
            .bars(&usdjpy(), Timeframe::H1, range)
            .await
            .unwrap_err();
        assert!(matches!(e, MarketDataError::Unauthorized(_)), "{e:?}");
        assert!(!e.to_string().contains("not-the-token"));
        assert!(!format!("{wrong:?}").contains("not-the-token"));
        assert!(!format!("{gateway:?}").contains(TOKEN));

        // 429 twice, then served: the retries honour Retry-After.
        fake.rate_limit_next(2);
        let started = std::time::Instant::now();
        assert!(gateway.bars(&usdjpy(), Timeframe::H1, range).await.is_ok());
        assert!(started.elapsed() >= std::time::Duration::from_secs(2));
        // More 429s than retries: rate limited.
        fake.rate_limit_next(10);
        let e = gateway
            .bars(&usdjpy(), Timeframe::H1, range)
            .await
            .unwrap_err();
        assert!(
            matches!(
                e,
                MarketDataError::RateLimited {
                    retry_after: Some(_)
                }
            ),
            "{e:?}"
        );
        fake.rate_limit_next(0);

        fake.set_down(true);
        let e = gateway
            .bars(&usdjpy(), Timeframe::H1, range)
            .await
            .unwrap_err();
        assert!(matches!(e, MarketDataError::Unavailable(_)), "{e:?}");
        fake.set_down(false);

        // A weekend: no candle.
        let sat = chrono::TimeZone::with_ymd_and_hms(&Utc, 2026, 2, 28, 6, 0, 0).unwrap();
        let e = gateway
            .bars(
                &usdjpy(),
                Timeframe::M5,
                TimeRange::new(sat, sat + Duration::hours(6)).unwrap(),
            )
            .await
            .unwrap_err();
        assert!(matches!(e, MarketDataError::NoData(_)), "{e:?}");
    }
}
