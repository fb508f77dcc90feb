//! A client-side rate limiter: requests leave at most every `1 / rps` seconds.

use axia_http::Pacer;
use tokio::time::Instant;

/// Spaces calls at least `1 / rps` apart, in arrival order ([`Pacer`] on tokio's clock).
#[derive(Debug)]
pub(crate) struct RateLimiter {
    pacer: Pacer<Instant>,
}

impl RateLimiter {
    pub(crate) fn new(requests_per_second: f64) -> Self {
        Self {
            pacer: Pacer::per_second(requests_per_second),
        }
    }

    /// Waits for this call's slot.
    pub(crate) async fn acquire(&self) {
        let now = Instant::now();
        let slot = self.pacer.reserve(now);
        // A timer costs a tick of tokio's 1 ms wheel even when already due: only wait to wait.
        if slot > now {
            tokio::time::sleep_until(slot).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn calls_are_spaced_by_the_interval() {
        let limiter = std::sync::Arc::new(RateLimiter::new(4.0));
        let start = Instant::now();
        let mut handles = Vec::new();
        for _ in 0..5 {
            let l = limiter.clone();
            handles.push(tokio::spawn(async move {
                l.acquire().await;
                Instant::now()
            }));
        }
        let mut times = Vec::new();
        for h in handles {
            times.push(h.await.unwrap() - start);
        }
        times.sort();
        assert_eq!(times.first(), Some(&Duration::ZERO));
        assert_eq!(
            times.last(),
            Some(&Duration::from_millis(1000)),
            "{times:?}"
        );
    }
}
