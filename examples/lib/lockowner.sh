# Sourced by the shell launchers (edge-app/serve.sh, cron/sweep.sh): the host's half of
# the session store's lock protocol, for hosts that give the component only WASI (the
# wasmtime CLI). The protocol is specified once, in docs/durability.md
# ("Liveness"); host/src/lockrecovery.rs is the same host half in Rust.
#
#   lock_owner_hold DB      creates <DB>-owner-<id>, flocks it on file descriptor 9 (which
#                           every process the launcher starts or execs inherits, so the
#                           lock lives exactly as long as the last of them) and sets
#                           LOCK_OWNER_TAG=flock:<DB name>-owner-<id> for SESSIONS_LOCK_OWNER
#   lock_owner_release      removes the owner file (at a clean exit of a launcher that
#                           did not exec)
#   lock_owner_recover DB   removes <DB>-lock (renaming it to <DB>-lock-last) if the process
#                           that took it has exited (its owner file is missing or nobody
#                           flocks it), and owner files of exited processes that no lock names
#
# Needs flock(1) (util-linux). DB is the database's host path.

lock_owner_hold() {
  local db=$1 dir name id
  dir=$(dirname "$db")
  name=$(basename "$db")
  id=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
  # Locked under a name nobody checks, then renamed: never seen unlocked while alive.
  exec 9>"$dir/$name-newowner-$id" || return 1
  flock -n 9 || return 1
  mv "$dir/$name-newowner-$id" "$dir/$name-owner-$id" || return 1
  LOCK_OWNER_FILE="$dir/$name-owner-$id"
  LOCK_OWNER_TAG="flock:$name-owner-$id"
}

lock_owner_release() {
  [ -n "${LOCK_OWNER_FILE:-}" ] && rm -f "$LOCK_OWNER_FILE"
  exec 9>&-
}

# _lock_owner_file DB TAG: the owner file a flock: tag names, if it is one of DB's.
_lock_owner_file() {
  local dir name file
  dir=$(dirname "$1")
  name=$(basename "$1")
  file=${2#flock:}
  [ "$file" != "$2" ] || return 1
  [[ $file =~ ^.+-owner-[A-Za-z0-9]+$ ]] && [ "${file%-owner-*}" = "$name" ] || return 1
  printf '%s/%s' "$dir" "$file"
}

# _lock_owner_dead FILE: true if nobody holds FILE's flock (or it is gone).
_lock_owner_dead() {
  [ ! -e "$1" ] || flock -n -s "$1" true
}

lock_owner_recover() {
  local db=$1 lock="$1-lock" line= tag= owner f
  line=$(head -c 512 "$lock" 2>/dev/null) || line=
  if [[ $line =~ \ host=([^ ]+)\  ]]; then
    tag=${BASH_REMATCH[1]}
    if owner=$(_lock_owner_file "$db" "$tag") && _lock_owner_dead "$owner"; then
      # Under <DB>-lock-break (an OS lock, as every host takes it), and only if unchanged.
      # Renamed to <DB>-lock-last, as a release does: readers without the lock see it change.
      if (flock 8 && [ "$(head -c 512 "$lock" 2>/dev/null)" = "$line" ] && mv -f "$lock" "$db-lock-last") 8>>"$db-lock-break"; then
        echo "removed a lock left by a process that exited: $lock" >&2
        rm -f "$owner"
        tag=
      fi
    fi
  fi
  for f in "$db"-owner-*; do
    [ -e "$f" ] || continue
    [ "flock:$(basename "$f")" = "$tag" ] && continue
    _lock_owner_dead "$f" && rm -f "$f"
  done
  return 0
}
