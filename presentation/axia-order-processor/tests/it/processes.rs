//! Processors as separate processes on one queue, against moto: duplicated deliveries in random
//! order, a SIGKILL while holding claims, an idle long poll at the maximum wait, start-up checks.

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::{Duration, Instant};

use axia_config::{OrdersWiring, Settings};
use axia_domain::{OrderStatus, OrderStore};
use chrono::Utc;

use crate::{body, settings};

/// A processor process with its logs in a file.
struct Processor {
    child: Child,
    log: PathBuf,
}

impl Processor {
    fn start(config: &Path, id: &str, extra: &[&str]) -> Self {
        let log = config.with_file_name(format!("{id}.log"));
        let child = Command::new(env!("CARGO_BIN_EXE_axia-order-processor"))
            .args(["--config", config.to_str().unwrap(), "--processor-id", id])
            .args(extra)
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Self { child, log }
    }

    fn signal(&self, sig: &str) {
        Command::new("kill")
            .args([sig, &self.child.id().to_string()])
            .status()
            .unwrap();
    }

    fn stop(mut self) -> String {
        self.signal("-TERM");
        let status = self.child.wait().unwrap();
        assert!(status.success(), "{status:?}");
        std::fs::read_to_string(&self.log).unwrap()
    }

    fn kill(mut self) {
        self.signal("-KILL");
        let _ = self.child.wait();
    }
}

/// A config file for `s`, with the extra TOML `more` under `[orders]`, and `top` before it.
fn config(s: &Settings, top: &str, more: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("{}-procs", s.orders.queue));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("orders.toml");
    std::fs::write(
        &path,
        format!(
            "{top}\n[orders]\nqueue = \"{}\"\norders_table = \"{}\"\nkill_switch_table = \"{}\"\n{more}\n",
            s.orders.queue, s.orders.orders_table, s.orders.kill_switch_table
        ),
    )
    .unwrap();
    path
}

async fn sqs() -> aws_sdk_sqs::Client {
    let conf = axia_aws::load_sdk_config(&axia_aws::AwsSettings::default()).await;
    aws_sdk_sqs::Client::new(&conf)
}

/// Sends `bodies` in batches of ten.
async fn send_all(w: &OrdersWiring, bodies: &[String]) {
    let client = sqs().await;
    for (n, chunk) in bodies.chunks(10).enumerate() {
        let mut req = client
            .send_message_batch()
            .queue_url(&w.queue.urls().orders);
        for (i, b) in chunk.iter().enumerate() {
            req = req.entries(
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(format!("{n}-{i}"))
                    .message_body(b)
                    .build()
                    .unwrap(),
            );
        }
        req.send().await.unwrap();
    }
}

