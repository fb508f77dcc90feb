//! Configuration of the hot cache, and redaction of secrets in URLs.

use std::fmt;
use std::time::Duration;

use axia_domain::next_ny_close;
use chrono::{DateTime, Utc};

/// When a key expires. The TTL is set again on every write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TtlPolicy {
    /// At the next 17:00 America/New_York (DST-correct) that is at least `min_remaining` away:
    /// a key written at 16:30 New York time lives until tomorrow's close, not 30 minutes.
    NyClose {
        /// The shortest TTL accepted before moving to the following close.
        min_remaining: Duration,
    },
    /// A fixed duration (the replaced Python system used 25 h).
    Fixed(Duration),
}

impl Default for TtlPolicy {
    /// `NyClose` with at least one hour left.
    fn default() -> Self {
        Self::NyClose {
            min_remaining: Duration::from_secs(3600),
        }
    }
}

impl TtlPolicy {
    /// The TTL, in milliseconds (at least 1), for a write at `now`.
    #[must_use]
    pub fn ttl_millis(&self, now: DateTime<Utc>) -> i64 {
        let ms = match *self {
            Self::Fixed(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Self::NyClose { min_remaining } => {
                let min =
                    chrono::Duration::from_std(min_remaining).unwrap_or(chrono::Duration::hours(1));
                let mut close = next_ny_close(now);
                while close - now < min {
                    close = next_ny_close(close);
                }
                (close - now).num_milliseconds()
            }
        };
        ms.max(1)
    }
}

/// Where the Redis server or cluster is.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Endpoint {
    Standalone(String),
    Cluster(Vec<String>),
}

/// How to reach Redis and how the hot cache behaves.
///
/// `Debug` shows the URLs with their passwords replaced by `***`.
///
/// ```
/// use axia_redis::{RedisCacheConfig, TtlPolicy};
/// use std::time::Duration;
///
/// let config = RedisCacheConfig::new("redis://:s3cret@cache.internal:6379/0")
///     .namespace("prod")
///     .ttl(TtlPolicy::Fixed(Duration::from_secs(25 * 3600)));
/// assert!(!format!("{config:?}").contains("s3cret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
#[must_use]
pub struct RedisCacheConfig {
    pub(crate) endpoint: Endpoint,
    pub(crate) namespace: String,
    pub(crate) retention: Duration,
    pub(crate) ttl: TtlPolicy,
    pub(crate) connect_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) reconnect_retries: usize,
    pub(crate) operation_timeout: Duration,
    pub(crate) max_write_attempts: u32,
    pub(crate) memory_target_bytes: u64,
    pub(crate) memory_cap_bytes: u64,
    pub(crate) tls_ca_pem: Option<Vec<u8>>,
    pub(crate) decoded_memo_bytes: usize,
}

impl RedisCacheConfig {
    /// A standalone server at `url` (`redis://[:password@]host[:port][/db]` or `rediss://` for
    /// TLS), with the defaults: no namespace, 24 h retention, [`TtlPolicy::NyClose`], connect
    /// 200 ms, response 500 ms, 1 reconnect retry, 2 s per operation, 16 write attempts under
    /// contention, a 50 MB target and a 256 MB cap, 64 MiB of decoded values kept.
    pub fn new(url: impl Into<String>) -> Self {
        Self::with_endpoint(Endpoint::Standalone(url.into()))
    }

    /// A Redis Cluster reached through any of `urls`.
    pub fn cluster(urls: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self::with_endpoint(Endpoint::Cluster(
            urls.into_iter().map(Into::into).collect(),
        ))
    }

    fn with_endpoint(endpoint: Endpoint) -> Self {
        Self {
            endpoint,
            namespace: String::new(),
            retention: Duration::from_secs(24 * 3600),
            ttl: TtlPolicy::default(),
            connect_timeout: Duration::from_millis(200),
            response_timeout: Duration::from_millis(500),
            reconnect_retries: 1,
            operation_timeout: Duration::from_secs(2),
            max_write_attempts: 16,
            memory_target_bytes: 50 * 1024 * 1024,
            memory_cap_bytes: 256 * 1024 * 1024,
            tls_ca_pem: None,
            decoded_memo_bytes: 64 * 1024 * 1024,
        }
    }

    /// A prefix for every key and channel: `prod` gives `prod:ohlcv:USDJPY:H1`. Empty (the
    /// default) gives `ohlcv:USDJPY:H1`. Letters, digits and `_ - . :` only; anything else is
    /// refused when the cache is built.
    pub fn namespace(mut self, namespace: impl Into<String>) -> Self {
        self.namespace = namespace.into();
        self
    }

    /// How far back bars are kept (default 24 h); the newest bar is always kept.
    pub const fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// When keys expire.
    pub const fn ttl(mut self, ttl: TtlPolicy) -> Self {
        self.ttl = ttl;
        self
    }

