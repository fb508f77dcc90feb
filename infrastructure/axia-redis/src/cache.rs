//! [`RedisBarCache`]: the [`OhlcvStore`] on Redis.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{
    Backoff, Clock, DailyAlignment, DatasetInfo, Fences, FrameError, OhlcvFrame, OhlcvStore,
    StoreError, StoreHealth, StoreInfo, Symbol, TimeRange, Timeframe,
};
use chrono::{DateTime, Utc};
use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, RedisError, RedisFuture, Script, Value};
use serde::{Deserialize, Serialize};
use tokio::sync::OnceCell;

use crate::codec::{self, DecodeError};
use crate::config::{Endpoint, RedisCacheConfig, scrub};
use crate::memo::DecodedMemo;

/// Each write script of a fenced handle ([`RedisBarCache::fenced`]) also takes the series'
/// fence key (`{namespace}ohlcv:fence:{<series key>}`, the series' hash slot) and the write's
/// fencing token: it returns -2 and writes nothing when the fence holds a larger token, and
/// raises the fence to the write's token when it writes (kept 7 days).
///
/// Moves the staged value `KEYS[2]` to the series key `KEYS[1]`, with TTL `ARGV[2]` ms, if the
/// key's bytes 4..19 (a version 4 or 5 value's write token, [`codec::TOKEN_RANGE`]) still are
/// `ARGV[1]` (`""` for an absent key) and its length still is `ARGV[5]` (a patch appended
/// since changes the length, not the token), then publishes `ARGV[4]` on channel `ARGV[3]`. Returns 1
/// when written, 0 when another writer got there first (the staged value is dropped), -1 when
/// the staged value is gone. Only the token and the message pass through Lua, whatever the
/// value's size: Redis 7.0's Lua copies and hashes every byte of every argument, so a 10 KB
/// value through a script cost 40 us of Redis time, through `SET` 1 us.
const COMMIT_STAGED: &str = r"
if KEYS[3] and tonumber(redis.call('GET', KEYS[3]) or '0') > tonumber(ARGV[6]) then
  redis.call('DEL', KEYS[2])
  return -2
end
if redis.call('GETRANGE', KEYS[1], 4, 19) ~= ARGV[1]
  or redis.call('STRLEN', KEYS[1]) ~= tonumber(ARGV[5]) then
  redis.call('DEL', KEYS[2])
  return 0
end
if redis.pcall('RENAME', KEYS[2], KEYS[1]).err then return -1 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
if KEYS[3] then redis.call('SET', KEYS[3], ARGV[6], 'PX', 604800000) end
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
";

/// Appends the patch `ARGV[3]` to the series key `KEYS[1]` (version 5, [`codec::patch`]) if
/// the key still holds the token `ARGV[1]` at bytes 4..19 and is still `ARGV[2]` bytes long
/// (exactly the value the writer knows), sets its TTL to `ARGV[4]` ms and publishes `ARGV[6]`
/// on channel `ARGV[5]`. Returns 1 when appended, 0 when the key holds anything else. Only the
/// patch (a few dozen bytes) and the message pass through Lua.
const APPEND_PATCH: &str = r"
if KEYS[2] and tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[7]) then
  return -2
end
if redis.call('GETRANGE', KEYS[1], 4, 19) ~= ARGV[1]
  or redis.call('STRLEN', KEYS[1]) ~= tonumber(ARGV[2]) then
  return 0
end
redis.call('APPEND', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[7], 'PX', 604800000) end
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
";

/// The most patches a value holds: the write after them rewrites it whole (so a reader
/// applies at most this many, and a write's cost to Redis is the patch's, a rewrite's cost
/// shared by this many writes).
pub const MAX_PATCHES: usize = 64;

/// How long a staged value lives if its commit never runs (a connection lost between the two).
const STAGE_TTL_MS: u64 = 30_000;

/// Writes `ARGV[2]` with TTL `ARGV[3]` ms if the key still holds exactly `ARGV[1]` (`""` for an
/// absent key), then publishes `ARGV[5]` on channel `ARGV[4]`. Returns 1 when written, 0 when
/// another writer got there first. Used when the writer read a value of a version before 4
/// (no write token): the whole value it read, the whole new value and the stored one pass
/// through Lua.
const COMPARE_AND_SET: &str = r"
if KEYS[2] and tonumber(redis.call('GET', KEYS[2]) or '0') > tonumber(ARGV[6]) then
  return -2
end
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
if KEYS[2] then redis.call('SET', KEYS[2], ARGV[6], 'PX', 604800000) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
";

/// Deletes the key if its value's SHA-1 is still `ARGV[1]`, so a corrupt value is removed
/// without removing a good one written meanwhile.
const COMPARE_AND_DELETE: &str = r"
local current = redis.call('GET', KEYS[1])
if current and redis.sha1hex(current) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
";

/// One write's arguments.
struct Write {
    key: String,
    stage: String,
    value: Vec<u8>,
    ttl: i64,
    channel: String,
    message: String,
    index: String,
    member: String,
    /// The fence key and the write's token, on a fenced handle.
    fence: Option<(String, u64)>,
}

