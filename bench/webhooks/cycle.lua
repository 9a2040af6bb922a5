-- wrk script: each request is a distinct, correctly signed Sentry webhook.
-- The bodies differ only in their event id; bench/webhooks/bodies.py writes the template
-- (prefix, suffix) and one "signature id" line per body. Each wrk thread takes its own share
-- of the lines, so no body is sent twice in a run.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("index", counter)
  table.insert(threads, thread)
end

function init(args)
  local dir = os.getenv("BENCH_BODIES")
  local total = tonumber(os.getenv("BENCH_THREADS") or "1")
  local f = io.open(dir .. "/template.txt", "rb")
  prefix = f:read("*l")
  suffix = f:read("*l")
  f:close()
  timestamp = os.getenv("BENCH_TIMESTAMP")
  lines = {}
  local n = 0
  for line in io.lines(dir .. "/signed.txt") do
    if n % total == index - 1 then
      local sig, id = line:match("^(%x+) (%x+)$")
      table.insert(lines, {sig, id})
    end
    n = n + 1
  end
  position = 0
end

function request()
  position = position + 1
  local entry = lines[((position - 1) % #lines) + 1]
  local body = prefix .. entry[2] .. suffix
  return wrk.format("POST", "/hooks/sentry", {
    ["Content-Type"] = "application/json",
    ["Sentry-Hook-Resource"] = "event_alert",
    ["Sentry-Hook-Timestamp"] = timestamp,
    ["Sentry-Hook-Signature"] = entry[1],
  }, body)
end

function done(summary, latency, requests)
  for _, q in ipairs({50, 90, 99, 99.9}) do
    io.write(string.format("percentile %g %d\n", q, latency:percentile(q)))
  end
  io.write(string.format("requests %d errors %d\n", summary.requests,
    summary.errors.connect + summary.errors.read + summary.errors.write
    + summary.errors.status + summary.errors.timeout))
end