    /// Connect and response timeouts of the connection, and reconnect retries.
    pub const fn timeouts(mut self, connect: Duration, response: Duration, retries: usize) -> Self {
        self.connect_timeout = connect;
        self.response_timeout = response;
        self.reconnect_retries = retries;
        self
    }

    /// The most one cache operation may take, round trips included.
    pub const fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// How many times a merge is tried when concurrent writers keep changing the key.
    pub fn max_write_attempts(mut self, attempts: u32) -> Self {
        self.max_write_attempts = attempts.max(1);
        self
    }

    /// Memory target and cap for [`info`](axia_domain::OhlcvStore::info)'s health.
    pub const fn memory_limits(mut self, target_bytes: u64, cap_bytes: u64) -> Self {
        self.memory_target_bytes = target_bytes;
        self.memory_cap_bytes = cap_bytes;
        self
    }

    /// How many bytes of decoded values a cache handle keeps for reads of unchanged values
    /// (default 64 MiB; 0 turns it off). A read whose bytes equal the last ones read under the
    /// key returns a copy of their decoded frame instead of decoding them again; a value
    /// changed by any writer has other bytes and is decoded. About 60 KB per day of M1 bars.
    pub const fn decoded_memo_bytes(mut self, bytes: usize) -> Self {
        self.decoded_memo_bytes = bytes;
        self
    }

    /// Trusts the CA certificate(s) in `pem` for `rediss://` connections, for servers whose
    /// certificate a private CA signed. Without it the public webpki roots are used.
    pub fn tls_ca_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.tls_ca_pem = Some(pem.into());
        self
    }

    /// The URLs with passwords replaced by `***`, for logs.
    #[must_use]
    pub fn redacted_endpoint(&self) -> String {
        match &self.endpoint {
            Endpoint::Standalone(u) => redact_url(u),
            Endpoint::Cluster(us) => us
                .iter()
                .map(|u| redact_url(u))
                .collect::<Vec<_>>()
                .join(","),
        }
    }

    /// The passwords in the configured URLs, to scrub from error texts.
    pub(crate) fn secrets(&self) -> Vec<String> {
        let urls: Vec<&String> = match &self.endpoint {
            Endpoint::Standalone(u) => vec![u],
            Endpoint::Cluster(us) => us.iter().collect(),
        };
        urls.into_iter()
            .filter_map(|u| password_of(u))
            .filter(|p| !p.is_empty())
            .collect()
    }
}

impl fmt::Debug for RedisCacheConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisCacheConfig")
            .field("endpoint", &self.redacted_endpoint())
            .field("namespace", &self.namespace)
            .field("retention", &self.retention)
            .field("ttl", &self.ttl)
            .field("connect_timeout", &self.connect_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .finish_non_exhaustive()
    }
}

/// The userinfo part of a URL (`user:password` in `scheme://user:password@host`), if any.
fn password_of(url: &str) -> Option<String> {
    axia_domain::url_password(url)
}

pub use axia_domain::redact_url;

/// Replaces every secret in `text` by `***`.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    axia_domain::scrub(text, secrets)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(
            redact_url("redis://:s3cret@host:6379/0"),
            "redis://:***@host:6379/0"
        );
        assert_eq!(
            redact_url("rediss://app:p@ss:w0rd@host"),
            "rediss://app:***@host"
        );
        assert_eq!(redact_url("redis://token@host"), "redis://:***@host");
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(redact_url("redis://host/0?x=a@b"), "redis://host/0?x=a@b");
        let c = RedisCacheConfig::cluster(["redis://:pw1@a:7000", "redis://:pw2@b:7001"]);
        assert_eq!(
            c.redacted_endpoint(),
            "redis://:***@a:7000,redis://:***@b:7001"
        );
        assert_eq!(c.secrets(), vec!["pw1".to_owned(), "pw2".to_owned()]);
        assert_eq!(
            scrub("auth pw1 failed on a", &c.secrets()),
            "auth *** failed on a"
        );
        assert!(!format!("{c:?}").contains("pw1"));
    }

    #[test]
    fn ny_close_ttl_is_at_least_the_minimum() {
        let policy = TtlPolicy::default();
        // 2026-07-01 20:30 UTC = 16:30 EDT: today's close is 30 min away, so tomorrow's.
        let now = Utc.with_ymd_and_hms(2026, 7, 1, 20, 30, 0).unwrap();
        assert_eq!(policy.ttl_millis(now), (24 * 60 + 30) * 60_000);
        // 12:00 UTC: the close at 21:00 UTC is 9 h away.
        let now = Utc.with_ymd_and_hms(2026, 7, 1, 12, 0, 0).unwrap();
        assert_eq!(policy.ttl_millis(now), 9 * 3_600_000);
        // Winter: 22:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 1, 15, 12, 0, 0).unwrap();
        assert_eq!(policy.ttl_millis(now), 10 * 3_600_000);
        assert_eq!(
            TtlPolicy::Fixed(Duration::from_secs(90_000)).ttl_millis(now),
            90_000_000
        );
    }
}
