//! The REST routes.

use std::collections::BTreeSet;
use std::io::Read as _;
use std::sync::Arc;

use axia_domain::{Bar, FeatureSnapshot, FeatureStore, OhlcvFrame, OhlcvStore, Symbol, Timeframe};
use axia_memory::MemoryFeatureStore;
use axia_provider::OhlcvDataProvider;
use axia_redis::{RedisBarCache, RedisCacheConfig};
use axia_server::{Api, Limits};
use chrono::{Duration, TimeZone, Utc};
use reqwest::StatusCode;
use serde_json::Value;

use super::{World, eurusd, namespace, noon, serve, weekday_frame};

async fn get(url: &str) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let r = reqwest::get(url).await.unwrap();
    let status = r.status();
    let headers = r.headers().clone();
    let body = r.bytes().await.unwrap();
    let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
    (status, headers, json)
}

fn times(body: &Value) -> Vec<i64> {
    body["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["time"].as_i64().unwrap())
        .collect()
}

/// Tuesday 2026-06-30, 00:00 to 12:00 UTC: twelve closed hours, all in the archive.
#[tokio::test]
async fn a_closed_window_is_json_or_csv_with_a_strong_etag_and_304() {
    let w = World::new();
    let day = Utc.with_ymd_and_hms(2026, 6, 29, 0, 0, 0).unwrap();
    w.archive(&weekday_frame(
        Timeframe::H1,
        day,
        noon() - Duration::hours(2),
    ))
    .await;
    let base = serve(&w.api().build()).await;
    let url = format!(
        "{base}/api/v1/bars/EURUSD/H1?start=2026-06-30T00:00:00Z&end={}",
        Utc.with_ymd_and_hms(2026, 6, 30, 11, 0, 0)
            .unwrap()
            .timestamp()
    );
    let (status, headers, body) = get(&url).await;
    assert_eq!(status, 200, "{body}");
    let t = times(&body);
    assert_eq!(t.len(), 12, "00:00 to 11:00 inclusive");
    assert!(t.windows(2).all(|w| w[1] - w[0] == 3600), "sorted, unique");
    assert_eq!(body["symbol"], "EURUSD");
    assert_eq!(body["timeframe"], "H1");
    assert_eq!(body["instrument"]["decimals"], 5);
    assert_eq!(body["truncated"], false);
    assert!(
        body.get("next_before").is_none(),
        "a window with a start ends paging"
    );
    assert_eq!(body["forming"], Value::Null);
    assert_eq!(body["provenance"]["served_by"], "cold_archive");
    assert_eq!(body["provenance"]["complete"], true);
    assert_eq!(body["provenance"]["expected"], 12);
    let bar = &body["bars"][0];
    for k in ["open", "high", "low", "close", "volume"] {
        assert!(bar[k].is_f64(), "{k} in {bar}");
    }
    assert!(
        bar.get("forming").is_none(),
        "only the forming bar is labelled"
    );
    assert_eq!(headers["cache-control"], "public, max-age=86400");
    assert!(
        headers["server-timing"]
            .to_str()
            .unwrap()
            .starts_with("cold_archive;dur=")
    );
    let etag = headers["etag"].to_str().unwrap().to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"') && !etag.starts_with("W/"));

    let client = reqwest::Client::new();
    let again = client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    assert_eq!(again.headers()["etag"].to_str().unwrap(), etag);
    assert!(again.bytes().await.unwrap().is_empty());
    let other = client
        .get(&url)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);

    let csv = client
        .get(format!("{url}&format=csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines[0], "time,open,high,low,close,volume,forming");
    assert_eq!(lines.len(), 13);
    assert!(
        lines[1].starts_with("2026-06-30T00:00:00Z,"),
        "{}",
        lines[1]
    );
    let close: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(
        close[4].split('.').nth(1).unwrap().len(),
        5,
        "five decimals: {}",
        lines[1]
    );
    assert_eq!(close[6], "false");
}

#[tokio::test]
async fn format_columns_is_the_same_page_as_rows_field_by_field() {
    let w = World::new();
    let from = Utc.with_ymd_and_hms(2026, 6, 29, 0, 0, 0).unwrap();
    w.archive(&weekday_frame(Timeframe::H1, from, noon())).await;
    // The current hour, forming, in the hot tier.
    let forming = weekday_frame(Timeframe::H1, noon(), noon() + Duration::hours(1));
    w.cache.save(&forming.with_forming(true)).await.unwrap();
    let base = serve(&w.api().build()).await;
    for query in [
        "start=2026-06-29T00:00:00Z&limit=10",
        "start=2026-06-29T00:00:00Z",
    ] {
        let url = format!("{base}/api/v1/bars/EURUSD/H1?{query}");
        let (_, rows_headers, rows) = get(&url).await;
        let (status, headers, cols) = get(&format!("{url}&format=columns")).await;
        assert_eq!(status, 200, "{cols}");
        assert!(cols.get("bars").is_none(), "columns replace bars");
        let bars = rows["bars"].as_array().unwrap();
        let c = &cols["columns"];
        for k in ["time", "open", "high", "low", "close", "volume"] {
            let col = c[k].as_array().unwrap();
            assert_eq!(col.len(), bars.len(), "{k}");
            for (i, b) in bars.iter().enumerate() {
                assert_eq!(col[i], b[k], "{k} of bar {i}");
            }
        }
        // Every other field, the same.
        let keys = |v: &Value| {
            v.as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect::<BTreeSet<_>>()
        };
        let (mut expected, got) = (keys(&rows), keys(&cols));
        expected.remove("bars");
        expected.insert("columns".to_owned());
        assert_eq!(got, expected);
        for k in got.iter().filter(|k| *k != "columns") {
            assert_eq!(cols[k], rows[k], "{k}");
        }
        // The forming bar is the last one; `forming` holds its time.
        assert_eq!(cols["forming"], bars.last().unwrap()["time"]);
        assert_eq!(bars.last().unwrap()["forming"], true);
        assert_eq!(headers["content-type"], "application/json");
        assert_ne!(
            headers["etag"], rows_headers["etag"],
            "another representation"
        );
        assert_eq!(headers["x-axia-bars"], rows_headers["x-axia-bars"]);
    }
    let (status, _, problem) = get(&format!("{base}/api/v1/bars/EURUSD/H1?format=xml")).await;
    assert_eq!(status, 400);
    assert!(
        problem["detail"].as_str().unwrap().contains("columns"),
        "{problem}"
    );
}

#[tokio::test]
async fn responses_are_gzipped_for_clients_that_accept_it() {
    let w = World::new();
    let day = Utc.with_ymd_and_hms(2026, 6, 22, 0, 0, 0).unwrap();
    w.archive(&weekday_frame(Timeframe::M15, day, noon())).await;
    let base = serve(&w.api().build()).await;
    let url = format!("{base}/api/v1/bars/EURUSD/M15?limit=500");
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let zipped = raw
        .get(&url)
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let compressed = zipped.bytes().await.unwrap();
    let mut json = Vec::new();
    flate2::read::GzDecoder::new(&compressed[..])
        .read_to_end(&mut json)
        .unwrap();
    let plain = raw.get(&url).send().await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    assert_eq!(json, plain.to_vec());
    assert!(
        compressed.len() * 3 < plain.len(),
        "{} vs {}",
        compressed.len(),
        plain.len()
    );
    let body: Value = serde_json::from_slice(&plain).unwrap();
    assert_eq!(body["bars"].as_array().unwrap().len(), 500);
}

/// The gzip and identity bodies are two representations: each has its own strong ETag, and
/// each revalidates with its own (a 304 carrying the validator the client sent).
#[tokio::test]
async fn a_gzipped_body_has_its_own_strong_etag_and_each_revalidates() {
    let w = World::new();
    let day = Utc.with_ymd_and_hms(2026, 6, 22, 0, 0, 0).unwrap();
    w.archive(&weekday_frame(Timeframe::M15, day, noon())).await;
    let base = serve(&w.api().build()).await;
    let url = format!(
        "{base}/api/v1/bars/EURUSD/M15?start=2026-06-22T00:00:00Z&end=2026-06-23T00:00:00Z"
    );
    let raw = reqwest::Client::builder().no_gzip().build().unwrap();
    let get = |gzip: bool, tag: Option<&str>| {
        let mut r = raw.get(&url);
        if gzip {
            r = r.header("accept-encoding", "gzip");
        }
        if let Some(t) = tag {
            r = r.header("if-none-match", t);
        }
        r.send()
    };
    let etag = |r: &reqwest::Response| r.headers()["etag"].to_str().unwrap().to_owned();
    let zipped = get(true, None).await.unwrap();
    assert_eq!(zipped.headers()["content-encoding"], "gzip");
    let plain = get(false, None).await.unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let (gz_tag, id_tag) = (etag(&zipped), etag(&plain));
    assert!(!id_tag.starts_with("W/") && !gz_tag.starts_with("W/"));
    assert_eq!(gz_tag, format!("{}-gzip\"", id_tag.trim_end_matches('"')));
    // Each representation revalidates with its own tag.
    for (gzip, tag) in [(true, &gz_tag), (false, &id_tag), (true, &id_tag)] {
        let again = get(gzip, Some(tag)).await.unwrap();
        assert_eq!(again.status(), 304, "gzip {gzip}, {tag}");
        assert_eq!(&etag(&again), tag);
    }
    // A tag of another body, with or without a coding, does not match.
    let other = get(true, Some("\"0123abcd-gzip\", \"0123abcd\""))
        .await
        .unwrap();
    assert_eq!(other.status(), 200);
    assert_eq!(etag(&other), gz_tag);
}

/// Three weeks of M15 with weekend holes, read back in pages of 97 with `before` until the
/// API says there is nothing older: every bar exactly once.
#[tokio::test]
async fn paging_with_before_returns_every_bar_once_until_exhausted() {
    let w = World::new();
    let from = Utc.with_ymd_and_hms(2026, 6, 8, 0, 0, 0).unwrap();
    let stored = weekday_frame(Timeframe::M15, from, noon() - Duration::hours(3));
    w.archive(&stored).await;
    let base = serve(&w.api().build()).await;
    let mut seen: Vec<i64> = Vec::new();
    let mut url = format!("{base}/api/v1/bars/EURUSD/M15?limit=97");
    let mut pages = 0;
    loop {
        let (status, headers, body) = get(&url).await;
        assert_eq!(status, 200, "{body}");
        pages += 1;
        assert!(pages < 100, "paging does not end");
        let mut page = times(&body);
        assert!(page.len() <= 97);
        assert!(page.windows(2).all(|w| w[0] < w[1]));
        if let Some(&last_seen_oldest) = seen.first() {
            assert!(
                page.last().is_none_or(|&t| t < last_seen_oldest),
                "pages overlap"
            );
        }
        page.extend(seen);
        seen = page;
        match body.get("next_before").and_then(Value::as_i64) {
            Some(before) => {
                assert_eq!(headers["x-axia-next-before"], before.to_string().as_str());
                url = format!("{base}/api/v1/bars/EURUSD/M15?limit=97&before={before}");
            }
            None => break,
        }
    }
    let expected: Vec<i64> = stored.iter().map(|b| b.time().timestamp()).collect();
    assert_eq!(seen.len(), expected.len());
    assert_eq!(seen, expected, "every stored bar once, in order");
    assert!(pages > expected.len() / 97, "{pages} pages");
}

#[tokio::test]
async fn limit_counts_back_from_the_newest_bar_and_never_truncates_silently() {
    let w = World::new();
    let from = Utc.with_ymd_and_hms(2026, 6, 29, 0, 0, 0).unwrap();
    w.archive(&weekday_frame(Timeframe::H1, from, noon())).await;
    let base = serve(&w.api().build()).await;
    let (status, headers, body) = get(&format!(
        "{base}/api/v1/bars/EURUSD/H1?start=2026-06-29T00:00:00Z&limit=10"
    ))
    .await;
    assert_eq!(status, 200);
    let t = times(&body);
    assert_eq!(t.len(), 10);
    assert_eq!(
        *t.last().unwrap(),
        (noon() - Duration::hours(1)).timestamp()
    );
    assert_eq!(body["truncated"], true);
    assert_eq!(headers["x-axia-truncated"], "true");
    assert_eq!(body["next_before"], t[0]);
    // The window reaches now: a bar may still arrive, so it is revalidated every time.
    assert_eq!(headers["cache-control"], "no-cache");
}

#[tokio::test]
async fn bad_parameters_are_problem_details_with_the_parsers_message() {
    let w = World::new();
    let base = serve(&w.api().build()).await;
    let cases = [
        ("/api/v1/bars/..%2F..%2Fetc%2Fpasswd/H1", "symbol: "),
        ("/api/v1/bars/EUR%20USD/H1", "symbol: "),
        ("/api/v1/bars/EURUSD*/H1", "symbol: "),
        ("/api/v1/bars/EURUSD/H7", "timeframe: "),
        ("/api/v1/bars/EURUSD/H1?start=yesterday", "start: "),
        ("/api/v1/bars/EURUSD/H1?limit=0", "limit: "),
        ("/api/v1/bars/EURUSD/H1?limit=50001", "limit: "),
        ("/api/v1/bars/EURUSD/H1?use_case=gambling", "use_case: "),
        ("/api/v1/bars/EURUSD/H1?format=xml", "format: "),
        ("/api/v1/bars/EURUSD/H1?from=1", "query: "),
        ("/api/v1/trades/market-data/EURUSD?days=0", "days: "),
        (
            "/api/v1/trades/market-data/EURUSD?timeframe=X1",
            "timeframe: ",
        ),
        ("/ws/bars/EUR..USD/M1", "symbol: "),
        ("/chart/EURUSD/M2", "timeframe: "),
    ];
    // An end before the start is an empty window, not a refusal: the OpenAPI document cannot
    // say that one parameter must follow another, so every value it allows is taken.
    let (status, _, empty) = get(&format!("{base}/api/v1/bars/EURUSD/H1?start=20&end=10")).await;
    assert_eq!(status, 200, "{empty}");
    assert_eq!(empty["bars"].as_array().unwrap().len(), 0);
    for (path, prefix) in cases {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), 400, "{path}");
        assert_eq!(
            r.headers()["content-type"],
            "application/problem+json",
            "{path}"
        );
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["status"], 400);
        assert_eq!(p["type"], "/problems/invalid-parameter");
        assert!(p["title"].is_string());
        let detail = p["detail"].as_str().unwrap();
        assert!(detail.starts_with(prefix), "{path}: {detail}");
        assert!(p["instance"].as_str().unwrap().starts_with('/'));
    }
    let r = reqwest::get(format!("{base}/api/v2/nothing"))
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
}

