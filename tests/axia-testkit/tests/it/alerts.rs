//! Alerts: the [`AlertLog`] contract on every adapter (memory, Redis), and the rules of the
//! feature engine fired live equal to the same rules replayed over history
//! (`FeatureEngine::alerts_over`, what `axia alerts test` prints), across a restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use axia_domain::{
    Alert, AlertLog, AlertRecorded, AlertRule, Bar, Frequency, ManualClock, OhlcvFrame, OhlcvStore,
    Symbol, TimeRange, Timeframe,
};
use axia_features::{AlertRules, FeatureConfig, FeatureEngine};
use axia_memory::{MemoryAlertLog, MemoryFeatureStore, MemoryStore};
use axia_provider::OhlcvDataProvider;
use axia_redis::{RedisAlertLog, RedisBarCache, RedisCacheConfig};
use chrono::{DateTime, Duration, TimeZone, Utc};

fn eurusd() -> Symbol {
    "EURUSD".parse().unwrap()
}

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 0, 0, 0).unwrap()
}

fn alert(rule: &str, minute: i64) -> Alert {
    let mut r = AlertRule::new(
        rule.parse().unwrap(),
        eurusd(),
        Timeframe::M5,
        "close > 1".parse().unwrap(),
    );
    r.frequency = Frequency::OncePerBarClose;
    let bar = Bar::new(t0() + Duration::minutes(minute), 1.5, 1.5, 1.5, 1.5, 1.0).unwrap();
    r.fire(&bar, false, [("close".to_owned(), 1.5)].into())
}

/// What every alert log promises.
async fn log_contract(log: Arc<dyn AlertLog>) {
    assert!(log.recent(10).await.unwrap().is_empty());
    let a = alert("a", 0);
    let AlertRecorded::New(first) = log.record(&a).await.unwrap() else {
        panic!("a new alert is recorded");
    };
    assert_eq!(log.record(&a).await.unwrap(), AlertRecorded::Duplicate);
    // Concurrent records of one id: one is new.
    let b = alert("b", 5);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let (log, b) = (Arc::clone(&log), b.clone());
            tokio::spawn(async move { log.record(&b).await.unwrap() })
        })
        .collect();
    let mut new = 0;
    for t in tasks {
        if matches!(t.await.unwrap(), AlertRecorded::New(_)) {
            new += 1;
        }
    }
    assert_eq!(new, 1);
    for m in [10, 15, 20] {
        log.record(&alert("c", m)).await.unwrap();
    }
    let recent = log.recent(3).await.unwrap();
    let ids: Vec<String> = recent.iter().map(|l| l.alert.id.to_string()).collect();
    let at = |m: i64| (t0() + Duration::minutes(m)).timestamp_millis();
    assert_eq!(
        ids,
        vec![
            format!("c:1:{}", at(10)),
            format!("c:1:{}", at(15)),
            format!("c:1:{}", at(20))
        ],
        "newest 3, oldest first"
    );
    let all = log.recent(100).await.unwrap();
    assert_eq!(all.len(), 5);
    assert_eq!(all[0].entry, first);
    assert_eq!(all[0].alert, a, "the alert comes back as recorded");
    assert!(log.recent(0).await.unwrap().is_empty());
}

#[tokio::test]
async fn memory_alert_log_keeps_the_contract() {
    log_contract(Arc::new(MemoryAlertLog::new())).await;
}

fn redis_cache() -> RedisBarCache {
    static N: AtomicU32 = AtomicU32::new(0);
    let url = std::env::var("REDIS_URL")
        .unwrap_or_else(|_| panic!("REDIS_URL is not set: run the suite through scripts/test.sh"));
    let ns = format!(
        "alerts-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, Ordering::Relaxed)
    );
    RedisBarCache::new(
        RedisCacheConfig::new(url).namespace(ns),
        Arc::new(ManualClock::new(t0())),
    )
    .unwrap()
}

