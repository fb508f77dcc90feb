//! The feature engine as a long-running process: [`Runner`] follows the hot tier's update
//! messages and refreshes each configured series' features through
//! [`FeatureEngine`](axia_features::FeatureEngine).
//!
//! - One Redis subscription for every series (the hot tier's update feed); one task per series,
//!   so a slow series never holds up another; messages that arrive while a series refreshes
//!   are coalesced into one more refresh (each refresh reads every bar since the last one
//!   applied, so nothing is skipped).
//! - Redis pub/sub is at most once: after every (re)subscription, and every `resync` interval,
//!   every series is refreshed anyway.
//! - Shutdown stops taking messages, lets every refresh in flight finish, and returns.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axia_domain::{Backoff, Symbol, Timeframe};
use axia_features::FeatureEngine;
use axia_redis::RedisBarCache;
use tokio::sync::{Notify, watch};

/// What a [`Runner`] has done so far (shared; readable while it runs).
#[derive(Debug, Default)]
pub struct RunCounters {
    /// Successful subscriptions to the update feed.
    pub subscriptions: AtomicU64,
    /// Update messages of a followed series.
    pub messages: AtomicU64,
    /// Refreshes that succeeded.
    pub refreshes: AtomicU64,
    /// Refreshes that failed (the series is rebuilt on its next one).
    pub errors: AtomicU64,
    /// Closed bars whose values were appended to the store's history.
    pub appended: AtomicU64,
}

impl RunCounters {
    fn bump(counter: &AtomicU64, by: u64) {
        counter.fetch_add(by, Ordering::Relaxed);
    }

    /// A counter's value.
    #[must_use]
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// Follows the hot tier and keeps the features of `series` up to date.
#[derive(Debug)]
pub struct Runner {
    engine: FeatureEngine,
    cache: RedisBarCache,
    series: Vec<(Symbol, Timeframe)>,
    resync: Duration,
    counters: Arc<RunCounters>,
}

impl Runner {
    /// A runner for `series`, refreshing every series at least every 60 s.
    #[must_use]
    pub fn new(
        engine: FeatureEngine,
        cache: RedisBarCache,
        series: Vec<(Symbol, Timeframe)>,
    ) -> Self {
        Self {
            engine,
            cache,
            series,
            resync: Duration::from_secs(60),
            counters: Arc::default(),
        }
    }

    /// How often every series is refreshed without a message (at least 1 s).
    #[must_use]
    pub fn resync_every(mut self, every: Duration) -> Self {
        self.resync = every.max(Duration::from_secs(1));
        self
    }

    /// The counters, to read while it runs.
    #[must_use]
    pub fn counters(&self) -> Arc<RunCounters> {
        Arc::clone(&self.counters)
    }

    /// Runs until `shutdown` completes, then waits for the refreshes in flight.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (stop, stopped) = watch::channel(false);
        let mut workers: HashMap<(Symbol, Timeframe), Arc<Notify>> = HashMap::new();
        let mut tasks = tokio::task::JoinSet::new();
        for (symbol, tf) in &self.series {
            if workers.contains_key(&(symbol.clone(), *tf)) {
                continue;
            }
            let notify = Arc::new(Notify::new());
            workers.insert((symbol.clone(), *tf), Arc::clone(&notify));
            tasks.spawn(worker(
                self.engine.clone(),
                symbol.clone(),
                *tf,
                notify,
                stopped.clone(),
                Arc::clone(&self.counters),
            ));
        }
        let notify_all = || workers.values().for_each(|n| n.notify_one());
        tokio::pin!(shutdown);
        let backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));
        let mut failures = 0u32;
        'subscribe: loop {
            let feed = tokio::select! {
                () = &mut shutdown => break 'subscribe,
                f = self.cache.updates() => f,
            };
            let mut feed = match feed {
                Ok(f) => f,
                Err(e) => {
                    let wait = backoff.delay(failures);
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "cannot subscribe to the hot tier's updates");
                    tokio::select! {
                        () = &mut shutdown => break 'subscribe,
                        () = tokio::time::sleep(wait) => continue 'subscribe,
                    }
                }
            };
            failures = 0;
            RunCounters::bump(&self.counters.subscriptions, 1);
            tracing::info!(series = workers.len(), "following the hot tier's updates");
            // Whatever was published while not subscribed.
            notify_all();
            let mut resync =
                tokio::time::interval_at(tokio::time::Instant::now() + self.resync, self.resync);
            resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    () = &mut shutdown => break 'subscribe,
                    _ = resync.tick() => notify_all(),
                    m = feed.next() => match m {
                        Some(m) => {
                            if let Some(n) = workers.get(&(m.symbol, m.timeframe)) {
                                RunCounters::bump(&self.counters.messages, 1);
                                n.notify_one();
                            }
                        }
                        None => {
                            tracing::warn!("the hot tier's update feed was lost; subscribing again");
                            continue 'subscribe;
                        }
                    },
                }
            }
        }
        tracing::info!("stopping: finishing the refreshes in flight");
        let _ = stop.send(true);
        while tasks.join_next().await.is_some() {}
    }
}

/// One series: a refresh per wake-up (wake-ups while refreshing coalesce into one).
async fn worker(
    engine: FeatureEngine,
    symbol: Symbol,
    timeframe: Timeframe,
    notify: Arc<Notify>,
    mut stopped: watch::Receiver<bool>,
    counters: Arc<RunCounters>,
) {
    loop {
        tokio::select! {
            biased;
            _ = stopped.changed() => return,
            () = notify.notified() => {}
        }
        match engine.refresh(&symbol, timeframe).await {
            Ok(r) => {
                RunCounters::bump(&counters.refreshes, 1);
                RunCounters::bump(&counters.appended, r.appended as u64);
            }
            // Logged by the engine.
            Err(_) => RunCounters::bump(&counters.errors, 1),
        }
        if *stopped.borrow() {
            return;
        }
    }
}
