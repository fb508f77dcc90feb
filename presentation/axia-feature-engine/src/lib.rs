//! The feature engine as a long-running process: [`Runner`] follows the hot tier's update
//! messages and refreshes each configured series' features through
//! [`FeatureEngine`](axia_features::FeatureEngine).
//!
//! - One subscription for every series (the hot tier's updates through the
//!   [`BarUpdates`](axia_domain::BarUpdates) port, followed by [`Follow`], which resubscribes
//!   with the one backoff); one task per series,
//!   so a slow series never holds up another.
//! - A message that carries the stored bars (its tail: every live write of a few bars) is
//!   applied as it is, in order, without reading the series
//!   ([`FeatureEngine::update`](axia_features::FeatureEngine::update)). A message without
//!   one, a tail that does not parse, or more than [`Runner::MAX_PENDING`] messages waiting
//!   for one series, make the series refresh instead (a read of every bar since the last one
//!   applied, so nothing is skipped); messages that arrive while it refreshes are coalesced.
//! - Updates are at most once (Redis pub/sub), but a subscription's messages arrive in order and are lost
//!   only with its connection: after every (re)subscription, and every `resync` interval,
//!   every series is refreshed from history anyway.
//! - Shutdown stops taking messages, lets every refresh in flight finish, and returns.

use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axia_domain::{BarUpdates, OhlcvFrame, Symbol, Timeframe, lock};
use axia_features::{FeatureEngine, FeatureError, Refreshed};
use axia_provider::{Follow, Followed};
use futures_util::StreamExt;
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
    /// Messages applied from the bars they carried, without reading the series.
    pub applied_tails: AtomicU64,
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
pub struct Runner {
    engine: FeatureEngine,
    updates: Arc<dyn BarUpdates>,
    series: Vec<(Symbol, Timeframe)>,
    resync: Duration,
    counters: Arc<RunCounters>,
}

impl std::fmt::Debug for Runner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runner")
            .field("engine", &self.engine)
            .field("series", &self.series)
            .field("resync", &self.resync)
            .finish_non_exhaustive()
    }
}

impl Runner {
    /// A runner for `series`, refreshing every series at least every 60 s.
    #[must_use]
    pub fn new(
        engine: FeatureEngine,
        updates: Arc<dyn BarUpdates>,
        series: Vec<(Symbol, Timeframe)>,
    ) -> Self {
        Self {
            engine,
            updates,
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

    /// Messages waiting for one series beyond which it refreshes from history instead.
    pub const MAX_PENDING: usize = 32;

    /// Runs until `shutdown` completes, then waits for the refreshes in flight.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let (stop, stopped) = watch::channel(false);
        let mut workers: HashMap<(Symbol, Timeframe), Arc<Slot>> = HashMap::new();
        let mut tasks = tokio::task::JoinSet::new();
        for (symbol, tf) in &self.series {
            if workers.contains_key(&(symbol.clone(), *tf)) {
                continue;
            }
            let slot = Arc::new(Slot::default());
            workers.insert((symbol.clone(), *tf), Arc::clone(&slot));
            tasks.spawn(worker(
                self.engine.clone(),
                symbol.clone(),
                *tf,
                slot,
                stopped.clone(),
                Arc::clone(&self.counters),
            ));
        }
        let refresh_all = || workers.values().for_each(|s| s.push(None));
        tokio::pin!(shutdown);
        let follow = Follow::new(Arc::clone(&self.updates));
        let mut feed = std::pin::pin!(follow.into_stream());
        let mut resync =
            tokio::time::interval_at(tokio::time::Instant::now() + self.resync, self.resync);
        resync.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = resync.tick() => refresh_all(),
                event = feed.next() => match event {
                    Some(Followed::Subscribed) => {
                        RunCounters::bump(&self.counters.subscriptions, 1);
                        tracing::info!(series = workers.len(), "following the hot tier's updates");
                        // Whatever was published while not subscribed.
                        refresh_all();
                        resync.reset();
                    }
                    Some(Followed::Update(u)) => {
                        if let Some(slot) = workers.get(&(u.symbol.clone(), u.timeframe)) {
                            RunCounters::bump(&self.counters.messages, 1);
                            slot.push(u.tail);
                        }
                    }
                    // The follower never ends.
                    None => break,
                },
            }
        }
        tracing::info!("stopping: finishing the refreshes in flight");
        let _ = stop.send(true);
        while tasks.join_next().await.is_some() {}
    }
}

/// What waits for one series' worker: a refresh from history, then tails to apply in order.
#[derive(Default)]
struct Pending {
    refresh: bool,
    tails: Vec<OhlcvFrame>,
}

#[derive(Default)]
struct Slot {
    pending: Mutex<Pending>,
    notify: Notify,
}

impl Slot {
    /// Queues a tail, or (`None`) a refresh, which makes the tails before it moot: it reads
    /// what they carried.
    fn push(&self, tail: Option<OhlcvFrame>) {
        {
            let mut p = lock(&self.pending);
            match tail {
                Some(t) if p.tails.len() < Runner::MAX_PENDING => p.tails.push(t),
                // Too many waiting, or a message without bars: read them all instead.
                _ => {
                    p.tails.clear();
                    p.refresh = true;
                }
            }
        }
        self.notify.notify_one();
    }

    fn take(&self) -> Pending {
        std::mem::take(&mut *lock(&self.pending))
    }
}

/// One series: on each wake-up, a refresh if one is due, then the tails in order.
async fn worker(
    engine: FeatureEngine,
    symbol: Symbol,
    timeframe: Timeframe,
    slot: Arc<Slot>,
    mut stopped: watch::Receiver<bool>,
    counters: Arc<RunCounters>,
) {
    loop {
        tokio::select! {
            biased;
            _ = stopped.changed() => return,
            () = slot.notify.notified() => {}
        }
        let pending = slot.take();
        if pending.refresh {
            count(engine.refresh(&symbol, timeframe).await, &counters);
        }
        for tail in &pending.tails {
            count(engine.update(tail).await, &counters);
            RunCounters::bump(&counters.applied_tails, 1);
        }
        if *stopped.borrow() {
            return;
        }
    }
}

fn count(r: Result<Refreshed, FeatureError>, counters: &RunCounters) {
    match r {
        Ok(r) => {
            RunCounters::bump(&counters.refreshes, 1);
            RunCounters::bump(&counters.appended, r.appended as u64);
        }
        // Logged by the engine.
        Err(_) => RunCounters::bump(&counters.errors, 1),
    }
}
