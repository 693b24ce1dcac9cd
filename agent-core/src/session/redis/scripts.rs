//! The Lua scripts that make each step on a session's keys atomic in Redis.
//!
//! Every write checks the lease token first, inside the same script, so a replica that lost its
//! lease (paused, partitioned, too slow) can never overwrite a newer history: the token is the
//! fencing token. Times come from Redis's own clock (`TIME`), so replicas with skewed clocks still
//! agree on when a session ends. While a lease is held, the session's keys are kept alive for at
//! least one lease TTL, so a turn longer than the idle timeout does not lose its history under it
//! — and a replica that dies still leaves nothing behind for longer than that.
//!
//! Every script is safe to send twice — the store sends an operation again when the connection it
//! went out on broke, not knowing whether Redis ran it: taking a lease already ours takes it
//! again, releasing or renewing one not ours does nothing, and a commit already applied (the
//! session hash records the token of the last turn committed) answers that it was stored.
//!
//! KEYS are always: the session hash, the history list, the lease.

use std::sync::LazyLock;

use redis::Script;

/// Reads the session: `{1, format, created_ms, state, {messages…}}`, or `{2, error}` when a key
/// holds a value of another type.
const READ: &str = r"
local meta = redis.pcall('HMGET', KEYS[1], 'format', 'created_ms', 'state')
if meta.err then return {2, meta.err} end
local messages = redis.pcall('LRANGE', KEYS[2], 0, -1)
if messages.err then return {2, messages.err} end
return {1, meta[1], meta[2], meta[3], messages}
";

/// Keeps the session's keys alive for at least ARGV[2] ms (a lease TTL).
const HOLD: &str = r"
for i = 1, 2 do
  local ttl = redis.call('PTTL', KEYS[i])
  if ttl >= 0 and ttl < tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[i], ARGV[2]) end
end
";

/// Sets the session's keys to expire at min(now + idle, created + lifetime), or deletes them if
/// that has passed. Expects `now`, `created`, ARGV idle ms at `idle` and lifetime ms at `life`.
const EXPIRE: &str = r"
local function expire(now, created, idle, life)
  local expires = math.min(now + idle, created + life)
  if expires <= now then
    redis.call('DEL', KEYS[1], KEYS[2])
  else
    redis.call('PEXPIREAT', KEYS[1], expires)
    redis.call('PEXPIREAT', KEYS[2], expires)
  end
end
local function now_ms()
  local time = redis.call('TIME')
  return tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
end
";

/// Takes the lease if nobody else holds it (taking it again when it is already ours) and, in the
/// same round trip, reads the session.
///
/// ARGV: token, lease TTL ms. Returns `0` when another holds the lease, else what [`READ`]
/// returns.
pub(super) static ACQUIRE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "local holder = redis.call('GET', KEYS[3])\nif holder and holder ~= ARGV[1] then return 0 end\nredis.call('SET', KEYS[3], ARGV[1], 'PX', ARGV[2])\n{HOLD}{READ}"
    ))
});

/// Reads the session without a lease, for inspection.
pub(super) static INSPECT: LazyLock<Script> = LazyLock::new(|| Script::new(READ));

/// Extends the lease, and keeps the session alive under it, if the lease is still ours.
/// ARGV: token, lease TTL ms. Returns 1, or 0 when the lease is gone or another's.
pub(super) static RENEW: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        "if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end\nredis.call('PEXPIRE', KEYS[3], ARGV[2])\n{HOLD}return 1"
    ))
});

/// Stores a turn and releases the lease, if the lease is still ours: drops the `trim` oldest
/// messages the window left behind, appends the turn's messages and sets the session's state.
///
/// ARGV: token, format, created_ms (empty for a new session), idle ms, lifetime ms, the length
/// the history had when read, trim, the state's JSON (empty for none), then the new messages. Returns 1 when stored, 0 when the
/// lease was not ours, 2 when the history's length is not what the turn read (the key was
/// evicted or edited under the lease): nothing is written then. A commit sent again after it was
/// applied finds its token as the session's last commit and answers 1, writing nothing.
pub(super) static COMMIT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{EXPIRE}
if redis.pcall('HGET', KEYS[1], 'commit') == ARGV[1] then return 1 end
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
if redis.call('LLEN', KEYS[2]) ~= tonumber(ARGV[6]) then return 2 end
redis.call('DEL', KEYS[3])
local now = now_ms()
local created = tonumber(ARGV[3]) or now
local trim = tonumber(ARGV[7])
if trim > 0 then redis.call('LTRIM', KEYS[2], trim, -1) end
for i = 9, #ARGV, 100 do
  redis.call('RPUSH', KEYS[2], unpack(ARGV, i, math.min(i + 99, #ARGV)))
end
redis.call('HSET', KEYS[1], 'format', ARGV[2], 'created_ms', created, 'commit', ARGV[1])
if ARGV[8] == '' then redis.call('HDEL', KEYS[1], 'state') else redis.call('HSET', KEYS[1], 'state', ARGV[8]) end
expire(now, created, tonumber(ARGV[4]), tonumber(ARGV[5]))
return 1
"
    ))
});

/// Releases the lease without storing anything, if it is still ours, and restarts the
/// session's idle clock as any finished invocation does.
///
/// ARGV: token, idle ms, lifetime ms. Returns 1, or 0 when the lease was not ours.
pub(super) static RELEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(&format!(
        r"{EXPIRE}
if redis.call('GET', KEYS[3]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[3])
-- pcall: a value of the wrong type is reported at load time, and must not keep the lease.
local created = tonumber(redis.pcall('HGET', KEYS[1], 'created_ms'))
if created then expire(now_ms(), created, tonumber(ARGV[2]), tonumber(ARGV[3])) end
return 1
"
    ))
});
