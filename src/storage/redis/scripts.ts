/**
 * The Lua scripts behind the Redis store. Each runs atomically in Redis, so an
 * update, its counters and the swarm index never disagree, whatever several
 * tracker instances do at once (chihaya used MULTI and WATCH for the same end).
 *
 * Swarm scripts take the keys of one (family, infohash):
 * `KEYS = [S, L, index, S_count, L_count, infohash_count, swarm_count, D]`.
 *
 * @module
 */

/** Number of KEYS the swarm scripts take. */
export const SWARM_KEYS = 8;

const HEADER = `
local S, L, IDX, SC, LC, IC, WC, D = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6], KEYS[7], KEYS[8]
-- Drops the index entry of an emptied hash; chihaya's infohash_count counts seeder keys in the index.
local function unindex(key)
  if redis.call('EXISTS', key) == 0 and redis.call('HDEL', IDX, key) == 1 and key == S then
    redis.call('DECR', IC)
  end
end
`;

/**
 * Adds or refreshes a peer. ARGV: peer key, mtime (ns), mode `S` (seeder), `L`
 * (leecher) or `G` (completed: seeder, and D grows unless it was seeding).
 * The other role's entry of the same peer is removed.
 */
export const PUT = HEADER + `
local pk, t, mode = ARGV[1], ARGV[2], ARGV[3]
local had = redis.call('EXISTS', S, L)
if had == 0 then redis.call('DEL', D) end
local mine, myc, other, otherc = S, SC, L, LC
if mode == 'L' then mine, myc, other, otherc = L, LC, S, SC end
if mode == 'G' and redis.call('HEXISTS', S, pk) == 0 then redis.call('INCR', D) end
if redis.call('HDEL', other, pk) == 1 then
  redis.call('DECR', otherc)
  unindex(other)
end
if redis.call('HSET', mine, pk, t) == 1 then redis.call('INCR', myc) end
if redis.call('HSET', IDX, mine, t) == 1 and mine == S then redis.call('INCR', IC) end
if had == 0 then redis.call('INCR', WC) end
return 1
`;

/** Removes a peer from one role. ARGV: peer key, `S` or `L`. Returns 1 when it was there. */
export const DELETE = HEADER + `
local pk = ARGV[1]
local key, cnt, other = S, SC, L
if ARGV[2] == 'L' then key, cnt, other = L, LC, S end
if redis.call('HDEL', key, pk) == 0 then return 0 end
redis.call('DECR', cnt)
unindex(key)
if redis.call('EXISTS', S, L) == 0 then
  redis.call('DECR', WC)
  redis.call('DEL', D)
end
return 1
`;

/**
 * Removes the peers of one swarm whose mtime is at or before ARGV[1] (ns), and
 * the swarm's index entries once empty. Returns {peers removed, 1 if the swarm
 * went away}. Running it twice, from two instances, removes nothing twice.
 */
export const GC = HEADER + `
local cutoff = tonumber(ARGV[1])
local had = redis.call('EXISTS', S, L)
local removed = 0
for i, key in ipairs({S, L}) do
  local all = redis.call('HGETALL', key)
  local stale = {}
  for j = 1, #all, 2 do
    local t = tonumber(all[j + 1])
    if t == nil or t <= cutoff then stale[#stale + 1] = all[j] end
  end
  for k = 1, #stale, 1000 do
    redis.call('HDEL', key, unpack(stale, k, math.min(k + 999, #stale)))
  end
  if #stale > 0 then
    redis.call('DECRBY', i == 1 and SC or LC, #stale)
    removed = removed + #stale
  end
  unindex(key)
end
local gone = 0
if had > 0 and redis.call('EXISTS', S, L) == 0 then
  redis.call('DECR', WC)
  redis.call('DEL', D)
  gone = 1
end
return {removed, gone}
`;

/**
 * Picks peers. KEYS = [S, L]; ARGV: `1` when the announcer seeds, numWant, the
 * announcer's peer key. A seeder gets leechers; a leecher gets seeders, then
 * leechers. The announcer is compared byte for byte and never returned (chihaya
 * compared a []byte with a string here and handed announcers back to themselves).
 */
export const ANNOUNCE = `
local want = tonumber(ARGV[2])
local self = ARGV[3]
local out = {}
local function take(key)
  if want <= 0 then return end
  local got = redis.call('HRANDFIELD', key, want + 1)
  for _, f in ipairs(got) do
    if want <= 0 then return end
    if f ~= self then
      out[#out + 1] = f
      want = want - 1
    end
  end
end
if ARGV[1] ~= '1' then take(KEYS[1]) end
take(KEYS[2])
return out
`;

/** Counts of a swarm. KEYS = [S, L, D]. Returns {seeders, leechers, downloaded}. */
export const SCRAPE = `
return {redis.call('HLEN', KEYS[1]), redis.call('HLEN', KEYS[2]), tonumber(redis.call('GET', KEYS[3]) or '0')}
`;

/** KEYS = [S, L]; ARGV[1] = peer key. 1 when the peer is in either hash. */
export const HAS_PEER = `
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 1 end
return redis.call('HEXISTS', KEYS[2], ARGV[1])
`;

/**
 * Creates the swarm counter when missing (a store chihaya wrote has none) by
 * counting the distinct infohashes of the index whose hashes still hold peers.
 * KEYS = [index, swarm_count]; ARGV = [seeder key prefix, leecher key prefix].
 * Returns the count, or -1 when the counter existed.
 */
export const COUNT_SWARMS = `
if redis.call('EXISTS', KEYS[2]) == 1 then return -1 end
local seen, n = {}, 0
for _, field in ipairs(redis.call('HKEYS', KEYS[1])) do
  local ih = string.sub(field, -40)
  if not seen[ih] then
    seen[ih] = true
    if redis.call('EXISTS', ARGV[1] .. ih, ARGV[2] .. ih) > 0 then n = n + 1 end
  end
end
redis.call('SET', KEYS[2], n)
return n
`;
