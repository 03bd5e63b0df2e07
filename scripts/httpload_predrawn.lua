-- httpload_predrawn.lua - ../shared/bench/httpload.lua with its requests drawn before the clock starts
--
--   HASHES=hashes.txt wrk -t1 -c64 -d10s --latency -s scripts/httpload_predrawn.lua http://127.0.0.1:PORT
--
-- Why: httpload.lua builds every request in Lua while wrk runs (percent-encoded
-- strings concatenated per request). On some of our machines wrk then takes about
-- 13 µs a request (7 with no script), so against the trivial reflector it tops out
-- at 60-89k/s: no faster than the trackers it is meant to measure, and below the
-- 100k/s they are meant to show. This script loads the shared one unchanged, calls its request() DRAWS
-- times in init() (wrk runs init before it starts its clock), and then hands out
-- those requests in order, starting again at the first after the last. Same seed,
-- so the same requests in the same order as the shared script sends; its
-- response() (CHECK=1) and done() (the summary line) are the shared ones.
--
-- Environment: everything httpload.lua reads, and
--   HTTPLOAD   path of the shared httpload.lua (default ../shared/bench/httpload.lua
--              beside the project root, found from this script's own path)
--   DRAWS      requests drawn up front (1500000: 10 s at 150k/s; about 0.45 KB of
--              wrk memory and 5 µs of init each)

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local shared = os.getenv("HTTPLOAD")
if shared == nil or shared == "" then shared = here .. "/../../shared/bench/httpload.lua" end
dofile(shared)

local draw, sharedInit = request, init
local DRAWS = tonumber(os.getenv("DRAWS") or "") or 1500000
local drawn, at = {}, 0

function init(args)
  sharedInit(args)
  for i = 1, DRAWS do drawn[i] = draw() end
end

function request()
  at = at + 1
  if at > DRAWS then at = 1 end
  return drawn[at]
end
