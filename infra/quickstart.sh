#!/usr/bin/env bash
# `sudo npm start`: brings up the namespace lab with xlat64 as both CLAT and PLAT, shows IPv4
# reaching an IPv4-only server from an IPv6-only client through 464XLAT, and says how to look
# around and how to take it down (`sudo npm stop`). `sudo npm start -- --cluster` brings up the cluster
# lab instead (infra/lab/cluster-lab.sh: three PLAT nodes, BGP/BFD router, NATS and Redis).
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ $(id -u) != 0 ]]; then
  echo "xlat64 quick start needs root (network namespaces, TUN devices): run 'sudo npm start'" >&2
  exit 1
fi
[[ -f dist/services/cli/src/main.js ]] || npm run build

if [[ ${1:-} == --cluster ]]; then
  # The cluster lab: three PLAT nodes announcing over BGP (BIRD, BFD) to an ECMP router, NATS + Redis.
  prefix=${X64_LAB_PREFIX:-x64c}
  run=${X64_LAB_RUN:-/tmp/x64c-lab}
  bash infra/lab/cluster-lab.sh up
  echo
  echo "== The router ($prefix-router) routes 64:ff9b::/96 and the pool to the serving node, learned over BGP."
  bash infra/lab/cluster-lab.sh status
  subscriber=$(jq -r '.client.subscribers[0]' "$run/cluster.json")
  echo
  echo "== A subscriber ($subscriber) reaches the IPv4-only server through the cluster."
  ip netns exec "$prefix-server" bash -c 'exec python3 -m http.server 8000 --bind 0.0.0.0 >/dev/null 2>&1 & echo $! >'"$run/http.pid"
  for _ in $(seq 50); do ip netns exec "$prefix-server" ss -ltnH 'sport = :8000' | grep -q . && break; sleep 0.1; done
  printf '\n$ ip netns exec %s ping -6 -c 3 -I %s 64:ff9b::198.51.100.2\n' "$prefix-client" "$subscriber"
  ip netns exec "$prefix-client" ping -6 -c 3 -i 0.2 -I "$subscriber" 64:ff9b::198.51.100.2
  cat <<EOF2

== Look around
  cat $run/cluster.json   # the lab, for xlat64 drill and scripts
  sudo bash infra/lab/cluster-lab.sh status   # nodes, BGP/BFD sessions, router routes
  sudo ip netns exec $prefix-router birdc -s $run/router-bird.ctl show route all
  node bin/xlat64.mjs status --socket $run/n1.sock   # a node's counters (state.serving, epoch)
  sudo kill -9 \$(cat $run/n1.pid)   # a failure: the standby takes over
  sudo ip netns exec $prefix-router node bin/xlat64.mjs drill --target $run/cluster.json --node serving --fault kill   # the failover drill
  logs: $run/n1.log $run/n1-bird.log $run/router-bird.log $run/nats1/nats.log

== Take it down
  sudo npm stop -- --cluster
EOF2
  exit 0
fi
export PLAT=${PLAT:-xlat64} CLAT=${CLAT:-xlat64}
prefix=${X64_LAB_PREFIX:-x64}
run=${X64_LAB_RUN:-/tmp/x64-lab}
bash infra/lab/lab.sh up

show() {
  printf '\n$ %s\n' "$*"
  "$@"
}
echo
echo "== 464XLAT: the client ($prefix-client) has no IPv4 address but the CLAT's 192.0.0.1 and no IPv4 route but the CLAT."
show ip netns exec "$prefix-client" ping -c 3 -i 0.2 198.51.100.2
show ip netns exec "$prefix-client" curl -sS --max-time 5 http://198.51.100.2:8000/
echo
echo "== NAT64 alone: IPv6 straight to 64:ff9b::198.51.100.2 through the PLAT."
show ip netns exec "$prefix-client" ping -6 -c 3 -i 0.2 64:ff9b::198.51.100.2
show ip netns exec "$prefix-client" curl -sS --max-time 5 -g 'http://[64:ff9b::198.51.100.2]:8000/'
cat <<EOF2

== Look around
  node bin/xlat64.mjs status --socket $run/xlat64-plat.sock     # PLAT counters, sessions, drops
  node bin/xlat64.mjs status --socket $run/xlat64-clat.sock     # CLAT counters
  sudo ip netns exec $prefix-client bash                         # a shell on the IPv6-only client
  sudo ip netns exec $prefix-client iperf3 -c 198.51.100.2      # throughput through CLAT + PLAT
  sudo bash infra/lab/lab.sh status                             # what the lab runs
  logs: $run/xlat64-plat.log $run/xlat64-clat.log

== Take it down
  sudo npm stop
EOF2
