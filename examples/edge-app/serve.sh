#!/usr/bin/env bash
# Serves the edge app (a WASI 0.3 wasi:http service) composed with the libsqlstore session
# store under `wasmtime serve`, building and composing whatever is missing or out of date first.
#
#   examples/edge-app/serve.sh [--listen ADDR] [--data-dir DIR] [--database NAME|:memory:|URL]
#                              [--reuse-instances N] [--max-concurrent N] [--compose-only]
#                              [-- WASMTIME-SERVE-ARGS...]
#
#   --listen ADDR      address to serve on (default 127.0.0.1:8080; port 0 picks a free one;
#                      wasmtime prints "Serving HTTP on http://ADDR/" on stderr)
#   --data-dir DIR     host directory preopened as /data for the file backend (default ./data;
#                      created if missing); with a server URL, preopened only when given
#   --database VALUE   a file name inside DIR (default sessions.db), :memory:, or a libSQL
#                      server URL, passed to the store as SESSIONS_DATABASE. Without the flag,
#                      a SESSIONS_DATABASE in the environment is passed through unchanged.
#   --reuse-instances N
#                      let an instance serve up to N requests (wasmtime serve's
#                      --max-instance-reuse-count; without the flag, wasmtime's default for a
#                      WASI 0.3 app: 128, up to 16 at once). A reused instance keeps its open
#                      database, prepared statements and page cache, and stores the writes of
#                      the requests it serves at once in one transaction; every call still
#                      takes the lock file or reads as a seqlock reader, so instances stay
#                      safe together. 1 = a fresh instance per request. wasmtime drops an
#                      instance idle for 1 s (README, "Performance")
#   --max-concurrent N requests served at once, the others queued until one ends (wasmtime
#                      serve's --max-concurrent-requests); default 8 with a server URL (see
#                      docs/deploy.md, "How many saves reach sqld at once"), none on a file
#   --compose-only     build and compose, print the composed component's path, and exit
#
# Every SESSIONS_* variable (SESSIONS_BUSY_TIMEOUT, SESSIONS_MAX_DATA_BYTES, ...),
# EDGE_SESSION_LIFETIME and EDGE_SESSION_IDLE_TIMEOUT (off unless set) in the environment
# reach the component. LIBSQLSTORE_COMPONENT names a prebuilt session-store component;
# otherwise the repository's is built with cargo.
# The composed component is examples/edge-app/target/edge-app-composed.wasm.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=tools.sh
source "$here/tools.sh"
# shellcheck source=../lib/lockowner.sh
source "$here/../lib/lockowner.sh"
# shellcheck source=../lib/private-dir.sh
source "$here/../lib/private-dir.sh"

listen=127.0.0.1:8080
data_dir=
database=
compose_only=false
reuse=
max_concurrent=
while [ $# -gt 0 ]; do
  case "$1" in
    --listen) listen=${2:?--listen needs an address}; shift 2 ;;
    --data-dir) data_dir=${2:?--data-dir needs a directory}; shift 2 ;;
    --database) database=${2:?--database needs a name, :memory: or a URL}; shift 2 ;;
    --reuse-instances) reuse=${2:?--reuse-instances needs a count}; shift 2 ;;
    --max-concurrent) max_concurrent=${2:?--max-concurrent needs a count}; shift 2 ;;
    --compose-only) compose_only=true; shift ;;
    --) shift; break ;;
    -h|--help) sed -n '2,35p' "$0"; exit 0 ;;
    *) echo "serve.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done

ensure_edge_tools

store="${LIBSQLSTORE_COMPONENT:-$root/target/wasm32-wasip2/release/libsqlstore.wasm}"
if [ -z "${LIBSQLSTORE_COMPONENT:-}" ]; then
  edge_log "building the session-store component"
  "$root/dev" setup
  (cd "$root" && cargo build --quiet --release --target wasm32-wasip2)
fi
[ -f "$store" ] || { echo "serve.sh: no session-store component at $store" >&2; exit 1; }

