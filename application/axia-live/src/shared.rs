//! [`SharedFeed`]: the live feeds of several processes share the configured instruments, one
//! writer per instrument.
//!
//! Each process is a member: it says it is alive (a heartbeat lasting a lease), and holds
//! leases on at most its share of the instruments (`ceil(instruments / members)`), taking free
//! ones and giving extras back when members join. Each lease comes with a fencing token that
//! the process's writes carry ([`Fences`]): the store refuses a write whose token is older than
//! one it has seen for the series, so a process that lost its lease (paused, cut off) cannot
//! overwrite its successor. When the held set changes, the process's one feed (one stream
//! connection) restarts with the new set: the old one writes its forming bars first, the new
//! one fills the takeover window from the source's candles.
//!
//! Timing: leases last two thirds of `failover` and are renewed every third of a lease; a
//! member that dies stops renewing, its leases lapse, and the others take its instruments at
//! their next turn: within `failover` (default 15 s). A member that cannot renew stops writing
//! an instrument once its lease may have lapsed.

use std::collections::BTreeSet;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axia_domain::{Fences, Instrument, InstrumentOwnership, Symbol};

use crate::{FeedCounters, FeedError, LiveFeed, QuoteCounts};

/// Builds the feed of a set of instruments (its stream, store, source and settings).
pub type FeedFactory = Box<dyn Fn(Vec<Instrument>) -> LiveFeed + Send + Sync>;

/// The live feed of one member of a group sharing the instruments.
pub struct SharedFeed {
    ownership: Arc<dyn InstrumentOwnership>,
    fences: Fences,
    member: String,
    instruments: Vec<Instrument>,
    failover: Duration,
    factory: FeedFactory,
    held: Arc<Mutex<BTreeSet<Symbol>>>,
    counters: Arc<FeedCounters>,
    quotes: Arc<Mutex<QuoteCounts>>,
}

impl std::fmt::Debug for SharedFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedFeed")
            .field("member", &self.member)
            .field("instruments", &self.instruments.len())
            .field("failover", &self.failover)
            .finish_non_exhaustive()
    }
}

impl SharedFeed {
    /// Member `member` of the group sharing `instruments` through `ownership`; `fences` is the
    /// book its store's writes are fenced by (the same one); `factory` builds its feed of a set.
    #[must_use]
    pub fn new(
        ownership: Arc<dyn InstrumentOwnership>,
        fences: Fences,
        member: impl Into<String>,
        instruments: Vec<Instrument>,
        factory: FeedFactory,
    ) -> Self {
        Self {
            ownership,
            fences,
            member: member.into(),
            instruments,
            failover: Duration::from_secs(15),
            factory,
            held: Arc::default(),
            counters: Arc::default(),
            quotes: Arc::default(),
        }
    }

    /// How long a dead member's instruments take to move to the others (default 15 s; at
    /// least 300 ms).
    #[must_use]
    pub fn failover(mut self, failover: Duration) -> Self {
        self.failover = failover.max(Duration::from_millis(300));
        self
    }

    /// The instruments this member holds now (to read while it runs).
    #[must_use]
    pub fn held(&self) -> Arc<Mutex<BTreeSet<Symbol>>> {
        Arc::clone(&self.held)
    }

    /// The counters of its feeds, one set across restarts (to read while it runs).
    #[must_use]
    pub fn counters(&self) -> Arc<FeedCounters> {
        Arc::clone(&self.counters)
    }

    /// The quote counts of its feeds, added up across restarts (to read while it runs).
    #[must_use]
    pub fn quote_counts(&self) -> Arc<Mutex<QuoteCounts>> {
        Arc::clone(&self.quotes)
    }

    fn lease(&self) -> Duration {
        self.failover * 2 / 3
    }

    fn turn(&self) -> Duration {
        self.lease() / 3
    }