/// What a write's commit checks the key still holds.
enum Guard {
    /// The token of the value read (empty when the key was absent) and its length.
    Token(Vec<u8>, usize),
    /// The whole value read: one of a version before 4, which has no token.
    Whole(Vec<u8>),
}

fn is_no_script(e: &RedisError) -> bool {
    e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript)
}

/// Adds a written series to the namespace index on a cluster (another slot: its own round
/// trip); a failure is logged, the series is written.
async fn index_in_cluster(c: &mut Conn, w: &Write) {
    let indexed: Result<i64, _> = redis::cmd("SADD")
        .arg(&w.index)
        .arg(&w.member)
        .query_async(c)
        .await;
    if let Err(e) = indexed {
        tracing::warn!(key = w.key, error = %e, "written, but not added to the namespace index");
    }
}

/// The message published on `{namespace}ohlcv:{SYMBOL}:{TF}:updates` after each successful write.
///
/// JSON, for subscribers in any language:
/// `{"symbol":"USDJPY","timeframe":"H1","newest_open_ms":1767600000000,"bars":24,"forming_open_ms":1767600000000,"alignment":"utc_midnight","tail":[{"time_ms":1767600000000,"open":157.201,"high":157.25,"low":157.18,"close":157.22,"volume":1520.0}]}`
/// (`forming_open_ms` is `null` when the newest bar is closed).
///
/// `tail` is the series as stored after the write from the oldest bar the write brought on
/// (through the newest bar), when that is at most [`UpdateMessage::MAX_TAIL`] bars, so a
/// subscriber follows the series from the messages alone; it is absent when the write changed
/// more (then read the series). A write that only trimmed old bars sends an empty tail.
/// Messages of one subscription arrive in the order the writes happened; a subscriber that
/// lost its connection may have missed some and must read the series.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UpdateMessage {
    /// The series.
    pub symbol: Symbol,
    /// The series' timeframe.
    pub timeframe: Timeframe,
    /// The newest bar's open time, epoch milliseconds.
    pub newest_open_ms: i64,
    /// Bars held after the write.
    pub bars: usize,
    /// The forming bar's open time (the newest bar's), when it is forming.
    #[serde(default)]
    pub forming_open_ms: Option<i64>,
    /// Where the series' daily bars start.
    #[serde(default)]
    pub alignment: DailyAlignment,
    /// The stored bars from the oldest one the write brought on (see above).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tail: Option<Vec<TailBar>>,
}

/// A bar of [`UpdateMessage::tail`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TailBar {
    /// Open time, epoch milliseconds.
    pub time_ms: i64,
    /// Open.
    pub open: f64,
    /// High.
    pub high: f64,
    /// Low.
    pub low: f64,
    /// Close.
    pub close: f64,
    /// Volume.
    pub volume: f64,
}

impl UpdateMessage {
    /// The most bars a message's tail carries.
    pub const MAX_TAIL: usize = 64;

    /// The tail as a frame of the series (its newest bar labelled forming when the message
    /// says so); `None` when the message has no tail.
    ///
    /// # Errors
    /// [`FrameError`] when the bars break a frame's invariants (a message not written by
    /// axia).
    pub fn tail_frame(&self) -> Option<Result<OhlcvFrame, FrameError>> {
        let tail = self.tail.as_ref()?;
        let build = || {
            let mut b = OhlcvFrame::builder(self.symbol.clone(), self.timeframe, tail.len())
                .aligned(self.alignment)?;
            for t in tail {
                b.push(t.time_ms, t.open, t.high, t.low, t.close, t.volume)?;
            }
            let f = b.finish();
            let forming = self.forming_open_ms.is_some()
                && f.last().map(|b| b.time_millis()) == self.forming_open_ms;
            Ok(f.with_forming(forming))
        };
        Some(build())
    }
}

/// Counters of what the cache has seen since it was built.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheCounters {
    /// Gets that found a value.
    pub hits: u64,
    /// Gets that found none (absent, expired, or corrupt).
    pub misses: u64,
    /// Values found corrupt or of an unknown schema version, and deleted.
    pub corrupt: u64,
    /// Writes that had to retry because another writer changed the key.
    pub write_conflicts: u64,
    /// Reads answered from the decoded copy of the same bytes read before, without decoding
    /// ([`RedisCacheConfig::decoded_memo_bytes`]).
    pub reused: u64,
}

#[derive(Debug, Default)]
struct Counters {
    hits: AtomicU64,
    misses: AtomicU64,
    corrupt: AtomicU64,
    write_conflicts: AtomicU64,
    reused: AtomicU64,
}

/// A connection of either kind, usable wherever redis wants a connection.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

#[derive(Clone)]
enum Connector {
    /// Connects lazily on first use and reconnects by itself; the client opens pub/sub
    /// connections.
    Single(ConnectionManager, Box<redis::Client>),
    /// Connected on first successful use; until then every operation tries again.
    Cluster(Arc<(redis::cluster::ClusterClient, OnceCell<ClusterConnection>)>),
}