#[tokio::test]
async fn no_source_that_can_answer_is_503() {
    // Redis on a port nothing listens on, and no other source for the chart use case.
    let clock = Arc::new(axia_domain::ManualClock::new(noon()));
    let down = RedisBarCache::new(
        RedisCacheConfig::new("redis://127.0.0.1:1/").namespace(namespace()),
        Arc::clone(&clock),
    )
    .unwrap();
    let provider = OhlcvDataProvider::builder()
        .hot_cache(down.clone())
        .clock(Arc::clone(&clock))
        .build();
    let api = Api::builder(provider)
        .clock(clock)
        .hot_tier(Arc::new(down.clone()), Arc::new(down))
        .build();
    let base = serve(&api).await;
    for path in [
        "/api/v1/bars/EURUSD/M1?limit=10",
        "/health/redis",
        "/api/v1/symbols",
    ] {
        let r = reqwest::get(format!("{base}{path}")).await.unwrap();
        assert_eq!(r.status(), 503, "{path}");
        assert_eq!(r.headers()["content-type"], "application/problem+json");
        let p: Value = r.json().await.unwrap();
        assert_eq!(p["type"], "/problems/unavailable");
        let detail = p["detail"].as_str().unwrap();
        assert!(!detail.is_empty());
    }
    let no_source = Api::builder(OhlcvDataProvider::builder().build()).build();
    let base = serve(&no_source).await;
    let (status, _, p) = get(&format!("{base}/api/v1/trades/market-data/EURUSD")).await;
    assert_eq!(status, 503);
    assert!(p["detail"].as_str().unwrap().contains("no source"), "{p}");
    let (status, _, _) = get(&format!("{base}/health/redis")).await;
    assert_eq!(status, 503, "no hot tier configured");
}