    /// Runs until `shutdown` (then the feed writes its forming bars and the leases are given
    /// back, so the others take over at once), or the source refuses the credentials.
    ///
    /// # Errors
    /// [`FeedError::Refused`].
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), FeedError> {
        tokio::pin!(shutdown);
        let mut turns = tokio::time::interval(self.turn());
        turns.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut holding = Holding::default();
        let mut feed: Option<Running> = None;
        let mut result = Ok(());
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                _ = turns.tick() => {}
                ended = async {
                    match feed.as_mut() {
                        Some(f) => (&mut f.task).await,
                        None => std::future::pending().await,
                    }
                }, if feed.is_some() => {
                    feed = None;
                    if let Ok(Err(e)) = ended {
                        result = Err(e);
                        break;
                    }
                    // A feed that stopped by itself starts again at the next turn.
                    holding.changed = true;
                }
            }
            self.take_turn(&mut holding).await;
            if std::mem::take(&mut holding.changed) {
                if let Some(f) = feed.take() {
                    f.stop().await;
                }
                holding
                    .release_pending(&*self.ownership, &self.member, &self.fences)
                    .await;
                *axia_domain::lock(&self.held) = holding.held.iter().map(|h| h.0.clone()).collect();
                feed = self.start(&holding);
            }
        }
        if let Some(f) = feed.take() {
            f.stop().await;
        }
        for (symbol, _) in std::mem::take(&mut holding.held) {
            self.fences.remove(&symbol);
            if let Err(e) = self.ownership.release(&symbol, &self.member).await {
                tracing::warn!(%symbol, error = %e, "cannot give the lease back; it lapses by itself");
            }
        }
        axia_domain::lock(&self.held).clear();
        result
    }

    /// One turn: heartbeat, renew, give back extras, take free ones up to the share.
    async fn take_turn(&self, h: &mut Holding) {
        let now = tokio::time::Instant::now();
        let lease = self.lease();
        let members = match self.ownership.heartbeat(&self.member, lease).await {
            Ok(n) => n,
            Err(e) => {
                tracing::warn!(error = %e, "cannot say this live feed is alive");
                h.members
            }
        };
        h.members = members;
        // Renew; a lease lost, or not renewed for longer than it may last, is dropped.
        let mut lost = Vec::new();
        for (symbol, renewed) in &mut h.held {
            match self.ownership.renew(symbol, &self.member, lease).await {
                Ok(true) => *renewed = now,
                Ok(false) => lost.push(symbol.clone()),
                Err(e) => {
                    tracing::warn!(%symbol, error = %e, "cannot renew the lease");
                    if now.duration_since(*renewed) + self.turn() >= lease {
                        lost.push(symbol.clone());
                    }
                }
            }
        }
        for symbol in lost {
            tracing::warn!(%symbol, "lease lost: another live feed writes it now");
            self.fences.remove(&symbol);
            h.held.retain(|(s, _)| *s != symbol);
            h.changed = true;
        }
        let share = self.instruments.len().div_ceil(members.max(1));
        // Give back what is above the share (the last taken first) once the feed is stopped.
        while h.held.len() > share {
            if let Some((symbol, _)) = h.held.pop() {
                h.to_release.push(symbol);
                h.changed = true;
            }
        }
        if h.held.len() >= share {
            return;
        }
        // Take free ones, starting at a place of this member's own so that members starting
        // together do not all try the same instruments first.
        let n = self.instruments.len();
        let start = self.member.bytes().fold(0usize, |a, b| {
            a.wrapping_mul(31).wrapping_add(usize::from(b))
        }) % n.max(1);
        for k in 0..n {
            if h.held.len() >= share {
                break;
            }
            let Some(symbol) = self
                .instruments
                .get((start + k) % n)
                .map(Instrument::symbol)
            else {
                continue;
            };
            if h.held.iter().any(|(s, _)| s == symbol) || h.to_release.contains(symbol) {
                continue;
            }
            match self.ownership.acquire(symbol, &self.member, lease).await {
                Ok(Some(fence)) => {
                    tracing::info!(%symbol, fence = fence.0, "took the instrument");
                    self.fences.set(symbol.clone(), fence);
                    h.held.push((symbol.clone(), now));
                    h.changed = true;
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(%symbol, error = %e, "cannot take the lease");
                    break;
                }
            }
        }
    }

    /// The feed of what is held, running; none when nothing is.
    fn start(&self, h: &Holding) -> Option<Running> {
        let instruments: Vec<Instrument> = self
            .instruments
            .iter()
            .filter(|i| h.held.iter().any(|(s, _)| s == i.symbol()))
            .cloned()
            .collect();
        if instruments.is_empty() {
            return None;
        }
        tracing::info!(
            instruments = instruments.len(),
            members = h.members,
            "live feed of this member's instruments"
        );
        let feed = (self.factory)(instruments)
            .with_counters(Arc::clone(&self.counters))
            .with_quote_counts(Arc::clone(&self.quotes))
            .fill_on_start(self.failover * 2);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(feed.run(async {
            let _ = stopped.await;
        }));
        Some(Running { stop, task })
    }
}

