#!/usr/bin/env bash
# Installs what the benchmark needs beyond the Rust toolchain, on Debian (run as root, or
# with sudo available): wrk (the HTTP load generator) and redis-server (the Redis peer's
# backend; the benchmark starts its own instance on 127.0.0.1, so the service is not
# enabled here). Idempotent: installs only what is missing.
set -euo pipefail

want=(wrk redis-server)
missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if ! command -v apt-get >/dev/null; then
  echo "bench/setup.sh: no apt-get; install ${missing[*]} with your package manager" >&2
  exit 1
fi
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    echo "bench/setup.sh: need root for: $*" >&2; return 1; fi
}
echo "==> installing ${missing[*]}" >&2
as_root apt-get update -qq
DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
