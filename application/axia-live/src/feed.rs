//! [`LiveFeed`]: the live feed as a use case. A price stream's quotes become bars
//! ([`QuotesToBars`]) and go into the hot tier: a closed bar at once, forming bars coalesced
//! per series (the latest state, at most one write per series per `flush_every`). The stream is
//! watched (no message for `silence` → reconnect) and reopened with the one backoff;
//! refused credentials stop the feed with an error.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axia_domain::{
    Backoff, BarValues, Clock, Instrument, LivePresence, MarketData, OhlcvFrame, OhlcvStore,
    PriceStream, StreamError, StreamEvent, Symbol,
};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;

use crate::reconcile::{Check, Reconciler};
use crate::{BarChange, LiveBarsConfig, QuoteCounts, QuotesToBars, SeriesId};

/// At most this many quotes are read before the series they made ready are written (a
/// stream that is never empty still gets its writes out).
const TURN: usize = 256;

/// How a [`LiveFeed`] runs.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedSettings {
    /// What is built.
    pub bars: LiveBarsConfig,
    /// At most one write of a series' forming bar this often (default 100 ms): the first
    /// change after a quiet spell at once, later ones at the end of the interval.
    pub flush_every: Duration,
    /// How long after a bar's end the timer closes it, for quotes still on their way
    /// (default 500 ms).
    pub close_delay: Duration,
    /// No message (quote or heartbeat) for this long: reconnect (default 10 s).
    pub silence: Duration,
    /// Delays between attempts to open the stream (default 1 s doubling to 60 s, jittered).
    pub backoff: Backoff,
    /// How long after a bar closes the source's candle replaces it (default 60 s: OANDA marks a
    /// candle complete up to about 45 s after its end). Only with a source
    /// ([`LiveFeed::source`]).
    pub reconcile_after: Duration,
    /// How long an announcement that the feed writes an instrument lasts (renewed every third
    /// of it while the stream is open; default 15 s). Only with [`LiveFeed::presence`].
    pub presence_ttl: Duration,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            bars: LiveBarsConfig::default(),
            flush_every: Duration::from_millis(100),
            close_delay: Duration::from_millis(500),
            silence: Duration::from_secs(10),
            backoff: Backoff::new(Duration::from_secs(1), Duration::from_secs(60)),
            reconcile_after: Duration::from_secs(60),
            presence_ttl: Duration::from_secs(15),
        }
    }
}

/// Why a feed stopped on its own.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FeedError {
    /// The source refused the credentials (it says so once; nothing is retried).
    #[error("{0}")]
    Refused(StreamError),
}

/// What a feed has done (readable while it runs).
#[derive(Debug, Default)]
pub struct FeedCounters {
    /// Streams opened.
    pub connects: AtomicU64,
    /// Streams lost (ended, failed, or silent too long) and reopened.
    pub reconnects: AtomicU64,
    /// Streams that went silent past `silence`.
    pub silences: AtomicU64,
    /// Streams closed because the feed stopped (a shutdown, or a restart with other
    /// instruments): open streams are `connects - reconnects - stops`.
    pub stops: AtomicU64,
    /// Heartbeats received.
    pub heartbeats: AtomicU64,
    /// Messages that could not be read.
    pub malformed: AtomicU64,
    /// Writes of a series to the hot tier.
    pub writes: AtomicU64,
    /// Writes that failed (kept and tried again at the next flush).
    pub write_errors: AtomicU64,
    /// Bars closed and written.
    pub closed_bars: AtomicU64,
    /// Milliseconds from the newest quote's time to its write, the last write.
    pub lag_ms: AtomicU64,
    /// Closed bars replaced by the source's candles.
    pub reconciled_bars: AtomicU64,
    /// Of those, live-built bars whose values differed from the candle.
    pub differing_bars: AtomicU64,
    /// Candles written where no live bar was (gaps while disconnected).
    pub gap_bars: AtomicU64,
    /// Checks against the source that failed (the bar stays live-built until the collector's
    /// next run).
    pub reconcile_errors: AtomicU64,
}

impl FeedCounters {
    pub(crate) fn bump(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }

