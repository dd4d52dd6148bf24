-- wrk script for scripts/load: sends one kind of request (GraphQL to /graphql, or the REST
-- read), rotating through one line of the input file per request, picked at random, and counts
-- every response that is not the expected answer.
--
--   wrk ... -s scripts/load.d/graphql.lua http://127.0.0.1:PORT -- MODE FILE
--
-- MODE and the lines of FILE:
--   read    a token per line   todos(first: 20) { nodes { id title completed } }, expects 200 and nodes
--                              (a JWT or a personal access token: both are bearer tokens)
--   read-hash  a token per line   the read by APQ hash: {"extensions":{"persistedQuery":…}}, the
--                                 hash in the environment's READ_HASH (scripts/load registers it)
--   read-id    a token per line   the read by {"documentId": READ_ID} (a trusted document)
--   write   a token per line   createTodo(input: {title}) { id }, expects 200 and an id
--   reject  a token per line   the read query with a bad token, expects 401 UNAUTHENTICATED
--   signin  "email password"   signIn(input: {email, password}) { accessToken }, expects 200 and a token
--   rest    "user_id token"    GET /api/{user_id}/tasks?limit=20 (the REST read), expects 200 and tasks
--
-- done() prints one machine-readable line, RESULT key=value ..., for scripts/load to parse.

local threads = {}
local next_id = 0

function setup(thread)
  next_id = next_id + 1
  thread:set("id", next_id)
  table.insert(threads, thread)
end

local READ = '{"query":"{ todos(first: 20) { nodes { id title completed } } }"}'
local WRITE = '{"query":"mutation($input: CreateTodoInput!) { createTodo(input: $input) { id } }",'
  .. '"variables":{"input":{"title":"Written under load"}}}'
local SIGNIN = '{"query":"mutation($input: SignInInput!) { signIn(input: $input) { accessToken } }",'
  .. '"variables":{"input":{"email":"%s","password":"%s"}}}'

local READ_HASH = '{"extensions":{"persistedQuery":{"version":1,"sha256Hash":"%s"}}}'
local READ_ID = '{"documentId":"%s"}'

local expectations = {
  read   = { status = 200, text = '"nodes":[{' }, -- key order is not compared
  ["read-hash"] = { status = 200, text = '"nodes":[{' },
  ["read-id"]   = { status = 200, text = '"nodes":[{' },
  write  = { status = 200, text = '"createTodo":{"id":"' },
  reject = { status = 401, text = '"UNAUTHENTICATED"' },
  signin = { status = 200, text = '"accessToken":"' },
  rest   = { status = 200, text = '[{"id":"' },
}

function init(args)
  mode = args[1]
  local file = args[2]
  expected = expectations[mode]
  if expected == nil or file == nil then
    error("usage: -- read|read-hash|read-id|write|reject|signin|rest FILE")
  end
  math.randomseed(os.time() * 1000 + (id or 0) * 7919)
  requests = {}
  for line in io.lines(file) do
    if line ~= "" then
      local headers = {
        ["Content-Type"] = "application/json",
        ["Accept"] = "application/graphql-response+json, application/json",
      }
      local body
      if mode == "signin" then
        local email, password = line:match("^(%S+)%s+(%S+)$")
        body = string.format(SIGNIN, email, password)
      elseif mode == "rest" then
        local user_id, token = line:match("^(%S+)%s+(%S+)$")
        table.insert(requests, wrk.format("GET", "/api/" .. user_id .. "/tasks?limit=20",
          { ["Accept"] = "application/json", ["Authorization"] = "Bearer " .. token }))
      else
        headers["Authorization"] = "Bearer " .. line
        if mode == "write" then
          body = WRITE
        elseif mode == "read-hash" then
          body = string.format(READ_HASH, os.getenv("READ_HASH") or "")
        elseif mode == "read-id" then
          body = string.format(READ_ID, os.getenv("READ_ID") or "")
        else
          body = READ
        end
      end
      if mode ~= "rest" then
        table.insert(requests, wrk.format("POST", "/graphql", headers, body))
      end
    end
  end
  if #requests == 0 then
    error("no lines in " .. file)
  end
  bad = 0
  first_bad = nil
end

function request()
  return requests[math.random(#requests)]
end

function response(status, headers, body)
  local ok = status == expected.status and body ~= nil and body:find(expected.text, 1, true) ~= nil
  if ok and mode ~= "reject" and body:find('"errors"', 1, true) then
    ok = false
  end
  if not ok then
    bad = bad + 1
    if first_bad == nil then
      first_bad = status .. " " .. string.sub(body or "", 1, 200):gsub("%s", " ")
    end
  end
end

function done(summary, latency, requests)
  local bad_total, sample = 0, ""
  for _, thread in ipairs(threads) do
    bad_total = bad_total + (thread:get("bad") or 0)
    local first = thread:get("first_bad")
    if sample == "" and first ~= nil then
      sample = first
    end
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d bad=%d socket=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    bad_total, e.connect + e.read + e.write + e.timeout))
  if sample ~= "" then
    io.write("FIRST_BAD " .. sample .. "\n")
  end
end
