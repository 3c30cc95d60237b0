# Shared shell helpers for tools/*: installing what is missing and running a private PostgreSQL.
# Sourced, not executed.

muster_root() { cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd; }

# Run a command as root (directly, or via sudo when available).
as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo "$@"
  else echo "error: '$*' needs root; install the packages by hand" >&2; return 1
  fi
}

_apt_updated=""
apt_install() {
  if [ -z "$_apt_updated" ]; then as_root apt-get update -qq >/dev/null || true; _apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# The PostgreSQL server binaries (initdb, pg_ctl, postgres), newest version first.
pg_bindir() {
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -V -r); do
    [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ] && { echo "$d"; return 0; }
  done
  return 1
}

# Installs what building, testing and running Muster needs, when it is missing.
ensure_deps() {
  local need=()
  command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
  pkg-config --exists libpq 2>/dev/null || need+=(libpq-dev)
  pg_bindir >/dev/null || need+=(postgresql)
  command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
  if [ ${#need[@]} -gt 0 ]; then
    echo "installing: ${need[*]}" >&2
    apt_install "${need[@]}"
  fi
  if ! command -v swift >/dev/null 2>&1; then
    for d in /opt/swift/usr/bin /usr/share/swift/usr/bin; do [ -x "$d/swift" ] && export PATH="$d:$PATH"; done
  fi
  command -v swift >/dev/null 2>&1 || { echo "error: the Swift 6 toolchain is not on PATH (see swift.org/install)" >&2; return 1; }
}

# swift_release ARGS...: `swift build` of the release binaries a user runs (tools/demo, tools/bench).
# The Swift runtime and Foundation are linked statically (--static-swift-stdlib): loading and relocating
# the toolchain's shared libraries cost every muster command about 10 ms (tools/bench latency).
# MUSTER_SCRATCH=.build-NAME builds in a second build folder, as in tools/test.
swift_release() {
  local scratch=()
  if [ -n "${MUSTER_SCRATCH:-}" ]; then scratch=(--scratch-path "$MUSTER_SCRATCH"); fi
  swift build "${scratch[@]}" -c release --static-swift-stdlib "$@"
}

# The OS user that runs the server: initdb refuses root, so root runs it as 'postgres'.
pg_run_user() { if [ "$(id -u)" = 0 ]; then echo postgres; else id -un; fi; }

pg_as_owner() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DIR [fsync on|off]: initialise (once) and start a cluster in DIR/data, listening only
# on a Unix socket in DIR. Prints nothing; exports PGHOST, PGPORT, PGUSER, PGDATABASE. PL/pgSQL is
# preloaded, as the embedded cluster preloads it (LocalCluster.serverOptions).
pg_start() {
  local dir=$1 fsync=${2:-on} bin
  bin=$(pg_bindir) || { echo "error: PostgreSQL server binaries not found" >&2; return 1; }
  mkdir -p "$dir"
  if [ "$(id -u)" = 0 ]; then chown postgres: "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    pg_as_owner "$bin/initdb" -D "$dir/data" -U "$(pg_run_user)" --auth=trust -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; return 1; }
  fi
  pg_as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
    -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c port=5432 -c fsync=$fsync -c synchronous_commit=$([ "$fsync" = off ] && echo off || echo on) -c full_page_writes=$fsync -c max_connections=200 -c shared_buffers=256MB -c shared_preload_libraries=plpgsql" >/dev/null \
    || { tail -n 30 "$dir/server.log" >&2; return 1; }
  export PGHOST=$dir PGPORT=5432 PGUSER=$(pg_run_user) PGDATABASE=postgres
}

pg_stop() {
  local dir=$1 bin
  bin=$(pg_bindir) || return 0
  [ -f "$dir/data/postmaster.pid" ] && pg_as_owner "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1
  return 0
}
