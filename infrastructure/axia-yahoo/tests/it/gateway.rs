use std::sync::Arc;
use std::time::Duration;

use axia_domain::{
    DropReason, ManualClock, MarketData, MarketDataError, Symbol, TimeRange, Timeframe,
};
use axia_yahoo::{YahooConfig, YahooGateway};
use chrono::{DateTime, Duration as Span, TimeZone, Utc};
use serde_json::{Value, json};
use wiremock::matchers::{method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// One Yahoo row: seconds, open, high, low, close, volume (any may be null).
type Row = (
    i64,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
);

fn sym(s: &str) -> Symbol {
    s.parse().unwrap()
}

/// The fixture's time: 2026-03-04 12:01:27 UTC (its last row is the forming bar).
fn fixture_now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 4, 12, 1, 27).unwrap()
}

fn gateway(server: &MockServer, now: DateTime<Utc>) -> YahooGateway {
    gateway_with(server, now, |c| c)
}

fn gateway_with(
    server: &MockServer,
    now: DateTime<Utc>,
    f: impl FnOnce(YahooConfig) -> YahooConfig,
) -> YahooGateway {
    let config = YahooConfig::default()
        .base_url(server.uri())
        .requests_per_second(1000.0)
        .retries(2, Duration::from_millis(10), Duration::from_millis(50))
        .request_timeout(Duration::from_secs(2));
    YahooGateway::new(f(config), Arc::new(ManualClock::new(now))).unwrap()
}

/// A chart response in Yahoo's shape for `ticker`, with `rows` of (seconds, o, h, l, c, v).
fn chart(ticker: &str, tz: &str, rows: &[Row]) -> Value {
    json!({"chart": {"result": [{
        "meta": {
            "currency": "USD", "symbol": ticker, "exchangeName": "X", "fullExchangeName": "X",
            "instrumentType": "EQUITY", "firstTradeDate": 345479400, "regularMarketTime": 1772625687,
            "hasPrePostMarketData": false, "gmtoffset": 0, "timezone": "UTC",
            "exchangeTimezoneName": tz, "regularMarketPrice": 1.0, "chartPreviousClose": 1.0,
            "priceHint": 2, "dataGranularity": "1m", "range": "",
            "validRanges": ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]
        },
        "timestamp": rows.iter().map(|r| r.0).collect::<Vec<_>>(),
        "indicators": {"quote": [{
            "open": rows.iter().map(|r| r.1).collect::<Vec<_>>(),
            "high": rows.iter().map(|r| r.2).collect::<Vec<_>>(),
            "low": rows.iter().map(|r| r.3).collect::<Vec<_>>(),
            "close": rows.iter().map(|r| r.4).collect::<Vec<_>>(),
            // Yahoo's volumes are integers.
            "volume": rows.iter().map(|r| r.5.map(|v| v as i64)).collect::<Vec<_>>()
        }]}
    }], "error": null}})
}

/// A clean row at `secs` with prices around `o`.
fn row(secs: i64, o: f64) -> Row {
    (
        secs,
        Some(o),
        Some(o + 0.5),
        Some(o - 0.5),
        Some(o + 0.25),
        Some(100.0),
    )
}

fn last_hour(now: DateTime<Utc>) -> TimeRange {
    TimeRange::new(now - Span::hours(1), now).unwrap()
}