#[tokio::test]
async fn redis_alert_log_keeps_the_contract() {
    log_contract(Arc::new(RedisAlertLog::new(redis_cache()))).await;
}

/// A `once` rule's alert id is remembered for ever; others for the dedupe window.
#[tokio::test]
async fn redis_alert_log_is_ordered_and_remembers_once_alerts_for_ever() {
    let cache = redis_cache();
    let log = RedisAlertLog::new(cache.clone()).dedupe_window(std::time::Duration::from_secs(60));
    let mut once = AlertRule::new(
        "once".parse().unwrap(),
        eurusd(),
        Timeframe::M5,
        "close > 1".parse().unwrap(),
    );
    once.frequency = Frequency::Once;
    let bar = Bar::new(t0(), 1.5, 1.5, 1.5, 1.5, 1.0).unwrap();
    let a = once.fire(&bar, false, Default::default());
    assert!(matches!(
        log.record(&a).await.unwrap(),
        AlertRecorded::New(_)
    ));
    let b = alert("timed", 0);
    log.record(&b).await.unwrap();
    let mut c = redis::Client::open(std::env::var("REDIS_URL").unwrap())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl = |id: &str| {
        redis::cmd("TTL")
            .arg(log.key(&format!("fired:{id}")))
            .clone()
    };
    let once_ttl: i64 = ttl(a.id.as_str()).query_async(&mut c).await.unwrap();
    let timed_ttl: i64 = ttl(b.id.as_str()).query_async(&mut c).await.unwrap();
    assert_eq!(once_ttl, -1, "a once alert never expires");
    assert!((1..=60).contains(&timed_ttl), "{timed_ttl}");
}

/// H1 bars over a month, with a weekend gap and random closes.
fn month() -> OhlcvFrame {
    let mut x: u64 = 0x5eed;
    let mut c = 1.1;
    let hours = 24 * 31;
    let mut b = OhlcvFrame::builder(eurusd(), Timeframe::H1, hours);
    for h in 0..i64::try_from(hours).unwrap() {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        c += ((x >> 32) as f64 / f64::from(u32::MAX) - 0.5) * 0.004;
        let c = (c * 100_000.0_f64).round() / 100_000.0;
        // A closure: Saturday and Sunday of the second week hold no bar.
        if (24 * 12..24 * 14).contains(&h) {
            continue;
        }
        let t = (t0() + Duration::hours(h)).timestamp_millis();
        b.push(t, c, c + 0.0006, c - 0.0005, c, 10.0).unwrap();
    }
    b.finish()
}

fn config() -> FeatureConfig {
    FeatureConfig::standard()
        .indicators(&[
            "ema_4".parse().unwrap(),
            "ema_9".parse().unwrap(),
            "rsi_3".parse().unwrap(),
            "bb_20_2".parse().unwrap(),
        ])
        .unwrap()
        .anchoring(24, Duration::zero())
        .max_backfill(1_000)
}

fn rules() -> AlertRules {
    let rule = |id: &str, condition: &str, frequency: Frequency| {
        let mut r = AlertRule::new(
            id.parse().unwrap(),
            eurusd(),
            Timeframe::H1,
            condition.parse().unwrap(),
        );
        r.frequency = frequency;
        r.message = "{{rule}} {{close}} {{ema_4}}".parse().unwrap();
        r
    };
    let mut expiring = rule("rsi-high", "rsi_3 > 90", Frequency::OncePerBarClose);
    expiring.expires_at = Some(t0() + Duration::days(20));
    AlertRules::new(
        [
            rule(
                "ema-cross",
                "crossing(ema_4, ema_9)",
                Frequency::OncePerBarClose,
            ),
            rule(
                "close-over",
                "crossing_up(close, ema_9)",
                Frequency::OncePerBar,
            ),
            rule(
                "bands-in",
                "entering_channel(close, bb_lower_20_2, bb_upper_20_2)",
                Frequency::OncePerBarClose,
            ),
            rule(
                "move",
                "moving_up(close, 0.2, 5)",
                Frequency::OncePerBarClose,
            ),
            rule("first-dip", "moving_down(close, 0.15, 2)", Frequency::Once),
            expiring,
        ],
        &config(),
    )
    .unwrap()
}

