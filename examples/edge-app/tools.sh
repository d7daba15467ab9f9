# Sourced by serve.sh and examples/run-tests.sh: finds, or installs from crates.io, the two
# command-line tools the edge deployment needs. Both go to cargo's own bin directory
# (${CARGO_HOME:-~/.cargo}/bin), which `cargo install` keeps across runs, so the slow
# install (wasmtime-cli: ~12 minutes on 2 cores) happens once per machine.
#
#   ensure_edge_tools   puts wasmtime and wac on PATH, installing what is missing

# Pinned: wasmtime 48 is the newest that builds with the project's Rust (1.95), and the
# same version the host example embeds.
EDGE_WASMTIME_VERSION=48.0.8
EDGE_WAC_VERSION=0.12.0

edge_log() { printf '==> %s\n' "$*" >&2; }

# has_tool NAME VERSION: NAME is on PATH and `NAME --version` names VERSION.
has_tool() {
  command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qF "$2"
}

ensure_edge_tools() {
  local bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  case ":$PATH:" in *":$bin:"*) ;; *) export PATH="$bin:$PATH" ;; esac
  if ! has_tool wasmtime "$EDGE_WASMTIME_VERSION"; then
    edge_log "installing wasmtime-cli $EDGE_WASMTIME_VERSION into $bin (once; ~12 min on 2 cores)"
    cargo install --quiet --locked "wasmtime-cli@$EDGE_WASMTIME_VERSION"
  fi
  if ! has_tool wac "$EDGE_WAC_VERSION"; then
    edge_log "installing wac-cli $EDGE_WAC_VERSION into $bin (once)"
    # Without the default `registry` feature: composition here uses local files only, and the
    # registry client roughly doubles the build.
    cargo install --quiet --locked --no-default-features "wac-cli@$EDGE_WAC_VERSION"
  fi
}
