//! A lease in Redis: at most one holder per name at a time, for jobs that must not run twice
//! (two hosts with the same crontab).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axia_domain::StoreError;
use redis::Script;

use crate::RedisBarCache;

/// Extends the lease if this holder still has it.
pub(crate) const RENEW: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
";

/// Deletes the lease if this holder still has it.
pub(crate) const RELEASE: &str = r"
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// A held lease. It is renewed every third of its TTL while held; if the holder dies, it
/// expires after the TTL. Call [`Lease::release`] when done (dropping it stops the renewal and
/// lets it expire).
#[derive(Debug)]
pub struct Lease {
    cache: RedisBarCache,
    key: String,
    token: String,
    lost: Arc<AtomicBool>,
    renewer: tokio::task::JoinHandle<()>,
}

impl Lease {
    /// The Redis key.
    #[must_use]
    pub fn key(&self) -> &str {
        &self.key
    }

    /// True once a renewal found the lease taken by someone else or expired.
    #[must_use]
    pub fn is_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Gives the lease up. Returns false when it was no longer held.
    ///
    /// # Errors
    /// As the hot cache's operations.
    pub async fn release(self) -> Result<bool, StoreError> {
        self.renewer.abort();
        let released: i64 = self
            .cache
            .script(Script::new(RELEASE), &self.key, vec![self.token.clone()])
            .await?;
        Ok(released == 1)
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

/// An id unique to this process and start: host, process id, start time (a lease's holder,
/// a live feed's member id).
#[must_use]
pub fn holder_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_default();
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("{host}-{}-{nanos}", std::process::id())
}

impl RedisBarCache {
    /// Takes the lease `name` (key `{namespace}lock:{name}`) for `ttl` if nobody holds it.
    /// Returns `None` when another holder has it.
    ///
    /// # Errors
    /// As the cache's operations (Redis unreachable: `Unavailable`).
    pub async fn try_lease(&self, name: &str, ttl: Duration) -> Result<Option<Lease>, StoreError> {
        let key = format!("{}lock:{name}", self.prefix());
        let token = holder_id();
        let ttl_ms = u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX).max(1);
        let set: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(&key)
                    .arg(&token)
                    .arg("NX")
                    .arg("PX")
                    .arg(ttl_ms)
                    .clone(),
            )
            .await?;
        if set.is_none() {
            return Ok(None);
        }
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = {
            let (cache, key, token, lost) =
                (self.clone(), key.clone(), token.clone(), Arc::clone(&lost));
            tokio::spawn(async move {
                let every = Duration::from_millis((ttl_ms / 3).max(1));
                loop {
                    tokio::time::sleep(every).await;
                    let renewed: Result<i64, _> = cache
                        .script(
                            Script::new(RENEW),
                            &key,
                            vec![token.clone(), ttl_ms.to_string()],
                        )
                        .await;
                    match renewed {
                        Ok(1) => {}
                        Ok(_) => {
                            tracing::error!(key, "lease lost: another holder or expired");
                            lost.store(true, Ordering::SeqCst);
                            return;
                        }
                        Err(e) => tracing::warn!(key, error = %e, "lease renewal failed; retrying"),
                    }
                }
            })
        };
        Ok(Some(Lease {
            cache: self.clone(),
            key,
            token,
            lost,
            renewer,
        }))
    }
}
