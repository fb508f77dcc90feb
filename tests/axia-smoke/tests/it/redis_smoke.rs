//! Redis answers PING and a namespaced SET/GET through a ConnectionManager with short timeouts.

use std::time::Duration;

use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

use crate::{required_env, unique_name};

async fn manager() -> ConnectionManager {
    let client = redis::Client::open(required_env("REDIS_URL")).unwrap();
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(200)))
        .set_response_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(1);
    ConnectionManager::new_with_config(client, config)
        .await
        .unwrap()
}

#[tokio::test]
async fn redis_ping_and_namespaced_set_get() {
    let mut con = manager().await;
    let pong: String = redis::cmd("PING").query_async(&mut con).await.unwrap();
    assert_eq!(pong, "PONG");

    let ns = unique_name("smoke");
    let key = format!("{ns}:ohlcv:USDJPY:H1");
    let _: () = con
        .set_ex(&key, b"\x92\x01\x02".as_slice(), 60)
        .await
        .unwrap();
    let back: Vec<u8> = con.get(&key).await.unwrap();
    assert_eq!(back, b"\x92\x01\x02");
    let ttl: i64 = con.ttl(&key).await.unwrap();
    assert!((1..=60).contains(&ttl), "ttl {ttl}");
    let other: Option<Vec<u8>> = con
        .get(format!("{}:ohlcv:USDJPY:H1", unique_name("smoke")))
        .await
        .unwrap();
    assert_eq!(other, None, "another namespace sees nothing");
    let _: () = con.del(&key).await.unwrap();
}

#[tokio::test]
async fn redis_down_fails_fast() {
    // Nothing listens on port 1: the configured timeouts give a quick error, not a hang.
    let client = redis::Client::open("redis://127.0.0.1:1/").unwrap();
    let config = ConnectionManagerConfig::new()
        .set_connection_timeout(Some(Duration::from_millis(200)))
        .set_response_timeout(Some(Duration::from_millis(500)))
        .set_number_of_retries(1);
    let started = std::time::Instant::now();
    let result = ConnectionManager::new_with_config(client, config).await;
    assert!(result.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
}
