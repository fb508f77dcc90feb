//! The feature store on Redis ([`RedisFeatureStore`]).
//!
//! Per series, in one hash slot (the hash tag `{SYMBOL:TF}`, so it works on Redis Cluster):
//! - `{namespace}feature:{SYMBOL:TF}:latest`: a hash of every feature of the newest bar, with
//!   `_bar_open_ms` and `_forming` (`1` while that bar forms);
//! - `{namespace}feature:{SYMBOL:TF}:stream`: a Redis stream of closed-bar values, one entry per
//!   bar with the id `{bar_open_ms}-0`, bounded (`MAXLEN ~`);
//! - a message on `{namespace}feature:{SYMBOL:TF}:updates` (JSON: `symbol`, `timeframe`,
//!   `bar_open_ms`, `forming`, `values`) per change.
//!
//! One script (one round trip) per bar writes all three: the latest values only move forward in
//! bar time (a revised bar replaces them; the same values again change nothing), and a bar the
//! stream already holds (a replay) appends nothing and publishes nothing.

use std::collections::BTreeMap;

use async_trait::async_trait;
use axia_domain::{
    FeaturePublished, FeatureSnapshot, FeatureStore, StoreError, Symbol, TimeRange, Timeframe,
};
use chrono::DateTime;
use redis::{Script, Value};
use serde::Serialize;

use crate::RedisBarCache;

/// Replaces the latest values unless they are of a newer bar; appends a closed bar to the
/// stream unless the stream holds it or a newer one; publishes when anything changed.
/// KEYS: latest, stream. ARGV: bar ms, forming (0/1), maxlen, channel, message, name, value, …
const PUBLISH: &str = r"
local bar = tonumber(ARGV[1])
local head = redis.call('HMGET', KEYS[1], '_bar_open_ms', '_forming')
local cur = tonumber(head[1])
local latest = 0
if (not cur) or cur < bar then
  latest = 1
elseif cur == bar then
  -- The same bar again: a change only if its values differ (a replay changes nothing).
  if head[2] ~= ARGV[2] or redis.call('HLEN', KEYS[1]) ~= 2 + (#ARGV - 5) / 2 then
    latest = 1
  else
    local names = {}
    for i = 6, #ARGV, 2 do names[#names + 1] = ARGV[i] end
    local held = redis.call('HMGET', KEYS[1], unpack(names))
    for j = 1, #names do
      if held[j] ~= ARGV[5 + 2 * j] then latest = 1 break end
    end
  end
end
if latest == 1 then
  redis.call('DEL', KEYS[1])
  redis.call('HSET', KEYS[1], '_bar_open_ms', ARGV[1], '_forming', ARGV[2], unpack(ARGV, 6))
end
local appended = 0
if ARGV[2] == '0' then
  -- Redis refuses an id at or below the stream's newest: a replay appends nothing.
  local r = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], ARGV[1] .. '-0', unpack(ARGV, 6))
  if type(r) == 'table' and r.err then
    if not string.find(r.err, 'equal or smaller', 1, true) then return redis.error_reply(r.err) end
  else
    appended = 1
  end
end
if latest == 1 or appended == 1 then redis.call('PUBLISH', ARGV[4], ARGV[5]) end
return {latest, appended}
";

/// The message published per change.
#[derive(Debug, Serialize)]
struct FeatureMessage<'a> {
    symbol: &'a Symbol,
    timeframe: Timeframe,
    bar_open_ms: i64,
    forming: bool,
    values: &'a BTreeMap<String, f64>,
}

/// Computed features in Redis, over the hot cache's connection, namespace and timeouts.
#[derive(Debug, Clone)]
pub struct RedisFeatureStore {
    cache: RedisBarCache,
    history_len: usize,
    script: std::sync::Arc<Script>,
}

impl RedisFeatureStore {
    /// A feature store sharing `cache`'s connection and namespace; the history keeps about
    /// 10,000 closed bars per series.
    #[must_use]
    pub fn new(cache: RedisBarCache) -> Self {
        Self {
            cache,
            history_len: 10_000,
            script: std::sync::Arc::new(Script::new(PUBLISH)),
        }
    }

    /// About how many closed bars the history of a series keeps (`MAXLEN ~`, at least 1).
    #[must_use]
    pub fn history_len(mut self, n: usize) -> Self {
        self.history_len = n.max(1);
        self
    }

    /// The key (or channel) `what` (`latest`, `stream`, `updates`) of a series.
    #[must_use]
    pub fn key(&self, symbol: &Symbol, timeframe: Timeframe, what: &str) -> String {
        format!(
            "{}feature:{{{symbol}:{timeframe}}}:{what}",
            self.cache.prefix()
        )
    }

