-- wrk script for the attackers of scripts/load.d/attacks.sh (issue 13): requests the server
-- should mostly refuse, sent regardless of the answer. Each answer is tallied by its GraphQL
-- error code (or "ok"), not judged.
--
--   wrk ... -s scripts/load.d/attack.lua http://127.0.0.1:PORT -- MODE [FILE]
--
-- MODE:
--   search  FILE holds the attacker's token: the worst search of SQLite, a 200-character
--           pattern (the longest allowed) that matches all but its last character of every
--           description of zeros — instr compares from the start — counted and paged,
--           todos(first: 100, filter: {search}) { totalCount nodes { id } }: two full scans
--   wide    FILE holds the attacker's token: the same search as 20 aliased root fields,
--           cN: todos(first: 0, filter: {search}) { totalCount }, each a full scan charged 2
--           (a connection is charged for the items it may hold, and first: 0 holds none): 20
--           scans for a cost of 40 where the search above is 2 for 301, all at once
--   signup  signUp with a new email each time (all from this address: past
--           SIGN_UP_MAX_PER_CLIENT they are RATE_LIMITED, and each still costs an upsert)
--
-- done() prints RESULT requests=… duration_us=… ok=… limited=… timeout=… unavailable=…
-- other=… socket=… and, when there were others, OTHER <status> <first 200 bytes>.

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

local SEARCH = '{"query":"query($s: String) { todos(first: 100, filter: {search: $s}) '
  .. '{ totalCount nodes { id } } }","variables":{"s":"' .. string.rep("0", 199) .. '1"}}'
local WIDE_FIELDS = {}
for i = 1, 20 do
  WIDE_FIELDS[i] = "c" .. i .. ": todos(first: 0, filter: {search: $s}) { totalCount }"
end
local WIDE = '{"query":"query($s: String) { ' .. table.concat(WIDE_FIELDS, " ") .. ' }",'
  .. '"variables":{"s":"' .. string.rep("0", 199) .. '1"}}'
local SIGNUP = '{"query":"mutation($i: SignUpInput!) { signUp(input: $i) { accessToken } }",'
  .. '"variables":{"i":{"email":"flood-%d-%d-%d@bench.test","password":"flood-password","name":"Flood"}}}'

local headers = {
  ["Content-Type"] = "application/json",
  ["Accept"] = "application/graphql-response+json, application/json",
}

function init(args)
  mode = args[1]
  if mode == "search" or mode == "wide" then
    local file = io.open(args[2] or "", "r")
    if file == nil then
      error("usage: -- search|wide TOKEN_FILE")
    end
    headers["Authorization"] = "Bearer " .. file:read("*l")
    file:close()
    search_request = wrk.format("POST", "/graphql", headers, mode == "wide" and WIDE or SEARCH)
  elseif mode ~= "signup" then
    error("usage: -- search|wide TOKEN_FILE | signup")
  end
  started = os.time()
  sent = 0
  ok, limited, timeout, unavailable, other = 0, 0, 0, 0, 0
  first_other = nil
end

function request()
  if search_request ~= nil then
    return search_request
  end
  sent = sent + 1
  return wrk.format("POST", "/graphql", headers, string.format(SIGNUP, started, id or 0, sent))
end

function response(status, _, body)
  body = body or ""
  local code = body:match('"code"%s*:%s*"([A-Z_]+)"')
  if status == 200 and code == nil and body:find('"data"', 1, true) then
    ok = ok + 1
  elseif code == "RATE_LIMITED" then
    limited = limited + 1
  elseif code == "TIMEOUT" then
    timeout = timeout + 1
  elseif status == 503 or code == "SERVICE_UNAVAILABLE" then
    unavailable = unavailable + 1
  else
    other = other + 1
    if first_other == nil then
      first_other = status .. " " .. string.sub(body, 1, 200):gsub("%s", " ")
    end
  end
end

function done(summary, latency, requests)
  local totals = { ok = 0, limited = 0, timeout = 0, unavailable = 0, other = 0 }
  local sample = ""
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + (thread:get(key) or 0)
    end
    if sample == "" and thread:get("first_other") ~= nil then
      sample = thread:get("first_other")
    end
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d ok=%d limited=%d timeout=%d unavailable=%d other=%d socket=%d\n",
    summary.requests, summary.duration, totals.ok, totals.limited, totals.timeout, totals.unavailable,
    totals.other, e.connect + e.read + e.write + e.timeout))
  if sample ~= "" then
    io.write("OTHER " .. sample .. "\n")
  end
end
