# Shared by the benchmark scripts; sourced, not run. A script sources it after `cd` to the
# repository, then calls `bench_servers "$0" "$@"` first thing:
#
#   bench_servers SCRIPT ARGS...  Outside the servers: builds the release binary (unless
#                                 PLANEXEC names one), then runs SCRIPT again under with-servers:
#                                 private PostgreSQL and nats-server with fsync on (as in
#                                 production), unless DATABASE_URL and NATS_URL are both set.
#                                 Inside: returns, with BENCH_BIN (the binary) and BENCH_WORK (a
#                                 temporary folder, removed at exit) set.
#   bench_port                    Prints a free TCP port on 127.0.0.1.
#   bench_secret PREFIX           Prints PREFIX followed by 32 random hex digits.
#   bench_database NAME           Creates database NAME on DATABASE_URL's server; prints its URL.
#   bench_drop_database NAME      Drops it (connections closed first).
#   bench_wait_http URL PID LOG   Waits (up to 60 s) until URL answers 2xx; fails, showing LOG,
#                                 when process PID ends first.
#   bench_up NAME                 A fresh `planexec up` on database NAME and NATS namespace NAME
#                                 (1 to 32 letters, digits, '-', '_'); sets UP_PID, UP_GATEWAY,
#                                 UP_TOKEN, UP_DATABASE_URL, UP_NAMESPACE, UP_LOG.
#   bench_down                    Stops it (SIGTERM, awaited) and drops its database.
#
# Environment for `planexec up` (PLANEXE_BATCH_SIZE, PLANEXE_INGEST_WORKERS, ...) passes
# through; PLANEXE_LOG defaults to warn.

for _bench_pg in /usr/lib/postgresql/*/bin; do
  [ -d "$_bench_pg" ] && PATH="$PATH:$_bench_pg"
done
export PATH

bench_servers() {
  local script=$1
  shift
  local target=${CARGO_TARGET_DIR:-target}
  if [ -z "${PLANEXEC_BENCH_INNER:-}" ]; then
    if [ -z "${PLANEXEC:-}" ]; then
      cargo build -q --release -p planexec --locked
    fi
    # Built with the workspace's debug build; built on its own only when missing, since a
    # debug build of one package compiles the shared dependencies again with other features.
    [ -x "$target/debug/with-servers" ] || cargo build -q -p planexec-harness --bin with-servers
    WITH_SERVERS_DURABLE=1 PLANEXEC_BENCH_INNER=1 exec "$target/debug/with-servers" "$script" "$@"
  fi
  : "${DATABASE_URL:?no DATABASE_URL: run this script directly, it starts its own servers}"
  : "${NATS_URL:?no NATS_URL: run this script directly, it starts its own servers}"
  BENCH_BIN=${PLANEXEC:-$target/release/planexec}
  [ -x "$BENCH_BIN" ] || { echo "bench: no planexec binary at $BENCH_BIN" >&2; exit 1; }
  BENCH_WORK=$(mktemp -d)
  export PLANEXE_LOG="${PLANEXE_LOG:-warn}"
  # The CLI keeps a copy of the operator token in the user's config folder: not for benchmarks.
  export XDG_CONFIG_HOME="$BENCH_WORK/config"
  trap 'bench_down; rm -rf "$BENCH_WORK"' EXIT
}

bench_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

bench_secret() {
  echo "$1$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}

bench_database() {
  psql "$DATABASE_URL" -qc "create database $1" >/dev/null
  echo "${DATABASE_URL%/*}/$1"
}

bench_drop_database() {
  psql "$DATABASE_URL" -qc "drop database if exists $1 with (force)" >/dev/null
}

bench_wait_http() {
  local url=$1 pid=$2 log=$3
  for _ in $(seq 600); do
    curl -fs -o /dev/null "$url" && return 0
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "bench: the process behind $url ended; its log ($log):" >&2
      tail -30 "$log" >&2
      return 1
    fi
    sleep 0.1
  done
  echo "bench: $url did not answer within 60 s; see $log" >&2
  return 1
}

bench_up() {
  local name=$1 port
  port=$(bench_port)
  UP_DATABASE_URL=$(bench_database "$name")
  UP_NAMESPACE=$name
  UP_TOKEN=$(bench_secret bench-)
  UP_GATEWAY="http://127.0.0.1:$port"
  UP_LOG="$BENCH_WORK/$name.up.log"
  PLANEXE_DATABASE_URL="$UP_DATABASE_URL" PLANEXE_NATS_URL="$NATS_URL" \
    PLANEXE_NATS_NAMESPACE="$UP_NAMESPACE" PLANEXE_OPERATOR_TOKEN="$UP_TOKEN" \
    "$BENCH_BIN" up --listen "127.0.0.1:$port" --data-dir "$BENCH_WORK/$name.data" >"$UP_LOG" 2>&1 &
  UP_PID=$!
  bench_wait_http "$UP_GATEWAY/healthz" "$UP_PID" "$UP_LOG"
}

bench_down() {
  if [ -n "${UP_PID:-}" ]; then
    kill "$UP_PID" 2>/dev/null || true
    wait "$UP_PID" 2>/dev/null || true
    UP_PID=
  fi
  if [ -n "${UP_NAMESPACE:-}" ]; then
    bench_drop_database "$UP_NAMESPACE" || true
    UP_NAMESPACE=
  fi
}