/// What a member holds.
#[derive(Default)]
struct Holding {
    /// Held instruments and when each was last renewed, in the order taken.
    held: Vec<(Symbol, tokio::time::Instant)>,
    /// Given up, to release once the feed writing them has stopped.
    to_release: Vec<Symbol>,
    members: usize,
    changed: bool,
}

impl Holding {
    async fn release_pending(
        &mut self,
        ownership: &dyn InstrumentOwnership,
        member: &str,
        fences: &Fences,
    ) {
        for symbol in std::mem::take(&mut self.to_release) {
            fences.remove(&symbol);
            if let Err(e) = ownership.release(&symbol, member).await {
                tracing::warn!(%symbol, error = %e, "cannot give the lease back; it lapses by itself");
            }
        }
    }
}

/// A feed running on its own task.
struct Running {
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), FeedError>>,
}

impl Running {
    /// Stops it (it writes its forming bars) and waits.
    async fn stop(self) {
        let _ = self.stop.send(());
        match self.task.await {
            Ok(Err(e)) => tracing::warn!(error = %e, "the live feed stopped with an error"),
            Err(e) => tracing::warn!(error = %e, "the live feed task failed"),
            Ok(Ok(())) => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use axia_domain::{
        Fence, InstrumentRegistry, ManualClock, MockInstrumentOwnership, MockOhlcvStore,
        MockPriceStream,
    };
    use mockall::predicate::{always, eq};

    use super::*;

    fn instruments(names: &[&str]) -> Vec<Instrument> {
        let registry = InstrumentRegistry::builtin();
        names
            .iter()
            .map(|n| registry.resolve(&n.parse().unwrap()))
            .collect()
    }

    /// A feed whose stream never sends anything and whose store is never written.
    fn factory(opened: Arc<Mutex<Vec<Vec<Symbol>>>>) -> FeedFactory {
        Box::new(move |held: Vec<Instrument>| {
            let mut stream = MockPriceStream::new();
            let opened = Arc::clone(&opened);
            stream.expect_open().returning(move |symbols| {
                axia_domain::lock(&opened).push(symbols.to_vec());
                Ok(Box::pin(futures_util::stream::pending()))
            });
            let mut store = MockOhlcvStore::new();
            store.expect_save().never();
            LiveFeed::new(
                Arc::new(stream),
                Arc::new(store),
                Arc::new(ManualClock::new(chrono::DateTime::UNIX_EPOCH)),
                held,
            )
        })
    }

    /// A member "me" of `pairs` with a 3 s failover, running until `stop`.
    struct Running {
        fences: Fences,
        opened: Arc<Mutex<Vec<Vec<Symbol>>>>,
        held: Arc<Mutex<BTreeSet<Symbol>>>,
        stop: tokio::sync::oneshot::Sender<()>,
        run: tokio::task::JoinHandle<Result<(), FeedError>>,
    }

    fn start(ownership: MockInstrumentOwnership, pairs: Vec<Instrument>) -> Running {
        let fences = Fences::new();
        let opened = Arc::new(Mutex::new(Vec::new()));
        let shared = SharedFeed::new(
            Arc::new(ownership),
            fences.clone(),
            "me",
            pairs,
            factory(Arc::clone(&opened)),
        )
        .failover(Duration::from_secs(3));
        let held = shared.held();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let run = tokio::spawn(shared.run(async {
            let _ = stopped.await;
        }));
        Running {
            fences,
            opened,
            held,
            stop,
            run,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_member_takes_its_share_renews_and_gives_back_on_shutdown() {
        let pairs = instruments(&["EURUSD", "USDJPY", "GBPUSD"]);
        let mut ownership = MockInstrumentOwnership::new();
        // Two members: a share of two of the three.
        ownership
            .expect_heartbeat()
            .with(eq("me"), always())
            .returning(|_, _| Ok(2));
        let tokens = Arc::new(AtomicU64::new(0));
        let given = Arc::clone(&tokens);
        ownership
            .expect_acquire()
            .with(always(), eq("me"), eq(Duration::from_secs(2)))
            .times(2)
            .returning(move |_, _, _| Ok(Some(Fence(given.fetch_add(1, Ordering::SeqCst) + 1))));
        ownership
            .expect_renew()
            .with(always(), eq("me"), eq(Duration::from_secs(2)))
            .returning(|_, _, _| Ok(true));
        ownership
            .expect_release()
            .with(always(), eq("me"))
            .times(2)
            .returning(|_, _| Ok(()));
        let Running {
            fences,
            opened,
            held,
            stop,
            run,
        } = start(ownership, pairs);
        tokio::time::sleep(Duration::from_secs(5)).await;
        let now_held: Vec<Symbol> = axia_domain::lock(&held).iter().cloned().collect();
        assert_eq!(now_held.len(), 2, "{now_held:?}");
        for s in &now_held {
            assert!(fences.get(s).is_some(), "{s} fenced");
        }
        // One stream, of the held instruments, opened once: the set did not change.
        let streams = axia_domain::lock(&opened).clone();
        assert_eq!(streams.len(), 1, "{streams:?}");
        let mut streamed = streams[0].clone();
        streamed.sort();
        assert_eq!(streamed, now_held);
        stop.send(()).unwrap();
        run.await.unwrap().unwrap();
        assert!(axia_domain::lock(&held).is_empty());
        for s in &now_held {
            assert!(fences.get(s).is_none(), "{s} no longer fenced");
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_lost_lease_stops_the_writes_and_restarts_the_feed_without_it() {
        let pairs = instruments(&["EURUSD", "USDJPY"]);
        let mut ownership = MockInstrumentOwnership::new();
        ownership.expect_heartbeat().returning(|_, _| Ok(1));
        // Each is free once; USDJPY, once lost, is someone else's.
        let acquired = Arc::new(Mutex::new(BTreeSet::new()));
        ownership.expect_acquire().returning(move |s, _, _| {
            Ok(axia_domain::lock(&acquired)
                .insert(s.clone())
                .then_some(Fence(7)))
        });
        // USDJPY is lost at the first renewal (another process took it), and not free again.
        let usdjpy_taken = Arc::new(AtomicU64::new(0));
        let taken = Arc::clone(&usdjpy_taken);
        ownership.expect_renew().returning(move |s, _, _| {
            if s.as_str() == "USDJPY" {
                taken.store(1, Ordering::SeqCst);
                return Ok(false);
            }
            Ok(true)
        });
        ownership.expect_release().returning(|_, _| Ok(()));
        let Running {
            fences,
            opened,
            held,
            stop,
            run,
        } = start(ownership, pairs);
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        assert_eq!(usdjpy_taken.load(Ordering::SeqCst), 1);
        assert!(fences.get(&"USDJPY".parse().unwrap()).is_none());
        let streams = axia_domain::lock(&opened).clone();
        assert!(streams.len() >= 2, "restarted: {streams:?}");
        assert!(
            !streams[1].iter().any(|s| s.as_str() == "USDJPY"),
            "{streams:?}"
        );
        assert!(
            axia_domain::lock(&held)
                .iter()
                .any(|s| s.as_str() == "EURUSD")
        );
        stop.send(()).unwrap();
        run.await.unwrap().unwrap();
    }
}
