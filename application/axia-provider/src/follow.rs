//! [`Follow`]: the one way to follow a hot tier's updates. It subscribes through the
//! [`BarUpdates`] port, resubscribes with the one retry-delay policy ([`Backoff`]) when the
//! subscription fails or is lost, and says when it (re)subscribed, so a follower resyncs by
//! reading the series (updates are delivered at most once).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axia_domain::{Backoff, BarUpdate, BarUpdates, UpdateStream};
use futures_util::{Stream, StreamExt};

/// What a [`Follow`] yields.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    /// Subscribed (first or again): updates may have been missed before it, read the series.
    Subscribed,
    /// A change of a series.
    Update(Box<BarUpdate>),
}

/// What a [`Follow`] has done.
#[derive(Debug, Default)]
pub struct FollowCounters {
    subscriptions: AtomicU64,
    failures: AtomicU64,
    updates: AtomicU64,
}

impl FollowCounters {
    /// Subscriptions made (1 while the first holds, +1 per resubscription).
    #[must_use]
    pub fn subscriptions(&self) -> u64 {
        self.subscriptions.load(Ordering::Relaxed)
    }

    /// Subscriptions that failed or were lost.
    #[must_use]
    pub fn failures(&self) -> u64 {
        self.failures.load(Ordering::Relaxed)
    }

    /// Updates received.
    #[must_use]
    pub fn updates(&self) -> u64 {
        self.updates.load(Ordering::Relaxed)
    }
}

/// Follows a [`BarUpdates`] source for as long as its stream is polled.
///
/// ```
/// # use std::sync::Arc;
/// # async fn demo(source: Arc<dyn axia_domain::BarUpdates>) {
/// use axia_provider::{Follow, Followed};
/// use futures_util::StreamExt;
///
/// let mut updates = Box::pin(Follow::new(source).into_stream());
/// while let Some(event) = updates.next().await {
///     match event {
///         Followed::Subscribed => { /* read the series you follow */ }
///         Followed::Update(u) => println!("{} {} changed", u.symbol, u.timeframe),
///     }
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct Follow {
    source: Arc<dyn BarUpdates>,
    backoff: Backoff,
    counters: Arc<FollowCounters>,
}

impl std::fmt::Debug for Follow {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follow")
            .field("backoff", &self.backoff)
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

struct State {
    follow: Follow,
    feed: Option<UpdateStream>,
    /// Consecutive failures since an update last arrived.
    failures: u32,
}

impl Follow {
    /// The delays between attempts by default: 200 ms doubling to 10 s, jittered.
    pub const BACKOFF: Backoff = Backoff::new(Duration::from_millis(200), Duration::from_secs(10));

    /// Follows `source` with [`Follow::BACKOFF`].
    #[must_use]
    pub fn new(source: Arc<dyn BarUpdates>) -> Self {
        Self {
            source,
            backoff: Self::BACKOFF,
            counters: Arc::default(),
        }
    }

    /// The delays between attempts.
    #[must_use]
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// The counters, to read while it runs.
    #[must_use]
    pub fn counters(&self) -> Arc<FollowCounters> {
        Arc::clone(&self.counters)
    }

    /// The source followed.
    #[must_use]
    pub fn source(&self) -> &Arc<dyn BarUpdates> {
        &self.source
    }