/// The hot tier: the recent bars of each series in one Redis key, `{namespace}ohlcv:{SYMBOL}:{TF}`.
///
/// - Values are columnar, versioned msgpack ([`crate::codec`]). A value that does not decode
///   (garbage, truncated, unknown version, broken invariants) is a miss: it is deleted, a warning
///   is logged and [`CacheCounters::corrupt`] counts it; `get` never fails because of it.
/// - The hot tier keeps the forming bar (trading wants it) and says which bar is forming: the
///   label travels in the value, in the [`UpdateMessage`] and in the frames `get` returns
///   ([`OhlcvFrame::forming`]); a write of the closed bar replaces it.
/// - Every write merges into what is stored (the incoming bars win), keeps the bars that opened
///   within the retention (24 h) and at least the newest one, sets the TTL from the
///   [`TtlPolicy`](crate::TtlPolicy) and publishes an [`UpdateMessage`]. The merge is an
///   optimistic compare-and-set: the write goes through only if the key still holds the value the
///   writer read, otherwise it re-reads and retries, so concurrent writers never lose each
///   other's bars. Each value carries a token unique to its write ([`codec::token_of`]); the
///   new value is staged under its own key (`{namespace}ohlcv:stage:{<key>}:<token>`, same
///   hash slot, 30 s TTL) and a script renames it over the series key if the key still holds
///   the token read, so the value itself never passes through Lua. A value of an earlier
///   version (no token) is compared byte for byte instead.
/// - Redis down, at start or mid-run, gives [`StoreError::Unavailable`] or
///   [`StoreError::Timeout`] within the configured timeouts (about 200 ms by default); the
///   connection comes back by itself when Redis does.
/// - A read of a value whose bytes equal the last ones this handle read or wrote under the key
///   returns a copy of their decoded frame instead of decoding again
///   ([`RedisCacheConfig::decoded_memo_bytes`], [`CacheCounters::reused`]).
/// - Works on a standalone server and on Redis Cluster ([`RedisCacheConfig::cluster`]) alike.
///
/// The handle is cheap to clone; clones share the connection and counters.
#[derive(Clone)]
pub struct RedisBarCache {
    connector: Connector,
    config: Arc<RedisCacheConfig>,
    secrets: Arc<[String]>,
    clock: Arc<dyn Clock>,
    counters: Arc<Counters>,
    commit: Arc<Script>,
    append: Arc<Script>,
    cas: Arc<Script>,
    cad: Arc<Script>,
    memo: Arc<DecodedMemo>,
    fences: Option<Fences>,
}

impl std::fmt::Debug for RedisBarCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisBarCache")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

/// rustls needs a process-wide crypto provider, and cannot pick one by itself when a build
/// compiles in more than one (ring here, aws-lc-rs through the AWS SDK): it would panic on the
/// first TLS connection. Install ring unless the application installed one already.
fn ensure_tls_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Err means another thread installed one meanwhile: fine either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

fn tls_roots(pem: &[u8]) -> redis::TlsCertificates {
    redis::TlsCertificates {
        client_tls: None,
        root_cert: Some(pem.to_vec()),
    }
}

fn valid_namespace(ns: &str) -> bool {
    ns.len() <= 64
        && ns
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ':'))
}