fn closed_only(alerts: &[Alert]) -> Vec<(String, Vec<(String, u64)>)> {
    alerts
        .iter()
        .filter(|a| !a.forming)
        .map(|a| {
            (
                a.id.to_string(),
                a.values
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_bits()))
                    .collect(),
            )
        })
        .collect()
}

/// A month of H1 bars fed hour by hour, with a restart (a new engine: no point kept) in the
/// middle: the alerts recorded live are, closed bar for closed bar, the ones the same rules
/// give over history; each once; a once rule fires once.
#[tokio::test]
async fn alerts_fired_live_equal_the_rules_replayed_over_history() {
    let bars = month();
    let archive = Arc::new(MemoryStore::new());
    let hot = Arc::new(MemoryStore::new());
    let clock = Arc::new(ManualClock::new(t0()));
    let provider = OhlcvDataProvider::builder()
        .hot_cache(Arc::clone(&hot))
        .cold_archive(Arc::clone(&archive))
        .clock(Arc::clone(&clock))
        .build();
    let store = Arc::new(MemoryFeatureStore::new());
    let log = Arc::new(MemoryAlertLog::new());
    let engine = || {
        FeatureEngine::new(provider.clone(), Arc::clone(&store))
            .clock(Arc::clone(&clock))
            .config(config())
            .alerts(rules(), Arc::clone(&log))
    };
    // Live from day 3 on: each hour the newest bar arrives (and half an hour later, a
    // forming update of the next one).
    let start = t0() + Duration::days(3);
    archive
        .save(&bars.slice(TimeRange::new(t0(), start).unwrap()))
        .await
        .unwrap();
    let mut live = engine();
    let mut fired_live = Vec::new();
    let mut h = 0;
    while start + Duration::hours(h) < t0() + Duration::days(31) {
        let now = start + Duration::hours(h);
        // The archive holds the closed bars; the hot tier the last day, the newest bar
        // forming.
        archive
            .save(&bars.slice(TimeRange::new(t0(), now).unwrap()))
            .await
            .unwrap();
        let day = TimeRange::new(now - Duration::days(1), now + Duration::minutes(31)).unwrap();
        hot.save(&bars.slice(day)).await.unwrap();
        clock.set(now + Duration::seconds(1));
        fired_live.extend(live.refresh(&eurusd(), Timeframe::H1).await.unwrap().alerts);
        clock.set(now + Duration::minutes(31));
        fired_live.extend(live.refresh(&eurusd(), Timeframe::H1).await.unwrap().alerts);
        if h == 24 * 12 + 7 {
            // A restart: the rules' points are gone; the warm-up brings them back.
            live = engine();
        }
        h += 1;
    }
    // The first bar evaluated live: the newest closed one at the first refresh.
    let range = TimeRange::new(start - Duration::hours(1), t0() + Duration::days(31)).unwrap();
    let replayed = engine()
        .alerts_over(&rules(), &eurusd(), Timeframe::H1, range)
        .await
        .unwrap();
    let logged: Vec<Alert> = log
        .recent(100_000)
        .await
        .unwrap()
        .into_iter()
        .map(|l| l.alert)
        .collect();
    assert_eq!(
        logged, fired_live,
        "what the log holds is what fired, each once"
    );
    // The closed-bar rules fired live exactly where history says.
    let live_closed = closed_only(&fired_live);
    let mut replayed_closed = closed_only(&replayed);
    // A once-per-bar rule fired on a forming update keeps that bar's id: its closed alert is
    // the same id, recorded once. Compare the other rules, and that one by its bars.
    let forming_ids: Vec<String> = fired_live
        .iter()
        .filter(|a| a.forming)
        .map(|a| a.id.to_string())
        .collect();
    replayed_closed.retain(|(id, _)| !forming_ids.contains(id));
    assert_eq!(live_closed, replayed_closed);
    assert!(
        replayed.len() >= 20,
        "the month fires enough to mean something: {}",
        replayed.len()
    );
    for rule in ["ema-cross", "close-over", "bands-in", "move", "rsi-high"] {
        assert!(
            replayed.iter().any(|a| a.rule.as_str() == rule),
            "{rule} never fired"
        );
    }
    assert_eq!(
        logged
            .iter()
            .filter(|a| a.rule.as_str() == "first-dip")
            .count(),
        1,
        "a once rule fires once, across the restart"
    );
    assert!(
        replayed
            .iter()
            .filter(|a| a.rule.as_str() == "rsi-high")
            .all(|a| a.bar_open < t0() + Duration::days(20)),
        "an expired rule fires no more"
    );
    // Forming alerts came from the forming bar, and are once per bar.
    assert!(fired_live.iter().any(|a| a.forming));
    let mut ids: Vec<&str> = logged.iter().map(|a| a.id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), logged.len());
    // Messages carry the values that fired them.
    let a = &replayed[0];
    assert!(a.message.starts_with(a.rule.as_str()), "{}", a.message);
}

