//! [`Scheduler`]: Celery Beat's role. Every host may run one: each tick of each enabled
//! schedule enqueues its jobs with keys of the schedule and the tick, so however many
//! schedulers see a tick, its jobs are enqueued once. Only ticks that come while it runs are
//! enqueued: a tick missed while nothing ran is not replayed (the next collect run is
//! gap-driven and catches up).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axia_domain::{Clock, JobError, JobQueue, JobRequest, ScheduleName, ScheduleStore};
use chrono::{DateTime, Utc};

/// Enqueues the jobs of schedules' ticks.
pub struct Scheduler {
    schedules: Arc<dyn ScheduleStore>,
    queue: Arc<dyn JobQueue>,
    clock: Arc<dyn Clock>,
    every: Duration,
    /// Ticks at or before this are not enqueued (they came before the scheduler started).
    since: DateTime<Utc>,
    /// The last tick enqueued per schedule.
    seen: HashMap<ScheduleName, DateTime<Utc>>,
    /// The soonest next tick of the enabled schedules, as of the last look.
    next_due: Option<DateTime<Utc>>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler")
            .field("every", &self.every)
            .field("since", &self.since)
            .finish_non_exhaustive()
    }
}

impl Scheduler {
    /// A scheduler reading `schedules`, submitting to `queue`, looking every second; ticks
    /// from now on.
    #[must_use]
    pub fn new(
        schedules: Arc<dyn ScheduleStore>,
        queue: Arc<dyn JobQueue>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        let since = clock.now();
        Self {
            schedules,
            queue,
            clock,
            every: Duration::from_secs(1),
            since,
            seen: HashMap::new(),
            next_due: None,
        }
    }

    /// How often it looks at the schedule table at least (default 1 s: a schedule added or
    /// resumed is seen within it). Between looks it wakes at the soonest next tick, so a
    /// tick's jobs are enqueued a few milliseconds after it.
    #[must_use]
    pub fn every(mut self, every: Duration) -> Self {
        self.every = every.max(Duration::from_millis(10));
        self
    }

    /// Enqueues the jobs of every enabled schedule's newest tick not enqueued yet; returns how
    /// many jobs this call created (others may have been created by another scheduler).
    ///
    /// # Errors
    /// [`JobError`] when the store cannot be read or a submit fails (the tick is tried again
    /// at the next call).
    pub async fn tick(&mut self) -> Result<usize, JobError> {
        let now = self.clock.now();
        let mut created = 0;
        self.next_due = None;
        for schedule in self.schedules.schedules().await? {
            if !schedule.enabled {
                continue;
            }
            if let Some(next) = schedule.cron.next_tick(now) {
                self.next_due = Some(self.next_due.map_or(next, |d| d.min(next)));
            }
            let Some(tick) = schedule.cron.last_tick(now) else {
                continue;
            };
            if tick <= self.since || self.seen.get(&schedule.name) == Some(&tick) {
                continue;
            }
            for (part, spec) in schedule.plan.jobs() {
                let key = schedule.key(tick, &part);
                let submitted = self.queue.submit(JobRequest::new(spec).key(key)).await?;
                created += usize::from(submitted.created);
            }
            self.schedules.record_tick(&schedule.name, tick).await?;
            tracing::info!(schedule = %schedule.name, %tick, "schedule ticked");
            self.seen.insert(schedule.name, tick);
        }
        Ok(created)
    }

    /// Looks for ticks every `every` until `shutdown`; errors are logged and tried again.
    pub async fn run(mut self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            if let Err(e) = self.tick().await {
                tracing::warn!(error = %e, "cannot enqueue the schedules' ticks; trying again");
            }
            // Until the soonest tick (a few ms after it), looking at least every `every`.
            let wait = self.next_due.map_or(self.every, |due| {
                let to_tick = (due - self.clock.now()).to_std().unwrap_or_default();
                (to_tick + Duration::from_millis(2)).min(self.every)
            });
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
