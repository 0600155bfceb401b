#!/usr/bin/env bash
# nats-server.sh - starts a NATS server with JetStream (KV, Object Store) on a free loopback port, in a
# temporary directory, for tests and benchmarks, and stops it by its PID. Debian's nats-server 2.9.10
# has everything the state layer uses: streams with Nats-Msg-Id dedupe and
# Nats-Expected-Last-Subject-Sequence, KV compare-and-set, the Object Store. With --cluster-name,
# --cluster-port and --routes it is one server of a JetStream cluster (infra/lab/cluster-lab.sh starts
# three in its router namespace, --host on an address the PLAT nodes reach).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/common.sh"

bin=$(PATH="$PATH:/usr/sbin:/usr/local/sbin" command -v nats-server || true)
cmd=${1:-}
shift || true
case $cmd in
start)
  dir='' port='' owner='' host=127.0.0.1 cluster_name='' cluster_port='' routes=''
  while [[ $# -gt 0 ]]; do
    case $1 in
    --dir) dir=$2; shift 2 ;;
    --host) host=$2; shift 2 ;;
    --cluster-name) cluster_name=$2; shift 2 ;;
    --cluster-port) cluster_port=$2; shift 2 ;;
    --routes) routes=$2; shift 2 ;;
    --port) port=$2; shift 2 ;;
    --owner) owner=$2; shift 2 ;;
    *) usage_common ;;
    esac
  done
  [[ -n $bin ]] || { echo "nats-server is not installed: run infra/scripts/ensure-system-deps.sh all" >&2; exit 1; }
  [[ -n $dir ]] || dir=$(mktemp -d /tmp/x64t-nats.XXXXXX)
  mkdir -p "$dir/jetstream"
  for attempt in 1 2 3 4 5; do
    p=${port:-$(free_port)}
    cat >"$dir/nats.conf" <<CONF
listen: $host:$p
server_name: x64t-nats-$p
jetstream {
  store_dir: "$dir/jetstream"
  max_memory_store: 256MB
  max_file_store: 4GB
}
max_payload: 1MB
CONF
    if [[ -n $cluster_name ]]; then
      [[ -n $cluster_port && -n $routes ]] || { echo "--cluster-name needs --cluster-port and --routes" >&2; exit 2; }
      route_list=''
      for r in ${routes//,/ }; do route_list+="    \"nats-route://$r\"\n"; done
      printf 'cluster {\n  name: %s\n  listen: %s:%s\n  routes: [\n%b  ]\n}\n' \
        "$cluster_name" "$host" "$cluster_port" "$route_list" >>"$dir/nats.conf"
    fi
    : >"$dir/nats.log"
    "$bin" -c "$dir/nats.conf" -l "$dir/nats.log" </dev/null >/dev/null 2>&1 &
    pid=$!
    for ((i = 0; i < 100; i++)); do
      grep -q 'Server is ready' "$dir/nats.log" 2>/dev/null && break
      alive "$pid" || break
      sleep 0.1
    done
    if alive "$pid" && grep -q 'Server is ready' "$dir/nats.log"; then
      disown "$pid" 2>/dev/null || true
      watch_owner "$owner" "$pid" "$dir"
      echo "url=nats://$host:$p"
      echo "pid=$pid"
      echo "dir=$dir"
      echo "port=$p"
      exit 0
    fi
    stop_pid "$pid" || true
    [[ -z $port ]] || break # a fixed port that failed will fail again
  done
  echo "nats-server did not start; its log:" >&2
  tail -20 "$dir/nats.log" >&2 || true
  exit 1
  ;;
stop)
  [[ $# -ge 1 ]] || usage_common
  stop_pid "$1"
  if [[ -n ${2:-} && $2 == /tmp/x64t-nats.* ]]; then rm -rf "$2"; fi
  ;;
*) usage_common ;;
esac
