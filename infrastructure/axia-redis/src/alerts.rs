//! The alert log on Redis ([`RedisAlertLog`]).
//!
//! In one hash slot (the hash tag `{alerts}`, so it works on Redis Cluster):
//! - `{namespace}alert:{alerts}:fired:{alert id}`: a marker per alert recorded (`SET NX`),
//!   expiring after the dedupe window (400 days by default; never for a `once` rule's alert);
//! - `{namespace}alert:{alerts}:stream`: the alert history, a Redis stream of one entry per
//!   alert (field `alert`: the alert as JSON), with Redis' own ids (`*`: alerts of different
//!   timeframes do not arrive in bar order), bounded (`MAXLEN ~`, 100,000 by default);
//! - a message on `{namespace}alert:updates` (`{"entry": …, "alert": …}`) per alert recorded;
//! - the webhook outbox ([`WebhookOutbox`]): per delivery (alert x webhook) a hash
//!   `{namespace}alert:{alerts}:delivery:{alert id}|{webhook}` (`alert`, `webhook`, `attempts`),
//!   its due time in the sorted set `{namespace}alert:{alerts}:due` (Redis' own clock, ms), and
//!   the dead letters in the list `{namespace}alert:{alerts}:dead` (newest first, bounded).
//!
//! One script (one round trip) records an alert: the marker, the entry, the message and its
//! deliveries, so an alert is recorded once however often it is evaluated, and never half.
//! A claimed delivery's due time moves to the end of its lease, so a claimer that dies
//! leaves it due again.

use async_trait::async_trait;
use std::time::Duration;

use axia_domain::{
    Alert, AlertLog, AlertRecorded, DeadLetter, Delivery, LoggedAlert, StoreError, WebhookName,
    WebhookOutbox,
};
use redis::{Script, Value};

use crate::RedisBarCache;

/// KEYS: marker, stream, due. ARGV: ttl seconds (0: none), maxlen, channel, alert JSON,
/// prefix, then the delivery ids and their webhooks, in pairs.
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
if #ARGV > 5 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  for i = 6, #ARGV, 2 do
    redis.call('HSET', ARGV[5] .. 'delivery:' .. ARGV[i], 'alert', ARGV[4], 'webhook', ARGV[i + 1], 'attempts', 0)
    redis.call('ZADD', KEYS[3], now, ARGV[i])
  end
end
return id
"#;

/// KEYS: due. ARGV: prefix, lease ms, limit. Returns `{id, webhook, alert, attempt}` per
/// delivery claimed.
const CLAIM: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, tonumber(ARGV[3]))
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. 'delivery:' .. id
  local h = redis.call('HMGET', key, 'alert', 'webhook')
  if not h[1] then
    redis.call('ZREM', KEYS[1], id)
  else
    local n = redis.call('HINCRBY', key, 'attempts', 1)
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), id)
    out[#out + 1] = {id, h[2], h[1], n}
  end
end
return out
";

/// KEYS: due. ARGV: prefix, id, action (`done`, `retry`, `dead`), delay ms or error,
/// dead-letter cap.
const SETTLE: &str = r#"
local key = ARGV[1] .. 'delivery:' .. ARGV[2]
if ARGV[3] == 'retry' then
  if redis.call('EXISTS', key) == 1 then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[2])
  end
  return 1
end
if ARGV[3] == 'dead' then
  local h = redis.call('HMGET', key, 'alert', 'webhook', 'attempts')
  if h[1] then
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local letter = '{"delivery":{"id":' .. cjson.encode(ARGV[2]) .. ',"webhook":' .. cjson.encode(h[2])
      .. ',"alert":' .. h[1] .. ',"attempt":' .. h[3] .. '},"error":' .. cjson.encode(ARGV[4])
      .. ',"dead_at_ms":' .. now .. '}'
    redis.call('LPUSH', ARGV[1] .. 'dead', letter)
    redis.call('LTRIM', ARGV[1] .. 'dead', 0, tonumber(ARGV[5]) - 1)
  end
