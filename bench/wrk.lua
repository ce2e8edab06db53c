-- Sends pre-signed MessageBird webhooks, each exactly once: flask-itms refuses a replayed
-- token and stores a message id once, so a request sent twice would measure the cheap
-- duplicate path. Arguments (after wrk's "--"): the request file (one "token<TAB>body"
-- per line), the number of wrk threads and the Host header the tokens were signed for.
-- When a thread runs out before wrk stops, it sends a GET that no route answers, and
-- counts it: a timed run that ran out is refused and repeated with more requests; a
-- counted run (the memory benchmark) is stopped by the harness once all are stored.

local threads = {}
local thread_count = 0

function setup(thread)
   thread:set("thread_number", thread_count)
   thread_count = thread_count + 1
   table.insert(threads, thread)
end

function init(args)
   local path, total_threads, host = args[1], tonumber(args[2]), args[3]
   requests = {}
   exhausted = 0
   ok = 0
   other = 0
   fallback_answers = 0
   local line_number = 0
   for line in io.lines(path) do
      if line_number % total_threads == thread_number then
         local token, body = line:match("^([^\t]*)\t(.*)$")
         requests[#requests + 1] = wrk.format("POST", "/itms/messagebird/inbound", {
            ["Host"] = host,
            ["Content-Type"] = "application/x-www-form-urlencoded",
            ["MessageBird-Signature-JWT"] = token,
         }, body)
      end
      line_number = line_number + 1
   end
   fallback = wrk.format("GET", "/bench-ran-out-of-signed-requests", { ["Host"] = host })
   share = #requests
   index = 0
   -- wrk calls request() once in the first thread before the run, to check that it
   -- returns one well-formed request, and never sends that one: give it the fallback.
   being_checked = thread_number == 0
end

function request()
   if being_checked then
      being_checked = false
      return fallback
   end
   index = index + 1
   if index > share then
      -- Out of signed requests. In count mode this is expected, and the harness stops wrk
      -- once every one is stored; until then each connection keeps sending the cheap
      -- fallback, so that no connection sits idle in the backlog, where a sync gunicorn
      -- worker would wait on it while real requests queue behind.
      exhausted = exhausted + 1
      return fallback
   end
   return requests[index]
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
   elseif status == 404 then
      fallback_answers = fallback_answers + 1  -- only the fallback GET is ever a 404
   else
      other = other + 1
   end
end

function done(summary, latency, requests)
   local sent, exhausted_total, ok_total, other_total, fallback_total = 0, 0, 0, 0, 0
   for _, thread in ipairs(threads) do
      sent = sent + math.min(thread:get("index"), thread:get("share"))
      exhausted_total = exhausted_total + thread:get("exhausted")
      ok_total = ok_total + thread:get("ok")
      other_total = other_total + thread:get("other")
      fallback_total = fallback_total + thread:get("fallback_answers")
   end
   local errors = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
         .. '"mean_us": %.1f, "connect_errors": %d, "read_errors": %d, "write_errors": %d, "status_errors": %d, '
         .. '"timeouts": %d, "ok": %d, "other": %d, "fallback_answers": %d, "exhausted": %d, "signed_sent": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, errors.connect, errors.read, errors.write,
      errors.status, errors.timeout, ok_total, other_total, fallback_total, exhausted_total, sent))
end