edge_log "building the edge app component"
cargo build --quiet --release --target wasm32-wasip2 --manifest-path "$here/Cargo.toml"
app="$here/target/wasm32-wasip2/release/edge_app.wasm"
composed="$here/target/edge-app-composed.wasm"
if [ ! -f "$composed" ] || [ "$app" -nt "$composed" ] || [ "$store" -nt "$composed" ]; then
  edge_log "composing: the store's store@0.3.0 export plugs into the app's import of it"
  wac plug "$app" --plug "$store" -o "$composed"
fi
if $compose_only; then
  echo "$composed"
  exit 0
fi

case "$database" in
  '') database_env=${SESSIONS_DATABASE:-/data/sessions.db} ;;
  :memory:|*://*) database_env=$database ;;
  */*) echo "serve.sh: --database takes a file name inside --data-dir, :memory: or a URL" >&2; exit 2 ;;
  *) database_env=/data/$database ;;
esac
# An exclusive lock is held for an instance's whole life and removed by its host when it
# discards the instance; wasmtime serve drops instances (after their requests, or idle)
# without removing it, so every later instance would wait for it in vain.
case "$database_env:${SESSIONS_LOCKING:-}" in
  /data/*:*exclusive*)
    echo "serve.sh: SESSIONS_LOCKING=exclusive cannot work under wasmtime serve, which drops instances without removing their lock; use shared (the default)" >&2
    exit 2 ;;
esac

# By name: wasmtime copies the value from this environment, so a URL's credentials never
# appear in the process list.
export SESSIONS_DATABASE=$database_env
args=(-S cli=y --addr "$listen" --env SESSIONS_DATABASE)
if [ -n "$reuse" ]; then
  case "$reuse" in
    *[!0-9]*|0*) echo "serve.sh: --reuse-instances takes a whole number of requests, 1 or more" >&2; exit 2 ;;
  esac
  args+=(--max-instance-reuse-count "$reuse")
fi
# How wasmtime's pooling allocator (serve's default) hands a finished instance's slot to the
# next one: the first 4 MiB of each linear memory and 1 MiB of each table stay mapped and are
# reset in place (only the pages written, where the kernel can list them: PAGEMAP_SCAN,
# Linux 6.7+) instead of being returned to the kernel and faulted in again by the next
# request. `-O` flags given after `--` come later and override these.
args+=(-O pooling-memory-keep-resident=4194304 -O pooling-table-keep-resident=1048576
  -O pooling-pagemap-scan=auto)
case "$database_env" in
  # A server: no directory needed, but one given is still preopened.
  *://*) max_concurrent=${max_concurrent:-8} ;;
  *) data_dir=${data_dir:-./data} ;;
esac
if [ -n "$max_concurrent" ]; then
  case "$max_concurrent" in
    *[!0-9]*|0*) echo "serve.sh: --max-concurrent takes a whole number of requests, 1 or more" >&2; exit 2 ;;
  esac
  args+=(--max-concurrent-requests "$max_concurrent")
fi
if [ -n "$data_dir" ]; then
  private_data_dir "$data_dir"
  args+=(--dir "$data_dir::/data")
fi
case "$database_env" in
  /data/*)
    # wasmtime serve cannot prove to others that it is alive; this launcher does, with an
    # OS lock that wasmtime inherits (see ../lib/lockowner.sh), after removing a lock that
    # a previous server, killed mid-request, left behind.
    db_host="$data_dir/${database_env#/data/}"
    lock_owner_recover "$db_host"
    lock_owner_hold "$db_host" || { echo "serve.sh: cannot create an owner file beside $db_host" >&2; exit 1; }
    args+=(--env "SESSIONS_LOCK_OWNER=$LOCK_OWNER_TAG")
    ;;
esac
# By name only: wasmtime copies each value from this environment, so a secret such as
# SESSIONS_AUTH_TOKEN never appears in the process list.
for name in $(compgen -e); do
  case "$name" in
    SESSIONS_DATABASE) ;;
    SESSIONS_*|EDGE_SESSION_LIFETIME|EDGE_SESSION_IDLE_TIMEOUT) args+=(--env "$name") ;;
  esac
done
# Credentials in a database URL (scheme://user:password@host) stay out of the log.
edge_log "serving $composed (database $(printf '%s' "$database_env" | sed -E 's|(://)[^/?#]*@|\1***@|'))"
exec wasmtime serve "${args[@]}" "$@" "$composed"