    /// A counter's value.
    #[must_use]
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// The live feed of a set of instruments into a hot tier.
pub struct LiveFeed {
    stream: Arc<dyn PriceStream>,
    source: Option<Arc<dyn MarketData>>,
    presence: Option<Arc<dyn LivePresence>>,
    hot: Arc<dyn OhlcvStore>,
    clock: Arc<dyn Clock>,
    instruments: Vec<Instrument>,
    settings: FeedSettings,
    counters: Arc<FeedCounters>,
    quotes: Arc<std::sync::Mutex<QuoteCounts>>,
    /// At the first connect, fill this far back from the source's candles (a takeover).
    fill_on_start: Option<Duration>,
}

impl std::fmt::Debug for LiveFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveFeed")
            .field("instruments", &self.instruments.len())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What waits to be written for one series.
#[derive(Default)]
struct Pending {
    /// Closed bars not yet written, oldest first.
    closed: Vec<BarValues>,
    /// The forming bar's latest state.
    forming: Option<BarValues>,
}

impl LiveFeed {
    /// A feed of `instruments` from `stream` into `hot`, on `clock`.
    #[must_use]
    pub fn new(
        stream: Arc<dyn PriceStream>,
        hot: Arc<dyn OhlcvStore>,
        clock: Arc<dyn Clock>,
        instruments: Vec<Instrument>,
    ) -> Self {
        Self {
            stream,
            source: None,
            presence: None,
            hot,
            clock,
            instruments,
            settings: FeedSettings::default(),
            counters: Arc::default(),
            quotes: Arc::default(),
            fill_on_start: None,
        }
    }

    /// At its first connect, fills the last `window` of every series from the source's closed
    /// candles (with [`source`](Self::source)): a feed that takes instruments over from a
    /// process that stopped writing them leaves no hole behind it.
    #[must_use]
    pub fn fill_on_start(mut self, window: Duration) -> Self {
        self.fill_on_start = Some(window);
        self
    }

    /// The quote counts' handle to share before the feed runs (this feed adds its own to
    /// what it holds).
    #[must_use]
    pub fn with_quote_counts(mut self, quotes: Arc<std::sync::Mutex<QuoteCounts>>) -> Self {
        self.quotes = quotes;
        self
    }

    /// The counters' handle to share before the feed runs (a coordinator restarting feeds
    /// keeps one set of counters across them).
    #[must_use]
    pub fn with_counters(mut self, counters: Arc<FeedCounters>) -> Self {
        self.counters = counters;
        self
    }

    /// The source whose candles replace the live-built bars once closed (`reconcile_after`
    /// later), and fill the gap after a reconnect: the broker whose stream this is (OANDA's
    /// candles, the simulated broker). Without one, live-built bars stay in the hot tier until
    /// the collector's next run.
    #[must_use]
    pub fn source(mut self, source: Arc<dyn MarketData>) -> Self {
        self.source = Some(source);
        self
    }

    /// Where the feed announces, while its stream is open, that it writes its instruments'
    /// bars (the collector then leaves their recent bars to it).
    #[must_use]
    pub fn presence(mut self, presence: Arc<dyn LivePresence>) -> Self {
        self.presence = Some(presence);
        self
    }

    /// How it runs.
    #[must_use]
    pub fn settings(mut self, settings: FeedSettings) -> Self {
        self.settings = settings;
        self
    }

    /// The counters, to read while it runs.
    #[must_use]
    pub fn counters(&self) -> Arc<FeedCounters> {
        Arc::clone(&self.counters)
    }

    /// Quotes accepted and dropped (by reason), to read while it runs.
    #[must_use]
    pub fn quote_counts(&self) -> Arc<std::sync::Mutex<QuoteCounts>> {
        Arc::clone(&self.quotes)
    }

