# Sourced by the edge examples' launchers (workers/serve.sh, deno/serve.sh): what they share.
#
#   edge_store_option OPTION VALUE   an option that configures the store: --database URL
#                                    (SESSIONS_DATABASE) or --auth-token TOKEN
#                                    (SESSIONS_AUTH_TOKEN), exported; any other option
#                                    ends the launcher with status 2
#   edge_prepare TOOL WHAT           in the example's directory: installs its npm packages
#                                    (WHAT says which) unless node_modules/.bin/TOOL is
#                                    there, then builds what is missing or out of date

edge_store_option() {
  case "$1" in
    --database) export SESSIONS_DATABASE=${2:?--database needs a URL or :memory:} ;;
    --auth-token) export SESSIONS_AUTH_TOKEN=${2:?--auth-token needs a token} ;;
    *) echo "serve.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
}

edge_prepare() {
  if [ ! -x "node_modules/.bin/$1" ]; then
    echo "==> installing $2" >&2
    # `npm install`, not `npm ci`: jco's dependencies name per-platform optional packages that
    # npm leaves out of the lock file, and `npm ci` then refuses it.
    npm install --no-audit --no-fund --loglevel=error >&2
  fi
  node scripts/build.js
}
