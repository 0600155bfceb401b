#!/usr/bin/env bash
# cluster-lab.sh - the xlat64 cluster lab, deployed the way an exchange would run it: three PLAT nodes,
# each in its own network namespace running `xlat64 plat --state nats://…,redis://…` and a local BIRD 2
# that announces what the node serves (PREF64 and the IPv4 pool) over eBGP, with BFD, to a router
# namespace that installs the routes as equal-cost multipath. A 3-server NATS JetStream cluster and
# Redis run in the router namespace on the lab's service address; many subscribers in a client
# namespace; an IPv4-only server. Documentation prefixes only. See infra/lab/README.md.
#
#                                       PREFIX-router  (AS 65000, BIRD: BGP + BFD, ECMP into the kernel)
#  PREFIX-client ---- rc 2001:db8:1::1    lo 192.0.2.254: NATS x3 (JetStream cluster), Redis
#   c0 2001:db8:1::2  rs 198.51.100.1 ----------------------------- PREFIX-server s0 198.51.100.2 (IPv4 only)
#   lo subscribers    r1 / r2 / r3
#   2001:db8:2:X00::1  |    |    |     eBGP + BFD per node, IPv6 and IPv4 sessions
#                     u0   u0   u0
#                 PREFIX-n1 -n2 -n3   (AS 65010 each) xlat64 plat (TUN plat64) + BIRD: announces
#                                      64:ff9b::/96 and 203.0.113.0/24 while the PLAT routes them into plat64
#
# Usage: cluster-lab.sh up|down|status   (as root)
#   X64_LAB_PREFIX=x64c (namespaces PREFIX-router, -n1, -n2, -n3, -client, -server)
#   X64_LAB_RUN=/tmp/x64c-lab (state directory: configs, logs, PID files, sockets, cluster.json)
#   X64_CLUSTER_SUBSCRIBERS=16 (subscriber addresses in the client namespace, 1..255)
#   X64_CLUSTER_DETECTION_MS=1000 (the PLATs' state.detectionMs)
#   X64_LAB_OWNER_PID (tests: the PID that owns the namespaces and servers; they go when it exits)
#   XLAT64_BIN (default: node bin/xlat64.mjs of this repository)
#   X64_LAB_KEEP=1 leaves a lab whose `up` failed in place, to read its logs (then `down`)
set -euo pipefail
trap 'echo "cluster-lab.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PREFIX=${X64_LAB_PREFIX:-x64c}
RUN=${X64_LAB_RUN:-/tmp/x64c-lab}
SUBSCRIBERS=${X64_CLUSTER_SUBSCRIBERS:-16}
DETECTION_MS=${X64_CLUSTER_DETECTION_MS:-1000}
# X64_CLUSTER_FABRIC=1: the nodes run `cluster:` (ownership table, GENEVE fabric between their uplinks):
# every node announces the PREF64 and the pool, the router spreads flows over all three (ECMP), and a
# node forwards what another owns. Unset: `state` only (one node serves, two are hot standbys).
FABRIC=${X64_CLUSTER_FABRIC:-}
NODES=(1 2 3)
NS_R=$PREFIX-router NS_C=$PREFIX-client NS_S=$PREFIX-server
ALL_NS="$NS_R $NS_C $NS_S $PREFIX-n1 $PREFIX-n2 $PREFIX-n3"

WKP=64:ff9b::/96 POOL4=203.0.113.0/24
C6=2001:db8:1::2 RC6=2001:db8:1::1     # client <-> router
SUB_PREFIX=2001:db8:2::/48             # subscribers, one /56 each: 2001:db8:2:<i>00::1
RS4=198.51.100.1 S4=198.51.100.2       # router <-> server (IPv4 only)
SVC4=192.0.2.254                       # the router's service address: NATS and Redis listen here
ROUTER_AS=65000 NODE_AS=65010
NATS_PORTS=(4222 4223 4224) NATS_CLUSTER_PORTS=(6222 6223 6224) REDIS_PORT=6379
# BFD: 100 ms intervals, down after 5 missed packets (500 ms): sub-second, and a loaded machine that
# delays BIRD's BFD thread by a few hundred milliseconds does not flap the sessions.
BFD_INTERVAL_MS=100 BFD_MULTIPLIER=5
PLAT_DEV=plat64
XLAT64_BIN=${XLAT64_BIN:-"$(command -v node) $REPO/bin/xlat64.mjs"}
SERVICES=$REPO/infra/services

