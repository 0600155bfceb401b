// The Redis Functions library behind pool leases (RFC 6888 REQ-2 paired pooling, REQ-4 per-subscriber
// limits, §5 port reuse hold-down). Loaded with FUNCTION LOAD REPLACE: functions are kept in the RDB/AOF
// and replicated, unlike EVAL's script cache, so a restarted or promoted Redis still has them. Every key
// of a pool starts with the pool's hash-tagged prefix (one cluster slot), passed as KEYS[1].
//
// Keys under prefix P:  P:meta (hash: fingerprint, holdMs, subscriberBlocksMax)
//   P:free:<slot>:<address> (set of free block ids)   P:addrs:<slot> (set of addresses with free blocks)
//   P:lease (hash: block -> "owner|subscriber|slot|address")   P:owner:<owner> (set of its blocks)
//   P:sub:<subscriber> (hash: address, c<slot> = blocks held)   P:held (zset "slot:address:block" -> freed at ms)
// Results: a block id >= 0, or a negative reason (PoolRefusal).

export const POOL_LIBRARY_NAME = 'xlat64pool';

/** Negative results of lease/assign/release. */
export const PoolRefusal = {
  exhausted: -1,
  subscriberLimit: -2,
  /** The subscriber's blocks are on another address (paired pooling). */
  pairing: -3,
  /** The block is not leased to this owner (or to another subscriber). */
  notOwner: -4,
  /** Setup was not run (Redis lost its data): set up and reconcile. */
  notSetUp: -5,
} as const;