    /// The updates, with [`Followed::Subscribed`] first and after every resubscription; it
    /// never ends (drop it to stop). A failed or lost subscription is logged and retried after
    /// the backoff's delay, which grows while no update arrives between failures.
    pub fn into_stream(self) -> impl Stream<Item = Followed> + Send + 'static {
        let state = State {
            follow: self,
            feed: None,
            failures: 0,
        };
        futures_util::stream::unfold(state, |mut s| async move {
            loop {
                if let Some(feed) = s.feed.as_mut() {
                    if let Some(update) = feed.next().await {
                        s.failures = 0;
                        s.follow.counters.updates.fetch_add(1, Ordering::Relaxed);
                        return Some((Followed::Update(Box::new(update)), s));
                    }
                    s.feed = None;
                    s.follow.counters.failures.fetch_add(1, Ordering::Relaxed);
                    let wait = s.follow.backoff.delay(s.failures);
                    s.failures = s.failures.saturating_add(1);
                    tracing::warn!(
                        retry_in_ms = axia_domain::millis::whole(wait),
                        "the update subscription was lost; subscribing again"
                    );
                    tokio::time::sleep(wait).await;
                }
                match s.follow.source.subscribe().await {
                    Ok(feed) => {
                        s.feed = Some(feed);
                        s.follow
                            .counters
                            .subscriptions
                            .fetch_add(1, Ordering::Relaxed);
                        return Some((Followed::Subscribed, s));
                    }
                    Err(e) => {
                        s.follow.counters.failures.fetch_add(1, Ordering::Relaxed);
                        let wait = s.follow.backoff.delay(s.failures);
                        s.failures = s.failures.saturating_add(1);
                        tracing::warn!(error = %e, retry_in_ms = axia_domain::millis::whole(wait), "cannot subscribe to the updates");
                        tokio::time::sleep(wait).await;
                    }
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use axia_domain::{MockBarUpdates, OhlcvFrame, StoreError, Timeframe};
    use chrono::{TimeZone, Utc};
    use mockall::Sequence;

    use super::*;

    fn update(minute: u32) -> BarUpdate {
        let t = Utc.with_ymd_and_hms(2026, 12, 7, 10, minute, 0).unwrap();
        BarUpdate {
            symbol: "USDJPY".parse().unwrap(),
            timeframe: Timeframe::M1,
            newest_open: t,
            forming_open: Some(t),
            tail: Some(OhlcvFrame::empty("USDJPY".parse().unwrap(), Timeframe::M1)),
        }
    }

    fn feed(updates: Vec<BarUpdate>) -> UpdateStream {
        Box::pin(futures_util::stream::iter(updates))
    }

    /// A failure, a subscription that delivers two updates and is lost, a second
    /// subscription: the follower sees Subscribed before each subscription's updates, waits
    /// the backoff after each failure, and the source is asked exactly three times.
    #[tokio::test(start_paused = true)]
    async fn resubscribes_with_backoff_and_says_so() {
        let mut source = MockBarUpdates::new();
        let mut seq = Sequence::new();
        source
            .expect_subscribe()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Err(StoreError::Unavailable("connection refused".into())));
        source
            .expect_subscribe()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Ok(feed(vec![update(1), update(2)])));
        source
            .expect_subscribe()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Ok(feed(vec![update(3)])));
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(8));
        let follow = Follow::new(Arc::new(source)).backoff(backoff);
        let counters = follow.counters();
        let started = tokio::time::Instant::now();
        let events: Vec<Followed> = follow.into_stream().take(5).collect().await;
        assert_eq!(
            events,
            vec![
                Followed::Subscribed,
                Followed::Update(Box::new(update(1))),
                Followed::Update(Box::new(update(2))),
                Followed::Subscribed,
                Followed::Update(Box::new(update(3))),
            ]
        );
        // One wait after the failure (0.5-1 s) and one after the loss (0.5-1 s: an update
        // arrived in between, so the delay started over).
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_secs(1) && waited <= Duration::from_secs(2),
            "{waited:?}"
        );
        assert_eq!(counters.subscriptions(), 2);
        assert_eq!(counters.failures(), 2);
        assert_eq!(counters.updates(), 3);
    }

    /// Failures in a row wait longer each time, up to the backoff's ceiling.
    #[tokio::test(start_paused = true)]
    async fn failures_in_a_row_wait_longer() {
        let mut source = MockBarUpdates::new();
        let mut seq = Sequence::new();
        source
            .expect_subscribe()
            .times(4)
            .in_sequence(&mut seq)
            .returning(|| Err(StoreError::Timeout(Duration::from_secs(2))));
        source
            .expect_subscribe()
            .times(1)
            .in_sequence(&mut seq)
            .returning(|| Ok(feed(vec![])));
        let backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(4));
        let started = tokio::time::Instant::now();
        let mut s = Box::pin(Follow::new(Arc::new(source)).backoff(backoff).into_stream());
        assert_eq!(s.next().await, Some(Followed::Subscribed));
        // Ceilings 1 + 2 + 4 + 4 s, each at least halved.
        let waited = started.elapsed();
        assert!(
            waited >= Duration::from_millis(5_500) && waited <= Duration::from_secs(11),
            "{waited:?}"
        );
    }
}
