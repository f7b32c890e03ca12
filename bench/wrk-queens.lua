-- wrk script for the queens bench: the dispatch bench's request (POST /submit_task {"text":"bench"}),
-- and at the end wrk's own latency histogram on one line, "HISTOGRAM us:count,us:count,...", so that
-- runs against several queens at once can be merged into one distribution (exact percentiles of the
-- union, by wrk's own method) instead of guessing from each run's percentiles. done() runs once, after
-- the load: it costs nothing per request.
wrk.method = "POST"
wrk.path = "/submit_task"
wrk.body = '{"text":"bench"}'
wrk.headers["Content-Type"] = "application/json"

function done(summary, latency, requests)
  local parts = {}
  for i = 1, #latency do
    local value, count = latency(i)
    parts[#parts + 1] = string.format("%d:%d", value, count)
  end
  io.write("HISTOGRAM " .. table.concat(parts, ",") .. "\n")
end
