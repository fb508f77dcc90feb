//! The alert log on Redis ([`RedisAlertLog`]).
//!
//! In one hash slot (the hash tag `{alerts}`, so it works on Redis Cluster):
//! - `{namespace}alert:{alerts}:fired:{alert id}`: a marker per alert recorded (`SET NX`),
//!   expiring after the dedupe window (400 days by default; never for a `once` rule's alert);
//! - `{namespace}alert:{alerts}:stream`: the alert history, a Redis stream of one entry per
//!   alert (field `alert`: the alert as JSON), with Redis' own ids (`*`: alerts of different
//!   timeframes do not arrive in bar order), bounded (`MAXLEN ~`, 100,000 by default);
//! - a message on `{namespace}alert:updates` (`{"entry": …, "alert": …}`) per alert recorded.
//!
//! One script (one round trip) does all three, so an alert is recorded once however often it
//! is evaluated, and never half: the marker and the entry are written together.

use async_trait::async_trait;
use axia_domain::{Alert, AlertLog, AlertRecorded, LoggedAlert, StoreError};
use redis::{Script, Value};

use crate::RedisBarCache;

/// KEYS: marker, stream. ARGV: ttl seconds (0: none), maxlen, channel, alert JSON.
const RECORD: &str = r#"
local ok
if ARGV[1] == '0' then
  ok = redis.call('SET', KEYS[1], '1', 'NX')
else
  ok = redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1])
end
if not ok then return false end
local id = redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[2], '*', 'alert', ARGV[4])
redis.call('PUBLISH', ARGV[3], '{"entry":"' .. id .. '","alert":' .. ARGV[4] .. '}')
return id
"#;

/// The alert history in Redis, over the hot cache's connection, namespace and timeouts.
#[derive(Debug, Clone)]
pub struct RedisAlertLog {
    cache: RedisBarCache,
    max_len: usize,
    dedupe_secs: u64,
    script: std::sync::Arc<Script>,
}

impl RedisAlertLog {
    /// A log sharing `cache`'s connection and namespace, keeping about 100,000 alerts and
    /// each alert id for 400 days.
    #[must_use]
    pub fn new(cache: RedisBarCache) -> Self {
        Self {
            cache,
            max_len: 100_000,
            dedupe_secs: 400 * 86_400,
            script: std::sync::Arc::new(Script::new(RECORD)),
        }
    }

    /// About how many alerts the history keeps (`MAXLEN ~`, at least 1).
    #[must_use]
    pub fn max_len(mut self, n: usize) -> Self {
        self.max_len = n.max(1);
        self
    }

    /// How long an alert id is remembered (at least 1 s): an alert evaluated again within
    /// this window (a replay after a restart) is not recorded twice. A `once` rule's alert is
    /// remembered for ever.
    #[must_use]
    pub fn dedupe_window(mut self, window: std::time::Duration) -> Self {
        self.dedupe_secs = window.as_secs().max(1);
        self
    }

    /// The key (or channel) `what` (`stream`, `updates`, `fired:{id}`).
    #[must_use]
    pub fn key(&self, what: &str) -> String {
        if what == "updates" {
            format!("{}alert:updates", self.cache.prefix())
        } else {
            format!("{}alert:{{alerts}}:{what}", self.cache.prefix())
        }
    }
}

#[async_trait]
impl AlertLog for RedisAlertLog {
    async fn record(&self, alert: &Alert) -> Result<AlertRecorded, StoreError> {
        let json = serde_json::to_string(alert).map_err(|e| StoreError::Backend(Box::new(e)))?;
        let ttl = if alert.id.as_str().ends_with(":once") {
            0
        } else {
            self.dedupe_secs
        };
        let keys = [self.key(&format!("fired:{}", alert.id)), self.key("stream")];
        let args = [
            ttl.to_string(),
            self.max_len.to_string(),
            self.key("updates"),
            json,
        ];
        let script = std::sync::Arc::clone(&self.script);
        let id: Option<String> = self
            .cache
            .io(|mut c| async move {
                let mut inv = script.prepare_invoke();
                inv.key(&keys[0]).key(&keys[1]);
                for a in &args {
                    inv.arg(a);
                }
                inv.invoke_async(&mut c).await
            })
            .await?;
        Ok(id.map_or(AlertRecorded::Duplicate, AlertRecorded::New))
    }

    async fn recent(&self, limit: usize) -> Result<Vec<LoggedAlert>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let key = self.key("stream");
        let entries: Value = self
            .cache
            .query(
                redis::cmd("XREVRANGE")
                    .arg(&key)
                    .arg("+")
                    .arg("-")
                    .arg("COUNT")
                    .arg(limit)
                    .clone(),
            )
            .await?;
        let bad = |what: String| StoreError::Corrupt {
            location: key.clone(),
            detail: what,
        };
        let Value::Array(entries) = entries else {
            return Err(bad("XREVRANGE answered no array".to_owned()));
        };
        let mut out = Vec::with_capacity(entries.len());
        for e in entries.into_iter().rev() {
            let (entry, fields): (String, Vec<(String, String)>) =
                redis::from_redis_value(e).map_err(|_| bad("malformed entry".to_owned()))?;
            let json = fields
                .iter()
                .find(|(k, _)| k == "alert")
                .map(|(_, v)| v)
                .ok_or_else(|| bad(format!("entry {entry} has no alert")))?;
            let alert =
                serde_json::from_str(json).map_err(|e| bad(format!("entry {entry}: {e}")))?;
            out.push(LoggedAlert { entry, alert });
        }
        Ok(out)
    }
}