#[test]
fn a_rule_naming_a_feature_its_series_lacks_is_refused_by_name() {
    let mut r = AlertRule::new(
        "bad-one".parse().unwrap(),
        eurusd(),
        Timeframe::H1,
        "crossing_up(ema_20, ema_50)".parse().unwrap(),
    );
    let e = AlertRules::new([r.clone()], &config())
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("alert rule bad-one") && e.contains("ema_20 is not a feature"),
        "{e}"
    );
    r.condition = "crossing_up(ema_4, ema_9)".parse().unwrap();
    let e = AlertRules::new([r.clone(), r], &config())
        .unwrap_err()
        .to_string();
    assert!(e.contains("used by two rules"), "{e}");
}

/// Webhooks end to end over Redis and real HTTP: a burst of alerts posted to a receiver that
/// is down for 10 s, then slow, then answers 500 twice, with the dispatcher killed in the
/// middle and another taking over, and the alerts recorded again (a replay): every alert
/// reaches the receiver (counted by `webhook-id`), each signed; a second webhook that always
/// fails ends in the dead letters after its tries, and only it.
#[tokio::test]
async fn webhooks_deliver_every_alert_through_outages_and_a_dispatcher_restart() {
    use axia_domain::{Backoff, WebhookOutbox};
    use axia_features::WebhookDispatcher;
    use axia_webhooks::{HttpWebhooks, WebhookSecret, WebhookSettings};
    use std::time::Duration as StdDuration;
    use wiremock::matchers::method;
    use wiremock::{Mock, MockServer, ResponseTemplate};

    const SECRET: &str = "whsec_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0";
    let log = RedisAlertLog::new(redis_cache());
    // The receiver's port, closed for now.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let broken = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(503).insert_header("retry-after", "0"))
        .mount(&broken)
        .await;
    let hook = |url: String| WebhookSettings {
        url,
        secret_env: None,
        allow_unsigned: false,
        timeout_secs: 1,
        allow_private_network: true,
        secret: Some(SECRET.to_owned()),
    };
    let webhooks = HttpWebhooks::new(
        &[
            (
                "ops".parse().unwrap(),
                hook(format!("http://127.0.0.1:{port}/hook")),
            ),
            (
                "broken".parse().unwrap(),
                hook(format!("{}/hook", broken.uri())),
            ),
        ],
        Arc::new(axia_domain::SystemClock),
    )
    .unwrap();
    let dispatcher = || {
        WebhookDispatcher::new(log.clone(), webhooks.clone())
            .max_attempts(12)
            .backoff(Backoff::new(
                StdDuration::from_millis(500),
                StdDuration::from_secs(2),
            ))
            .lease(StdDuration::from_secs(3))
            .poll_every(StdDuration::from_millis(50))
    };
    // The burst: 30 alerts, each for both webhooks.
    let mut rule = AlertRule::new(
        "burst".parse().unwrap(),
        eurusd(),
        Timeframe::M1,
        "close > 1".parse().unwrap(),
    );
    rule.webhooks = vec!["ops".parse().unwrap(), "broken".parse().unwrap()];
    let alerts: Vec<Alert> = (0..30)
        .map(|i| {
            let bar = Bar::new(t0() + Duration::minutes(i), 1.5, 1.5, 1.5, 1.5, 1.0).unwrap();
            rule.fire(&bar, false, [("close".to_owned(), 1.5)].into())
        })
        .collect();
    for a in &alerts {
        assert!(matches!(
            log.record(a).await.unwrap(),
            AlertRecorded::New(_)
        ));
    }
    assert_eq!(log.pending().await.unwrap(), 60);
    let (stop_a, stopped_a) = tokio::sync::oneshot::channel::<()>();
    let first = tokio::spawn(dispatcher().run(async {
        stopped_a.await.ok();
    }));
    // Down for 10 s: every post fails to connect.
    tokio::time::sleep(StdDuration::from_secs(10)).await;
    let listener = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let receiver = MockServer::builder().listener(listener).start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(StdDuration::from_secs(2)))
        .up_to_n_times(3)
        .with_priority(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(2)
        .with_priority(2)
        .mount(&receiver)
        .await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .with_priority(3)
        .mount(&receiver)
        .await;
    // A replay of the burst (an engine restarted) queues nothing new.
    for a in &alerts {
        assert_eq!(log.record(a).await.unwrap(), AlertRecorded::Duplicate);
    }
    // The dispatcher dies mid-way (its claimed deliveries come back after their lease);
    // another takes over.
    tokio::time::sleep(StdDuration::from_millis(2_500)).await;
    first.abort();
    drop(stop_a);
    let (stop_b, stopped_b) = tokio::sync::oneshot::channel::<()>();
    let second = tokio::spawn(dispatcher().run(async {
        stopped_b.await.ok();
    }));
    let deadline = std::time::Instant::now() + StdDuration::from_secs(60);
    while log.pending().await.unwrap() > 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "still pending: {}",
            log.pending().await.unwrap()
        );
        tokio::time::sleep(StdDuration::from_millis(100)).await;
    }
    stop_b.send(()).unwrap();
    second.await.unwrap();

    let secret = WebhookSecret::new(SECRET);
    let received = receiver.received_requests().await.unwrap();
    let mut ids: Vec<String> = Vec::new();
    for r in &received {
        let header = |n: &str| r.headers.get(n).unwrap().to_str().unwrap().to_owned();
        let ts: i64 = header("webhook-timestamp").parse().unwrap();
        assert!(
            axia_webhooks::verify(
                &secret,
                &header("webhook-id"),
                ts,
                &r.body,
                &header("webhook-signature")
            ),
            "every post is signed"
        );
        let body: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(body["type"], "alert.fired");
        assert_eq!(
            body["data"]["id"].as_str().unwrap(),
            header("webhook-id").split('|').next().unwrap()
        );
        ids.push(header("webhook-id"));
    }
    ids.sort();
    ids.dedup();
    let mut expected: Vec<String> = alerts.iter().map(|a| format!("{}|ops", a.id)).collect();
    expected.sort();
    assert_eq!(ids, expected, "every alert reached the receiver");
    let dead = log.dead_letters(1_000).await.unwrap();
    assert_eq!(
        dead.len(),
        30,
        "only the failing webhook's deliveries are dead"
    );
    for d in &dead {
        assert_eq!(d.delivery.webhook.as_str(), "broken");
        assert_eq!(d.delivery.attempt, 12);
        assert!(
            d.error.contains("503") && d.error.contains("attempt 12 of 12"),
            "{}",
            d.error
        );
        assert!(!d.error.contains("c2VjcmV0"), "no secret in an error");
    }
}