/// Messages waiting in `url` (visible or not), as SQS counts them.
async fn depth(url: &str) -> (u64, u64) {
    let out = sqs()
        .await
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(
            aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
        )
        .send()
        .await
        .unwrap();
    let get = |k| {
        out.attributes()
            .and_then(|a| a.get(&k))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (
        get(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessages),
        get(aws_sdk_sqs::types::QueueAttributeName::ApproximateNumberOfMessagesNotVisible),
    )
}

/// Waits until every order of `ids` is final; returns how long it took.
async fn all_final(w: &OrdersWiring, ids: &[String], limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        let mut pending = 0;
        for id in ids {
            let o = w.store.get(&id.parse().unwrap()).await.unwrap();
            pending += usize::from(!o.is_some_and(|o| o.status().is_final()));
        }
        if pending == 0 {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "{pending} of {} orders not final after {limit:?}",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// A seeded shuffle (no rand dependency): Fisher-Yates over splitmix.
fn shuffle<T>(v: &mut [T], mut seed: u64) {
    for i in (1..v.len()).rev() {
        seed = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = seed;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        v.swap(i, (z % (i as u64 + 1)) as usize);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processor_processes_execute_every_order_exactly_once() {
    let s = settings();
    let w = OrdersWiring::build(&s, crate::clock(), true).await.unwrap();
    // A broker round trip of 100 ms: the window in which another processor's lookup would
    // miss a submission in flight.
    let cfg = config(
        &s,
        "[simulated]\nexecutor_latency_ms = 100",
        "visibility_secs = 10\nlease_secs = 5\nwait_secs = 2\nconcurrency = 4",
    );
    let a = Processor::start(&cfg, "proc-a", &[]);
    let b = Processor::start(&cfg, "proc-b", &[]);
    // 200 orders, each delivered three times, in random order.
    let ids: Vec<String> = (0..200).map(|i| format!("x-{i}")).collect();
    let mut bodies: Vec<String> = ids
        .iter()
        .flat_map(|id| [body(id), body(id), body(id)])
        .collect();
    shuffle(&mut bodies, 7);
    send_all(&w, &bodies).await;
    all_final(&w, &ids, Duration::from_secs(240)).await;
    // Every deferred duplicate comes back and is acked.
    let started = Instant::now();
    while depth(&w.queue.urls().orders).await != (0, 0) {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "queue not drained: {:?}",
            depth(&w.queue.urls().orders).await
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let (logs_a, logs_b) = (a.stop(), b.stop());
    let (executions, submissions) = w.store.execution_book().totals().await.unwrap();
    assert_eq!(executions, 200, "one execution per order");
    assert_eq!(
        submissions, 200,
        "and one submission: no processor submitted another's order"
    );
    assert_eq!(
        depth(&w.queue.urls().dead_letter).await,
        (0, 0),
        "nothing dead-lettered"
    );
    for id in &ids {
        let o = w.store.get(&id.parse().unwrap()).await.unwrap().unwrap();
        assert_eq!(o.status(), OrderStatus::Filled, "{id}");
    }
    // Both took part.
    for (name, logs) in [("proc-a", &logs_a), ("proc-b", &logs_b)] {
        assert!(logs.contains("order processed"), "{name} processed nothing");
        assert!(!logs.contains("\"level\":\"ERROR\""), "{name}: {logs}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_processor_killed_while_holding_claims_leaves_orders_that_complete_once() {
    let s = settings();
    let w = OrdersWiring::build(&s, crate::clock(), true).await.unwrap();
    // The killed processor's submissions never reached the broker: an empty lookup is trusted
    // a second after them (the default waits two minutes for a lost request to arrive).
    let orders = "visibility_secs = 4\nlease_secs = 3\nwait_secs = 1\nconcurrency = 10\nlookup_grace_secs = 1";
    // A broker that takes 6 s to answer: the first processor is inside every call when killed.
    let slow = config(&s, "[simulated]\nexecutor_latency_ms = 6000", orders);
    let dead = Processor::start(&slow, "doomed", &[]);
    let ids: Vec<String> = (0..10).map(|i| format!("k-{i}")).collect();
    send_all(&w, &ids.iter().map(|id| body(id)).collect::<Vec<_>>()).await;
    // Wait until it holds claims on submitted orders, then kill it.
    let started = Instant::now();
    loop {
        let mut submitted = 0;
        for id in &ids {
            if let Some(o) = w.store.get(&id.parse().unwrap()).await.unwrap() {
                submitted += usize::from(o.status() == OrderStatus::Submitted);
            }
        }
        if submitted >= 5 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "nothing submitted"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    dead.kill();
    // The same configuration with a broker that answers at once.
    let heir = Processor::start(&config(&s, "", orders), "heir", &[]);
    all_final(&w, &ids, Duration::from_secs(60)).await;
    let logs = heir.stop();
    let (executions, submissions) = w.store.execution_book().totals().await.unwrap();
    assert_eq!(
        (executions, submissions),
        (10, 10),
        "each executed once: {logs}"
    );
    let mut taken_over = 0;
    for id in &ids {
        let o = w.store.get(&id.parse().unwrap()).await.unwrap().unwrap();
        assert_eq!(o.status(), OrderStatus::Filled);
        let by: Vec<&str> = o
            .history()
            .iter()
            .map(|t| t.by.split('/').next().unwrap())
            .collect();
        taken_over += usize::from(by.contains(&"doomed") && by.last() == Some(&"heir"));
    }
    assert!(
        taken_over >= 5,
        "the heir completed the orders the dead processor held"
    );
    assert!(logs.contains("taking over a lapsed claim"), "{logs}");
    assert_eq!(depth(&w.queue.urls().dead_letter).await, (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_long_poll_at_the_maximum_wait_misses_nothing() {
    let s = settings();
    let w = OrdersWiring::build(&s, crate::clock(), true).await.unwrap();
    let cfg = config(&s, "", "visibility_secs = 30\nwait_secs = 20");
    let p = Processor::start(&cfg, "idle", &[]);
    // Idle for longer than an SDK attempt timeout of 5 s: a poll abandoned then would hide
    // what SQS returns to it.
    tokio::time::sleep(Duration::from_secs(12)).await;
    let ids: Vec<String> = (0..5).map(|i| format!("i-{i}")).collect();
    let sent = Utc::now();
    send_all(&w, &ids.iter().map(|id| body(id)).collect::<Vec<_>>()).await;
    all_final(&w, &ids, Duration::from_secs(20)).await;
    for id in &ids {
        let o = w.store.get(&id.parse().unwrap()).await.unwrap().unwrap();
        let took = o.updated_at() - sent;
        // A receive abandoned by the client leaves its messages hidden for the visibility
        // timeout (30 s); half of it tells that apart from a busy machine without timing it.
        assert!(
            took < chrono::Duration::seconds(15),
            "{id} processed {took} after it was sent"
        );
    }
    assert_eq!(depth(&w.queue.urls().orders).await, (0, 0), "none hidden");
    assert_eq!(depth(&w.queue.urls().dead_letter).await, (0, 0));
    let logs = p.stop();
    assert!(!logs.contains("\"level\":\"ERROR\""), "{logs}");
    assert!(!logs.contains("receive failed"), "{logs}");
}

#[test]
fn a_missing_queue_or_table_is_one_line_and_exit_2() {
    let s = settings();
    let cfg = config(&s, "", "");
    let out = Command::new(env!("CARGO_BIN_EXE_axia-order-processor"))
        .args(["--config", cfg.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(&s.orders.orders_table) && err.contains("--create-resources"),
        "{err}"
    );
}
