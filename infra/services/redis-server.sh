#!/usr/bin/env bash
# redis-server.sh - starts a Redis server on a free loopback port, in a temporary directory, for tests
# and benchmarks, and stops it by its PID. Debian's redis-server 7.0 has Functions (FUNCTION LOAD,
# kept in the RDB/AOF and replicated, unlike EVAL's script cache). The append-only file is on, so a
# server restarted with the same --dir comes back with its functions and keys; a test that wants
# Redis to lose its data restarts it in a new directory.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/common.sh"

bin=$(command -v redis-server || true)
cli=$(command -v redis-cli || true)
cmd=${1:-}
shift || true
case $cmd in
start)
  dir='' port='' owner='' host=127.0.0.1
  while [[ $# -gt 0 ]]; do
    case $1 in
    --dir) dir=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --owner) owner=$2; shift 2 ;;
    *) usage_common ;;
    esac
  done
  [[ -n $bin && -n $cli ]] || { echo "redis-server is not installed: run infra/scripts/ensure-system-deps.sh all" >&2; exit 1; }
  [[ -n $dir ]] || dir=$(mktemp -d /tmp/x64t-redis.XXXXXX)
  mkdir -p "$dir"
  for attempt in 1 2 3 4 5; do
    p=${port:-$(free_port)}
    rm -f "$dir/redis.pid"
    : >"$dir/redis.log"
    # Protected mode refuses clients from other addresses: off when bound to a lab address on purpose.
    protected=yes
    [[ $host == 127.0.0.1 ]] || protected=no
    "$bin" --bind "$host" --port "$p" --dir "$dir" --daemonize yes --pidfile "$dir/redis.pid" \
      --logfile "$dir/redis.log" --appendonly yes --appendfsync everysec --save '' \
      --protected-mode "$protected" --enable-debug-command local </dev/null >/dev/null 2>&1 || true
    pid=''
    for ((i = 0; i < 100; i++)); do
      [[ -s $dir/redis.pid ]] && pid=$(cat "$dir/redis.pid")
      if [[ -n $pid ]] && "$cli" -h "$host" -p "$p" ping 2>/dev/null | grep -q PONG; then break; fi
      if [[ -n $pid ]] && ! alive "$pid"; then break; fi
      if [[ -z $pid && $i -gt 30 ]]; then break; fi
      sleep 0.1
    done
    if [[ -n $pid ]] && alive "$pid" && "$cli" -h "$host" -p "$p" ping 2>/dev/null | grep -q PONG; then
      watch_owner "$owner" "$pid" "$dir"
      echo "url=redis://$host:$p"
      echo "pid=$pid"
      echo "dir=$dir"
      echo "port=$p"
      exit 0
    fi
    [[ -n $pid ]] && { stop_pid "$pid" || true; }
    [[ -z $port ]] || break
  done
  echo "redis-server did not start; its log:" >&2
  tail -20 "$dir/redis.log" >&2 || true
  exit 1
  ;;
stop)
  [[ $# -ge 1 ]] || usage_common
  stop_pid "$1"
  if [[ -n ${2:-} && $2 == /tmp/x64t-redis.* ]]; then rm -rf "$2"; fi
  ;;
*) usage_common ;;
esac
