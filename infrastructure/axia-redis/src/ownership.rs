//! [`InstrumentOwnership`] on Redis: which live feed process writes which instrument.
//!
//! - `{namespace}live:lease:{SYMBOL}` holds the holder's member id, with the lease's TTL
//!   (`SET NX PX`; renewed and released only by its holder, checked in a script);
//! - `{namespace}live:fence:{SYMBOL}` counts the acquisitions: each one's fencing token
//!   (`INCR` in the same script; the `{SYMBOL}` hash tag keeps both in one slot on a cluster);
//! - `{namespace}live:members` is a sorted set of member ids scored by when their heartbeat
//!   lapses (Redis's own clock, so hosts' clocks do not matter).

use std::time::Duration;

use async_trait::async_trait;
use axia_domain::{Fence, InstrumentOwnership, StoreError, Symbol};
use redis::Script;

use crate::RedisBarCache;
use crate::lease::{RELEASE, RENEW};

/// `KEYS[1]` the members; `ARGV[1]` the member, `ARGV[2]` the TTL in ms. Returns the members
/// alive.
const HEARTBEAT: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 4)
return redis.call('ZCARD', KEYS[1])
";

/// `KEYS[1]` the lease, `KEYS[2]` the fence counter; `ARGV[1]` the member, `ARGV[2]` the TTL
/// in ms. Returns the new fencing token, or 0 when held by someone.
const ACQUIRE: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return redis.call('INCR', KEYS[2])
end
return 0
";

fn millis(d: Duration) -> String {
    u64::try_from(d.as_millis())
        .unwrap_or(u64::MAX)
        .max(1)
        .to_string()
}

impl RedisBarCache {
    fn lease_key(&self, symbol: &Symbol) -> String {
        format!("{}live:lease:{{{symbol}}}", self.prefix())
    }

    fn fence_counter(&self, symbol: &Symbol) -> String {
        format!("{}live:fence:{{{symbol}}}", self.prefix())
    }
}

#[async_trait]
impl InstrumentOwnership for RedisBarCache {
    async fn heartbeat(&self, member: &str, ttl: Duration) -> Result<usize, StoreError> {
        let key = format!("{}live:members", self.prefix());
        let n: i64 = self
            .script(
                Script::new(HEARTBEAT),
                &key,
                vec![member.to_owned(), millis(ttl)],
            )
            .await?;
        Ok(usize::try_from(n).unwrap_or(1).max(1))
    }

    async fn acquire(
        &self,
        symbol: &Symbol,
        member: &str,
        ttl: Duration,
    ) -> Result<Option<Fence>, StoreError> {
        let (lease, counter) = (self.lease_key(symbol), self.fence_counter(symbol));
        let args = [member.to_owned(), millis(ttl)];
        let token: i64 = self
            .io(|mut c| async move {
                Script::new(ACQUIRE)
                    .key(lease)
                    .key(counter)
                    .arg(&args[0])
                    .arg(&args[1])
                    .invoke_async(&mut c)
                    .await
            })
            .await?;
        Ok(u64::try_from(token).ok().filter(|t| *t > 0).map(Fence))
    }

    async fn renew(
        &self,
        symbol: &Symbol,
        member: &str,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let renewed: i64 = self
            .script(
                Script::new(RENEW),
                &self.lease_key(symbol),
                vec![member.to_owned(), millis(ttl)],
            )
            .await?;
        Ok(renewed == 1)
    }

    async fn release(&self, symbol: &Symbol, member: &str) -> Result<(), StoreError> {
        let _: i64 = self
            .script(
                Script::new(RELEASE),
                &self.lease_key(symbol),
                vec![member.to_owned()],
            )
            .await?;
        Ok(())
    }

    async fn holder(&self, symbol: &Symbol) -> Result<Option<String>, StoreError> {
        self.query(redis::cmd("GET").arg(self.lease_key(symbol)).clone())
            .await
    }
}