impl RedisBarCache {
    /// Builds the cache. No connection is made here: Redis being down now is not an error, the
    /// operations report it (and succeed once Redis is back).
    ///
    /// # Errors
    /// [`StoreError::InvalidRequest`] for a malformed URL or namespace (the message shows the
    /// URL redacted).
    pub fn new(config: RedisCacheConfig, clock: impl Clock + 'static) -> Result<Self, StoreError> {
        let clock: Arc<dyn Clock> = Arc::new(clock);
        if !valid_namespace(&config.namespace) {
            return Err(StoreError::InvalidRequest(format!(
                "namespace {:?} may hold only letters, digits and _ - . : (64 at most)",
                config.namespace.chars().take(70).collect::<String>()
            )));
        }
        let secrets: Arc<[String]> = config.secrets().into();
        let urls: Vec<&String> = match &config.endpoint {
            Endpoint::Standalone(u) => vec![u],
            Endpoint::Cluster(us) => us.iter().collect(),
        };
        if urls.iter().any(|u| u.starts_with("rediss://")) {
            ensure_tls_provider();
        }
        let bad_url = |e: RedisError| {
            StoreError::InvalidRequest(format!(
                "invalid redis url {}: {}",
                config.redacted_endpoint(),
                scrub(&e.to_string(), &secrets)
            ))
        };
        let connector = match &config.endpoint {
            Endpoint::Standalone(url) => {
                let client = match &config.tls_ca_pem {
                    Some(pem) => redis::Client::build_with_tls(url.as_str(), tls_roots(pem)),
                    None => redis::Client::open(url.as_str()),
                }
                .map_err(bad_url)?;
                let mc = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(config.connect_timeout))
                    .set_response_timeout(Some(config.response_timeout))
                    .set_number_of_retries(config.reconnect_retries)
                    .set_max_delay(Duration::from_millis(100));
                Connector::Single(
                    ConnectionManager::new_lazy_with_config(client.clone(), mc).map_err(bad_url)?,
                    Box::new(client),
                )
            }
            Endpoint::Cluster(urls) => {
                let mut builder = ClusterClientBuilder::new(urls.clone());
                if let Some(pem) = &config.tls_ca_pem {
                    builder = builder.certs(tls_roots(pem));
                }
                let client = builder
                    .connection_timeout(config.connect_timeout)
                    .response_timeout(config.response_timeout)
                    .retries(u32::try_from(config.reconnect_retries).unwrap_or(1))
                    .build()
                    .map_err(bad_url)?;
                Connector::Cluster(Arc::new((client, OnceCell::new())))
            }
        };
        let config_memo = config.decoded_memo_bytes;
        Ok(Self {
            connector,
            config: Arc::new(config),
            secrets,
            clock,
            counters: Arc::default(),
            commit: Arc::new(Script::new(COMMIT_STAGED)),
            append: Arc::new(Script::new(APPEND_PATCH)),
            cas: Arc::new(Script::new(COMPARE_AND_SET)),
            cad: Arc::new(Script::new(COMPARE_AND_DELETE)),
            memo: Arc::new(DecodedMemo::new(config_memo)),
            fences: None,
        })
    }

    pub(crate) fn prefix(&self) -> String {
        let ns = &self.config.namespace;
        if ns.is_empty() || ns.ends_with(':') {
            ns.clone()
        } else {
            format!("{ns}:")
        }
    }

    /// This handle with its writes fenced by `fences` (a live feed's, shared with the holder
    /// of its instrument leases): a write of a symbol without a token there is refused
    /// ([`StoreError::Fenced`]) without a round trip, and a write with one goes through only
    /// while no write of the series carried a larger token; it raises the series' fence to
    /// its own. Reads are as before.
    #[must_use]
    pub fn fenced(mut self, fences: Fences) -> Self {
        self.fences = Some(fences);
        self
    }

    /// The fence key of a series and this write's token, on a fenced handle.
    fn fence_of(&self, symbol: &Symbol, key: &str) -> Result<Option<(String, u64)>, StoreError> {
        let Some(fences) = &self.fences else {
            return Ok(None);
        };
        let fence = fences.get(symbol).ok_or_else(|| {
            StoreError::Fenced(format!("{key}: this process holds no lease on {symbol}"))
        })?;
        Ok(Some((
            format!("{}ohlcv:fence:{{{key}}}", self.prefix()),
            fence.0,
        )))
    }

    /// The key of a series: `{namespace}ohlcv:{SYMBOL}:{TF}`.
    #[must_use]
    pub fn key(&self, symbol: &Symbol, timeframe: Timeframe) -> String {
        format!("{}ohlcv:{symbol}:{timeframe}", self.prefix())
    }

    /// The channel [`UpdateMessage`]s of a series are published on:
    /// `{namespace}ohlcv:{SYMBOL}:{TF}:updates`.
    #[must_use]
    pub fn channel(&self, symbol: &Symbol, timeframe: Timeframe) -> String {
        format!("{}:updates", self.key(symbol, timeframe))
    }

    fn index_key(&self) -> String {
        format!("{}ohlcv:index", self.prefix())
    }

    /// A live feed of every [`UpdateMessage`] this namespace publishes, from now on: one
    /// Redis connection (a pattern subscription on `{namespace}ohlcv:*:updates`), however many
    /// series. Redis pub/sub delivers at most once: a subscriber that reconnects must resync
    /// by reading the series. Standalone Redis only (a cluster's pub/sub is per node).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Timeout`] when Redis cannot be reached;
    /// [`StoreError::InvalidRequest`] on Redis Cluster.
    pub async fn updates(&self) -> Result<crate::UpdateFeed, StoreError> {
        let Connector::Single(_, client) = &self.connector else {
            return Err(StoreError::InvalidRequest(
                "the update feed needs a standalone Redis".into(),
            ));
        };
        let pattern = format!("{}ohlcv:*:updates", self.prefix());
        let subscribe = async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.psubscribe(&pattern).await?;
            Ok::<_, RedisError>(pubsub)
        };
        let pubsub = tokio::time::timeout(self.config.operation_timeout, subscribe)
            .await
            .map_err(|_| StoreError::Timeout(self.config.operation_timeout))?
            .map_err(|e| self.map_err(&e))?;
        Ok(crate::UpdateFeed::new(pubsub))
    }

    /// Counters since the cache was built.
    #[must_use]
    pub fn counters(&self) -> CacheCounters {
        let c = &self.counters;
        CacheCounters {
            hits: c.hits.load(Ordering::Relaxed),
            misses: c.misses.load(Ordering::Relaxed),
            corrupt: c.corrupt.load(Ordering::Relaxed),
            write_conflicts: c.write_conflicts.load(Ordering::Relaxed),
            reused: c.reused.load(Ordering::Relaxed),
        }
    }

    fn map_err(&self, e: &RedisError) -> StoreError {
        let text = scrub(&e.to_string(), &self.secrets);
        let at = self.config.redacted_endpoint();
        if e.is_timeout() {
            StoreError::Timeout(self.config.response_timeout)
        } else if e.is_io_error()
            || e.is_connection_refusal()
            || e.is_connection_dropped()
            || e.is_cluster_error()
        {
            StoreError::Unavailable(format!("redis at {at}: {text}"))
        } else {
            StoreError::Backend(format!("redis at {at}: {text}").into())
        }
    }

    async fn conn(&self) -> Result<Conn, StoreError> {
        match &self.connector {
            Connector::Single(m, _) => Ok(Conn::Single(m.clone())),
            Connector::Cluster(cluster) => cluster
                .1
                .get_or_try_init(|| cluster.0.get_async_connection())
                .await
                .map(|c| Conn::Cluster(c.clone()))
                .map_err(|e| self.map_err(&e)),
        }
    }

    /// Runs one Redis round trip under the operation timeout, translating errors.
    pub(crate) async fn io<T, F, Fut>(&self, f: F) -> Result<T, StoreError>
    where
        F: FnOnce(Conn) -> Fut,
        Fut: Future<Output = Result<T, RedisError>>,
    {
        let run = async {
            let conn = self.conn().await?;
            f(conn).await.map_err(|e| self.map_err(&e))
        };
        tokio::time::timeout(self.config.operation_timeout, run)
            .await
            .unwrap_or(Err(StoreError::Timeout(self.config.operation_timeout)))
    }

    pub(crate) async fn query<T: FromRedisValue + Send>(&self, cmd: Cmd) -> Result<T, StoreError> {
        self.io(|mut c| async move { cmd.query_async(&mut c).await })
            .await
    }

    pub(crate) async fn script<T: FromRedisValue + Send>(
        &self,
        script: Script,
        key: &str,
        args: Vec<String>,
    ) -> Result<T, StoreError> {
        self.run_script(&std::sync::Arc::new(script), vec![key.to_owned()], args)
            .await
    }

    /// Runs `script` with `keys` and `args` (EVALSHA, loading it when Redis lacks it).
    pub(crate) async fn run_script<T: FromRedisValue + Send>(
        &self,
        script: &std::sync::Arc<Script>,
        keys: Vec<String>,
        args: Vec<String>,
    ) -> Result<T, StoreError> {
        let script = std::sync::Arc::clone(script);
        self.io(|mut c| async move {
            let mut inv = script.prepare_invoke();
            for k in &keys {
                inv.key(k);
            }
            for a in &args {
                inv.arg(a);
            }
            inv.invoke_async(&mut c).await
        })
        .await
    }

    async fn read_raw(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.query(redis::cmd("GET").arg(key).clone()).await
    }

    /// Deletes a value that failed to decode (unless it changed meanwhile), logs and counts it.
    async fn discard_corrupt(&self, key: &str, bytes: &[u8], err: &DecodeError) {
        self.counters.corrupt.fetch_add(1, Ordering::Relaxed);
        tracing::warn!(key, error = %err, "discarding an undecodable hot-cache value");
        let digest = sha1_smol::Sha1::from(bytes).digest().to_string();
        let cad = Arc::clone(&self.cad);
        let key = key.to_owned();
        let deleted: Result<i64, _> = self
            .io(|mut c| async move { cad.key(key).arg(digest).invoke_async(&mut c).await })
            .await;
        if let Err(e) = deleted {
            tracing::warn!(error = %e, "could not delete an undecodable hot-cache value");
        }
    }

    /// The stored frame, or an empty one when absent or undecodable (which is then discarded).
    async fn load(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<(OhlcvFrame, Option<Vec<u8>>), StoreError> {
        let key = self.key(symbol, timeframe);
        let raw = self.read_raw(&key).await?;
        let frame = match &raw {
            None => OhlcvFrame::empty(symbol.clone(), timeframe),
            Some(bytes) => match self.memo.get(&key, bytes) {
                Some(f) => {
                    self.counters.reused.fetch_add(1, Ordering::Relaxed);
                    f
                }
                None => match codec::decode(bytes, symbol, timeframe) {
                    Ok(f) => {
                        self.memo.put(&key, bytes, &f);
                        f
                    }
                    Err(e) => {
                        self.discard_corrupt(&key, bytes, &e).await;
                        OhlcvFrame::empty(symbol.clone(), timeframe)
                    }
                },
            },
        };
        Ok((frame, raw))
    }

    fn retain(&self, frame: &OhlcvFrame, now: DateTime<Utc>) -> OhlcvFrame {
        let window = chrono::Duration::from_std(self.config.retention)
            .unwrap_or(chrono::Duration::hours(24));
        let kept = frame.keep_since(now - window);
        if kept.is_empty() {
            frame.last_n(1)
        } else {
            kept
        }
    }

    /// Merges `frame` into its stored series (the incoming bars win), trimmed to the retention.
    async fn merge_in(&self, frame: &OhlcvFrame) -> Result<usize, StoreError> {
        self.rewrite(frame.symbol(), frame.timeframe(), Change::Merge(frame))
            .await
    }

    /// Trims a stored series to the retention; writes only when something is trimmed.
    async fn trim(&self, symbol: &Symbol, timeframe: Timeframe) -> Result<usize, StoreError> {
        self.rewrite(symbol, timeframe, Change::Trim).await
    }

    /// Applies `change` to the stored series, trims it to the retention, and writes it with a
    /// fresh TTL, retrying while other writers change the key. Returns the bars written.
    async fn rewrite(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        change: Change<'_>,
    ) -> Result<usize, StoreError> {
        let key = self.key(symbol, timeframe);
        let channel = self.channel(symbol, timeframe);
        let fence = self.fence_of(symbol, &key)?;
        for attempt in 0..self.config.max_write_attempts {
            // Optimistic first attempt: start from the value this handle last read or wrote
            // under the key, without reading it again; the compare-and-set refuses the write
            // if the key holds anything else (another writer, an expiry), and the next
            // attempt reads.
            let last_seen = if attempt == 0 && !matches!(change, Change::Trim) {
                self.memo.latest(&key)
            } else {
                None
            };
            let optimistic = last_seen.is_some();
            let (stored, raw) = match last_seen {
                Some((raw, frame)) => (frame, Some(raw)),
                None => self.load(symbol, timeframe).await?,
            };
            let changed = match change {
                Change::Replace(f) => f.clone(),
                Change::Merge(f) => stored.merge(f)?,
                Change::Trim => stored.clone(),
            };
            let now = self.clock.now();
            let kept = self.retain(&changed, now);
            let Some(newest) = kept.last() else {
                return Ok(0); // nothing stored and nothing incoming
            };
            if matches!(change, Change::Trim) && raw.is_some() && kept.len() == changed.len() {
                return Ok(kept.len()); // nothing to trim
            }
            // The stored bars from the oldest incoming one on: all a subscriber needs.
            let tail = match change {
                Change::Merge(f) => f.first_time().map(|from| kept.keep_since(from)),
                Change::Replace(_) => Some(kept.clone()),
                Change::Trim => Some(kept.last_n(0)),
            }
            .filter(|t| t.len() <= UpdateMessage::MAX_TAIL)
            .map(|t| {
                t.iter()
                    .map(|b| TailBar {
                        time_ms: b.time_millis(),
                        open: b.open(),
                        high: b.high(),
                        low: b.low(),
                        close: b.close(),
                        volume: b.volume(),
                    })
                    .collect()
            });
            let message = serde_json::to_string(&UpdateMessage {
                symbol: symbol.clone(),
                timeframe,
                newest_open_ms: newest.time_millis(),
                bars: kept.len(),
                forming_open_ms: kept.forming_millis(),
                alignment: kept.alignment(),
                tail,
            })
            .unwrap_or_default();
            // The fast path: a write of the newest few bars into the value this handle last
            // wrote (nothing trimmed) appends them as a patch, O(1) bytes to Redis however
            // long the series; the script refuses it if the key holds anything else.
            if let (Change::Merge(f), Some(b), true) = (&change, &raw, optimistic)
                && kept.len() == changed.len()
                && kept != stored
                && stored
                    .last_time()
                    .zip(f.first_time())
                    .is_some_and(|(newest, first)| first >= newest)
                && codec::patch_count(b).is_some_and(|n| n < MAX_PATCHES)
                && let (Some(token), Some(patch)) = (codec::token_of(b), codec::encode_patch(f))
            {
                let appended = self
                    .append_patch(
                        &key,
                        &token,
                        b.len(),
                        &patch,
                        now,
                        (&channel, &message),
                        fence.as_ref(),
                    )
                    .await?;
                if appended {
                    let mut value = b.clone();
                    value.extend_from_slice(&patch);
                    self.memo.put(&key, &value, &kept);
                    return Ok(kept.len());
                }
                // What this handle last saw is no longer there: read it, at once.
                continue;
            }
            // A write that changes no bar stores the very bytes it read, token included (the TTL
            // and the message as for any write): a rerun leaves the key byte for byte as it
            // was. A token reappears only this way, under a commit that found it in the key,
            // so equal tokens still mean equal values.
            let value = match &raw {
                Some(b) if kept == stored && codec::token_of(b).is_some() => b.clone(),
                _ => codec::encode(&kept),
            };
            // What this write stores is `kept`, exactly: the next read of it needs no decode.
            let remembered = value.clone();
            let write = Write {
                stage: self.stage_key(&key, &value),
                key: key.clone(),
                value,
                ttl: self.config.ttl.ttl_millis(now),
                channel: channel.clone(),
                message,
                index: self.index_key(),
                member: format!("{symbol}:{timeframe}"),
                fence: fence.clone(),
            };
            // The token of what was read (empty when nothing was); a value of an earlier
            // version has none and is compared whole.
            let guard = match raw {
                None => Guard::Token(Vec::new(), 0),
                Some(b) => codec::token_of(&b).map_or_else(
                    || Guard::Whole(b.clone()),
                    |t| Guard::Token(t.to_vec(), b.len()),
                ),
            };
            let written = self.commit(write, guard).await?;
            if written == -2 {
                return Err(StoreError::Fenced(format!(
                    "{key}: a later holder of {symbol} has written it"
                )));
            }
            if written == 1 {
                self.memo.put(&key, &remembered, &kept);
                return Ok(kept.len());
            }
            if optimistic {
                // What this handle last saw is no longer there: read it, at once.
                continue;
            }
            self.counters
                .write_conflicts
                .fetch_add(1, Ordering::Relaxed);
            // Back off a little, with jitter, before reading again.
            tokio::time::sleep(
                Backoff::new(Duration::from_millis(2), Duration::from_millis(50)).delay(attempt),
            )
            .await;
        }
        Err(StoreError::Conflict(key))
    }

    /// Appends `patch` to `key` if it still holds the `len` bytes of token `token`
    /// ([`APPEND_PATCH`]), publishing `message` on `channel`; one round trip. True when
    /// appended.
    ///
    /// # Errors
    /// [`StoreError::Fenced`] when a write with a larger fencing token reached the series.
    #[allow(clippy::too_many_arguments)]
    async fn append_patch(
        &self,
        key: &str,
        token: &[u8],
        len: usize,
        patch: &[u8],
        now: DateTime<Utc>,
        (channel, message): (&str, &str),
        fence: Option<&(String, u64)>,
    ) -> Result<bool, StoreError> {
        let script = Arc::clone(&self.append);
        let ttl = self.config.ttl.ttl_millis(now);
        let r: i64 = self
            .io(|mut c| async move {
                let mut i = script.key(key);
                if let Some((fence_key, _)) = fence {
                    i.key(fence_key);
                }
                i.arg(token)
                    .arg(len)
                    .arg(patch)
                    .arg(ttl)
                    .arg(channel)
                    .arg(message);
                if let Some((_, mine)) = fence {
                    i.arg(*mine);
                }
                i.invoke_async(&mut c).await
            })
            .await?;
        if r == -2 {
            return Err(StoreError::Fenced(format!(
                "{key}: a later holder has written it"
            )));
        }
        Ok(r == 1)
    }

    /// Where a write stages its value: beside the series key in its hash slot (the hash tag
    /// is the series key, which holds no braces: namespaces and symbols cannot), named by
    /// the value's token.
    fn stage_key(&self, key: &str, value: &[u8]) -> String {
        let token: String = codec::token_of(value)
            .unwrap_or_default()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        format!("{}ohlcv:stage:{{{key}}}:{token}", self.prefix())
    }

    /// Commits a write if the key still holds what the writer read: by its token (the value
    /// staged, then [`COMMIT_STAGED`]) or, for a value of a version before 4, whole
    /// ([`COMPARE_AND_SET`]). One round trip on a standalone server, with the index entry.
    /// Returns the script's answer.
    async fn commit(&self, w: Write, guard: Guard) -> Result<i64, StoreError> {
        let script = Arc::clone(match guard {
            Guard::Token(..) => &self.commit,
            Guard::Whole(_) => &self.cas,
        });
        self.io(|mut c| async move {
            let stage = || {
                let mut set = redis::cmd("SET");
                set.arg(&w.stage).arg(&w.value).arg("PX").arg(STAGE_TTL_MS);
                set
            };
            let invocation = {
                let mut i = script.key(&w.key);
                match &guard {
                    Guard::Token(token, _) => i.key(&w.stage).arg(token),
                    Guard::Whole(expected) => i.arg(expected).arg(&w.value),
                };
                if let Some((fence_key, _)) = &w.fence {
                    i.key(fence_key);
                }
                i.arg(w.ttl).arg(&w.channel).arg(&w.message);
                match (&guard, &w.fence) {
                    (Guard::Token(_, len), Some((_, mine))) => i.arg(*len).arg(*mine),
                    (Guard::Token(_, len), None) => i.arg(*len),
                    (Guard::Whole(_), Some((_, mine))) => i.arg(*mine),
                    (Guard::Whole(_), None) => &mut i,
                };
                i
            };
            match c {
                // Adding the index entry whatever the script decides is right: a lost race
                // means another writer stored the series.
                Conn::Single(_) => {
                    let mut pipe = redis::pipe();
                    if matches!(guard, Guard::Token(..)) {
                        pipe.add_command(stage()).ignore();
                    }
                    pipe.invoke_script(&invocation)
                        .cmd("SADD")
                        .arg(&w.index)
                        .arg(&w.member)
                        .ignore();
                    match pipe.query_async::<(i64,)>(&mut c).await {
                        Ok((r,)) => Ok(r),
                        // A server that does not hold the script yet (a restart, a flush):
                        // load it, then the same round trip again (the value staged anew).
                        Err(e) if is_no_script(&e) => {
                            script.prepare_invoke().load_async(&mut c).await?;
                            pipe.query_async::<(i64,)>(&mut c).await.map(|(r,)| r)
                        }
                        Err(e) => Err(e),
                    }
                }
                // A cluster keeps the index in another slot: its own round trip.
                Conn::Cluster(_) => {
                    if matches!(guard, Guard::Token(..)) {
                        let () = stage().query_async(&mut c).await?;
                    }
                    let r: i64 = invocation.invoke_async(&mut c).await?;
                    if r == 1 {
                        index_in_cluster(&mut c, &w).await;
                    }
                    Ok(r)
                }
            }
        })
        .await
    }

    /// One PING round trip, timed: what a health check reports.
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] or [`StoreError::Timeout`] when Redis does not answer.
    pub async fn ping(&self) -> Result<std::time::Duration, StoreError> {
        let started = std::time::Instant::now();
        let reply: String = self.query(redis::cmd("PING").clone()).await?;
        if reply == "PONG" {
            Ok(started.elapsed())
        } else {
            Err(StoreError::Backend(
                format!("PING answered {reply:?}, not PONG").into(),
            ))
        }
    }

    /// The bars of the last `hours` hours (those that opened at or after `now - hours`).
    ///
    /// # Errors
    /// As [`OhlcvStore::get`].
    pub async fn get_recent(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        hours: u32,
    ) -> Result<OhlcvFrame, StoreError> {
        let now = self.clock.now();
        let range = TimeRange::covering(now - chrono::Duration::hours(i64::from(hours)), now)
            .map_err(|e| StoreError::InvalidRequest(e.to_string()))?;
        self.get(symbol, timeframe, range).await
    }

    /// Replaces the stored series with `frame` (trimmed to the retention), instead of merging.
    ///
    /// # Errors
    /// As [`OhlcvStore::save`].
    pub async fn replace(&self, frame: &OhlcvFrame) -> Result<(), StoreError> {
        self.rewrite(frame.symbol(), frame.timeframe(), Change::Replace(frame))
            .await
            .map(|_| ())
    }

    /// Trims every series of the namespace to the retention (the newest bar always stays) and
    /// drops index entries of expired keys. Returns the number of series rewritten or dropped.
    ///
    /// # Errors
    /// As [`OhlcvStore::get`].
    pub async fn cleanup(&self) -> Result<usize, StoreError> {
        let mut changed = 0;
        for (symbol, timeframe, member) in self.indexed().await? {
            let key = self.key(&symbol, timeframe);
            let before: Option<Vec<u8>> = self.read_raw(&key).await?;
            match before {
                None => {
                    self.forget(&member).await?;
                    changed += 1;
                }
                Some(b) => {
                    self.trim(&symbol, timeframe).await?;
                    if self.read_raw(&key).await? != Some(b) {
                        changed += 1;
                    }
                }
            }
        }
        Ok(changed)
    }

    async fn forget(&self, member: &str) -> Result<(), StoreError> {
        let _: i64 = self
            .query(redis::cmd("SREM").arg(self.index_key()).arg(member).clone())
            .await?;
        Ok(())
    }

    /// The series listed in the namespace index; members that do not parse are dropped from it.
    async fn indexed(&self) -> Result<Vec<(Symbol, Timeframe, String)>, StoreError> {
        let members: Vec<String> = self
            .query(redis::cmd("SMEMBERS").arg(self.index_key()).clone())
            .await?;
        let mut out = Vec::with_capacity(members.len());
        for m in members {
            let parsed = m.rsplit_once(':').and_then(|(s, tf)| {
                Some((s.parse::<Symbol>().ok()?, tf.parse::<Timeframe>().ok()?))
            });
            match parsed {
                Some((s, tf)) => out.push((s, tf, m)),
                None => self.forget(&m).await?,
            }
        }
        out.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
        Ok(out)
    }
}

