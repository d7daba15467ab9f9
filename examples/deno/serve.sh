#!/usr/bin/env bash
# Runs the session routes under Deno (from npm), building whatever is missing or out of
# date first.
#
#   examples/deno/serve.sh --listen ADDR --database URL [--auth-token TOKEN]
#
#   --listen ADDR       address to serve on (default 127.0.0.1:8000; port 0 picks a free one).
#                       Prints "listening on http://HOST:PORT" when ready.
#   --database URL      a libSQL server (http://, https://, libsql://), or :memory: for a local
#                       trial; becomes SESSIONS_DATABASE. Without it, a SESSIONS_DATABASE in the
#                       environment is used. A file path is refused (edge deployments have no
#                       durable filesystem).
#   --auth-token TOKEN  the server's auth token (SESSIONS_AUTH_TOKEN). Prefer exporting
#                       SESSIONS_AUTH_TOKEN: arguments show in the process list.
#
# Every SESSIONS_* variable in the environment, EDGE_SESSION_LIFETIME, EDGE_SESSION_IDLE_TIMEOUT, EDGE_POOL_SIZE (store
# instances held, default 8) and EDGE_POOL_WAIT (how long a request waits for one, default
# 3s, then 503) reach the server; a malformed value stops the start with a message naming the
# variable. LIBSQLSTORE_COMPONENT names a prebuilt session-store component; otherwise the
# repository's is built with cargo.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=../lib/edge-serve.sh
source "$here/../lib/edge-serve.sh"

listen=127.0.0.1:8000
while [ $# -gt 0 ]; do
  case "$1" in
    --listen) listen=${2:?--listen needs an address}; shift 2 ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) edge_store_option "$@"; shift 2 ;;
  esac
done

cd "$here"
edge_prepare deno "the Deno example's npm packages (deno, jco, esbuild)"

# Permissions: the network (serving, the libSQL server), the environment (settings; only
# SESSIONS_* reach the component), and reading dist/ (the core WebAssembly modules).
# --unstable-cron: Deno.cron sweeps, as on Deno Deploy.
exec node_modules/.bin/deno run --quiet --no-prompt --allow-net --allow-env --allow-read=dist \
  --unstable-cron dist/main.js --listen "$listen"