#[tokio::test]
async fn nulls_and_the_unaligned_forming_bar_are_dropped_and_reported() {
    let server = MockServer::start().await;
    let body = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/usdjpy_1m.json"
    ))
    .unwrap();
    Mock::given(method("GET"))
        .and(path("/v8/finance/chart/USDJPY=X"))
        .and(query_param("interval", "1m"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(body, "application/json"))
        .expect(1)
        .mount(&server)
        .await;
    let got = gateway(&server, fixture_now())
        .bars(&sym("USDJPY"), Timeframe::M1, last_hour(fixture_now()))
        .await
        .unwrap();
    // 10 rows: one all-null, one null close, and the last stamped with the last trade's time.
    assert_eq!(got.report.received, 10);
    assert_eq!(got.frame.len(), 7);
    let reasons: Vec<_> = got
        .report
        .dropped
        .iter()
        .map(|d| (d.index, d.reason))
        .collect();
    assert_eq!(
        reasons,
        vec![
            (2, DropReason::MissingValue),
            (4, DropReason::MissingValue),
            (9, DropReason::Misaligned)
        ]
    );
    let first = got.frame.first().unwrap();
    assert_eq!(first.time().timestamp(), 1_772_625_120);
    assert_eq!(
        (first.open(), first.close(), first.volume()),
        (150.101, 150.104, 0.0)
    );
}

#[tokio::test]
async fn one_malformed_value_costs_one_bar() {
    // A US stock's 5m bars, one malformed value per row in rows 1-6.
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 16, 0, 0).unwrap();
    let t0 = (now - Span::hours(1)).timestamp();
    let mut body = chart(
        "AAPL",
        "America/New_York",
        &(0..10)
            .map(|i| row(t0 + i * 300, 180.0 + i as f64))
            .collect::<Vec<_>>(),
    );
    let q = &mut body["chart"]["result"][0]["indicators"]["quote"][0];
    q["volume"][1] = json!(-5);
    q["volume"][2] = json!(12.5);
    q["close"][3] = json!("183.25");
    q["open"][4] = Value::Null;
    q["low"][5] = json!(0);
    q["high"][6] = json!({"value": 1});
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let got = gateway(&server, now)
        .bars(&sym("AAPL"), Timeframe::M5, last_hour(now))
        .await
        .unwrap();
    assert_eq!(got.frame.len(), 4, "every other row is kept");
    let reasons: Vec<_> = got
        .report
        .dropped
        .iter()
        .map(|d| (d.index, d.reason))
        .collect();
    assert_eq!(
        reasons,
        [
            (1, DropReason::NegativeVolume),
            (2, DropReason::FractionalVolume),
            (3, DropReason::MissingValue),
            (4, DropReason::MissingValue),
            (5, DropReason::NonPositivePrice),
            (6, DropReason::MissingValue),
        ]
    );
    let kept: Vec<i64> = got.frame.iter().map(|b| b.time().timestamp()).collect();
    assert_eq!(kept, [t0, t0 + 7 * 300, t0 + 8 * 300, t0 + 9 * 300]);
}

/// Serves `prices` (open, high, low, close) of `ticker`, an instrument no registry knows, as
/// Yahoo sends them (binary32-looking doubles), and returns what the gateway made of them.
async fn unregistered_round_trip(
    ticker: &str,
    tz: &str,
    prices: &[(f64, f64, f64, f64)],
) -> Vec<(f64, f64, f64, f64)> {
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 16, 0, 0).unwrap();
    let t0 = (now - Span::hours(1)).timestamp();
    let rows: Vec<Row> = prices
        .iter()
        .enumerate()
        .map(|(i, &(o, h, l, c))| {
            // What Yahoo's JSON holds: the price through binary32, printed as a double.
            let y = |x: f64| Some(f64::from(x as f32));
            (t0 + i as i64 * 300, y(o), y(h), y(l), y(c), Some(1000.0))
        })
        .collect();
    let server = MockServer::start().await;
    let segment = axia_http::path_segment(ticker);
    Mock::given(path(format!("/v8/finance/chart/{segment}")))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(ticker, tz, &rows)))
        .expect(1)
        .mount(&server)
        .await;
    let got = gateway(&server, now)
        .bars(&sym(ticker), Timeframe::M5, last_hour(now))
        .await
        .unwrap();
    assert!(got.report.dropped.is_empty(), "{:?}", got.report.dropped);
    got.frame
        .iter()
        .map(|b| (b.open(), b.high(), b.low(), b.close()))
        .collect()
}