    fn snapshot(
        symbol: &Symbol,
        timeframe: Timeframe,
        fields: impl IntoIterator<Item = (String, String)>,
        bar_ms: Option<i64>,
    ) -> Result<FeatureSnapshot, StoreError> {
        let corrupt = |detail: String| StoreError::Corrupt {
            location: format!("feature {symbol} {timeframe}"),
            detail,
        };
        let mut values = BTreeMap::new();
        let (mut bar, mut forming) = (bar_ms, false);
        for (k, v) in fields {
            match k.as_str() {
                "_bar_open_ms" => {
                    bar = Some(v.parse().map_err(|_| corrupt(format!("bar time {v:?}")))?)
                }
                "_forming" => forming = v == "1",
                _ => {
                    let x: f64 = v
                        .parse()
                        .ok()
                        .filter(|x: &f64| x.is_finite())
                        .ok_or_else(|| corrupt(format!("{k} = {v:?}")))?;
                    values.insert(k, x);
                }
            }
        }
        let bar_open = bar
            .and_then(DateTime::from_timestamp_millis)
            .ok_or_else(|| corrupt("no bar time".into()))?;
        Ok(FeatureSnapshot {
            symbol: symbol.clone(),
            timeframe,
            bar_open,
            forming,
            values,
        })
    }
}

#[async_trait]
impl FeatureStore for RedisFeatureStore {
    async fn publish(&self, s: &FeatureSnapshot) -> Result<FeaturePublished, StoreError> {
        s.check()?;
        let bar_ms = s.bar_open.timestamp_millis();
        let message = serde_json::to_string(&FeatureMessage {
            symbol: &s.symbol,
            timeframe: s.timeframe,
            bar_open_ms: bar_ms,
            forming: s.forming,
            values: &s.values,
        })
        .map_err(|e| StoreError::Backend(Box::new(e)))?;
        let mut args = vec![
            bar_ms.to_string(),
            if s.forming { "1" } else { "0" }.to_owned(),
            self.history_len.to_string(),
            self.key(&s.symbol, s.timeframe, "updates"),
            message,
        ];
        for (k, v) in &s.values {
            args.push(k.clone());
            args.push(v.to_string());
        }
        let keys = vec![
            self.key(&s.symbol, s.timeframe, "latest"),
            self.key(&s.symbol, s.timeframe, "stream"),
        ];
        let (_latest, appended): (i64, i64) =
            self.cache.run_script(&self.script, keys, args).await?;
        Ok(match (s.forming, appended) {
            (true, _) => FeaturePublished::Forming,
            (false, 1) => FeaturePublished::Appended,
            (false, _) => FeaturePublished::AlreadyInHistory,
        })
    }

    async fn latest(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
    ) -> Result<Option<FeatureSnapshot>, StoreError> {
        let key = self.key(symbol, timeframe, "latest");
        let fields: BTreeMap<String, String> = self
            .cache
            .query(redis::cmd("HGETALL").arg(&key).clone())
            .await?;
        if fields.is_empty() {
            return Ok(None);
        }
        Self::snapshot(symbol, timeframe, fields, None).map(Some)
    }

    async fn history(
        &self,
        symbol: &Symbol,
        timeframe: Timeframe,
        range: TimeRange,
    ) -> Result<Vec<FeatureSnapshot>, StoreError> {
        if range.is_empty() {
            return Ok(Vec::new());
        }
        let key = self.key(symbol, timeframe, "stream");
        let entries: Value = self
            .cache
            .query(
                redis::cmd("XRANGE")
                    .arg(&key)
                    .arg(range.start_millis())
                    .arg(format!("({}", range.end_millis()))
                    .clone(),
            )
            .await?;
        let bad = |what: &str| StoreError::Corrupt {
            location: key.clone(),
            detail: what.to_owned(),
        };
        let Value::Array(entries) = entries else {
            return Err(bad("XRANGE answered no array"));
        };
        let mut out = Vec::with_capacity(entries.len());
        for e in entries {
            let (id, fields): (String, Vec<(String, String)>) =
                redis::from_redis_value(e).map_err(|_| bad("malformed entry"))?;
            let ms = id
                .split('-')
                .next()
                .and_then(|ms| ms.parse::<i64>().ok())
                .ok_or_else(|| bad("malformed id"))?;
            out.push(Self::snapshot(symbol, timeframe, fields, Some(ms))?);
        }
        Ok(out)
    }
}