export const POOL_LIBRARY = `#!lua name=${POOL_LIBRARY_NAME}

local function meta(p)
  local m = redis.call('HMGET', p .. ':meta', 'holdMs', 'subscriberBlocksMax')
  if not m[1] then return nil end
  return { holdMs = tonumber(m[1]), subscriberBlocksMax = tonumber(m[2]) }
end

-- Blocks freed at least holdMs ago go back to their address's free set (RFC 6888 port reuse hold-down).
local function unhold(p, m, now)
  local due = redis.call('ZRANGEBYSCORE', p .. ':held', '-inf', now - m.holdMs, 'LIMIT', 0, 512)
  for _, member in ipairs(due) do
    local slot, addr, block = string.match(member, '^(%d+):(%d+):(%d+)$')
    redis.call('SADD', p .. ':free:' .. slot .. ':' .. addr, block)
    redis.call('SADD', p .. ':addrs:' .. slot, addr)
    redis.call('ZREM', p .. ':held', member)
  end
end

local function parse_lease(v)
  local owner, sub, slot, addr = string.match(v, '^([^|]*)|([^|]*)|(%d+)|(%d+)$')
  return owner, sub, slot, addr
end

-- Paired pooling and the per-subscriber limit for one more block of subscriber sub on addr.
local function check_subscriber(p, m, sub, slot, addr)
  if sub == '' then return 0 end
  local s = redis.call('HMGET', p .. ':sub:' .. sub, 'address', 'c' .. slot)
  if s[1] and addr and tonumber(s[1]) ~= tonumber(addr) then return ${PoolRefusal.pairing} end
  if tonumber(s[2] or '0') >= m.subscriberBlocksMax then return ${PoolRefusal.subscriberLimit} end
  return 0
end

local function count_subscriber(p, sub, slot, addr, delta)
  if sub == '' then return end
  local key = p .. ':sub:' .. sub
  if delta > 0 then redis.call('HSET', key, 'address', addr) end
  local left = redis.call('HINCRBY', key, 'c' .. slot, delta)
  if left <= 0 then
    redis.call('HDEL', key, 'c' .. slot)
    if redis.call('HLEN', key) <= 1 then redis.call('DEL', key) end
  end
end

local function take_free(p, slot, addr, block)
  local key = p .. ':free:' .. slot .. ':' .. addr
  redis.call('SREM', key, block)
  if redis.call('SCARD', key) == 0 then redis.call('SREM', p .. ':addrs:' .. slot, addr) end
  redis.call('ZREM', p .. ':held', slot .. ':' .. addr .. ':' .. block)
end

-- KEYS[1] prefix; ARGV fingerprint, geometry JSON {addressCount, holdMs, subscriberBlocksMax, slots=[{base, perAddress}]}
-- Returns 'created', 'existing', or an error when the pool was set up with another configuration.
redis.register_function('xlat64_pool_setup', function(keys, args)
  local p = keys[1]
  local existing = redis.call('HGET', p .. ':meta', 'fingerprint')
  if existing then
    if existing ~= args[1] then
      return redis.error_reply('XLAT64_POOL_GEOMETRY pool ' .. p .. ' was set up with another pool configuration')
    end
    return 'existing'
  end
  local g = cjson.decode(args[2])
  for s, slot in ipairs(g.slots) do
    for a = 0, g.addressCount - 1 do
      local key = p .. ':free:' .. (s - 1) .. ':' .. a
      local first = slot.base + a * slot.perAddress
      local members = {}
      for n = 0, slot.perAddress - 1 do
        members[#members + 1] = first + n
        if #members == 512 then redis.call('SADD', key, unpack(members)); members = {} end
      end
      if #members > 0 then redis.call('SADD', key, unpack(members)) end
      if slot.perAddress > 0 then redis.call('SADD', p .. ':addrs:' .. (s - 1), a) end
    end
  end
  redis.call('HSET', p .. ':meta', 'fingerprint', args[1], 'holdMs', g.holdMs,
    'subscriberBlocksMax', g.subscriberBlocksMax)
  return 'created'
end)

-- KEYS[1] prefix; ARGV owner, subscriber ('' = the owner's reserve), slot, preferred address (-1 any), nowMs
redis.register_function('xlat64_pool_lease', function(keys, args)
  local p, owner, sub, slot, preferred, now = keys[1], args[1], args[2], args[3], tonumber(args[4]), tonumber(args[5])
  local m = meta(p)
  if not m then return ${PoolRefusal.notSetUp} end
  unhold(p, m, now)
  local addr = nil
  if preferred >= 0 then addr = tostring(preferred) end
  if sub ~= '' and not addr then addr = redis.call('HGET', p .. ':sub:' .. sub, 'address') end
  local refusal = check_subscriber(p, m, sub, slot, addr)
  if refusal ~= 0 then return refusal end
  if not addr then
    addr = redis.call('SRANDMEMBER', p .. ':addrs:' .. slot)
    if not addr then return ${PoolRefusal.exhausted} end
  end
  local block = redis.call('SRANDMEMBER', p .. ':free:' .. slot .. ':' .. addr)
  if not block then return ${PoolRefusal.exhausted} end
  take_free(p, slot, addr, block)
  redis.call('HSET', p .. ':lease', block, owner .. '|' .. sub .. '|' .. slot .. '|' .. addr)
  redis.call('SADD', p .. ':owner:' .. owner, block)
  count_subscriber(p, sub, slot, addr, 1)
  return tonumber(block)
end)

-- KEYS[1] prefix; ARGV owner, block, subscriber: a block of the owner's reserve now serves subscriber.
redis.register_function('xlat64_pool_assign', function(keys, args)
  local p, owner, block, sub = keys[1], args[1], args[2], args[3]
  local m = meta(p)
  if not m then return ${PoolRefusal.notSetUp} end
  local v = redis.call('HGET', p .. ':lease', block)
  if not v then return ${PoolRefusal.notOwner} end
  local o, s, slot, addr = parse_lease(v)
  if o ~= owner then return ${PoolRefusal.notOwner} end
  if s == sub then return tonumber(block) end
  if s ~= '' then return ${PoolRefusal.notOwner} end
  local refusal = check_subscriber(p, m, sub, slot, addr)
  if refusal ~= 0 then return refusal end
  redis.call('HSET', p .. ':lease', block, owner .. '|' .. sub .. '|' .. slot .. '|' .. addr)
  count_subscriber(p, sub, slot, addr, 1)
  return tonumber(block)
end)

-- KEYS[1] prefix; ARGV owner, block, nowMs: the block is held down, then free again.
redis.register_function('xlat64_pool_release', function(keys, args)
  local p, owner, block, now = keys[1], args[1], args[2], tonumber(args[3])
  local m = meta(p)
  if not m then return ${PoolRefusal.notSetUp} end
  local v = redis.call('HGET', p .. ':lease', block)
  if not v then return ${PoolRefusal.notOwner} end
  local o, s, slot, addr = parse_lease(v)
  if o ~= owner then return ${PoolRefusal.notOwner} end
  redis.call('HDEL', p .. ':lease', block)
  redis.call('SREM', p .. ':owner:' .. owner, block)
  count_subscriber(p, s, slot, addr, -1)
  redis.call('ZADD', p .. ':held', now, slot .. ':' .. addr .. ':' .. block)
  return tonumber(block)
end)

-- One listed block [block, subscriber, slot, address] becomes the owner's: claimed when free, its
-- subscriber corrected when it is the owner's already; returns 1 claimed, 0 kept, -1 conflict (Redis gives
-- it to another owner: left as it is, the caller counts it).
local function claim_one(p, owner, e)
  local block, sub, slot, addr = tostring(e[1]), e[2], tostring(e[3]), tostring(e[4])
  local v = redis.call('HGET', p .. ':lease', block)
  if v then
    local o, s = parse_lease(v)
    if o ~= owner then return -1 end
    if s ~= sub then
      count_subscriber(p, s, slot, addr, -1)
      count_subscriber(p, sub, slot, addr, 1)
      redis.call('HSET', p .. ':lease', block, owner .. '|' .. sub .. '|' .. slot .. '|' .. addr)
    end
    return 0
  end
  take_free(p, slot, addr, block)
  redis.call('HSET', p .. ':lease', block, owner .. '|' .. sub .. '|' .. slot .. '|' .. addr)
  redis.call('SADD', p .. ':owner:' .. owner, block)
  count_subscriber(p, sub, slot, addr, 1)
  return 1
end

-- KEYS[1] prefix; ARGV owner, JSON [[block, subscriber, slot, address], ...]: one batch of what the owner
-- holds according to its event log (authoritative), claimed with claim_one. The caller sends a large
-- state as several batches (pipelined), so no single script holds Redis for long. Returns
-- {claimed, conflicts...}.
redis.register_function('xlat64_pool_claim', function(keys, args)
  local p, owner = keys[1], args[1]
  if not meta(p) then return ${PoolRefusal.notSetUp} end
  local claimed = 0
  local result = { 0 }
  for _, e in ipairs(cjson.decode(args[2])) do
    local r = claim_one(p, owner, e)
    if r == 1 then claimed = claimed + 1 elseif r == -1 then result[#result + 1] = tonumber(e[1]) end
  end
  result[1] = claimed
  return result
end)

-- KEYS[1] prefix; ARGV owner, nowMs, JSON [block, ...]: blocks the owner holds in Redis but not in its
-- event log; each still the owner's is released (held down). Returns how many were released.
redis.register_function('xlat64_pool_release_many', function(keys, args)
  local p, owner, now = keys[1], args[1], tonumber(args[2])
  if not meta(p) then return ${PoolRefusal.notSetUp} end
  local released = 0
  for _, b in ipairs(cjson.decode(args[3])) do
    local block = tostring(b)
    local v = redis.call('HGET', p .. ':lease', block)
    if v then
      local o, s, slot, addr = parse_lease(v)
      if o == owner then
        redis.call('HDEL', p .. ':lease', block)
        redis.call('SREM', p .. ':owner:' .. owner, block)
        count_subscriber(p, s, slot, addr, -1)
        redis.call('ZADD', p .. ':held', now, slot .. ':' .. addr .. ':' .. block)
        released = released + 1
      end
    end
  end
  return released
end)

-- The former reconcile in one script (the whole state in one call, holding Redis for all of it), kept as
-- the baseline of the takeover bench. KEYS[1] prefix; ARGV owner, nowMs, JSON [[block, subscriber, slot,
-- address], ...]. Listed blocks become the owner's; the owner's blocks that are not listed are released
-- (held down). Returns {claimed, released, conflicts...}.
redis.register_function('xlat64_pool_reconcile', function(keys, args)
  local p, owner, now = keys[1], args[1], tonumber(args[2])
  local m = meta(p)
  if not m then return ${PoolRefusal.notSetUp} end
  local listed = cjson.decode(args[3])
  local keep = {}
  local claimed, released = 0, 0
  local conflicts = {}
  for _, e in ipairs(listed) do
    local block, sub, slot, addr = tostring(e[1]), e[2], tostring(e[3]), tostring(e[4])
    keep[block] = true
    local v = redis.call('HGET', p .. ':lease', block)
    if v then
      local o, s = parse_lease(v)
      if o ~= owner then
        conflicts[#conflicts + 1] = tonumber(block)
      elseif s ~= sub then
        count_subscriber(p, s, slot, addr, -1)
        count_subscriber(p, sub, slot, addr, 1)
        redis.call('HSET', p .. ':lease', block, owner .. '|' .. sub .. '|' .. slot .. '|' .. addr)
      end
    else
      take_free(p, slot, addr, block)
      redis.call('HSET', p .. ':lease', block, owner .. '|' .. sub .. '|' .. slot .. '|' .. addr)
      redis.call('SADD', p .. ':owner:' .. owner, block)
      count_subscriber(p, sub, slot, addr, 1)
      claimed = claimed + 1
    end
  end
  for _, block in ipairs(redis.call('SMEMBERS', p .. ':owner:' .. owner)) do
    if not keep[block] then
      local o, s, slot, addr = parse_lease(redis.call('HGET', p .. ':lease', block))
      redis.call('HDEL', p .. ':lease', block)
      redis.call('SREM', p .. ':owner:' .. owner, block)
      count_subscriber(p, s, slot, addr, -1)
      redis.call('ZADD', p .. ':held', now, slot .. ':' .. addr .. ':' .. block)
      released = released + 1
    end
  end
  local result = { claimed, released }
  for _, c in ipairs(conflicts) do result[#result + 1] = c end
  return result
end)
`;