/// A stock no registry knows, trading under a dollar: its prices keep their sub-cent digits,
/// and one under half a cent is not rounded to zero and dropped.
#[tokio::test]
async fn an_unregistered_penny_stock_keeps_its_sub_cent_prices() {
    // As the stock trades them, on its 0.0001 grid.
    let prices = [
        (0.4567, 0.4601, 0.4512, 0.4589),
        (0.4589, 0.4589, 0.4421, 0.4432),
        (0.0042, 0.0047, 0.0039, 0.0044),
        (1.2345, 1.2399, 1.2301, 1.2388),
    ];
    let back = unregistered_round_trip("SNDLX", "America/New_York", &prices).await;
    assert_eq!(back, prices);
}

/// Instruments no registry knows come back as they trade, without the noise of the 32-bit
/// floats Yahoo keeps them in, also where their tick is finer than the float at their price: a
/// Treasury future in fractions of a 32nd (on 1/256), the yen contract in 0.0000005 and gold in
/// 0.1 (on 0.00000001), a coin in cents (0.00000001), an index in the thousands and a stock above
/// 4,096 (0.0001).
#[tokio::test]
async fn unregistered_instruments_on_fine_ticks_lose_the_float_noise() {
    for (ticker, prices) in [
        (
            "ZT=F",
            [
                (102.941_406_25, 102.953_125, 102.937_5, 102.949_218_75),
                (102.949_218_75, 102.960_937_5, 102.945_312_5, 102.957_031_25),
            ],
        ),
        (
            "6J=F",
            [
                (0.006_700_5, 0.006_712, 0.006_698_5, 0.006_705),
                (0.006_705, 0.006_709_5, 0.006_701, 0.006_702_5),
            ],
        ),
        (
            "GC=F",
            [
                (2_034.1, 2_036.5, 2_033.2, 2_035.9),
                (2_035.9, 2_036.0, 2_031.4, 2_032.7),
            ],
        ),
        (
            "BTC-USD",
            [
                (43_210.12, 43_288.47, 43_190.05, 43_250.99),
                (43_250.99, 43_260.0, 43_201.31, 43_222.18),
            ],
        ),
        (
            "^XYZ",
            [
                (8_123.4, 8_131.25, 8_119.8, 8_127.15),
                (8_127.15, 8_140.0, 8_126.6, 8_138.35),
            ],
        ),
        (
            "NVRX",
            [
                (5_012.37, 5_020.0, 5_001.5, 5_018.92),
                (5_018.92, 5_022.1, 5_010.04, 5_011.11),
            ],
        ),
    ] {
        let back = unregistered_round_trip(ticker, "America/New_York", &prices).await;
        assert_eq!(back, prices, "{ticker}");
    }
}

#[tokio::test]
async fn the_gateway_declares_how_far_back_it_reaches() {
    let server = MockServer::start().await;
    let gw = gateway(&server, fixture_now());
    let m1 = gw.limits(Timeframe::M1);
    assert!(m1.reach.unwrap() <= Span::days(30) && m1.reach.unwrap() > Span::days(29));
    assert_eq!(m1.max_span, Some(Span::days(7)));
    assert_eq!(gw.limits(Timeframe::D1).reach, None);
    // A request inside the declared reach is served; the gateway says so before any request.
    assert!(m1.earliest(fixture_now()).unwrap() > fixture_now() - Span::days(30));
}

