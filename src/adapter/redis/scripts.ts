/**
 * Lua scripts: each one does its work atomically, in one round trip. They run with EVALSHA;
 * on NOSCRIPT (a restarted or flushed Redis) the full script is sent once with EVAL, which
 * also caches it again.
 */
import { createHash } from 'node:crypto';
import type { RedisArg, RedisDriver } from './driver.js';

export class Script {
  readonly source: string;
  readonly sha: string;

  constructor(source: string) {
    this.source = source;
    this.sha = createHash('sha1').update(source).digest('hex');
  }

  /** EVALSHA, then EVAL when Redis does not know the script. `buffers`: bulk replies as Buffers. */
  async run(driver: RedisDriver, keys: RedisArg[], args: RedisArg[], buffers = false): Promise<unknown> {
    const call = (cmd: string, first: string): Promise<unknown> => {
      const argv: RedisArg[] = [cmd, first, String(keys.length), ...keys, ...args];
      // Routed by the first key on Redis Cluster (a script's keys share one slot).
      return buffers ? driver.commandBuffers(argv, keys[0]) : driver.command(argv, keys[0]);
    };
    try {
      return await call('EVALSHA', this.sha);
    } catch (err) {
      if (!String((err as Error)?.message ?? err).includes('NOSCRIPT')) throw err;
      return call('EVAL', this.source);
    }
  }
}

/**
 * Token bucket, refilled continuously: `capacity` tokens per `windowMs`. Redis' own clock
 * (TIME) judges time, so nodes with skewed clocks share one fair bucket. The key expires
 * once a full refill would have happened: an idle bucket costs nothing.
 * KEYS[1] bucket; ARGV capacity, windowMs, cost. Returns 1 (allowed) or 0.
 */
export const TOKEN_BUCKET = new Script(`
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local cap = tonumber(ARGV[1])
local win = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'last')
local tokens = tonumber(b[1])
local last = tonumber(b[2])
if not tokens or not last then
  tokens = cap
  last = now
end
local elapsed = now - last
if elapsed < 0 then elapsed = 0 end
tokens = math.min(cap, tokens + elapsed * cap / win)
local ok = 0
if tokens >= cost then
  tokens = tokens - cost
  ok = 1
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'last', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(win))
return ok
`);

/**
 * Records a message in the history stream and publishes it, atomically: every node receives
 * recorded messages in stream order, so a node's position in the stream is exact.
 * The epoch is created on first use (a wiped Redis gets a new one: old offsets are refused).
 * Both keys expire `ttl` ms after the last message (heartbeats refresh them too): nothing the
 * cluster writes outlives it.
 * KEYS[1] stream, KEYS[2] epoch; ARGV channel, maxlen, candidate epoch, envelope, ttl ms,
 * publish command (PUBLISH, or SPUBLISH on Redis Cluster).
 */
export const RECORD = new Script(`
local e = redis.call('GET', KEYS[2])
if not e then
  e = ARGV[3]
end
redis.call('SET', KEYS[2], e, 'PX', ARGV[5])
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
redis.call(ARGV[6], ARGV[1], 'R' .. e .. '\\n' .. id .. '\\n' .. ARGV[4])
return id
`);

/**
 * Takes a saved session (single use) and reads the current epoch.
 * KEYS[1] session, KEYS[2] epoch. Returns { session or nil, epoch or nil }.
 */
export const TAKE_SESSION = new Script(`
local s = redis.call('GET', KEYS[1])
if s then redis.call('DEL', KEYS[1]) end
return { s or false, redis.call('GET', KEYS[2]) or false }
`);

/**
 * The history after a position, or 'trimmed' when any entry after it was already deleted
 * (max-deleted-entry-id, Redis 7) or there are more than `max` entries: never a partial one.
 * KEYS[1] stream; ARGV position, max. Returns { 'ok', id1, envelope1, ... } or { 'trimmed' }.
 */
export const HISTORY_AFTER = new Script(`
local function cmp(a, b)
  local a1, a2 = string.match(a, '^(%d+)-(%d+)$')
  local b1, b2 = string.match(b, '^(%d+)-(%d+)$')
  a1 = tonumber(a1); a2 = tonumber(a2); b1 = tonumber(b1); b2 = tonumber(b2)
  if a1 ~= b1 then return a1 < b1 and -1 or 1 end
  if a2 ~= b2 then return a2 < b2 and -1 or 1 end
  return 0
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[1] == '0-0' then return { 'ok' } end
  return { 'trimmed' }
end
local info = redis.call('XINFO', 'STREAM', KEYS[1])
local deleted = '0-0'
for i = 1, #info, 2 do
  if info[i] == 'max-deleted-entry-id' then deleted = info[i + 1] end
end
if cmp(deleted, ARGV[1]) > 0 then return { 'trimmed' } end
local max = tonumber(ARGV[2])
local entries = redis.call('XRANGE', KEYS[1], '(' .. ARGV[1], '+', 'COUNT', max + 1)
if #entries > max then return { 'trimmed' } end
local out = { 'ok' }
for _, e in ipairs(entries) do
  out[#out + 1] = e[1]
  out[#out + 1] = e[2][2]
end
return out
`);

/**
 * A node's heartbeat, on Redis' clock: refreshes this node, forgets nodes silent for longer
 * than the timeout, and returns Redis' time and every live node with its last beat. The set
 * expires when no node beats for a timeout (the longest any node uses), and the other keys
 * the cluster keeps (recovery history) are kept alive with it: a cluster whose every node
 * crashed leaves nothing behind for longer than those expiries.
 * KEYS[1] nodes (sorted set, score = last beat in ms), KEYS[2..] kept alive;
 * ARGV node id, timeout ms ('' = leave), ttl ms of KEYS[2..].
 * Returns { now, id1, beat1, id2, beat2, ... } (strings).
 */
export const HEARTBEAT = new Script(`
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if ARGV[2] == '' then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return {}
end
local timeout = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. (now - timeout))
if redis.call('PTTL', KEYS[1]) < timeout then redis.call('PEXPIRE', KEYS[1], timeout) end
for i = 2, #KEYS do redis.call('PEXPIRE', KEYS[i], ARGV[3]) end
local out = { tostring(now) }
local beats = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
for i = 1, #beats do out[#out + 1] = tostring(beats[i]) end
return out
`);