node_v6() { echo "2001:db8:10:$1::2"; }   # node i's uplink u0
router_v6() { echo "2001:db8:10:$1::1"; } # the router's r<i>
node_v4() { echo "192.0.2.$((4 * $1 + 2))"; }
router_v4() { echo "192.0.2.$((4 * $1 + 1))"; }
subscriber() { printf '2001:db8:2:%x00::1' "$1"; }

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
log() { printf '[%(%H:%M:%S)T] cluster-lab: %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
pidof_file() { [[ -s $1 ]] && tr -dc 0-9 <"$1"; }

# The process PID is the one pid file F recorded: it started before F was last written. A recorded
# process that exited may have its PID recycled by another run's process (pid_max may be 32768, a test
# run starts thousands): that one started later and is left alone.
recorded() {
  local pid=$1 f=$2 stat btime ticks fields
  stat=$(cat "/proc/$pid/stat" 2>/dev/null) || return 1
  read -r -a fields <<<"${stat##*) }"
  btime=$(awk '/^btime/ { print $2 }' /proc/stat)
  ticks=$(getconf CLK_TCK)
  ((btime + fields[19] / ticks <= $(stat -c %Y "$f" 2>/dev/null || echo 0) + 1))
}

kill_pidfile() { # stop the process recorded in a pid file (only processes this lab started)
  local f=$1 pid
  pid=$(pidof_file "$f" || true)
  if [[ -n $pid ]] && alive "$pid" && recorded "$pid" "$f"; then
    kill -CONT "$pid" 2>/dev/null || true # a test may have frozen it (a hung node)
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 100); do alive "$pid" || break; sleep 0.05; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

is_up() {
  [[ -s $RUN/cluster.json ]] || return 1
  local ns f pid
  for ns in $ALL_NS; do [[ -e /run/netns/$ns ]] || return 1; done
  for f in "$RUN"/*.pid; do
    [[ -e $f ]] || continue
    pid=$(pidof_file "$f" || true)
    [[ -n $pid ]] && alive "$pid" || return 1
  done
}

down() {
  local f ns left
  # PLATs first (a graceful stop withdraws their routes), then BIRDs and servers.
  for f in "$RUN"/n?.pid; do [[ -e $f ]] && kill_pidfile "$f"; done
  for f in "$RUN"/*.pid; do [[ -e $f ]] && kill_pidfile "$f"; done
  for ns in $ALL_NS; do
    [[ -e /run/netns/$ns ]] || continue
    # The servers' owner watchers (infra/services/common.sh) notice within a second that theirs is gone.
    for _ in $(seq 40); do [[ -z $(ip netns pids "$ns" 2>/dev/null) ]] && break; sleep 0.1; done
    left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [[ -n $left ]] && log "warning: processes not started by the lab still run in $ns (PIDs $left); not killing them"
    ip netns del "$ns" || true
  done
  for ns in $ALL_NS; do rm -f "/run/x64t-owners/$ns"; done
  [[ -d $RUN ]] && rm -rf "$RUN"
  log "down"
}

ns_base() {
  local ns=$1
  # Test runs record who owns their namespaces before creating them (infra/lab/global-teardown.ts).
  if [[ -n ${X64_LAB_OWNER_PID:-} ]]; then
    mkdir -p /run/x64t-owners && echo "$X64_LAB_OWNER_PID" >"/run/x64t-owners/$ns"
  fi
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

start_bg() { # ns name cmd...: start a process inside ns in its own session, record its PID
  local ns=$1 name=$2; shift 2
  setsid ip netns exec "$ns" "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

start_server() { # kind name args...: infra/services/<kind>-server.sh inside the router namespace
  local kind=$1 name=$2 out pid url; shift 2
  local owner=()
  [[ -n ${X64_LAB_OWNER_PID:-} ]] && owner=(--owner "$X64_LAB_OWNER_PID")
  mkdir -p "$RUN/$name"
  out=$(nsx "$NS_R" bash "$SERVICES/$kind-server.sh" start --host "$SVC4" --dir "$RUN/$name" "${owner[@]}" "$@") ||
    die "$kind-server ($name) did not start"
  pid=$(sed -n 's/^pid=//p' <<<"$out")
  url=$(sed -n 's/^url=//p' <<<"$out")
  echo "$pid" >"$RUN/$name.pid"
  echo "$url" >"$RUN/$name.url"
}

bird_node_conf() { # i
  local i=$1
  cat <<EOF
# written by infra/lab/cluster-lab.sh: node $i announces what its PLAT serves
log "$RUN/n$i-bird.log" all;
timeformat log "%F %T.%3f";
timeformat protocol iso long;
router id $(node_v4 "$i");
protocol device { scan time 5; }
# The PLAT adds 64:ff9b::/96 and the pool into its TUN while every worker serves its shard and removes
# them when a shard is fenced, on a graceful stop, or when the process dies (the TUN goes with it):
# BIRD learns those kernel routes and exports exactly them.
protocol kernel kernel6 { ipv6 { import all; export none; }; learn; scan time 2; }
protocol kernel kernel4 { ipv4 { import all; export none; }; learn; scan time 2; }
protocol bfd {
  interface "u0" { min rx interval $BFD_INTERVAL_MS ms; min tx interval $BFD_INTERVAL_MS ms; multiplier $BFD_MULTIPLIER; };
}
filter served6 { if ifname = "$PLAT_DEV" && net = $WKP then accept; reject; }
filter served4 { if ifname = "$PLAT_DEV" && net ~ [ $POOL4+ ] then accept; reject; }
template bgp uplink {
  local as $NODE_AS; bfd on; graceful restart off;
  connect delay time 1; connect retry time 2; error wait time 1, 4;
}
protocol bgp up6 from uplink {
  local $(node_v6 "$i"); neighbor $(router_v6 "$i") as $ROUTER_AS;
  ipv6 { import none; export filter served6; };
}
protocol bgp up4 from uplink {
  local $(node_v4 "$i"); neighbor $(router_v4 "$i") as $ROUTER_AS;
  ipv4 { import none; export filter served4; };
}
EOF
}

bird_router_conf() {
  local i
  cat <<EOF
# written by infra/lab/cluster-lab.sh: the exchange's router, ECMP over the nodes that announce
log "$RUN/router-bird.log" all;
timeformat log "%F %T.%3f";
timeformat protocol iso long;
router id $SVC4;
protocol device { scan time 5; }
protocol kernel kernel6 { ipv6 { import none; export all; }; merge paths yes; }
protocol kernel kernel4 { ipv4 { import none; export all; }; merge paths yes; }
protocol bfd {
  interface "r*" { min rx interval $BFD_INTERVAL_MS ms; min tx interval $BFD_INTERVAL_MS ms; multiplier $BFD_MULTIPLIER; };
}
template bgp node {
  local as $ROUTER_AS; bfd on; graceful restart off;
  connect delay time 1; connect retry time 2; error wait time 1, 4;
}
EOF
  for i in "${NODES[@]}"; do
    cat <<EOF
protocol bgp n${i}v6 from node {
  local $(router_v6 "$i"); neighbor $(node_v6 "$i") as $NODE_AS;
  ipv6 { import where net = $WKP; export none; };
}
protocol bgp n${i}v4 from node {
  local $(router_v4 "$i"); neighbor $(node_v4 "$i") as $NODE_AS;
  ipv4 { import where net ~ [ $POOL4+ ]; export none; };
}
EOF
  done
}

plat_conf() { # i
  local i=$1 nats
  nats=$(cat "$RUN"/nats?.url | paste -sd, -)
  cat <<EOF
# written by infra/lab/cluster-lab.sh (node $i)
device: $PLAT_DEV
prefix: $WKP
allowNonGlobalIpv4: true
pool4: [$POOL4]
queues: 1
statusSocket: $RUN/n$i.sock
stateDir: $RUN/n$i-state
state:
  nats: $nats
  redis: $(cat "$RUN/redis.url")
  nodeId: $PREFIX-n$i
  detectionMs: $DETECTION_MS
EOF
  if [[ -n $FABRIC ]]; then
    cat <<EOF
cluster:
  nodeId: $PREFIX-n$i
  detectionMs: $DETECTION_MS
  fabric:
    address: $(node_v4 "$i")
    mac: blake2s
    keys: [{ id: 1, secretHex: $(cat "$RUN/fabric.key") }]
EOF
  fi
}

plat_argv() { # i: the command that starts node i's PLAT, one word per line
  local i=$1
  printf '%s\n' ip netns exec "$PREFIX-n$i" $XLAT64_BIN plat --config "$RUN/n$i.yaml"
}

start_plat() { # i
  local i=$1
  mapfile -t argv < <(plat_argv "$i")
  setsid "${argv[@]}" >>"$RUN/n$i.log" 2>&1 </dev/null &
  echo $! >"$RUN/n$i.pid"
}

plat_status() { # i: the PLAT's counters as JSON, or nothing
  $XLAT64_BIN status --socket "$RUN/n$i.sock" --json 2>/dev/null | jq -c '.counters' 2>/dev/null || true
}

wait_plat() { # i what jq-condition
  local i=$1 what=$2 cond=$3 pid
  pid=$(pidof_file "$RUN/n$i.pid")
  for _ in $(seq 300); do
    [[ $(plat_status "$i" | jq -r "$cond" 2>/dev/null) == true ]] && return 0
    alive "$pid" || die "the PLAT of node $i exited; its log ($RUN/n$i.log):
$(tail -20 "$RUN/n$i.log")"
    sleep 0.1
  done
  die "node $i: $what not within 30 s; its log ($RUN/n$i.log):
$(tail -20 "$RUN/n$i.log")"
}

write_cluster_json() {
  local i nodes='[]' subs=() argv
  for i in "${NODES[@]}"; do
    argv=$(plat_argv "$i" | jq -R . | jq -sc .)
    nodes=$(jq -c --arg id "n$i" --arg ns "$PREFIX-n$i" --arg pid "$RUN/n$i.pid" --arg sock "$RUN/n$i.sock" \
      --arg bird "$RUN/n$i-bird.ctl" --arg v6 "$(node_v6 "$i")" --arg v4 "$(node_v4 "$i")" --argjson argv "$argv" \
      '. + [{id: $id, netns: $ns, pidFile: $pid, statusSocket: $sock, command: $argv,
             birdSocket: $bird, uplink: {ipv6: $v6, ipv4: $v4}}]' <<<"$nodes")
  done
  for i in $(seq "$SUBSCRIBERS"); do subs+=("$(subscriber "$i")"); done
  jq -n --argjson nodes "$nodes" --arg cns "$NS_C" --argjson subs "$(printf '%s\n' "${subs[@]}" | jq -R . | jq -sc .)" \
    --arg sns "$NS_S" --arg s4 "$S4" --arg s6 "64:ff9b::c633:6402" \
    --arg rns "$NS_R" --arg rbird "$RUN/router-bird.ctl" \
    --argjson nats "$(for n in 1 2 3; do jq -n --arg url "$(cat "$RUN/nats$n.url")" --arg pid "$RUN/nats$n.pid" '{url: $url, pidFile: $pid}'; done | jq -sc .)" \
    --arg rurl "$(cat "$RUN/redis.url")" --arg rpid "$RUN/redis.pid" \
    --arg pref64 "$WKP" --arg pool "$POOL4" \
    --arg mode "$([[ -n $FABRIC ]] && echo fabric || echo state)" \
    '{format: 1, mode: $mode, nodes: $nodes, client: {netns: $cns, subscribers: $subs},
      server: {netns: $sns, ipv4: $s4, ipv6: $s6},
      router: {netns: $rns, birdSocket: $rbird},
      nats: $nats, redis: {url: $rurl, pidFile: $rpid},
      pref64: $pref64, pool4: [$pool]}' >"$RUN/cluster.json.tmp"
  mv "$RUN/cluster.json.tmp" "$RUN/cluster.json"
}

router_routes() { # the router's routes to the PREF64 and the pool
  ip -n "$NS_R" -6 route show "$WKP" 2>/dev/null || true
  ip -n "$NS_R" -4 route show "$POOL4" 2>/dev/null || true
}

up() {
  [[ $(id -u) -eq 0 ]] || die "run as root (network namespaces and TUN devices need CAP_NET_ADMIN)"
  if is_up; then
    log "already up; state in $RUN"
    return 0
  fi
  bash "$REPO/infra/scripts/ensure-system-deps.sh" all
  [[ -f $REPO/dist/services/cli/src/main.js || $XLAT64_BIN != *bin/xlat64.mjs* ]] ||
    log "warning: no dist/ build; bin/xlat64.mjs may need 'npm run build' first"
  down 2>/dev/null || true
  mkdir -p "$RUN"
  trap 'log "up failed at line $LINENO: $BASH_COMMAND"' ERR
  trap 'if [[ ! -s $RUN/cluster.json && -z ${X64_LAB_KEEP:-} ]]; then log "up failed; tearing down"; down >/dev/null 2>&1 || true; fi' EXIT

  local i
  for ns in $ALL_NS; do ns_base "$ns"; done
  nsx "$NS_R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
    net.ipv4.fib_multipath_hash_policy=1 net.ipv6.fib_multipath_hash_policy=1
  nsx "$NS_S" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

  # Distinct ifindexes on both ends of each veth (the first neighbour solicitation is lost otherwise).
  ip -n "$NS_C" link add c0 index 10 type veth peer name rc index 11 netns "$NS_R"
  ip -n "$NS_R" link add rs index 12 type veth peer name s0 index 13 netns "$NS_S"
  for i in "${NODES[@]}"; do
    ip -n "$NS_R" link add "r$i" index $((20 + i)) type veth peer name u0 index $((30 + i)) netns "$PREFIX-n$i"
  done

  ip -n "$NS_R" addr add "$SVC4/32" dev lo
  ip -n "$NS_R" -6 addr add "$RC6/64" dev rc nodad
  ip -n "$NS_R" addr add "$RS4/24" dev rs
  ip -n "$NS_R" link set rc up
  ip -n "$NS_R" link set rs up
  ip -n "$NS_R" -6 route add "$SUB_PREFIX" via "$C6" dev rc

  ip -n "$NS_C" -6 addr add "$C6/64" dev c0 nodad
  ip -n "$NS_C" link set c0 up
  ip -n "$NS_C" -6 route add default via "$RC6" dev c0
  for i in $(seq "$SUBSCRIBERS"); do ip -n "$NS_C" -6 addr add "$(subscriber "$i")/128" dev lo nodad; done

  ip -n "$NS_S" addr add "$S4/24" dev s0
  ip -n "$NS_S" link set s0 up
  ip -n "$NS_S" route add default via "$RS4" dev s0

  for i in "${NODES[@]}"; do
    local ns=$PREFIX-n$i
    ip -n "$NS_R" -6 addr add "$(router_v6 "$i")/64" dev "r$i" nodad
    ip -n "$NS_R" addr add "$(router_v4 "$i")/30" dev "r$i"
    ip -n "$NS_R" link set "r$i" up
    ip -n "$ns" -6 addr add "$(node_v6 "$i")/64" dev u0 nodad
    ip -n "$ns" addr add "$(node_v4 "$i")/30" dev u0
    ip -n "$ns" link set u0 up
    ip -n "$ns" -6 route add default via "$(router_v6 "$i")" dev u0
    ip -n "$ns" route add default via "$(router_v4 "$i")" dev u0
  done

  # State services in the router namespace, on the service address (a fresh namespace: these ports are
  # free by construction), each in its own directory under the run directory.
  local routes
  for n in 1 2 3; do
    routes=$(for m in 1 2 3; do if [[ $m != "$n" ]]; then echo "$SVC4:${NATS_CLUSTER_PORTS[$((m - 1))]}"; fi; done | paste -sd, -)
    start_server nats "nats$n" --port "${NATS_PORTS[$((n - 1))]}" --cluster-name "$PREFIX" \
      --cluster-port "${NATS_CLUSTER_PORTS[$((n - 1))]}" --routes "$routes"
  done
  start_server redis redis --port "$REDIS_PORT"
  # The PLATs create their streams and KV buckets at start: wait for the JetStream meta leader.
  for _ in $(seq 300); do
    grep -qs 'metadata leader' "$RUN"/nats?/nats.log && break
    sleep 0.1
  done
  grep -qs 'metadata leader' "$RUN"/nats?/nats.log || die "the NATS cluster elected no JetStream leader in 30 s; logs in $RUN/nats?/nats.log"

  # BIRD: the router first, so the nodes' first connection attempts find it.
  bird_router_conf >"$RUN/router-bird.conf"
  nsx "$NS_R" bird -c "$RUN/router-bird.conf" -s "$RUN/router-bird.ctl" -P "$RUN/router-bird.pid"
  for i in "${NODES[@]}"; do
    bird_node_conf "$i" >"$RUN/n$i-bird.conf"
    nsx "$PREFIX-n$i" bird -c "$RUN/n$i-bird.conf" -s "$RUN/n$i-bird.ctl" -P "$RUN/n$i-bird.pid"
  done

  [[ -z $FABRIC ]] || od -An -tx1 -N32 /dev/urandom | tr -d ' \n' >"$RUN/fabric.key"
  for i in "${NODES[@]}"; do plat_conf "$i" >"$RUN/n$i.yaml"; done
  log "state services up; starting BIRD and the PLATs"
  if [[ -z $FABRIC ]]; then
    # PLATs: node 1 first, so it owns the shard; the others follow it as hot standbys.
    start_plat 1
    wait_plat 1 "serving" '.["state.serving"] == 1'
    for i in 2 3; do
      start_plat "$i"
      wait_plat "$i" "answering as a standby" '(.["state.serving"] // 0) == 0'
    done
  else
    # The ownership table decides the owner; every node routes and announces from the start.
    for i in "${NODES[@]}"; do start_plat "$i"; done
    for i in "${NODES[@]}"; do
      wait_plat "$i" "a table of its cluster" '(.["fabric.tableVersion"] // 0) >= 1'
    done
    local served=0
    for _ in $(seq 600); do
      served=$(for i in "${NODES[@]}"; do plat_status "$i"; done | jq -s 'map(.["state.serving"] // 0) | add')
      [[ $served == 1 ]] && break
      sleep 0.1
    done
    [[ $served == 1 ]] || die "no node took the shard within 60 s"
  fi

  # The router has every BGP session up and a route for what node 1 announces.
  for _ in $(seq 300); do
    [[ $(nsx "$NS_R" birdc -s "$RUN/router-bird.ctl" show protocols | grep -c 'Established') -ge 6 ]] &&
      [[ $(router_routes | grep -c "proto bird") -ge 2 ]] && break
    sleep 0.1
  done
  [[ $(nsx "$NS_R" birdc -s "$RUN/router-bird.ctl" show protocols | grep -c 'Established') -ge 6 ]] ||
    die "BGP sessions not established in 30 s: $(nsx "$NS_R" birdc -s "$RUN/router-bird.ctl" show protocols)"
  [[ $(router_routes | grep -c "proto bird") -ge 2 ]] || die "the router learned no route to $WKP and $POOL4 in 30 s"

  nsx "$NS_S" bash -c ':' # the server namespace exists for the suites' and drills' own servers
  write_cluster_json
  trap - EXIT
  log "up; $RUN/cluster.json describes the lab"
}

status() {
  local f pid ns
  for ns in $ALL_NS; do
    if [[ -e /run/netns/$ns ]]; then echo "namespace $ns: present"; else echo "namespace $ns: absent"; fi
  done
  for f in "$RUN"/*.pid; do
    [[ -e $f ]] || continue
    pid=$(pidof_file "$f" || true)
    if [[ -n $pid ]] && alive "$pid"; then echo "$(basename "$f" .pid): pid $pid running"
    else echo "$(basename "$f" .pid): pid ${pid:-?} NOT running"; fi
  done
  for i in "${NODES[@]}"; do
    echo "node n$i: $(plat_status "$i" | jq -c '{serving: .["state.serving"], epoch: .["state.epoch"], takeovers: .["state.takeovers"]}' 2>/dev/null || echo 'no status')"
  done
  if [[ -S $RUN/router-bird.ctl ]]; then
    echo "router BGP/BFD:"
    nsx "$NS_R" birdc -s "$RUN/router-bird.ctl" show protocols | sed 's/^/  /'
    nsx "$NS_R" birdc -s "$RUN/router-bird.ctl" show bfd sessions | sed 's/^/  /'
    echo "router routes:"
    router_routes | sed 's/^/  /'
  fi
  if is_up; then echo "state: up"; else echo "state: down"; fi
}

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
*)
  echo "usage: $0 up|down|status   (env: X64_LAB_PREFIX, X64_LAB_RUN, X64_CLUSTER_SUBSCRIBERS, X64_CLUSTER_FABRIC=1)" >&2
  exit 2
  ;;
esac