#[tokio::test]
async fn an_error_body_for_an_unknown_symbol_is_symbol_not_found() {
    let server = MockServer::start().await;
    let body = json!({"chart": {"result": null, "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}});
    Mock::given(path("/v8/finance/chart/NOSUCH"))
        .respond_with(ResponseTemplate::new(404).set_body_json(body))
        .expect(1)
        .mount(&server)
        .await;
    let err = gateway(&server, fixture_now())
        .bars(&sym("NOSUCH"), Timeframe::D1, last_hour(fixture_now()))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, MarketDataError::SymbolNotFound(s) if s.as_str() == "NOSUCH"),
        "{err:?}"
    );
}

#[tokio::test]
async fn http_429_is_retried_honouring_retry_after_then_reported() {
    let server = MockServer::start().await;
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    let t = (now - Span::minutes(2)).timestamp();
    Mock::given(path("/v8/finance/chart/EURUSD=X"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/EURUSD=X"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "EURUSD=X",
            "Europe/London",
            &[row(t, 1.08), row(t + 60, 1.081)],
        )))
        .mount(&server)
        .await;
    let gw = gateway(&server, now);
    let got = gw
        .bars(&sym("EURUSD"), Timeframe::M1, last_hour(now))
        .await
        .unwrap();
    assert_eq!(got.frame.len(), 2);
    assert_eq!(gw.requests(), 2);

    // Always 429: typed RateLimited after the retries, with the server's Retry-After.
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/EURUSD=X"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "0"))
        .expect(3)
        .mount(&server)
        .await;
    let err = gateway(&server, now)
        .bars(&sym("EURUSD"), Timeframe::M1, last_hour(now))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MarketDataError::RateLimited { retry_after: Some(d) } if d.is_zero()),
        "{err:?}"
    );

    // A Retry-After longer than the backoff cap is not waited for.
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/EURUSD=X"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", "3600"))
        .expect(1)
        .mount(&server)
        .await;
    let err = gateway(&server, now)
        .bars(&sym("EURUSD"), Timeframe::M1, last_hour(now))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MarketDataError::RateLimited { retry_after: Some(d) } if d.as_secs() == 3600)
    );
}

#[tokio::test]
async fn server_errors_are_retried_then_unavailable() {
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    let t = (now - Span::minutes(30)).timestamp();
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "AAPL",
            "America/New_York",
            &[row(t, 180.0)],
        )))
        .mount(&server)
        .await;
    let gw = gateway(&server, now);
    assert_eq!(
        gw.bars(&sym("AAPL"), Timeframe::M5, last_hour(now))
            .await
            .unwrap()
            .frame
            .len(),
        1
    );
    assert_eq!(gw.requests(), 3);

    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(500))
        .expect(3)
        .mount(&server)
        .await;
    let err = gateway(&server, now)
        .bars(&sym("AAPL"), Timeframe::M5, last_hour(now))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MarketDataError::Unavailable(ref m) if m.contains("500")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_slow_server_times_out() {
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .expect(2)
        .mount(&server)
        .await;
    let gw = gateway_with(&server, now, |c| {
        c.request_timeout(Duration::from_millis(200)).retries(
            1,
            Duration::from_millis(10),
            Duration::from_millis(20),
        )
    });
    let err = gw
        .bars(&sym("AAPL"), Timeframe::M5, last_hour(now))
        .await
        .unwrap_err();
    assert!(matches!(err, MarketDataError::Timeout(_)), "{err:?}");
}

#[tokio::test]
async fn an_empty_result_is_no_data_and_garbage_is_invalid() {
    let now = Utc.with_ymd_and_hms(2026, 3, 7, 12, 0, 0).unwrap(); // a Saturday
    let server = MockServer::start().await;
    let mut empty = chart("USDJPY=X", "Europe/London", &[]);
    empty["chart"]["result"][0]
        .as_object_mut()
        .unwrap()
        .remove("timestamp");
    empty["chart"]["result"][0]["indicators"]["quote"] = json!([{}]);
    Mock::given(path("/v8/finance/chart/USDJPY=X"))
        .respond_with(ResponseTemplate::new(200).set_body_json(empty))
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/HTML"))
        .respond_with(ResponseTemplate::new(200).set_body_raw("<html>consent</html>", "text/html"))
        .mount(&server)
        .await;
    let gw = gateway(&server, now);
    let err = gw
        .bars(&sym("USDJPY"), Timeframe::H1, last_hour(now))
        .await
        .unwrap_err();
    assert!(matches!(err, MarketDataError::NoData(_)), "{err:?}");
    let err = gw
        .bars(&sym("HTML"), Timeframe::H1, last_hour(now))
        .await
        .unwrap_err();
    assert!(
        matches!(err, MarketDataError::InvalidResponse(_)),
        "{err:?}"
    );
}