end
redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('DEL', key)
return 1
"#;

/// The alert history in Redis, over the hot cache's connection, namespace and timeouts.
#[derive(Debug, Clone)]
pub struct RedisAlertLog {
    cache: RedisBarCache,
    max_len: usize,
    dedupe_secs: u64,
    script: std::sync::Arc<Script>,
    claim: std::sync::Arc<Script>,
    settle: std::sync::Arc<Script>,
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
            claim: std::sync::Arc::new(Script::new(CLAIM)),
            settle: std::sync::Arc::new(Script::new(SETTLE)),
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

    /// The prefix of the keys in the `{alerts}` slot.
    fn slot(&self) -> String {
        self.key("")
    }

    async fn settle(&self, id: &str, action: &str, detail: String) -> Result<(), StoreError> {
        let args = vec![
            self.slot(),
            id.to_owned(),
            action.to_owned(),
            detail,
            self.max_len.to_string(),
        ];
        let _: i64 = self
            .cache
            .run_script(&self.settle, vec![self.key("due")], args)
            .await?;
        Ok(())
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
        let keys = vec![
            self.key(&format!("fired:{}", alert.id)),
            self.key("stream"),
            self.key("due"),
        ];
        let mut args = vec![
            ttl.to_string(),
            self.max_len.to_string(),
            self.key("updates"),
            json,
            self.slot(),
        ];
        for w in &alert.webhooks {
            args.push(Delivery::id_of(alert, w));
            args.push(w.as_str().to_owned());
        }
        let id: Option<String> = self.cache.run_script(&self.script, keys, args).await?;
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

fn millis(d: Duration) -> String {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX).to_string()
}

#[async_trait]
impl WebhookOutbox for RedisAlertLog {
    async fn claim(&self, lease: Duration, limit: usize) -> Result<Vec<Delivery>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let args = vec![
            self.slot(),
            millis(lease.max(Duration::from_millis(1))),
            limit.to_string(),
        ];
        let rows: Vec<(String, String, String, u32)> = self
            .cache
            .run_script(&self.claim, vec![self.key("due")], args)
            .await?;
        let mut out = Vec::with_capacity(rows.len());
        for (id, webhook, alert, attempt) in rows {
            let parsed = serde_json::from_str::<Alert>(&alert)
                .map_err(|e| e.to_string())
                .and_then(|a| {
                    webhook
                        .parse::<WebhookName>()
                        .map(|w| (a, w))
                        .map_err(|e| e.to_string())
                });
            match parsed {
                Ok((alert, webhook)) => out.push(Delivery {
                    id,
                    webhook,
                    alert,
                    attempt,
                }),
                Err(e) => {
                    tracing::warn!(delivery = %id, error = %e, "a queued delivery cannot be decoded: moved to the dead letters");
                    self.settle(&id, "dead", format!("cannot be decoded: {e}"))
                        .await?;
                }
            }
        }
        Ok(out)
    }

    async fn delivered(&self, id: &str) -> Result<(), StoreError> {
        self.settle(id, "done", String::new()).await
    }

    async fn retry(&self, id: &str, after: Duration) -> Result<(), StoreError> {
        self.settle(id, "retry", millis(after)).await
    }

    async fn dead(&self, id: &str, error: &str) -> Result<(), StoreError> {
        self.settle(id, "dead", error.to_owned()).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<DeadLetter>, StoreError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let key = self.key("dead");
        let rows: Vec<String> = self
            .cache
            .query(
                redis::cmd("LRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(limit.saturating_sub(1))
                    .clone(),
            )
            .await?;
        rows.iter()
            .rev()
            .map(|r| {
                serde_json::from_str(r).map_err(|e| StoreError::Corrupt {
                    location: key.clone(),
                    detail: e.to_string(),
                })
            })
            .collect()
    }

    async fn pending(&self) -> Result<usize, StoreError> {
        self.cache
            .query(redis::cmd("ZCARD").arg(self.key("due")).clone())
            .await
    }
}
