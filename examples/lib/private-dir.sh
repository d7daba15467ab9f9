# Sourced by the shell launchers (edge-app/serve.sh, cron/sweep.sh): session data stays
# readable by this user only. WASI gives the component no file modes, so the launcher sets them.
#
#   private_files DIR       sets umask 077 (the database, its journal and lock files are
#                           created 0600 by every process the launcher starts) and warns on
#                           stderr when DIR exists and is group- or world-accessible (its
#                           mode is left as the operator set it)
#   private_data_dir DIR    the same, and creates DIR 0700 if it is missing

private_files() {
  local dir=$1 mode
  umask 077
  [ -e "$dir" ] || return 0
  mode=$(stat -L -c %a "$dir") || return 1
  if [ $((8#$mode & 8#077)) -ne 0 ]; then
    printf '==> warning: %s is accessible to other users (mode %s): session data and user names are readable; chmod 700 it\n' \
      "$dir" "$mode" >&2
  fi
}

private_data_dir() {
  private_files "$1" || return 1
  [ -e "$1" ] || mkdir -p -m 700 "$1"
}