#[tokio::test]
async fn h4_is_the_resample_of_60m() {
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    let start = Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap();
    let rows: Vec<_> = (0..12)
        .map(|h| row((start + Span::hours(h)).timestamp(), 150.0 + h as f64 * 0.1))
        .collect();
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/USDJPY=X"))
        .and(query_param("interval", "60m"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "USDJPY=X",
            "Europe/London",
            &rows,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let gw = gateway(&server, now);
    let range = TimeRange::new(start, now).unwrap();
    let h4 = gw
        .bars(&sym("USDJPY"), Timeframe::H4, range)
        .await
        .unwrap()
        .frame;
    assert_eq!(h4.timeframe(), Timeframe::H4);
    // USDJPY's H4 bars run from the New York close (22:00 UTC in winter): 02:00, 06:00 and
    // 10:00 open in the range, the first from the hours 02:00 to 05:00.
    assert_eq!(h4.len(), 3);
    let first = h4.first().unwrap();
    assert_eq!(first.time(), start + Span::hours(2));
    assert_eq!(
        (first.open(), first.close(), first.volume()),
        (150.2, 150.5 + 0.25, 400.0)
    );
    assert_eq!(first.high(), 150.5 + 0.5);
}

#[tokio::test]
async fn new_york_close_daily_bars_are_built_from_60m() {
    // EURUSD aligned to the New York close: its D1 bars open at 17:00 New York (22:00 UTC in
    // winter), which Yahoo's midnight daily bars cannot give; they come from 60m bars.
    let ny = axia_domain::DailyAlignment::NewYorkClose;
    let now = Utc.with_ymd_and_hms(2026, 1, 8, 12, 0, 0).unwrap(); // Thursday
    let start = Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap();
    let rows: Vec<_> = (0..84)
        .map(|h| {
            row(
                (start + Span::hours(h)).timestamp(),
                1.1 + h as f64 * 0.0001,
            )
        })
        .collect();
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/EURUSD=X"))
        .and(query_param("interval", "60m"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "EURUSD=X",
            "Europe/London",
            &rows,
        )))
        .expect(1)
        .mount(&server)
        .await;
    let mut registry = axia_domain::InstrumentRegistry::builtin();
    registry.insert(registry.resolve(&sym("EURUSD")).with_alignment(ny));
    let registry = std::sync::Arc::new(registry);
    let gw = gateway_with(&server, now, |c| c.instruments(registry));
    let d1 = gw
        .bars(
            &sym("EURUSD"),
            Timeframe::D1,
            TimeRange::new(start, now).unwrap(),
        )
        .await
        .unwrap()
        .frame;
    assert_eq!((d1.timeframe(), d1.alignment()), (Timeframe::D1, ny));
    // Tuesday's and Wednesday's trading dates open at 22:00 UTC on Monday and Tuesday;
    // Thursday's, opened on Wednesday at 22:00, is forming at noon on Thursday.
    let opens: Vec<_> = d1.iter().map(|b| b.time()).collect();
    let at = |d: u32| Utc.with_ymd_and_hms(2026, 1, d, 22, 0, 0).unwrap();
    assert_eq!(opens, [at(5), at(6), at(7)]);
    assert_eq!(d1.forming().map(|b| b.time()), Some(at(7)));
    let tuesday = d1.first().unwrap();
    assert_eq!(tuesday.volume(), 24.0 * 100.0);
    assert!((tuesday.open() - (1.1 + 22.0 * 0.0001)).abs() < 1e-9);
    assert!((tuesday.close() - (1.1 + 45.0 * 0.0001 + 0.25)).abs() < 1e-9);
}

#[tokio::test]
async fn h1_of_a_half_hour_exchange_is_built_from_30m() {
    // NYSE opens at 09:30 New York = 14:30 UTC in March: its 60m bars open at :30 and straddle
    // the UTC hours, so H1 comes from 30m bars (14:30, 15:00, ... 20:30), resampled.
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 22, 0, 0).unwrap();
    let open = Utc.with_ymd_and_hms(2026, 3, 4, 14, 30, 0).unwrap();
    let hourly: Vec<_> = (0..7)
        .map(|h| row((open + Span::hours(h)).timestamp(), 200.0 + h as f64))
        .collect();
    let halves: Vec<_> = (0..13)
        .map(|k| row((open + Span::minutes(30 * k)).timestamp(), 300.0 + k as f64))
        .collect();
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .and(query_param("interval", "60m"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "AAPL",
            "America/New_York",
            &hourly,
        )))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(path("/v8/finance/chart/AAPL"))
        .and(query_param("interval", "30m"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "AAPL",
            "America/New_York",
            &halves,
        )))
        .expect(2)
        .mount(&server)
        .await;
    let gw = gateway(&server, now);
    let day = TimeRange::new(Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap(), now).unwrap();
    let h1 = gw
        .bars(&sym("AAPL"), Timeframe::H1, day)
        .await
        .unwrap()
        .frame;
    let opens: Vec<_> = h1
        .iter()
        .map(|b| b.time().format("%H:%M").to_string())
        .collect();
    assert_eq!(
        opens,
        [
            "14:00", "15:00", "16:00", "17:00", "18:00", "19:00", "20:00"
        ]
    );
    // 14:00 holds the 14:30 half hour alone; 15:00 holds 15:00 and 15:30.
    let first = h1.first().unwrap();
    assert_eq!(
        (first.open(), first.close(), first.volume()),
        (300.0, 300.25, 100.0)
    );
    let second = h1.get(1).unwrap();
    assert_eq!(
        (second.open(), second.close(), second.volume()),
        (301.0, 302.25, 200.0)
    );
    // The gateway remembers the ticker: H4 goes to 30m at once (the 60m mock expects one call).
    let h4 = gw
        .bars(&sym("AAPL"), Timeframe::H4, day)
        .await
        .unwrap()
        .frame;
    let opens: Vec<_> = h4
        .iter()
        .map(|b| b.time().format("%H:%M").to_string())
        .collect();
    assert_eq!(opens, ["12:00", "16:00", "20:00"]);
    assert_eq!(h4.first().unwrap().volume(), 300.0);
}