/// What [`RedisBarCache::rewrite`] does to a stored series.
#[derive(Clone, Copy)]
enum Change<'a> {
    /// Merge these bars in (they win where both have a bar).
    Merge(&'a OhlcvFrame),
    /// Replace the series with these bars.
    Replace(&'a OhlcvFrame),
    /// Only drop bars older than the retention.
    Trim,
}

#[async_trait]
impl OhlcvStore for RedisBarCache {
    async fn get(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<OhlcvFrame, StoreError> {
        let (frame, raw) = self.load(symbol, timeframe).await?;
        let counter = if raw.is_some() && !frame.is_empty() {
            &self.counters.hits
        } else {
            &self.counters.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        Ok(frame.into_slice(range))
    }

    async fn save(&self, frame: &OhlcvFrame) -> Result<(), StoreError> {
        if frame.is_empty() {
            return Ok(());
        }
        self.merge_in(frame).await.map(|_| ())
    }

    async fn info(&self) -> Result<StoreInfo, StoreError> {
        let mut datasets = Vec::new();
        let mut total: u64 = 0;
        for (symbol, timeframe, member) in self.indexed().await? {
            let key = self.key(&symbol, timeframe);
            let (frame, raw) = self.load(&symbol, timeframe).await?;
            if raw.is_none() {
                self.forget(&member).await?;
                continue;
            }
            let bytes: Option<u64> = self
                .query(
                    redis::cmd("MEMORY")
                        .arg("USAGE")
                        .arg(&key)
                        .arg("SAMPLES")
                        .arg(0)
                        .clone(),
                )
                .await?;
            total += bytes.unwrap_or(0);
            datasets.push(DatasetInfo {
                symbol,
                timeframe,
                bars: Some(frame.len()),
                oldest: frame.first_time(),
                newest: frame.last_time(),
                bytes,
            });
        }
        let health = if total > self.config.memory_cap_bytes {
            StoreHealth::Critical
        } else if total > self.config.memory_target_bytes {
            StoreHealth::Warning
        } else {
            StoreHealth::Ok
        };
        Ok(StoreInfo {
            datasets,
            bytes_used: Some(total),
            health,
        })
    }
}