    /// Runs until `shutdown` completes (then writes the forming bars and returns `Ok`), or the
    /// source refuses the credentials.
    ///
    /// # Errors
    /// [`FeedError::Refused`].
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), FeedError> {
        let symbols: Vec<Symbol> = self
            .instruments
            .iter()
            .map(|i| i.symbol().clone())
            .collect();
        let (checks, checking) = match &self.source {
            Some(source) => {
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let task = tokio::spawn(
                    Reconciler {
                        source: Arc::clone(source),
                        hot: Arc::clone(&self.hot),
                        clock: Arc::clone(&self.clock),
                        counters: Arc::clone(&self.counters),
                    }
                    .run(rx),
                );
                (Some(tx), Some(task))
            }
            None => (None, None),
        };
        let mut run = Run {
            bars: QuotesToBars::new(&self.settings.bars, self.instruments.clone()),
            feed: &self,
            pending: BTreeMap::new(),
            changes: Vec::new(),
            newest_quote: None,
            checks,
            connected_since: None,
            connects: 0,
            quotes_before: axia_domain::lock(&self.quotes).clone(),
            last_write: Vec::new(),
            due: BinaryHeap::new(),
            scheduled: Vec::new(),
            ready: BTreeSet::new(),
            turn: 0,
        };
        let mut failures = 0u32;
        let every = (self.settings.presence_ttl / 3).max(Duration::from_millis(10));
        let mut announce = tokio::time::interval(every);
        announce.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        let mut refused = None;
        'connect: loop {
            let opened = tokio::select! {
                () = &mut shutdown => break 'connect,
                o = self.stream.open(&symbols) => o,
            };
            let mut events = match opened {
                Ok(e) => e,
                Err(e) if !e.is_retryable() => {
                    tracing::error!(error = %e, "the price stream refused the credentials; stopping");
                    refused = Some(e);
                    break 'connect;
                }
                Err(e) => {
                    let wait = match &e {
                        StreamError::RateLimited {
                            retry_after: Some(d),
                        } => *d,
                        _ => self.settings.backoff.delay(failures),
                    };
                    failures = failures.saturating_add(1);
                    tracing::warn!(error = %e, retry_in_ms = axia_domain::millis::whole(wait), "cannot open the price stream");
                    if run.wait(wait, &mut shutdown).await {
                        continue 'connect;
                    }
                    break 'connect;
                }
            };
            FeedCounters::bump(&self.counters.connects);
            tracing::info!(instruments = symbols.len(), "price stream open");
            run.connected_since = Some(self.clock.now().timestamp_millis());
            if run.connects > 0 {
                run.fill_gap();
            } else if let Some(window) = self.fill_on_start {
                run.fill_since(window);
            }
            run.connects += 1;
            let mut healthy = false;
            let mut last_message = tokio::time::Instant::now();
            loop {
                let close_in = run.until_close();
                let next_due = run.next_due();
                // Quotes already waiting are read first (up to `TURN` of them), then the
                // series they made ready are written in one batch: one round trip for many.
                let read = !(run.has_ready() && run.turn >= TURN);
                tokio::select! {
                    biased;
                    () = &mut shutdown => break 'connect,
                    () = tokio::time::sleep(close_in.unwrap_or_default()), if close_in.is_some() => {
                        run.close_due().await;
                    }
                    _ = announce.tick(), if self.presence.is_some() => self.announce(&symbols).await,
                    () = tokio::time::sleep_until(last_message + self.settings.silence) => {
                        FeedCounters::bump(&self.counters.silences);
                        tracing::warn!(silent_ms = axia_domain::millis::whole(self.settings.silence), "the price stream went silent; reconnecting");
                        break;
                    }
                    event = events.next(), if read => match event.inspect(|_| last_message = tokio::time::Instant::now()) {
                        None => {
                            tracing::warn!("the price stream ended; reconnecting");
                            break;
                        }
                        Some(Err(StreamError::Malformed(m))) => {
                            FeedCounters::bump(&self.counters.malformed);
                            tracing::warn!(message = %m, "a price stream message could not be read; skipped");
                        }
                        Some(Err(e)) => {
                            tracing::warn!(error = %e, "the price stream failed; reconnecting");
                            break;
                        }
                        Some(Ok(StreamEvent::Heartbeat(_))) => {
                            FeedCounters::bump(&self.counters.heartbeats);
                            healthy = true;
                        }
                        Some(Ok(StreamEvent::Quote(q))) => {
                            healthy = true;
                            run.quote(&q);
                        }
                    },
                    () = std::future::ready(()), if run.has_ready() => run.write_ready().await,
                    () = tokio::time::sleep_until(next_due.unwrap_or_else(tokio::time::Instant::now)), if next_due.is_some() => {
                        run.take_due();
                    }
                }
            }
            run.connected_since = None;
            FeedCounters::bump(&self.counters.reconnects);
            if healthy {
                failures = 0;
            }
            let wait = self.settings.backoff.delay(failures);
            failures = failures.saturating_add(1);
            if !run.wait(wait, &mut shutdown).await {
                break 'connect;
            }
        }
        // Stopping: the bars whose period has ended closed (no quote comes any more), the
        // others as they stand.
        if run.connected_since.is_some() {
            FeedCounters::bump(&self.counters.stops);
        }
        run.connected_since = None;
        run.close_until(self.clock.now()).await;
        run.write_all().await;
        *axia_domain::lock(&self.quotes) = run.quotes_before.plus(run.bars.counts());
        // The checks already due run; the others are the collector's.
        drop(run);
        if let Some(task) = checking {
            let _ = task.await;
        }
        match refused {
            Some(e) => Err(FeedError::Refused(e)),
            None => {
                tracing::info!("live feed stopped; forming bars written");
                Ok(())
            }
        }
    }

    /// Announces that the feed writes `symbols` (failures are logged: the collector then
    /// refreshes their recent bars too, which is harmless).
    async fn announce(&self, symbols: &[Symbol]) {
        let Some(presence) = &self.presence else {
            return;
        };
        for symbol in symbols {
            if let Err(e) = presence.announce(symbol, self.settings.presence_ttl).await {
                tracing::warn!(%symbol, error = %e, "cannot announce the live feed");
                break;
            }
        }
    }

    /// Writes `batch` (each series' closed bars and forming bar) in one save a series,
    /// concurrently; returns what failed and should be tried again.
    async fn write(
        &self,
        bars: &QuotesToBars,
        batch: BTreeMap<SeriesId, Pending>,
        newest_quote: Option<DateTime<Utc>>,
    ) -> Vec<(SeriesId, Pending)> {
        let mut failed = Vec::new();
        if batch.is_empty() {
            return failed;
        }
        let writes = batch.into_iter().map(|(id, p)| async move {
            let frame = frame_of(bars, id, &p);
            let result = match &frame {
                Some(f) => self.hot.save(f).await,
                None => Err(axia_domain::StoreError::InvalidRequest(
                    "the bars do not form a series".to_owned(),
                )),
            };
            (id, p, result)
        });
        let results = futures_util::future::join_all(writes).await;
        for (id, p, result) in results {
            match result {
                Ok(()) => {
                    FeedCounters::bump(&self.counters.writes);
                    self.counters
                        .closed_bars
                        .fetch_add(p.closed.len() as u64, Ordering::Relaxed);
                }
                Err(e @ axia_domain::StoreError::Fenced(_)) => {
                    // Another process holds the instrument now: its bars are its to write.
                    FeedCounters::bump(&self.counters.write_errors);
                    tracing::warn!(series = ?bars.series(id), error = %e, "live bars fenced out; dropped");
                }
                Err(e) => {
                    FeedCounters::bump(&self.counters.write_errors);
                    tracing::warn!(series = ?bars.series(id), error = %e, "cannot write live bars; trying again at the next flush");
                    failed.push((id, p));
                }
            }
        }
        if let Some(t) = newest_quote {
            let lag = (self.clock.now() - t).num_milliseconds().max(0);
            self.counters
                .lag_ms
                .store(u64::try_from(lag).unwrap_or(0), Ordering::Relaxed);
        }
        failed
    }
}