#[tokio::test]
async fn daily_bars_are_restamped_to_the_utc_open_of_their_local_date() {
    // Tokyo stamps its daily bars at 09:00 JST = 00:00 UTC... and Yahoo at 00:00 JST = 15:00 UTC
    // of the day before: either way the bar belongs to its Tokyo date.
    let now = Utc.with_ymd_and_hms(2026, 3, 6, 12, 0, 0).unwrap();
    let jst_midnight_mar4 = Utc
        .with_ymd_and_hms(2026, 3, 3, 15, 0, 0)
        .unwrap()
        .timestamp();
    let jst_midnight_mar5 = jst_midnight_mar4 + 86_400;
    let server = MockServer::start().await;
    Mock::given(path("/v8/finance/chart/7203.T"))
        .and(query_param("interval", "1d"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "7203.T",
            "Asia/Tokyo",
            &[
                row(jst_midnight_mar4, 2800.0),
                row(jst_midnight_mar5, 2810.0),
            ],
        )))
        .mount(&server)
        .await;
    let range = TimeRange::new(now - Span::days(5), now).unwrap();
    let d1 = gateway(&server, now)
        .bars(&sym("7203.T"), Timeframe::D1, range)
        .await
        .unwrap();
    assert!(d1.report.is_clean(), "{:?}", d1.report);
    let times: Vec<_> = d1.frame.iter().map(|b| b.time()).collect();
    assert_eq!(
        times,
        vec![
            Utc.with_ymd_and_hms(2026, 3, 4, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2026, 3, 5, 0, 0, 0).unwrap()
        ]
    );
}

