-- wrk script for bench/serve_load.py and bench/read_load.py: POST /api/predict (or PATH) with a
-- rotating set of prepared bodies (multipart uploads of real drawings), and one JSON line of
-- results at the end.
--
--   wrk -t1 -c8 -d10s -s bench/wrk_predict.lua http://127.0.0.1:8000 -- BODY_DIR COUNT CONTENT_TYPE [PATH]
--
-- BODY_DIR holds COUNT files named 0000.bin, 0001.bin, ... (the request bodies).

local reqs = {}
local i = 0

function init(args)
  local dir, count, ctype = args[1], tonumber(args[2]), args[3]
  local path = args[4] or "/api/predict"
  for k = 0, count - 1 do
    local f = assert(io.open(string.format("%s/%04d.bin", dir, k), "rb"))
    local body = f:read("*a")
    f:close()
    -- wrk.format adds Host and Content-Length
    reqs[#reqs + 1] = wrk.format("POST", path, { ["Content-Type"] = ctype }, body)
  end
  i = math.random(#reqs) - 1 -- each thread starts at a different drawing
end

function request()
  i = i % #reqs + 1
  return reqs[i]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,"status_errors":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p95_us":%d,"p99_us":%d,"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
