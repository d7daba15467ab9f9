-- The floor of a session load against a libSQL server: wrk POSTs straight to sqld the one
-- Hrana pipeline a store's `find` sends (the find statement, then `close`: one round trip),
-- with no host in between. Arguments after `--`: the request bodies, one pipeline per
-- stored session (bench/src/edge.rs builds them), cycled through like the hosts' cookies.
local bodies = {}
local headers = { ["Content-Type"] = "application/json" }
function take_args(args)
  bodies = args
end
function request()
  i = i + 1
  sent = sent + 1
  return wrk.format("POST", nil, headers, bodies[(i % #bodies) + 1])
end