#[tokio::test]
async fn long_ranges_are_split_and_impossible_ones_refused_without_a_request() {
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 12, 0, 0).unwrap();
    let server = MockServer::start().await;
    let t = (now - Span::minutes(5)).timestamp();
    Mock::given(path("/v8/finance/chart/USDJPY=X"))
        .and(query_param("interval", "1m"))
        .respond_with(ResponseTemplate::new(200).set_body_json(chart(
            "USDJPY=X",
            "Europe/London",
            &[row(t, 150.0)],
        )))
        .expect(3)
        .mount(&server)
        .await;
    let gw = gateway(&server, now);
    let twenty_days = TimeRange::new(now - Span::days(20), now).unwrap();
    gw.bars(&sym("USDJPY"), Timeframe::M1, twenty_days)
        .await
        .unwrap();
    let old = TimeRange::new(now - Span::days(45), now - Span::days(35)).unwrap();
    let err = gw
        .bars(&sym("USDJPY"), Timeframe::M1, old)
        .await
        .unwrap_err();
    assert!(
        matches!(err, MarketDataError::Unsupported(ref m) if m.contains("30 days")),
        "{err:?}"
    );
    assert_eq!(gw.requests(), 3);
}

#[tokio::test]
async fn float_noise_is_quantized_to_the_instruments_tick() {
    // Yahoo's values are float32s widened to f64 (156.41999816894531 for 156.42): every bar
    // comes out on the instrument's grid, whatever its tick.
    let now = Utc.with_ymd_and_hms(2026, 3, 4, 16, 0, 0).unwrap();
    let t0 = now.timestamp() - 3600;
    let noisy = |x: f64| f64::from(x as f32);
    let rows: Vec<Row> = (0..12)
        .map(|i| {
            let o = 156.41 + 0.01 * f64::from(i);
            (
                t0 + i64::from(i) * 300,
                Some(noisy(o)),
                Some(noisy(o + 0.37)),
                Some(noisy(o - 0.29)),
                Some(noisy(o + 0.13)),
                Some(1200.0),
            )
        })
        .collect();
    assert_ne!(rows[1].1, Some(156.42), "the fixture is noisy");
    let server = MockServer::start().await;
    for (ticker, sym_name) in [("AAPL", "AAPL"), ("USDJPY=X", "USDJPY"), ("X1", "XYZ")] {
        Mock::given(method("GET"))
            .and(path(format!("/v8/finance/chart/{ticker}")))
            .respond_with(ResponseTemplate::new(200).set_body_json(chart(
                ticker,
                "America/New_York",
                &rows,
            )))
            .mount(&server)
            .await;
        let gw = gateway_with(&server, now, |c| c.ticker(sym("XYZ"), "X1"));
        let got = gw
            .bars(&sym(sym_name), Timeframe::M5, last_hour(now))
            .await
            .unwrap();
        assert_eq!(got.frame.len(), 12, "{sym_name}: {:?}", got.report);
        let tick = axia_domain::InstrumentRegistry::builtin()
            .resolve(&sym(sym_name))
            .tick();
        for (b, r) in got.frame.iter().zip(&rows) {
            for (p, raw) in [
                (b.open(), r.1),
                (b.high(), r.2),
                (b.low(), r.3),
                (b.close(), r.4),
            ] {
                assert_eq!(tick.quantize(p), Some(p), "{sym_name}: {p} off the grid");
                assert!(
                    (p - raw.unwrap()).abs() < 1e-4,
                    "{sym_name}: {p} vs {raw:?}"
                );
                assert!(tick.format(p).len() <= 10, "{sym_name}: {p} prints short");
            }
        }
        let opens: Vec<f64> = got.frame.iter().take(2).map(|b| b.open()).collect();
        assert_eq!(opens, [156.41, 156.42], "{sym_name}");
    }
}
