-- wrk script: request the pre-generated items paths (one per line, file given after "--")
-- round robin, each thread starting at its own offset; print a JSON summary line at the end.
--   wrk -t2 -c8 -d15s --timeout 30s -s wrk_paths.lua http://127.0.0.1:PORT -- paths.txt

local threads = {}
local paths = {}
local counter = 0

function setup(thread)
  thread:set("offset", #threads * 997)
  table.insert(threads, thread)
end

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  counter = offset or 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1])
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "bytes": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d, "non2xx": %d, "connect_errors": %d, "read_errors": %d, ' ..
    '"write_errors": %d, "timeouts": %d}\n',
    summary.requests, summary.duration, summary.bytes, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.mean, latency.max, e.status, e.connect, e.read, e.write, e.timeout))
end
