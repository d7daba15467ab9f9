-- What every wrk script of the benchmark shares (the route's own part follows it, see
-- bench/src/http.rs): each thread's offset into the route's list, a count of the requests
-- sent (wrk counts only those answered), and the figures on one `BENCH` line at the end,
-- which bench/src/http.rs reads. A route's `request()` increments `i` and `sent`; its
-- optional `take_args(args)` receives the arguments given to wrk after `--`.
local threads = {}
function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end
i = 0
sent = 0
function init(args)
  i = offset or 0
  if take_args then take_args(args) end
end
function done(summary, latency, requests)
  local e = summary.errors
  local total = 0
  for _, t in ipairs(threads) do total = total + t:get("sent") end
  io.write(string.format("BENCH requests=%d sent=%d duration_us=%d timeouts=%d non_2xx=%d socket_errors=%d p50_us=%d p99_us=%d max_us=%d\n",
    summary.requests, total, summary.duration, e.timeout, e.status, e.connect + e.read + e.write,
    latency:percentile(50), latency:percentile(99), latency.max))
end
