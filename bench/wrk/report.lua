-- Prints wrk's figures as one JSON line (the harness reads the last line of wrk's output).
-- With BENCH_POST set, every request is that POST body instead, and 201 answers are counted.
local threads = {}
local body = os.getenv("BENCH_POST")

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  created = 0
  if body then
    wrk.method = "POST"
    wrk.body = body
    wrk.headers["Content-Type"] = "application/json"
  end
end

if body then
  function response(status, headers, text)
    if status == 201 then
      created = created + 1
    end
  end
end

function done(summary, latency, requests)
  local made = 0
  for _, thread in ipairs(threads) do
    made = made + (thread:get("created") or 0)
  end
  local errors = summary.errors
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "status_errors": %d, "socket_errors": %d, "timeouts": %d, '
      .. '"p50_us": %d, "p99_us": %d, "mean_us": %.1f, "created": %d}\n',
    summary.requests, summary.duration, errors.status, errors.connect + errors.read + errors.write,
    errors.timeout, latency:percentile(50), latency:percentile(99), latency.mean, made))
end
