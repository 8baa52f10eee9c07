"""The two Lua scripts Redis runs for :mod:`ai.governance`: one before the upstream call
(:data:`ADMIT`), one after it (:data:`SETTLE`). Each is atomic in Redis, so every gateway
process sees one count. :class:`ai.governance.memory.MemoryStore` is the same algorithm in
Python, for the local-memory cache; ``tests/governance`` runs the same cases on both.

Rate limits are token buckets holding ``capacity`` (the per-minute limit) that refill
``capacity`` per ``window`` ms, stored as a hash ``{l: level, t: ms}``; a missing key is a full
bucket. A request needs ``min(cost, capacity)`` in the bucket and takes ``cost`` (a token
estimate may leave the bucket in debt, paid back by refill). The clock is Redis's ``TIME``, so
processes on different hosts share one clock.

Budgets are hashes ``{s: spent, r: reserved}`` in nano-USD (integers: exact, and Lua's doubles
hold them exactly up to 9 million USD). A request is admitted when ``s + r + cost <= limit`` for
every budget that applies; its cost is then reserved (``r``), and moved to ``s`` at its real
value when the request ends.
"""

from __future__ import annotations

#: ARGV[1] of both scripts is their numbers joined by spaces (one argument for the client to
#: encode, not thirty).
#:
#: KEYS: the rate buckets, then the budgets, then (when ARGV[2] is given) a revocation marker.
#: Numbers: nrate, window_ms, then (capacity, cost) per bucket, then (limit, cost, ttl_s) per
#: budget. ARGV[2], optional: the marker the request's authentication trusted
#: (``ai.deferred``); when the marker's key holds anything else, nothing is counted and the
#: reply is "3 0 0".
#: Returns "status failed retry_ms (remaining reset_ms per bucket) [spent reserved]", one string
#: (one reply for the client to read, not a dozen):
#: status 0 admitted (everything counted), 1 a bucket is short (``failed`` is its 1-based
#: index), 2 a budget would be passed (``failed`` its index among the budgets; ``spent`` and
#: ``reserved`` are its numbers), 3 the marker changed. Nothing is written unless the request
#: is admitted.
ADMIT = """
local nkeys = #KEYS
if ARGV[2] then
  if redis.call('GET', KEYS[nkeys]) ~= ARGV[2] then return '3 0 0' end
  nkeys = nkeys - 1
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local argv = {}
for v in string.gmatch(ARGV[1], '%S+') do argv[#argv + 1] = v end
local nrate = tonumber(argv[1])
local window = tonumber(argv[2])
local a = 3
local caps, costs, levels = {}, {}, {}
local out = {0, 0, 0}
local function reply()
  for i = 1, #out do out[i] = string.format('%d', out[i]) end
  return table.concat(out, ' ')
end
local failed, retry = 0, 0
for i = 1, nrate do
  local cap, cost = tonumber(argv[a]), tonumber(argv[a + 1])
  a = a + 2
  local s = redis.call('HMGET', KEYS[i], 'l', 't')
  local level = cap
  if s[1] then
    level = math.min(cap, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * cap / window)
  end
  caps[i], costs[i], levels[i] = cap, cost, level
  local need = math.min(cost, cap)
  if failed == 0 and level < need then
    failed, retry = i, math.ceil((need - level) * window / cap)
  end
end
if failed > 0 then
  out[1], out[2], out[3] = 1, failed, retry
  for i = 1, nrate do
    out[#out + 1] = math.max(0, math.floor(levels[i]))
    out[#out + 1] = math.ceil((caps[i] - levels[i]) * window / caps[i])
  end
  return reply()
end
local nbudget = nkeys - nrate
local budget_args = a
for j = 1, nbudget do
  local limit, cost = tonumber(argv[a]), tonumber(argv[a + 1])
  a = a + 3
  local s = redis.call('HMGET', KEYS[nrate + j], 's', 'r')
  local spent, reserved = tonumber(s[1] or '0'), tonumber(s[2] or '0')
  if spent + reserved + cost > limit then
    out[1], out[2] = 2, j
    for i = 1, nrate do
      out[#out + 1] = math.max(0, math.floor(levels[i]))
      out[#out + 1] = math.ceil((caps[i] - levels[i]) * window / caps[i])
    end
    out[#out + 1] = spent
    out[#out + 1] = reserved
    return reply()
  end
end
for i = 1, nrate do
  local level = levels[i] - costs[i]
  local reset = math.ceil((caps[i] - level) * window / caps[i])
  redis.call('HSET', KEYS[i], 'l', level, 't', now)
  redis.call('PEXPIRE', KEYS[i], reset + 1000)
  out[#out + 1] = math.max(0, math.floor(level))
  out[#out + 1] = reset
end
a = budget_args
for j = 1, nbudget do
  redis.call('HINCRBY', KEYS[nrate + j], 'r', argv[a + 1])
  redis.call('EXPIRE', KEYS[nrate + j], argv[a + 2])
  a = a + 3
end
return reply()
"""

#: KEYS: the token buckets to correct, then the budgets to settle.
#: Numbers: nrate, window_ms, then (capacity, refund) per bucket (refund = estimate - real tokens,
#: negative when the request used more than estimated), then (reserved, spent, ttl_s) per budget.
SETTLE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local argv = {}
for v in string.gmatch(ARGV[1], '%S+') do argv[#argv + 1] = v end
local nrate = tonumber(argv[1])
local window = tonumber(argv[2])
local a = 3
for i = 1, nrate do
  local cap, refund = tonumber(argv[a]), tonumber(argv[a + 1])
  a = a + 2
  local s = redis.call('HMGET', KEYS[i], 'l', 't')
  local level = cap
  if s[1] then
    level = math.min(cap, tonumber(s[1]) + math.max(0, now - tonumber(s[2])) * cap / window)
  end
  level = math.min(cap, level + refund)
  redis.call('HSET', KEYS[i], 'l', level, 't', now)
  redis.call('PEXPIRE', KEYS[i], math.ceil((cap - level) * window / cap) + 1000)
end
for j = nrate + 1, #KEYS do
  local r = redis.call('HINCRBY', KEYS[j], 'r', -tonumber(argv[a]))
  if r < 0 then redis.call('HSET', KEYS[j], 'r', 0) end
  redis.call('HINCRBY', KEYS[j], 's', argv[a + 1])
  redis.call('EXPIRE', KEYS[j], argv[a + 2])
  a = a + 3
end
return 1
"""

#: KEYS: one budget. ARGV: spent (nano-USD), ttl_s. Raises the budget's ``s`` to ``spent`` (never
#: lowers it: what the counter already holds may include requests the ledger has not written).
SEED = """
local s = tonumber(redis.call('HGET', KEYS[1], 's') or '0')
if s < tonumber(ARGV[1]) then redis.call('HSET', KEYS[1], 's', ARGV[1]) end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
"""
