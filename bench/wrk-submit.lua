-- wrk script for the dispatch bench: every request is POST /submit_task {"text":"bench"}.
-- Non-2xx answers are counted from wrk's own "Non-2xx or 3xx responses" line (no response hook,
-- which would make wrk hand every answer to Lua and cost the shared cores more).
wrk.method = "POST"
wrk.path = "/submit_task"
wrk.body = '{"text":"bench"}'
wrk.headers["Content-Type"] = "application/json"
