/**
 * The Redis side of the limits: the same arithmetic as memory-store.ts, in Lua, so that one
 * decision is atomic and takes one round trip (redis-store.ts sends the decisions asked for in
 * one turn of the event loop as one script call, EVALSHA). Time is Redis's own (TIME, microseconds): every gateway process and replica
 * decides against one clock, so clock skew between hosts cannot let extra requests through.
 * Numbers are written with %.0f: Lua 5.1's default conversion keeps 14 digits, too few for
 * microseconds since the epoch.
 */

/** Arguments per check in DECIDE_SCRIPT's ARGV. */
export const DECIDE_ARGS_PER_CHECK = 5;

/**
 * One call decides a batch of requests, each of one or more checks, in order, as separate calls
 * would. KEYS[i]: the key of check i (over the whole batch). ARGV: the number of requests G, then
 * each request's number of checks, then per check: kind (r rate, q quota, p penalty, b backoff),
 * enforced (1/0), then a, b, c:
 *   r: interval µs, tolerance µs, max delay µs    q: limit, period end (ms since the epoch), -
 *   p: -, tolerance µs, -                        b: forget µs, -, -
 * Reply: per check outcome (0 admit, 1 delay, 2 refuse), remaining (-1 unknown), reset µs, wait µs.
 * For each request: every enforced check admits or delays → each admitting check is charged;
 * otherwise none of its checks is. With no ARGV (G = 0) it decides nothing: a probe.
 * A request whose keys cannot be read (a value of another type or shape, written by something
 * else) fails alone: each of its checks replies 3 and the error's text in place of remaining,
 * nothing of it is charged, and the requests after it in the call are decided as usual. A shadow
 * check's key that cannot be read fails nothing: the check admits, remaining unknown, and its
 * key is left as it is.
 */
export const DECIDE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local groups = tonumber(ARGV[1] or '0')
local first = groups + 1
local reply = {}
local function check(i, o)
  local kind = ARGV[o + 1]
  local a, b, c = tonumber(ARGV[o + 3]), tonumber(ARGV[o + 4]), tonumber(ARGV[o + 5])
  local outcome, remaining, reset, wait, nxt = 0, -1, 0, 0, nil
  if kind == 'r' then
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    if tat < now then tat = now end
    wait = tat - b - now
    if wait > c then
      outcome, remaining, reset = 2, 0, tat - now
    else
      nxt = tat + a
      remaining = math.floor((now + b - nxt) / a) + 1
      if remaining < 0 then remaining = 0 end
      reset = nxt - now
      if wait > 0 then outcome = 1 else wait = 0 end
    end
  elseif kind == 'q' then
    local count = tonumber(redis.call('GET', KEYS[i]) or '0')
    reset = b * 1000 - now
    if count >= a then
      outcome, remaining, wait = 2, 0, reset
    else
      nxt = count + 1
      remaining = a - count - 1
    end
  elseif kind == 'p' then
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    wait = tat - b - now
    if wait > 0 then outcome, remaining, reset = 2, 0, tat - now else wait = 0 end
  elseif kind == 'b' then
    local state = redis.call('HMGET', KEYS[i], 'u', 'l')
    local untilv, last = tonumber(state[1] or '0'), tonumber(state[2] or '0')
    wait = untilv - now
    if wait > 0 and now - last <= a then outcome, remaining, reset = 2, 0, wait else wait = 0 end
  end
  return outcome, remaining, reset, wait, nxt
end
local function decide(done, n)
  local pending = {}
  local refused = false
  for i = done + 1, done + n do
    local o = first + (i - 1) * ${DECIDE_ARGS_PER_CHECK}
    local ok, outcome, remaining, reset, wait, nxt
    if ARGV[o + 2] == '1' then
      outcome, remaining, reset, wait, nxt = check(i, o)
    else
      -- A shadow check never decides a request: one whose key cannot be read says nothing.
      ok, outcome, remaining, reset, wait, nxt = pcall(check, i, o)
      if not ok then outcome, remaining, reset, wait, nxt = 0, -1, 0, 0, nil end
    end
    pending[i] = nxt
    if outcome == 2 and ARGV[o + 2] == '1' then refused = true end
    reply[#reply + 1] = outcome
    reply[#reply + 1] = remaining
    reply[#reply + 1] = math.floor(reset)
    reply[#reply + 1] = math.floor(wait)
  end
  if not refused then
    for i = done + 1, done + n do
      local v = pending[i]
      if v ~= nil then
        local o = first + (i - 1) * ${DECIDE_ARGS_PER_CHECK}
        if ARGV[o + 1] == 'r' then
          redis.call('SET', KEYS[i], string.format('%.0f', v), 'PX', math.max(1, math.ceil((v - now) / 1000)))
        else
          redis.call('SET', KEYS[i], v, 'PXAT', string.format('%.0f', tonumber(ARGV[o + 4]) + 1000))
        end
      end
    end
  end
end
local done = 0
for g = 1, groups do
  local n = tonumber(ARGV[1 + g])
  local mark = #reply
  local ok, err = pcall(decide, done, n)
  if not ok then
    for k = #reply, mark + 1, -1 do reply[k] = nil end
    local text = type(err) == 'table' and tostring(err.err) or tostring(err)
    for i = 1, n do
      reply[#reply + 1] = 3
      reply[#reply + 1] = text
      reply[#reply + 1] = 0
      reply[#reply + 1] = 0
    end
  end
  done = done + n
end
return reply
`;

/**
 * KEYS[1]: the key. ARGV: event (p penalty failure, f backoff failure, s backoff success), a, b, c, d:
 *   p: interval µs, tolerance µs       f: free failures, initial µs, max µs, forget µs
 */
export const RECORD_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local event = ARGV[1]
local a, b, c, d = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
if event == 'p' then
  local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
  if tat < now then tat = now end
  local nxt = math.min(tat + a, now + b + a)
  redis.call('SET', KEYS[1], string.format('%.0f', nxt), 'PX', math.max(1, math.ceil((nxt - now) / 1000)))
elseif event == 'f' then
  local state = redis.call('HMGET', KEYS[1], 'f', 'l')
  local failures, last = tonumber(state[1] or '0'), tonumber(state[2] or '0')
  if now - last > d then failures = 0 end
  failures = failures + 1
  local delay = 0
  if failures > a then delay = math.min(c, b * 2 ^ (failures - a - 1)) end
  redis.call('HSET', KEYS[1], 'f', failures, 'u', string.format('%.0f', now + delay), 'l', string.format('%.0f', now))
  redis.call('PEXPIRE', KEYS[1], math.max(1, math.ceil(math.max(d, delay) / 1000)))
elseif event == 's' then
  redis.call('DEL', KEYS[1])
end
return 1
`;
