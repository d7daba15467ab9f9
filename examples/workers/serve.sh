#!/usr/bin/env bash
# Runs the sessions Worker under workerd (Cloudflare's open-source Workers runtime, from npm),
# building whatever is missing or out of date first.
#
#   examples/workers/serve.sh --listen ADDR --database URL [--auth-token TOKEN]
#                             [--scheduled-listen ADDR]
#
#   --listen ADDR            address of the session routes (default 127.0.0.1:8787; port 0
#                            picks a free one). Prints "listening on http://HOST:PORT" when ready.
#   --database URL           a libSQL server (http://, https://, libsql://), or :memory: for a
#                            local trial; becomes SESSIONS_DATABASE. Without it, a
#                            SESSIONS_DATABASE in the environment is used. Workers have no
#                            durable filesystem: a file path is refused at start-up.
#   --auth-token TOKEN       the server's auth token (SESSIONS_AUTH_TOKEN). Prefer exporting
#                            SESSIONS_AUTH_TOKEN: arguments show in the process list.
#   --scheduled-listen ADDR  where a request runs the Worker's scheduled() handler (a sweep),
#                            as a Cron Trigger does on Cloudflare (default 127.0.0.1:0, loopback;
#                            prints "scheduled trigger on http://HOST:PORT")
#
# SESSIONS_REMOTE_TIMEOUT, SESSIONS_TABLE, SESSIONS_SWEEP_BATCH, SESSIONS_MAX_DATA_BYTES,
# EDGE_SESSION_LIFETIME, EDGE_SESSION_IDLE_TIMEOUT, EDGE_POOL_SIZE (store instances held, default 8) and EDGE_POOL_WAIT
# (how long a request waits for one, default 3s, then 503) in the environment reach the
# Worker as bindings (config.capnp). A malformed value stops the start with a message naming
# the variable. LIBSQLSTORE_COMPONENT names a prebuilt session-store component; otherwise the
# repository's is built with cargo.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/edge-serve.sh
source "$here/../lib/edge-serve.sh"

listen=127.0.0.1:8787
scheduled_listen=127.0.0.1:0
while [ $# -gt 0 ]; do
  case "$1" in
    --listen) listen=${2:?--listen needs an address}; shift 2 ;;
    --scheduled-listen) scheduled_listen=${2:?--scheduled-listen needs an address}; shift 2 ;;
    -h|--help) sed -n '2,25p' "$0"; exit 0 ;;
    *) edge_store_option "$@"; shift 2 ;;
  esac
done

cd "$here"
edge_prepare workerd "the Worker's npm packages (workerd, jco, esbuild)"

# workerd reports each socket's port on the control descriptor once it listens, as
# {"event":"listen","socket":"http","port":N}: announce the addresses from it.
announce() {
  local line socket port
  while IFS= read -r line; do
    socket=$(sed -n 's/.*"socket":"\([^"]*\)".*/\1/p' <<<"$line")
    port=$(sed -n 's/.*"port":\([0-9]*\).*/\1/p' <<<"$line")
    case "$socket" in
      http) echo "listening on http://${listen%:*}:$port" ;;
      scheduled) echo "scheduled trigger on http://${scheduled_listen%:*}:$port" ;;
    esac
  done
}

# --experimental: the scheduled trigger calls the Worker's scheduled() through a service
# binding (Fetcher.scheduled), an experimental workerd feature.
exec node_modules/.bin/workerd serve --experimental config.capnp \
  --socket-addr "http=$listen" --socket-addr "scheduled=$scheduled_listen" \
  --control-fd 3 3> >(announce)
