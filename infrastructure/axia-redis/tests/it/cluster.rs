//! The same cache on a three-node Redis Cluster of private servers.

use std::process::Stdio;
use std::time::Duration;

use axia_domain::{OhlcvStore, TimeRange, Timeframe};
use axia_redis::RedisCacheConfig;
use chrono::Duration as Span;
use tokio::process::Command;

use crate::support::*;

#[tokio::test]
async fn works_on_redis_cluster_without_changes_in_callers() {
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(
            PrivateRedis::start(&[
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &format!("nodes-{}.conf", spare_port()),
            ])
            .await,
        );
    }
    let addrs: Vec<String> = nodes
        .iter()
        .map(|n| format!("127.0.0.1:{}", n.port))
        .collect();
    let out = Command::new("redis-cli")
        .arg("--cluster")
        .arg("create")
        .args(&addrs)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .stdin(Stdio::null())
        .output()
        .await
        .expect("redis-cli is installed with redis-server");
    assert!(
        out.status.success(),
        "cluster create: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    // Wait until every node agrees the cluster is up.
    for n in &nodes {
        let client = redis::Client::open(n.url()).unwrap();
        let mut ok = false;
        for _ in 0..100 {
            let mut c = client.get_multiplexed_async_connection().await.unwrap();
            let info: String = redis::cmd("CLUSTER")
                .arg("INFO")
                .query_async(&mut c)
                .await
                .unwrap();
            if info.contains("cluster_state:ok") {
                ok = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(ok, "cluster did not come up on {}", n.port);
    }

    let urls: Vec<String> = nodes.iter().map(PrivateRedis::url).collect();
    let cache = cache_with(
        RedisCacheConfig::cluster(urls).namespace(namespace()),
        clock(),
    );
    let range = TimeRange::new(noon() - Span::days(2), noon() + Span::days(5)).unwrap();
    // Many series, so keys land on every node.
    let symbols = ["USDJPY", "EURUSD", "EURJPY", "GBPUSD", "GBPJPY"];
    for s in symbols {
        for tf in [Timeframe::M1, Timeframe::H1, Timeframe::D1] {
            let f = frame(s, tf, noon() - Span::hours(3), 3, 100.0);
            cache.save(&f).await.unwrap();
            assert_eq!(cache.get(&sym(s), tf, range).await.unwrap(), f);
        }
    }
    // Concurrent merges stay atomic on a cluster too.
    let tasks: Vec<_> = (0..4)
        .map(|w| {
            let cache = cache.clone();
            tokio::spawn(async move {
                let f = frame(
                    "USDJPY",
                    Timeframe::M5,
                    noon() - Span::hours(4) + Span::minutes(5 * w),
                    1,
                    150.0,
                );
                cache.save(&f).await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(
        cache
            .get(&sym("USDJPY"), Timeframe::M5, range)
            .await
            .unwrap()
            .len(),
        4
    );
    let info = cache.info().await.unwrap();
    assert_eq!(info.datasets.len(), 16);
    // The feature store's two keys per series share a slot (hash tag): its script runs there.
    let features = axia_redis::RedisFeatureStore::new(cache.clone());
    for s in symbols {
        for m in 0..3 {
            let snap = axia_domain::FeatureSnapshot {
                symbol: sym(s),
                timeframe: Timeframe::H1,
                bar_open: noon() + Span::hours(m),
                forming: false,
                values: [("ema_20".to_owned(), 1.0 + m as f64)].into(),
            };
            use axia_domain::FeatureStore;
            assert_eq!(
                features.publish(&snap).await.unwrap(),
                axia_domain::FeaturePublished::Appended
            );
            assert_eq!(
                features.latest(&sym(s), Timeframe::H1).await.unwrap(),
                Some(snap)
            );
        }
        let h = axia_domain::FeatureStore::history(&features, &sym(s), Timeframe::H1, range)
            .await
            .unwrap();
        assert_eq!(h.len(), 3);
    }
    for n in nodes {
        n.kill().await;
    }
}
