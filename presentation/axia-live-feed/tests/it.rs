//! `axia-live` as ops run it: on the simulated stream into Redis, /health and /metrics on its
//! port, SIGTERM writes what is forming and exits 0; a wrong configuration is one line and
//! exit code 2.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axia_domain::{ManualClock, OhlcvStore, TimeRange, Timeframe};
use axia_redis::{RedisBarCache, RedisCacheConfig};
use chrono::{TimeZone, Utc};

fn unique(what: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{what}-{}-{}-{}",
        std::process::id(),
        Utc::now().timestamp_micros(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

fn redis_url() -> String {
    std::env::var("REDIS_URL")
        .unwrap_or_else(|_| panic!("REDIS_URL is not set: run the suite through scripts/test.sh"))
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A directory and a config file in it.
fn config(toml: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(unique("axia-live"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("axia.toml");
    std::fs::write(
        &path,
        format!(
            "{toml}\n[archive]\nlocation = \"{}\"\n",
            dir.join("archive").display()
        ),
    )
    .unwrap();
    path
}

fn start(config: &Path, extra: &[&str]) -> (Child, PathBuf) {
    let log = config.with_file_name("axia-live.log");
    let child = Command::new(env!("CARGO_BIN_EXE_axia-live"))
        .args(["--config", config.to_str().unwrap()])
        .args(extra)
        .env_remove("REDIS_URL")
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    (child, log)
}

async fn get(url: &str) -> Option<(u16, String)> {
    let r = reqwest::get(url).await.ok()?;
    let status = r.status().as_u16();
    Some((status, r.text().await.ok()?))
}

/// The value of a metric line `name{labels} value`.
fn metric(text: &str, name: &str) -> u64 {
    text.lines()
        .find(|l| l.starts_with(name) && !l.starts_with('#'))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_into_redis_reports_and_flushes_on_sigterm() {
    let namespace = unique("live-it");
    let port = free_port();
    let cfg = config(&format!(
        "source = \"simulated\"\nsymbols = [\"EURUSD\", \"USDJPY\"]\n\
         [hot_cache]\nurl = \"{}\"\nnamespace = \"{namespace}\"\n\
         [live]\ntimeframes = [\"M1\", \"H1\"]\nlisten = \"127.0.0.1:{port}\"\n",
        redis_url()
    ));
    // A Tuesday afternoon, whatever day the test runs.
    let at = Utc.with_ymd_and_hms(2026, 11, 10, 14, 0, 0).unwrap();
    let (mut child, log) = start(&cfg, &["--at", "2026-11-10T14:00:00Z"]);
    let base = format!("http://127.0.0.1:{port}");
    let mut healthy = None;
    for _ in 0..200 {
        if let Some((200, body)) = get(&format!("{base}/health")).await {
            let h: serde_json::Value = serde_json::from_str(&body).unwrap();
            if h["quotes_accepted"].as_u64().unwrap_or(0) >= 5 {
                healthy = Some(h);
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let h = healthy.unwrap_or_else(|| {
        let _ = child.kill();
        panic!("never healthy: {}", std::fs::read_to_string(&log).unwrap())
    });
    assert_eq!(h["status"], "ok");
    assert_eq!(h["instruments"], 2);
    let (status, metrics) = get(&format!("{base}/metrics")).await.unwrap();
    assert_eq!(status, 200);
    assert!(
        metric(&metrics, "axia_live_quotes_accepted_total") >= 5,
        "{metrics}"
    );
    assert_eq!(metric(&metrics, "axia_live_connects_total"), 1);
    assert!(
        metrics.contains("axia_live_quotes_dropped_total{reason=\"outlier\"} 0"),
        "{metrics}"
    );
    // The hot tier holds the forming bars, labelled forming.
    let cache = RedisBarCache::new(
        RedisCacheConfig::new(redis_url()).namespace(namespace),
        Arc::new(ManualClock::new(at + chrono::Duration::minutes(1))),
    )
    .unwrap();
    let window = TimeRange::new(
        at - chrono::Duration::hours(2),
        at + chrono::Duration::hours(2),
    )
    .unwrap();
    let m1 = cache
        .get(&"EURUSD".parse().unwrap(), Timeframe::M1, window)
        .await
        .unwrap();
    assert!(!m1.is_empty());
    assert!(m1.forming().is_some(), "{m1:?}");
    // It announces its instruments: the collector leaves their hot bars to it.
    assert!(
        axia_domain::LivePresence::is_live(&cache, &"USDJPY".parse().unwrap())
            .await
            .unwrap()
    );
    // SIGTERM: exit 0 after writing.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status:?}: {logs}");
    for line in logs.lines() {
        assert!(line.starts_with('{'), "JSON lines only: {line}");
    }
    assert!(logs.contains("axia-live stopped"), "{logs}");
    let h1 = cache
        .get(&"USDJPY".parse().unwrap(), Timeframe::H1, window)
        .await
        .unwrap();
    // The forming 14:00 bar, and before it the source's closed candle that the feed filled in
    // at its start (the last `2 x failover_ms` of every series).
    assert_eq!(h1.forming_millis(), Some(at.timestamp_millis()), "{h1:?}");
    assert!(h1.len() <= 2, "{h1:?}");
}

#[test]
fn a_source_without_a_stream_or_no_redis_is_one_line_and_exit_2() {
    for (toml, says) in [
        (
            "source = \"yahoo\"\n[hot_cache]\nurl = \"redis://127.0.0.1:6379\"\n".to_owned(),
            "no live price stream",
        ),
        ("source = \"simulated\"\n".to_owned(), "REDIS_URL"),
    ] {
        let cfg = config(&toml);
        let (mut child, log) = start(&cfg, &[]);
        let status = child.wait().unwrap();
        let err = std::fs::read_to_string(&log).unwrap();
        assert_eq!(status.code(), Some(2), "{err}");
        let last = err.lines().last().unwrap_or_default();
        assert!(
            last.starts_with("axia-live: ") && last.contains(says),
            "{err}"
        );
    }
}

/// The holder of each instrument's lease, from Redis.
async fn holders(namespace: &str, symbols: &[&str]) -> Vec<Option<String>> {
    use axia_domain::InstrumentOwnership;
    let cache = RedisBarCache::new(
        RedisCacheConfig::new(redis_url()).namespace(namespace),
        Arc::new(ManualClock::new(Utc::now())),
    )
    .unwrap();
    let mut out = Vec::new();
    for s in symbols {
        out.push(cache.holder(&s.parse().unwrap()).await.unwrap());
    }
    out
}

/// `held` of each process's /health (0 for one that does not answer).
async fn held(ports: &[u16]) -> Vec<u64> {
    let mut out = Vec::new();
    for p in ports {
        let h = get(&format!("http://127.0.0.1:{p}/health"))
            .await
            .and_then(|(_, b)| serde_json::from_str::<serde_json::Value>(&b).ok())
            .and_then(|h| h["held"].as_u64())
            .unwrap_or(0);
        out.push(h);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_share_the_instruments_and_take_over_from_one_killed() {
    const SYMBOLS: [&str; 6] = ["EURUSD", "USDJPY", "GBPUSD", "EURJPY", "AUDUSD", "USDCHF"];
    let namespace = unique("live-shared");
    let failover_ms = 3_000u64;
    // A Tuesday afternoon whatever day the test runs; each process's clock starts where the
    // first one's is then, so all run on one time.
    let at = Utc.with_ymd_and_hms(2026, 11, 10, 14, 0, 30).unwrap();
    let started = std::time::Instant::now();
    let mut procs = Vec::new();
    for _ in 0..3 {
        let port = free_port();
        let cfg = config(&format!(
            "source = \"simulated\"\nsymbols = {SYMBOLS:?}\n\
             [hot_cache]\nurl = \"{}\"\nnamespace = \"{namespace}\"\n\
             [live]\ntimeframes = [\"M1\"]\nlisten = \"127.0.0.1:{port}\"\n\
             failover_ms = {failover_ms}\nreconcile_secs = 1\n",
            redis_url()
        ));
        let now = at + chrono::Duration::from_std(started.elapsed()).unwrap();
        let (child, log) = start(&cfg, &["--at", &now.to_rfc3339()]);
        procs.push((child, log, port));
    }
    let ports: Vec<u16> = procs.iter().map(|p| p.2).collect();
    let dump = |procs: &[(Child, PathBuf, u16)]| {
        procs
            .iter()
            .map(|p| std::fs::read_to_string(&p.1).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    // Balanced: two each, every instrument held by exactly one live process.
    let mut balanced = false;
    for _ in 0..150 {
        if held(&ports).await == [2, 2, 2] {
            balanced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if !balanced {
        for p in &mut procs {
            let _ = p.0.kill();
        }
        panic!("never balanced: {:?}\n{}", held(&ports).await, dump(&procs));
    }
    let owners = holders(&namespace, &SYMBOLS).await;
    assert!(owners.iter().all(Option::is_some), "{owners:?}");
    let mut members: Vec<&String> = owners.iter().flatten().collect();
    members.sort();
    members.dedup();
    assert_eq!(members.len(), 3, "three members hold them: {owners:?}");

    // SIGKILL one: nothing is released, its leases lapse, the two others take its instruments
    // within the failover time.
    let (mut victim, _, _) = procs.remove(0);
    let victim_pid = victim.id();
    victim.kill().unwrap();
    victim.wait().unwrap();
    let killed_at = std::time::Instant::now();
    let survivors: Vec<u16> = procs.iter().map(|p| p.2).collect();
    let mut taken = None;
    while killed_at.elapsed() < Duration::from_millis(failover_ms + 3_000) {
        if held(&survivors).await == [3, 3] {
            taken = Some(killed_at.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let Some(taken) = taken else {
        for p in &mut procs {
            let _ = p.0.kill();
        }
        panic!(
            "not taken over: {:?}\n{}",
            held(&survivors).await,
            dump(&procs)
        );
    };
    println!("a killed process's instruments taken over in {taken:?} (failover {failover_ms} ms)");
    assert!(
        taken <= Duration::from_millis(failover_ms),
        "taken over in {taken:?} (failover {failover_ms} ms)"
    );
    let owners = holders(&namespace, &SYMBOLS).await;
    assert!(
        owners.iter().all(|o| o
            .as_ref()
            .is_some_and(|m| !m.contains(&format!("-{victim_pid}-")))),
        "{owners:?}"
    );

    // Past the next minute's close, every instrument's M1 series has that minute's bar,
    // closed, and the minute before it: no closed bar missing where the killed one wrote.
    let cache = RedisBarCache::new(
        RedisCacheConfig::new(redis_url()).namespace(namespace.clone()),
        Arc::new(ManualClock::new(at + chrono::Duration::minutes(5))),
    )
    .unwrap();
    let minute = at + chrono::Duration::seconds(30); // 14:01, the first minute to close
    let wait_until = minute + chrono::Duration::seconds(3);
    loop {
        let now = at + chrono::Duration::from_std(started.elapsed()).unwrap();
        if now >= wait_until {
            break;
        }
        tokio::time::sleep(
            (wait_until - now)
                .to_std()
                .unwrap()
                .min(Duration::from_millis(500)),
        )
        .await;
    }
    let window = TimeRange::new(
        at - chrono::Duration::hours(1),
        at + chrono::Duration::hours(1),
    )
    .unwrap();
    for s in SYMBOLS {
        let m1 = cache
            .get(&s.parse().unwrap(), Timeframe::M1, window)
            .await
            .unwrap();
        let opens: Vec<i64> = m1.iter().map(|b| b.time_millis()).collect();
        let first = (minute - chrono::Duration::minutes(1)).timestamp_millis();
        assert!(
            opens.contains(&first) && opens.contains(&minute.timestamp_millis()),
            "{s}: {opens:?}\n{}",
            dump(&procs)
        );
        assert_ne!(m1.forming_millis(), Some(first), "{s}: 14:00 is closed");
    }

    // SIGTERM the others: they exit 0 and give their leases back.
    for p in &mut procs {
        Command::new("kill")
            .args(["-TERM", &p.0.id().to_string()])
            .status()
            .unwrap();
    }
    for p in &mut procs {
        let status = p.0.wait().unwrap();
        assert!(
            status.success(),
            "{status:?}: {}",
            std::fs::read_to_string(&p.1).unwrap()
        );
    }
    assert!(
        holders(&namespace, &SYMBOLS)
            .await
            .iter()
            .all(Option::is_none)
    );
}