#[tokio::test]
async fn the_seeds_market_data_path_serves_the_same_body() {
    let w = World::new();
    let from = Utc.with_ymd_and_hms(2026, 6, 1, 0, 0, 0).unwrap();
    w.archive(&weekday_frame(Timeframe::H1, from, noon())).await;
    let base = serve(&w.api().build()).await;
    let (status, _, body) = get(&format!(
        "{base}/api/v1/trades/market-data/EURUSD?timeframe=H1&days=3"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    let t = times(&body);
    let start = (noon() - Duration::days(3)).timestamp();
    assert!(t.iter().all(|&x| x >= start));
    // 3 days back from Wednesday noon is Sunday noon, a weekend day in this archive: Monday
    // and Tuesday whole, Wednesday 00:00 to 11:00.
    assert_eq!(t.len(), 24 + 24 + 12);
    let (_, _, default) = get(&format!("{base}/api/v1/trades/market-data/EURUSD")).await;
    assert_eq!(default["timeframe"], "H1");
    // 30 days back is Monday 1 June, noon: its afternoon, the 21 weekdays after it in June
    // and Wednesday's morning.
    assert_eq!(times(&default).len(), 12 + 21 * 24 + 12);
}

#[tokio::test]
async fn symbols_health_and_openapi() {
    let w = World::new();
    let from = Utc.with_ymd_and_hms(2026, 6, 29, 0, 0, 0).unwrap();
    w.archive(&weekday_frame(Timeframe::H1, from, noon())).await;
    w.cache
        .save(&weekday_frame(
            Timeframe::M1,
            noon() - Duration::hours(1),
            noon(),
        ))
        .await
        .unwrap();
    let base = serve(&w.api().build()).await;

    let (status, _, body) = get(&format!("{base}/api/v1/symbols")).await;
    assert_eq!(status, 200, "{body}");
    let entry = &body["symbols"][0];
    assert_eq!(entry["symbol"], "EURUSD");
    assert_eq!(entry["instrument"]["tick"], "0.00001");
    let series: BTreeSet<(String, String)> = entry["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["store"].as_str().unwrap().to_owned(),
                s["timeframe"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        series.contains(&("cold_archive".into(), "H1".into())),
        "{series:?}"
    );
    assert!(
        series.contains(&("hot_cache".into(), "M1".into())),
        "{series:?}"
    );

    let (status, _, health) = get(&format!("{base}/health")).await;
    assert_eq!(
        (status.as_u16(), health["status"].as_str()),
        (200, Some("ok"))
    );
    let (status, _, redis) = get(&format!("{base}/health/redis")).await;
    assert_eq!(status, 200, "{redis}");
    assert!(redis["latency_ms"].as_f64().unwrap() >= 0.0);

    let (status, _, doc) = get(&format!("{base}/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    for path in [
        "/api/v1/bars/{symbol}/{timeframe}",
        "/api/v1/trades/market-data/{symbol}",
        "/api/v1/symbols",
        "/api/v1/features/{symbol}/{timeframe}",
        "/health",
        "/health/redis",
    ] {
        assert!(
            doc["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"].get("BarsBody").is_some());
}

#[tokio::test]
async fn features_are_read_from_the_feature_store() {
    let w = World::new();
    let store = Arc::new(MemoryFeatureStore::new());
    let snapshot = FeatureSnapshot {
        symbol: eurusd(),
        timeframe: Timeframe::H1,
        bar_open: noon() - Duration::hours(1),
        forming: false,
        values: [("sma_20".to_owned(), 1.10234), ("rsi_14".to_owned(), 55.5)]
            .into_iter()
            .collect(),
    };
    store.publish(&snapshot).await.unwrap();
    let features: Arc<dyn FeatureStore> = store;
    let base = serve(&w.api().feature_store(features).build()).await;
    let (status, _, body) = get(&format!("{base}/api/v1/features/EURUSD/H1")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["bar_time"], (noon() - Duration::hours(1)).timestamp());
    assert_eq!(body["forming"], false);
    assert_eq!(body["values"]["sma_20"], 1.10234);
    assert_eq!(body["values"]["rsi_14"], 55.5);
    let (status, _, p) = get(&format!("{base}/api/v1/features/EURUSD/M5")).await;
    assert_eq!(status, 404, "{p}");
    let bare = serve(&w.api().build()).await;
    let (status, _, _) = get(&format!("{bare}/api/v1/features/EURUSD/H1")).await;
    assert_eq!(status, 503);
}

/// The alerts of a series from the alert history: only that series', oldest first, the newest
/// `limit`; a bad limit is a 400 problem, no history a 503.
#[tokio::test]
async fn alerts_are_read_from_the_alert_history_by_series() {
    use axia_domain::{AlertLog, AlertRule, Bar};
    let w = World::new();
    let log = Arc::new(axia_memory::MemoryAlertLog::new());
    let rule = |tf: Timeframe| {
        AlertRule::new(
            "cross".parse().unwrap(),
            eurusd(),
            tf,
            "crossing_up(close, ema_20)".parse().unwrap(),
        )
    };
    for h in (1..=5).rev() {
        for tf in [Timeframe::H1, Timeframe::M5] {
            let t = noon() - Duration::hours(h);
            let bar = Bar::new(t, 1.1, 1.2, 1.0, 1.15, 3.0).unwrap();
            let values = [("close".to_owned(), 1.15), ("ema_20".to_owned(), 1.14)].into();
            log.record(&rule(tf).fire(&bar, false, values))
                .await
                .unwrap();
        }
    }
    let alerts: Arc<dyn AlertLog> = log;
    let base = serve(&w.api().alert_log(alerts).build()).await;
    let (status, _, body) = get(&format!("{base}/api/v1/alerts/EURUSD/H1?limit=3")).await;
    assert_eq!(status, 200, "{body}");
    let got = body["alerts"].as_array().unwrap();
    let times: Vec<i64> = got
        .iter()
        .map(|a| a["bar_time"].as_i64().unwrap())
        .collect();
    assert_eq!(
        times,
        [3, 2, 1]
            .map(|h| (noon() - Duration::hours(h)).timestamp())
            .to_vec(),
        "the newest three of the series, oldest first"
    );
    assert_eq!(got[0]["rule"], "cross");
    assert_eq!(got[0]["values"]["ema_20"], 1.14);
    assert!(
        got[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("EURUSD H1: crossing_up(close, ema_20)")
    );
    let (status, _, body) = get(&format!("{base}/api/v1/alerts/EURUSD/D1")).await;
    assert_eq!(status, 200);
    assert!(body["alerts"].as_array().unwrap().is_empty());
    for bad in ["limit=0", "limit=1001", "limit=x", "colour=red"] {
        let (status, _, p) = get(&format!("{base}/api/v1/alerts/EURUSD/H1?{bad}")).await;
        assert_eq!(status, 400, "{bad}: {p}");
    }
    let bare = serve(&w.api().build()).await;
    let (status, _, _) = get(&format!("{bare}/api/v1/alerts/EURUSD/H1")).await;
    assert_eq!(status, 503);
}

/// The chart page names its series, carries the instrument's precision and the attribution,
/// and its assets are served from the binary.
#[tokio::test]
async fn the_chart_page_and_its_vendored_assets() {
    let w = World::new();
    let api = w.api().limits(Limits::default()).build();
    let base = serve(&api).await;
    let page = reqwest::get(format!("{base}/chart/USDJPY/H1"))
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains("<title>USDJPY H1"), "title");
    assert!(
        html.contains("\"decimals\":3"),
        "JPY pairs have three decimals"
    );
    assert!(html.contains("TradingView Lightweight Charts"));
    assert!(html.contains("https://www.tradingview.com/"));
    assert!(!html.contains("{{"), "every placeholder filled");
    let js = reqwest::get(format!("{base}/assets/lightweight-charts-5.2.1.js"))
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    assert!(
        js.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let js = js.text().await.unwrap();
    assert!(js.contains("Lightweight Charts") && js.contains("Apache License 2.0"));
    let notice = reqwest::get(format!("{base}/assets/lightweight-charts.NOTICE"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(notice.contains("TradingView, Inc."));
}

/// A symbol holding `&` is escaped in the page's markup, and one holding `^` or `=` reaches
/// the page however the client encoded it.
#[tokio::test]
async fn the_chart_page_escapes_and_decodes_symbols() {
    let w = World::new();
    let api = w.api().limits(Limits::default()).build();
    let base = serve(&api).await;
    for (path, symbol, title) in [
        ("AT%26T", "AT&T", "AT&amp;T M5"),
        ("AT&T", "AT&T", "AT&amp;T M5"),
        ("%5EN225", "^N225", "^N225 M5"),
        ("USDJPY%3DX", "USDJPY=X", "USDJPY=X M5"),
        ("USDJPY=X", "USDJPY=X", "USDJPY=X M5"),
    ] {
        let page = reqwest::get(format!("{base}/chart/{path}/M5"))
            .await
            .unwrap();
        assert_eq!(page.status(), 200, "{path}");
        let html = page.text().await.unwrap();
        assert!(html.contains(&format!("<title>{title} ")), "{path}");
        assert!(html.contains(&format!("<h1>{title}</h1>")), "{path}");
        assert!(
            html.contains(&format!("\"symbol\":\"{symbol}\"")),
            "{path}: the page's config holds the symbol itself"
        );
        let bars = reqwest::get(format!("{base}/api/v1/bars/{path}/M5?limit=5"))
            .await
            .unwrap();
        assert_eq!(bars.status(), 200, "{path}");
    }
}

/// A coin on its catch-all tick (0.00000001) in CSV: as many decimals as its prices use (its
/// cents here), every price reading back exactly, where the tick's eight printed noise zeros.
#[tokio::test]
async fn csv_prints_a_coin_with_the_decimals_its_prices_use() {
    let w = World::new();
    let coin: Symbol = "BTC-USD".parse().unwrap();
    let day = Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0).unwrap();
    let bars: Vec<Bar> = (0..6)
        .map(|h| {
            let c = 90_950.12 + f64::from(h) * 3.5;
            Bar::new(
                day + Duration::hours(i64::from(h)),
                c,
                c + 10.25,
                c - 7.5,
                c,
                1.5,
            )
            .unwrap()
        })
        .collect();
    w.archive(&OhlcvFrame::from_bars(coin, Timeframe::H1, bars.clone()).unwrap())
        .await;
    let base = serve(&w.api().build()).await;
    let text = reqwest::get(format!(
        "{base}/api/v1/bars/BTC-USD/H1?start=2026-06-30T00:00:00Z&end=2026-06-30T05:00:00Z&format=csv"
    ))
    .await
    .unwrap()
    .text()
    .await
    .unwrap();
    let rows: Vec<Vec<&str>> = text
        .lines()
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    assert_eq!(rows.len(), 6, "{text}");
    for (row, bar) in rows.iter().zip(&bars) {
        for (cell, price) in row[1..5]
            .iter()
            .zip([bar.open(), bar.high(), bar.low(), bar.close()])
        {
            assert_eq!(
                cell.split_once('.').map(|(_, f)| f.len()),
                Some(2),
                "{text}"
            );
            assert_eq!(cell.parse::<f64>().unwrap(), price);
        }
    }
}

/// `days` counts trading days on the instrument's calendar at the server's clock: on a
/// weekend, before Monday's open and after a holiday, a stock's window holds its last sessions,
/// never an empty weekend; an FX pair's its last trading dates.
#[tokio::test]
async fn days_counts_the_instruments_trading_days_at_the_servers_clock() {
    let utc = |d: u32, h: u32, m: u32| Utc.with_ymd_and_hms(2026, 11, d, h, m, 0).unwrap();
    let new_york = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .with_timezone(&chrono_tz::America::New_York)
            .date_naive()
            .to_string()
    };
    let tokyo = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .unwrap()
            .with_timezone(&chrono_tz::Asia::Tokyo)
            .date_naive()
            .to_string()
    };
    // The FX trading date: the New York date of the 17:00 close that ends the bar's day.
    let fx = |t: i64| {
        axia_domain::DailyAlignment::NewYorkClose
            .date_of(chrono::DateTime::from_timestamp(t, 0).unwrap())
            .to_string()
    };
    type DateOf<'a> = &'a dyn Fn(i64) -> String;
    type Case<'a> = (
        chrono::DateTime<Utc>,
        &'a str,
        u32,
        DateOf<'a>,
        &'a [&'a str],
    );
    let cases: [Case; 9] = [
        // Sunday, Monday before the open, Monday once open.
        (
            utc(15, 12, 0),
            "AT%26T",
            2,
            &new_york,
            &["2026-11-12", "2026-11-13"],
        ),
        (
            utc(16, 6, 0),
            "AT%26T",
            2,
            &new_york,
            &["2026-11-12", "2026-11-13"],
        ),
        (
            utc(16, 14, 45),
            "AT%26T",
            2,
            &new_york,
            &["2026-11-13", "2026-11-16"],
        ),
        // The Friday after Thanksgiving (Thursday closed): Wednesday's session and Friday's.
        (
            utc(27, 18, 0),
            "AAPL",
            2,
            &new_york,
            &["2026-11-25", "2026-11-27"],
        ),
        (utc(15, 12, 0), "7203.T", 1, &tokyo, &["2026-11-13"]),
        (
            utc(16, 6, 0),
            "7203.T",
            2,
            &tokyo,
            &["2026-11-13", "2026-11-16"],
        ),
        // FX on Sunday noon and on Monday 06:00 (Monday's date opened on Sunday at 22:00).
        (
            utc(15, 12, 0),
            "EURUSD",
            2,
            &fx,
            &["2026-11-12", "2026-11-13"],
        ),
        (
            utc(16, 6, 0),
            "EURUSD",
            2,
            &fx,
            &["2026-11-13", "2026-11-16"],
        ),
        (
            utc(16, 6, 0),
            "EURUSD",
            3,
            &fx,
            &["2026-11-12", "2026-11-13", "2026-11-16"],
        ),
    ];
    for (now, symbol, days, date_of, expected) in cases {
        let clock = Arc::new(axia_domain::ManualClock::new(now));
        let broker = axia_simbroker::SimulatedBroker::new(11, Arc::clone(&clock));
        let provider = OhlcvDataProvider::builder()
            .fallback(broker)
            .clock(Arc::clone(&clock))
            .build();
        let base = serve(&Api::builder(provider).clock(clock).build()).await;
        let (status, _, body) = get(&format!(
            "{base}/api/v1/bars/{symbol}/M5?days={days}&limit=50000&format=json"
        ))
        .await;
        assert_eq!(status, 200, "{symbol} at {now}: {body}");
        let t = times(&body);
        let dates: BTreeSet<String> = t.iter().map(|&t| date_of(t)).collect();
        let expected: BTreeSet<String> = expected.iter().map(|&d| d.to_owned()).collect();
        assert_eq!(
            dates, expected,
            "{symbol} at {now}: the last {days} trading days"
        );
        assert!(*t.last().unwrap() <= now.timestamp(), "{symbol} at {now}");
        assert!(
            body.get("next_before").is_none(),
            "a window with days ends paging"
        );
    }
    // `days` and `start` together: the later start wins (`start` here).
    let w = World::new();
    let base = serve(&w.api().build()).await;
    let (status, _, body) = get(&format!(
        "{base}/api/v1/bars/EURUSD/H1?days=20&start=2026-06-30T00:00:00Z"
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["start"],
        Utc.with_ymd_and_hms(2026, 6, 30, 0, 0, 0)
            .unwrap()
            .timestamp()
    );
    // Days out of range: a 400 naming the parameter.
    for q in ["days=0", "days=3661", "days=-1", "days=1.5"] {
        let (status, headers, body) = get(&format!("{base}/api/v1/bars/EURUSD/H1?{q}")).await;
        assert_eq!(status, 400, "{q}: {body}");
        assert_eq!(headers["content-type"], "application/problem+json");
        assert!(
            body["detail"].as_str().unwrap().starts_with("days:"),
            "{q}: {body}"
        );
    }
}
