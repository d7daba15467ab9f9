#!/usr/bin/env bash
# Sweeps expired sessions now, for cron: calls the session-store component's `sweep` export
# with the wasmtime CLI (one fresh instance per call) until no expired session remains.
#
#   examples/cron/sweep.sh --data-dir DIR [--database NAME|URL] [--component PATH]
#
#   --data-dir DIR     host directory holding the database, preopened as /data
#   --database VALUE   a file name inside DIR (default sessions.db) or a libSQL server URL,
#                      passed as SESSIONS_DATABASE (without it, SESSIONS_DATABASE from the
#                      environment, else /data/sessions.db)
#   --component PATH   the session-store component (default: LIBSQLSTORE_COMPONENT, else
#                      this repository's target/wasm32-wasip2/release/libsqlstore.wasm)
#
# Every SESSIONS_* variable in the environment (SESSIONS_SWEEP_BATCH, SESSIONS_BUSY_TIMEOUT,
# ...) reaches the component. Prints "removed N expired sessions in B batches" and exits 0;
# on a store error (e.g. the database stayed locked for the whole busy timeout) prints it
# on stderr and exits 1, so cron reports it.
#
# A directory that a running `host-example serve` keeps to itself is swept by that server:
# this script then runs `host-example sweep` (HOST_EXAMPLE, else this repository's
# target/release/host-example), which asks it through its control socket. Sweeps of a
# file take the store's lock with an owner file held by this script (../lib/lockowner.sh),
# so a sweep killed mid-batch never blocks the next one.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
# shellcheck source=../lib/lockowner.sh
source "$here/../lib/lockowner.sh"
# shellcheck source=../lib/private-dir.sh
source "$here/../lib/private-dir.sh"
# shellcheck source=../edge-app/tools.sh
source "$here/../edge-app/tools.sh"

data_dir=
database=
component="${LIBSQLSTORE_COMPONENT:-$root/target/wasm32-wasip2/release/libsqlstore.wasm}"
# A bound on batches, so a store that keeps reporting `more` cannot loop forever.
max_batches=100000
while [ $# -gt 0 ]; do
  case "$1" in
    --data-dir) data_dir=${2:?--data-dir needs a directory}; shift 2 ;;
    --database) database=${2:?--database needs a name or a URL}; shift 2 ;;
    --component) component=${2:?--component needs a path}; shift 2 ;;
    -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
    *) echo "sweep.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$component" ] || { echo "sweep.sh: no session-store component at $component" >&2; exit 1; }
ensure_wasmtime || { echo "sweep.sh: wasmtime could not be installed (examples/edge-app/tools.sh)" >&2; exit 1; }

case "$database" in
  '') database=${SESSIONS_DATABASE:-/data/sessions.db} ;;
  *://*) ;;
  */*) echo "sweep.sh: --database takes a file name inside --data-dir or a URL" >&2; exit 2 ;;
  *) database=/data/$database ;;
esac
args=(--env "SESSIONS_DATABASE=$database")
if [ -n "$data_dir" ]; then
  private_files "$data_dir"
  args+=(--dir "$data_dir::/data")
fi
case "$database" in
  /data/*)
    [ -n "$data_dir" ] || { echo "sweep.sh: a database file needs --data-dir" >&2; exit 2; }
    if [ -e "$data_dir/host.lock" ] && ! flock -n -s "$data_dir/host.lock" true; then
      host_example=${HOST_EXAMPLE:-$root/target/release/host-example}
      [ -x "$host_example" ] || {
        echo "sweep.sh: $data_dir is served by host-example serve, which keeps the file to itself; sweep it with \`host-example sweep --data-dir $data_dir\`" >&2
        exit 1
      }
      exec "$host_example" sweep --data-dir "$data_dir" --database "${database#/data/}" --component "$component"
    fi
    db_host="$data_dir/${database#/data/}"
    lock_owner_recover "$db_host"
    lock_owner_hold "$db_host" || { echo "sweep.sh: cannot create an owner file beside $db_host" >&2; exit 1; }
    trap lock_owner_release EXIT
    args+=(--env "SESSIONS_LOCK_OWNER=$LOCK_OWNER_TAG")
    ;;
esac
# By name only: wasmtime copies each value from this environment, so a secret such as
# SESSIONS_AUTH_TOKEN never appears in the process list.
for name in $(compgen -e); do
  case "$name" in
    SESSIONS_DATABASE) ;;
    SESSIONS_*) args+=(--env "$name") ;;
  esac
done

removed=0
batches=0
while [ "$batches" -lt "$max_batches" ]; do
  out=$(wasmtime run -S http "${args[@]}" --invoke 'sweep()' "$component")
  batches=$((batches + 1))
  if [[ "$out" =~ ^ok\(\{removed:\ ([0-9]+),\ more:\ (true|false)\}\)$ ]]; then
    removed=$((removed + BASH_REMATCH[1]))
    [ "${BASH_REMATCH[2]}" = true ] || break
  else
    echo "sweep.sh: sweep failed after removing $removed expired sessions: $out" >&2
    exit 1
  fi
done
echo "removed $removed expired sessions in $batches batches"
