//! The Lua scripts that make each step on a session's keys atomic in Redis.
//!
//! Every write checks the lease token first, inside the same script, so a replica that lost its
//! lease (paused, partitioned, too slow) can never overwrite a newer history: the token is the
//! fencing token. Times come from Redis's own clock (`TIME`), so replicas with skewed clocks still
//! agree on when a session ends.

use std::sync::LazyLock;

use redis::Script;

/// Takes the lease if nobody holds it and, in the same round trip, reads the session.
///
/// KEYS: history, lease. ARGV: token, TTL ms. Returns `0` when another holds the lease;
/// `{1, format, created_ms, history}` (missing fields nil) when taken; `{2, error}` when taken
/// but the history key holds a value of another type.
pub(super) static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if not redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then return 0 end
local fields = redis.pcall('HMGET', KEYS[1], 'format', 'created_ms', 'history')
if fields.err then return {2, fields.err} end
return {1, fields[1], fields[2], fields[3]}
",
    )
});

/// Stores a turn's history and releases the lease, if the lease is still ours.
///
/// KEYS: history, lease. ARGV: token, history JSON, format, created_ms (empty for a new
/// session), idle ms, lifetime ms. Returns 1 when stored, 0 when the lease was not ours.
pub(super) static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local created = tonumber(ARGV[4]) or now
local expires = math.min(now + tonumber(ARGV[5]), created + tonumber(ARGV[6]))
redis.call('DEL', KEYS[2])
if expires <= now then
  redis.call('DEL', KEYS[1])
  return 1
end
redis.call('HSET', KEYS[1], 'format', ARGV[3], 'created_ms', created, 'history', ARGV[2])
redis.call('PEXPIREAT', KEYS[1], expires)
return 1
",
    )
});

/// Extends the lease, if it is still ours. KEYS: lease. ARGV: token, TTL ms. Returns 1 or 0.
pub(super) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
",
    )
});

/// Releases the lease without storing anything, if it is still ours, and restarts the
/// session's idle clock as any finished invocation does.
///
/// KEYS: history, lease. ARGV: token, idle ms, lifetime ms. Returns 1 or 0.
pub(super) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
if redis.call('GET', KEYS[2]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[2])
-- pcall: a value of the wrong type is reported at load time, and must not keep the lease.
local created = tonumber(redis.pcall('HGET', KEYS[1], 'created_ms'))
if created then
  local time = redis.call('TIME')
  local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
  local expires = math.min(now + tonumber(ARGV[2]), created + tonumber(ARGV[3]))
  if expires <= now then
    redis.call('DEL', KEYS[1])
  else
    redis.call('PEXPIREAT', KEYS[1], expires)
  end
end
return 1
",
    )
});
