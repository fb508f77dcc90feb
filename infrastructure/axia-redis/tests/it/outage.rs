//! Redis going away and coming back; secrets in errors.

use std::time::{Duration, Instant};

use axia_domain::{OhlcvStore, StoreError, TimeRange, Timeframe};
use axia_redis::RedisCacheConfig;
use chrono::Duration as Span;

use crate::support::*;

fn fast_fail(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(_) | StoreError::Timeout(_))
}

#[tokio::test]
async fn redis_down_at_start_fails_fast_then_recovers_when_it_comes_up() {
    let port = spare_port();
    let url = format!("redis://127.0.0.1:{port}");
    let cache = cache_with(RedisCacheConfig::new(url).namespace(namespace()), clock());
    let range = TimeRange::new(noon() - Span::days(1), noon()).unwrap();
    // Nobody listens yet: building the cache worked, operations fail fast and typed.
    let started = Instant::now();
    let err = cache
        .get(&sym("USDJPY"), Timeframe::H1, range)
        .await
        .unwrap_err();
    assert!(fast_fail(&err), "{err:?}");
    // A generous bound that the redis crate's defaults (about 9.5 s) would break.
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );

    let server = PrivateRedis::start_on(port, &[]).await;
    let f = frame("USDJPY", Timeframe::H1, noon() - Span::hours(3), 3, 150.0);
    let mut saved = false;
    for _ in 0..50 {
        if cache.save(&f).await.is_ok() {
            saved = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saved, "the cache reconnects once Redis is up");
    assert_eq!(
        cache
            .get(&sym("USDJPY"), Timeframe::H1, range)
            .await
            .unwrap(),
        f
    );
    server.kill().await;
}

#[tokio::test]
async fn redis_killed_mid_run_fails_fast_and_recovers_after_restart() {
    let server = PrivateRedis::start(&[]).await;
    let port = server.port;
    let cache = cache_with(
        RedisCacheConfig::new(server.url()).namespace(namespace()),
        clock(),
    );
    let range = TimeRange::new(noon() - Span::days(1), noon()).unwrap();
    let f = frame("EURUSD", Timeframe::M15, noon() - Span::hours(2), 8, 1.08);
    cache.save(&f).await.unwrap();
    assert_eq!(
        cache
            .get(&sym("EURUSD"), Timeframe::M15, range)
            .await
            .unwrap(),
        f
    );

    server.kill().await;
    for _ in 0..3 {
        let started = Instant::now();
        let err = cache
            .get(&sym("EURUSD"), Timeframe::M15, range)
            .await
            .unwrap_err();
        assert!(fast_fail(&err), "{err:?}");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "took {:?}",
            started.elapsed()
        );
        let err = cache.save(&f).await.unwrap_err();
        assert!(fast_fail(&err), "{err:?}");
    }

    // Back on the same port (empty: it keeps nothing on disk): the same handle works again.
    let server = PrivateRedis::start_on(port, &[]).await;
    let mut recovered = false;
    for _ in 0..50 {
        if cache.save(&f).await.is_ok() {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the cache reconnects after a restart");
    assert_eq!(
        cache
            .get(&sym("EURUSD"), Timeframe::M15, range)
            .await
            .unwrap(),
        f
    );
    server.kill().await;
}

#[tokio::test]
async fn passwords_never_appear_in_errors_or_debug_output() {
    // A password-protected private server, reached with a wrong password, then with none.
    let server = PrivateRedis::start(&["--requirepass", "right-pass-9f2"]).await;
    let wrong = format!("redis://:wrong-pass-7c1@127.0.0.1:{}", server.port);
    let cache = cache_with(RedisCacheConfig::new(wrong).namespace(namespace()), clock());
    let range = TimeRange::new(noon() - Span::days(1), noon()).unwrap();
    let err = cache
        .get(&sym("USDJPY"), Timeframe::H1, range)
        .await
        .unwrap_err();
    let text = format!("{err} / {err:?} / {cache:?}");
    assert!(!text.contains("wrong-pass-7c1"), "{text}");
    assert!(text.contains("***"), "{text}");
    // The right password works.
    let right = format!("redis://:right-pass-9f2@127.0.0.1:{}", server.port);
    let ok = cache_with(RedisCacheConfig::new(right).namespace(namespace()), clock());
    let f = frame("USDJPY", Timeframe::H1, noon() - Span::hours(2), 2, 150.0);
    ok.save(&f).await.unwrap();
    assert!(!format!("{ok:?}").contains("right-pass-9f2"));
    // A malformed URL is refused with the URL redacted.
    let bad =
        axia_redis::RedisBarCache::new(RedisCacheConfig::new("redis://:hunter2@[::bad"), clock());
    let text = format!("{:?}", bad.unwrap_err());
    assert!(!text.contains("hunter2"), "{text}");
    server.kill().await;
}

#[tokio::test]
async fn tls_round_trip_with_rediss() {
    // A private TLS-only redis-server with a throwaway CA and a leaf certificate for 127.0.0.1.
    let dir = std::env::temp_dir().join(format!("axia-tls-{}", spare_port()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("san.ext"), "subjectAltName=IP:127.0.0.1\n").unwrap();
    let openssl = |args: &[&str]| {
        let status = std::process::Command::new("openssl")
            .args(args)
            .current_dir(&dir)
            .stderr(std::process::Stdio::null())
            .status()
            .expect("openssl is installed (scripts/services.sh installs it)");
        assert!(status.success(), "openssl {args:?}");
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=axia-test-ca",
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
    ]);
    openssl(&[
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        "key.pem",
        "-out",
        "server.csr",
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        "server.csr",
        "-CA",
        "ca.pem",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        "san.ext",
        "-out",
        "cert.pem",
    ]);
    let tls_port = spare_port();
    let cert = dir.join("cert.pem").display().to_string();
    let key = dir.join("key.pem").display().to_string();
    let ca_file = dir.join("ca.pem").display().to_string();
    let server = PrivateRedis::start_tls(
        tls_port,
        &[
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca_file,
            "--tls-auth-clients",
            "no",
        ],
    )
    .await;
    let url = format!("rediss://127.0.0.1:{tls_port}");
    let ca = std::fs::read(dir.join("ca.pem")).unwrap();
    let cache = cache_with(
        RedisCacheConfig::new(url.clone())
            .namespace(namespace())
            .tls_ca_pem(ca),
        clock(),
    );
    let f = frame("USDJPY", Timeframe::H1, noon() - Span::hours(2), 2, 150.0);
    cache.save(&f).await.unwrap();
    let range = TimeRange::new(noon() - Span::days(1), noon()).unwrap();
    assert_eq!(
        cache
            .get(&sym("USDJPY"), Timeframe::H1, range)
            .await
            .unwrap(),
        f
    );
    // Without the CA the certificate is refused: a typed error, no panic.
    let untrusted = cache_with(RedisCacheConfig::new(url).namespace(namespace()), clock());
    assert!(
        untrusted
            .get(&sym("USDJPY"), Timeframe::H1, range)
            .await
            .is_err()
    );
    server.kill().await;
}