/// One run's state: the bars, what waits to be written, the checks to send.
struct Run<'a> {
    feed: &'a LiveFeed,
    bars: QuotesToBars,
    pending: BTreeMap<SeriesId, Pending>,
    changes: Vec<BarChange>,
    newest_quote: Option<DateTime<Utc>>,
    checks: Option<tokio::sync::mpsc::UnboundedSender<Check>>,
    /// Since when (ms) the stream is open; `None` while it is not.
    connected_since: Option<i64>,
    /// Streams this run opened.
    connects: u64,
    /// The quote counts before this run (a shared set, [`LiveFeed::with_quote_counts`]).
    quotes_before: QuoteCounts,
    /// When each series was last written (by [`SeriesId::index`]).
    last_write: Vec<Option<tokio::time::Instant>>,
    /// Series whose forming bar waits for its interval to end, soonest first.
    due: BinaryHeap<Reverse<(tokio::time::Instant, SeriesId)>>,
    /// Whether a series is in `due` (by index).
    scheduled: Vec<bool>,
    /// Series to write in the next batch.
    ready: BTreeSet<SeriesId>,
    /// Quotes read since the last batch went out.
    turn: usize,
}

impl Run<'_> {
    fn close_delay(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.feed.settings.close_delay).unwrap_or_default()
    }

    /// How long until the timer closes the next bar; `None` when nothing is forming.
    fn until_close(&self) -> Option<Duration> {
        let at = self.bars.next_end()? + self.close_delay();
        Some(
            (at - self.feed.clock.now())
                .to_std()
                .unwrap_or(Duration::ZERO),
        )
    }

    /// The timer: closes the bars that ended `close_delay` ago and writes them.
    async fn close_due(&mut self) {
        let t = self.feed.clock.now() - self.close_delay();
        self.close_until(t).await;
    }

    async fn close_until(&mut self, t: DateTime<Utc>) {
        self.changes.clear();
        self.bars.close_until(t, &mut self.changes);
        self.check_closed();
        absorb(&mut self.pending, &self.changes);
        self.mark();
        self.write_ready().await;
    }

    /// Takes a quote in; the series it changed are ready to write or scheduled.
    fn quote(&mut self, q: &axia_domain::Quote) {
        self.changes.clear();
        if self.bars.on_quote(q, &mut self.changes).is_ok() {
            self.newest_quote = Some(self.newest_quote.map_or(q.time, |t| t.max(q.time)));
            self.check_closed();
            absorb(&mut self.pending, &self.changes);
            self.mark();
        }
        self.turn = self.turn.saturating_add(1);
        *axia_domain::lock(&self.feed.quotes) = self.quotes_before.plus(self.bars.counts());
    }

    /// Decides, per series that just changed, when it is written: a closed bar at once; a
    /// forming one at once too when its series was not written for `flush_every` (the
    /// leading edge), else when that interval ends, with whatever else changed meanwhile (the
    /// trailing edge). Each series keeps its own interval: at most one write of a series per
    /// interval, and a quiet series' first quote without delay however busy the others are.
    fn mark(&mut self) {
        let now = tokio::time::Instant::now();
        let every = self.feed.settings.flush_every;
        for k in 0..self.changes.len() {
            let Some(c) = self.changes.get(k) else { break };
            let (id, forming) = (c.series, c.forming);
            let last = self.last_write.get(id.index()).copied().flatten();
            match last.map(|t| t + every) {
                Some(at) if forming && at > now => self.schedule(id, at),
                _ => {
                    self.ready.insert(id);
                }
            }
        }
    }

    fn schedule(&mut self, id: SeriesId, at: tokio::time::Instant) {
        let k = id.index();
        if self.scheduled.len() <= k {
            self.scheduled.resize(k + 1, false);
        }
        if let Some(s) = self.scheduled.get_mut(k)
            && !*s
        {
            *s = true;
            self.due.push(Reverse((at, id)));
        }
    }

    /// When the next scheduled series is due.
    fn next_due(&self) -> Option<tokio::time::Instant> {
        self.due.peek().map(|Reverse((at, _))| *at)
    }

    /// Moves the series whose interval has ended to the next batch.
    fn take_due(&mut self) {
        let now = tokio::time::Instant::now();
        while let Some(Reverse((at, id))) = self.due.peek().copied() {
            if at > now {
                break;
            }
            self.due.pop();
            if let Some(s) = self.scheduled.get_mut(id.index()) {
                *s = false;
            }
            self.ready.insert(id);
        }
    }

    fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Writes the series that are ready, in one batch.
    async fn write_ready(&mut self) {
        self.turn = 0;
        if self.ready.is_empty() {
            return;
        }
        let now = tokio::time::Instant::now();
        let ready = std::mem::take(&mut self.ready);
        let mut batch = BTreeMap::new();
        for id in ready {
            let Some(p) = self.pending.remove(&id) else {
                continue;
            };
            batch.insert(id, p);
            let k = id.index();
            if self.last_write.len() <= k {
                self.last_write.resize(k + 1, None);
            }
            if let Some(t) = self.last_write.get_mut(k) {
                *t = Some(now);
            }
        }
        let failed = self.feed.write(&self.bars, batch, self.newest_quote).await;
        // What could not be written is tried again when its series' interval ends.
        for (id, p) in failed {
            let again = self.pending.entry(id).or_default();
            let mut closed = p.closed;
            closed.append(&mut again.closed);
            again.closed = closed;
            if again.forming.is_none() {
                again.forming = p.forming;
            }
            self.schedule(id, now + self.feed.settings.flush_every);
        }
    }

    /// Writes everything that waits (stopping).
    async fn write_all(&mut self) {
        self.ready.extend(self.pending.keys().copied());
        self.write_ready().await;
    }

    /// Waits `wait`, closing bars on time meanwhile; false when `shutdown` came first.
    async fn wait<F: Future<Output = ()>>(
        &mut self,
        wait: Duration,
        shutdown: &mut std::pin::Pin<&mut F>,
    ) -> bool {
        let until = tokio::time::Instant::now() + wait;
        loop {
            let close_in = self.until_close();
            let next_due = self.next_due();
            tokio::select! {
                () = shutdown.as_mut() => return false,
                () = tokio::time::sleep_until(until) => return true,
                () = tokio::time::sleep(close_in.unwrap_or_default()), if close_in.is_some() => {
                    self.close_due().await;
                }
                () = tokio::time::sleep_until(next_due.unwrap_or(until)), if next_due.is_some() => {
                    self.take_due();
                    self.write_ready().await;
                }
            }
        }
    }

    /// Sends the bars that just closed to be checked against the source's candles later.
    fn check_closed(&self) {
        let Some(tx) = &self.checks else { return };
        let due = tokio::time::Instant::now() + self.feed.settings.reconcile_after;
        for c in self.changes.iter().filter(|c| !c.forming) {
            let Some((symbol, timeframe, alignment)) = self.bars.series(c.series) else {
                continue;
            };
            let end = timeframe
                .aligned(alignment)
                .next_open_millis(c.bar.time_millis)
                .unwrap_or(c.bar.time_millis);
            // Seen whole: the stream was open from the bar's open to its close (now).
            let seen_whole = self
                .connected_since
                .is_some_and(|since| since <= c.bar.time_millis);
            let _ = tx.send(Check {
                due,
                symbol: symbol.clone(),
                timeframe,
                from_ms: c.bar.time_millis,
                to_ms: end,
                seen_whole,
            });
        }
    }

    /// After a reconnect: what the source has since each instrument's last quote, now.
    /// Fills the last `window` of every series from the source's closed candles.
    fn fill_since(&self, window: Duration) {
        let Some(tx) = &self.checks else { return };
        let now = self.feed.clock.now();
        let since = now - chrono::Duration::from_std(window).unwrap_or_default();
        for k in 0..self.bars.series_count() {
            let Some((symbol, timeframe, alignment)) = self.bars.series(SeriesId::new(k)) else {
                continue;
            };
            let from = timeframe
                .aligned(alignment)
                .floor_millis(since.timestamp_millis())
                .unwrap_or_else(|| since.timestamp_millis());
            let _ = tx.send(Check {
                due: tokio::time::Instant::now(),
                symbol: symbol.clone(),
                timeframe,
                from_ms: from,
                to_ms: now.timestamp_millis().max(from + 1),
                seen_whole: false,
            });
        }
    }

    fn fill_gap(&self) {
        let Some(tx) = &self.checks else { return };
        let now = self.feed.clock.now().timestamp_millis();
        for k in 0..self.bars.series_count() {
            let Some((symbol, timeframe, alignment)) = self.bars.series(SeriesId::new(k)) else {
                continue;
            };
            let Some(last) = self.bars.last_quote(symbol) else {
                continue;
            };
            let from = timeframe
                .aligned(alignment)
                .floor_millis(last.timestamp_millis())
                .unwrap_or(now);
            let _ = tx.send(Check {
                due: tokio::time::Instant::now(),
                symbol: symbol.clone(),
                timeframe,
                from_ms: from,
                to_ms: now.max(from + 1),
                seen_whole: false,
            });
        }
    }
}

/// Adds `changes` to what waits.
fn absorb(pending: &mut BTreeMap<SeriesId, Pending>, changes: &[BarChange]) {
    for c in changes {
        let p = pending.entry(c.series).or_default();
        if c.forming {
            p.forming = Some(c.bar);
        } else {
            if p.forming
                .is_some_and(|f| f.time_millis == c.bar.time_millis)
            {
                p.forming = None;
            }
            p.closed.push(c.bar);
        }
    }
}

/// The frame of a series' pending bars, the forming one labelled.
fn frame_of(bars: &QuotesToBars, id: SeriesId, p: &Pending) -> Option<OhlcvFrame> {
    let (symbol, timeframe, alignment) = bars.series(id)?;
    let mut b = OhlcvFrame::builder(symbol.clone(), timeframe, p.closed.len() + 1)
        .aligned(alignment)
        .ok()?;
    let mut last = i64::MIN;
    for bar in p.closed.iter().chain(p.forming.iter()) {
        // A bar closed twice (written, failed, retried) is pushed once.
        if bar.time_millis > last {
            b.push_values(*bar).ok()?;
            last = bar.time_millis;
        }
    }
    Some(b.finish().with_forming(p.forming.is_some()))
}
