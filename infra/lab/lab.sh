#!/usr/bin/env bash
# lab.sh - the xlat64 464XLAT lab in network namespaces: an IPv6-only client (optionally behind a CLAT),
# a PLAT node doing stateful NAT64, and an IPv4-only server (HTTP + iperf3). The translators are
# pluggable: TAYGA (+ nft) today, the xlat64 `plat` / `clat` commands when they exist. Documentation
# prefixes only (RFC 3849, RFC 5737, RFC 6052 WKP). See infra/lab/README.md for the contract.
#
#  x64-client (IPv6-only)         x64-plat                                   x64-server (IPv4-only)
#  c0 2001:db8:1::2/64 ---------- p0 2001:db8:1::1/64
#  clat46 (CLAT TUN) 192.0.0.1    p1 198.51.100.1/24 ----------------------- s0 198.51.100.2/24
#    <-> 2001:db8:1:464::1        plat64 (PLAT TUN): 64:ff9b::/96 -> pool 203.0.113.0/24
#                                                                             http :8000, iperf3 :5201
# Usage: lab.sh up|down|status|verify     (as root)
#   PLAT=tayga|xlat64 (default tayga)   CLAT=tayga|xlat64|none (default tayga)
#   PLAT_IO=tun|xdp (xlat64 PLAT only, default tun): with xdp the PLAT attaches AF_XDP to p0 (IPv6 side)
#     and p1 (IPv4 side) instead of a TUN device; the lab's veths then have X64_LAB_XDP_QUEUES queues
#     each (default 1: one AF_XDP socket per queue, as many as the PLAT's --queues) and the
#     client's and server's ends compute checksums in software (AF_XDP sees frames as sent)
#   XLAT64_PLAT_CMD / XLAT64_CLAT_CMD   command lines run inside x64-plat / x64-client (defaults below)
#   X64_LAB_PREFIX=x64 (namespace names PREFIX-client/-plat/-server)  X64_LAB_RUN=/tmp/x64-lab (state dir)
#   OFFLOAD=0 turns TSO/GSO/GRO off on the veths (per-packet kernel baseline; needs ethtool)
#
# Lessons carried over from /work/shared/lab/tayga-baseline.sh:
# - the two ends of a veth get distinct ifindexes (both get 2 in fresh namespaces otherwise, and the
#   first neighbour solicitation is lost: the first packet takes ~1 s);
# - accept_dad=0, accept_ra=0, rp_filter=0 in each namespace BEFORE creating veths;
# - 'ip netns del' does not end processes inside: kill the ones we started, by PID, first;
# - TAYGA refuses RFC 5737 addresses embedded in 64:ff9b::/96, so with TAYGA the WKP is mapped by nft
#   onto TAYGA's network-specific prefix 2001:db8:64::/96.
set -euo pipefail
trap 'echo "lab.sh: failed at line $LINENO: $BASH_COMMAND" >&2' ERR

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
PREFIX=${X64_LAB_PREFIX:-x64}
RUN=${X64_LAB_RUN:-/tmp/x64-lab}
NS_C=$PREFIX-client NS_P=$PREFIX-plat NS_S=$PREFIX-server
ALL_NS="$NS_C $NS_P $NS_S"

C6=2001:db8:1::2 P6=2001:db8:1::1      # client <-> plat, IPv6-only link
P4=198.51.100.1 S4=198.51.100.2        # plat <-> server, IPv4-only link
WKP=64:ff9b::/96                       # PREF64 the clients use (RFC 6052 well-known prefix)
POOL4=203.0.113.0/24                   # NAT64 pool: the server sees clients as 203.0.113.x
PLAT_DEV=plat64 CLAT_DEV=clat46        # TUN device names, whichever translator runs
CLAT_PFX=2001:db8:1:464::/64           # routed by the plat to the client (think DHCPv6-PD)
CLAT_V6=2001:db8:1:464::1              # the CLAT's dedicated IPv6 address (RFC 6877 sec. 6.3)
CLAT_V4=192.0.0.1                      # RFC 7335
CLAT_V4_MTU=1480                       # IPv4 route MTU = IPv6 path MTU (1500 on the veths) - 20
# TAYGA only:
NSP=2001:db8:64::/96                   # TAYGA's network-specific prefix (it refuses doc IPv4 in the WKP)
TAYGA_POOL=192.0.2.0/24 TAYGA_V4=192.0.2.1 TAYGA_V6=2001:db8:ff::1
CLAT_TAYGA_V4=192.0.0.2 CLAT_TAYGA_V6=2001:db8:1:464::2
HTTP_PORT=8000 IPERF_PORT=5201
SERVER_HELLO="hello from x64-server (IPv4-only) via NAT64"

PLAT=${PLAT:-tayga}
PLAT_IO=${PLAT_IO:-tun}
CLAT=${CLAT:-tayga}
XLAT64_BIN=${XLAT64_BIN:-"$(command -v node) $REPO/bin/xlat64.mjs"}
XLAT64_PLAT_CMD_GIVEN=${XLAT64_PLAT_CMD:+1}
XLAT64_PLAT_CMD=${XLAT64_PLAT_CMD:-"$XLAT64_BIN plat --config $RUN/xlat64-plat.yaml"}
XLAT64_CLAT_CMD_GIVEN=${XLAT64_CLAT_CMD:+1}
XLAT64_CLAT_CMD=${XLAT64_CLAT_CMD:-"$XLAT64_BIN clat --config $RUN/xlat64-clat.yaml"}
PY=/usr/bin/python3

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
log() { printf '[%(%H:%M:%S)T] lab: %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
alive() { [[ -r /proc/$1/stat ]] && [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) != Z ]]; }
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
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 60); do alive "$pid" || break; sleep 0.05; done
    alive "$pid" && kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$f"
}

XDP_QUEUES=${X64_LAB_XDP_QUEUES:-1}
config_line() { echo "PLAT=$PLAT PLAT_IO=$PLAT_IO XDP_QUEUES=$XDP_QUEUES CLAT=$CLAT OFFLOAD=${OFFLOAD:-1} PREFIX=$PREFIX"; }

is_up() { # namespaces exist, same configuration, every recorded process alive
  [[ -s $RUN/config && $(cat "$RUN/config") == "$(config_line)" ]] || return 1
  local ns f pid
  for ns in $ALL_NS; do [[ -e /run/netns/$ns ]] || return 1; done
  for f in "$RUN"/*.pid; do
    [[ -e $f ]] || continue
    pid=$(pidof_file "$f" || true)
    [[ -n $pid ]] && alive "$pid" && recorded "$pid" "$f" || return 1
  done
}

down() {
  local f ns left
  for f in "$RUN"/*.pid; do [[ -e $f ]] && kill_pidfile "$f"; done
  for ns in $ALL_NS; do
    [[ -e /run/netns/$ns ]] || continue
    left=$(ip netns pids "$ns" 2>/dev/null | tr '\n' ' ')
    [[ -n $left ]] && log "warning: processes not started by the lab still run in $ns (PIDs $left); not killing them"
    ip netns del "$ns"
  done
  for ns in $ALL_NS; do rm -f "/run/x64t-owners/$ns"; done
  rm -rf "$RUN"
  log "down ($(ip netns list | grep -c "^$PREFIX-\(client\|plat\|server\)\b" || true) lab namespaces left)"
}

ns_base() {
  local ns=$1
  # Test runs record who owns their namespaces (before creating them), so a concurrent run's
  # cleanup leaves them alone (infra/lab/global-teardown.ts).
  if [[ -n ${X64_LAB_OWNER_PID:-} ]]; then
    mkdir -p /run/x64t-owners && echo "$X64_LAB_OWNER_PID" >"/run/x64t-owners/$ns"
  fi
  ip netns add "$ns"
  ip -n "$ns" link set lo up
  nsx "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 net.ipv6.conf.default.accept_dad=0 \
    net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

wait_for_device() { # ns dev pidfile log: wait until a translator created its TUN device
  local ns=$1 dev=$2 pidfile=$3 logfile=$4 pid
  pid=$(pidof_file "$pidfile")
  for _ in $(seq 200); do
    ip -n "$ns" link show "$dev" >/dev/null 2>&1 && return 0
    alive "$pid" || die "translator in $ns exited before creating $dev; its log ($logfile):
$(tail -20 "$logfile" 2>/dev/null)"
    sleep 0.05
  done
  die "translator in $ns did not create $dev within 10 s; log: $logfile"
}

wait_for_log() { # pidfile log text [tries]: wait until a translator logged text (tries x 50 ms, default 20 s)
  local pidfile=$1 logfile=$2 text=$3 tries=${4:-400} pid
  pid=$(pidof_file "$pidfile")
  for _ in $(seq "$tries"); do
    grep -qF -- "$text" "$logfile" 2>/dev/null && return 0
    alive "$pid" || die "translator exited before it was up; its log ($logfile):
$(tail -20 "$logfile" 2>/dev/null)"
    sleep 0.05
  done
  die "translator not up within $((tries / 20)) s; log: $logfile"
}

start_bg() { # ns name cmd...: start a process inside ns, record its PID (ip netns exec execs in place)
  local ns=$1 name=$2; shift 2
  # setsid: the process must not die with the shell that ran `lab.sh up`.
  setsid ip netns exec "$ns" "$@" >"$RUN/$name.log" 2>&1 </dev/null &
  echo $! >"$RUN/$name.pid"
}

write_xlat64_configs() {
  # Proposed schemas; services/clat/src/config.ts already reads the CLAT keys below.
  cat >"$RUN/xlat64-plat.yaml" <<EOF
# written by infra/lab/lab.sh
device: $PLAT_DEV
prefix: $WKP
allowNonGlobalIpv4: true
pool4: [$POOL4]
queues: 1
statusSocket: $RUN/xlat64-plat.sock
stateDir: $RUN/xlat64-state
EOF
  if [[ $PLAT_IO == xdp ]]; then
    printf 'io: xdp\ninterface: p0\ninterface4: p1\n' >>"$RUN/xlat64-plat.yaml"
  fi
  # Tests add settings the lab does not write (bounds, rate limits) as YAML of their own.
  if [[ -n ${XLAT64_PLAT_CONFIG_EXTRA:-} ]]; then
    printf '%s\n' "$XLAT64_PLAT_CONFIG_EXTRA" >>"$RUN/xlat64-plat.yaml"
  fi
  cat >"$RUN/xlat64-clat.yaml" <<EOF
# written by infra/lab/lab.sh
device: $CLAT_DEV
ipv4Address: $CLAT_V4
ipv6Address: $CLAT_V6
prefix: $WKP
allowNonGlobalIpv4: true
ipv6Mtu: 1500
defaultRoute: true
queues: 1
statusSocket: $RUN/xlat64-clat.sock
EOF
  cat >"$RUN/lab.env" <<EOF
NS_CLIENT=$NS_C
NS_PLAT=$NS_P
NS_SERVER=$NS_S
CLIENT_V6=$C6
PLAT_V6=$P6
PLAT_V4=$P4
SERVER_V4=$S4
PREF64=$WKP
POOL4=$POOL4
PLAT_DEVICE=$PLAT_DEV
CLAT_DEVICE=$CLAT_DEV
CLAT_PREFIX=$CLAT_PFX
CLAT_V6=$CLAT_V6
CLAT_V4=$CLAT_V4
HTTP_URL4=http://$S4:$HTTP_PORT/
HTTP_URL6=http://[64:ff9b::c633:6402]:$HTTP_PORT/
IPERF_PORT=$IPERF_PORT
EOF
}

start_plat() {
  case $PLAT in
  tayga)
    mkdir -p "$RUN/tayga-plat"
    cat >"$RUN/tayga-plat.conf" <<EOF
tun-device $PLAT_DEV
ipv4-addr $TAYGA_V4
ipv6-addr $TAYGA_V6
prefix $NSP
dynamic-pool $TAYGA_POOL
data-dir $RUN/tayga-plat
EOF
    nsx "$NS_P" tayga -c "$RUN/tayga-plat.conf" --mktun >/dev/null
    ip -n "$NS_P" link set "$PLAT_DEV" up
    ip -n "$NS_P" route add "$TAYGA_POOL" dev "$PLAT_DEV"
    ip -n "$NS_P" -6 route add "$NSP" dev "$PLAT_DEV"
    ip -n "$NS_P" -6 route add "$TAYGA_V6/128" dev "$PLAT_DEV"
    # TAYGA is stateless: NAT44 from its private pool onto the NAT64 pool makes it stateful, and the
    # WKP is mapped onto TAYGA's prefix because TAYGA refuses documentation IPv4 in 64:ff9b::/96.
    nsx "$NS_P" nft -f - <<EOF
table ip x64lab_nat44 {
  chain postrouting {
    type nat hook postrouting priority srcnat; policy accept;
    ip saddr $TAYGA_POOL oifname "p1" snat to ${POOL4%.0/24}.1-${POOL4%.0/24}.254
  }
}
table ip6 x64lab_wkp {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip6 daddr $WKP dnat ip6 prefix to ip6 daddr map { $WKP : $NSP }
  }
}
EOF
    # TAYGA daemonizes and writes its own pid file.
    nsx "$NS_P" tayga -c "$RUN/tayga-plat.conf" --pidfile "$RUN/tayga-plat.pid"
    ;;
  xlat64)
    start_bg "$NS_P" xlat64-plat $XLAT64_PLAT_CMD
    if [[ $PLAT_IO == xdp ]]; then
      wait_for_log "$RUN/xlat64-plat.pid" "$RUN/xlat64-plat.log" ' up, '
      return 0
    fi
    wait_for_device "$NS_P" "$PLAT_DEV" "$RUN/xlat64-plat.pid" "$RUN/xlat64-plat.log"
    # The device exists before the queue workers run (each builds its engine and opens its store,
    # seconds under load; until then packets wait in the queues and SYNs are retransmitted into them)
    # and before the status socket: with the lab's own command, wait for the PLAT's ' up, ' line (every
    # worker reads its queue) and its status socket, so traffic and a test's first `xlat64 status` start
    # against a working translator. A custom command (a stand-in) is not waited for.
    if [[ -z $XLAT64_PLAT_CMD_GIVEN ]]; then
      wait_for_log "$RUN/xlat64-plat.pid" "$RUN/xlat64-plat.log" ' up, ' 1200
      for _ in $(seq 400); do [[ -S $RUN/xlat64-plat.sock ]] && break; sleep 0.05; done
    fi
    # Make sure of what the lab relies on; a no-op when xlat64 set it up itself.
    ip -n "$NS_P" link set "$PLAT_DEV" up
    ip -n "$NS_P" -6 route replace "$WKP" dev "$PLAT_DEV"
    ip -n "$NS_P" route replace "$POOL4" dev "$PLAT_DEV"
    ;;
  *) die "PLAT must be tayga or xlat64, not '$PLAT'" ;;
  esac
}

start_clat() {
  [[ $CLAT == none ]] && return 0
  nsx "$NS_C" sysctl -qw net.ipv6.conf.all.forwarding=1
  ip -n "$NS_P" -6 route add "$CLAT_PFX" via "$C6" dev p0
  case $CLAT in
  tayga)
    mkdir -p "$RUN/tayga-clat"
    # With a TAYGA PLAT the NSP is routed to it directly; with an xlat64 PLAT (which serves the WKP)
    # the client maps the NSP onto the WKP below.
    cat >"$RUN/tayga-clat.conf" <<EOF
tun-device $CLAT_DEV
ipv4-addr $CLAT_TAYGA_V4
ipv6-addr $CLAT_TAYGA_V6
prefix $NSP
map $CLAT_V4 $CLAT_V6
data-dir $RUN/tayga-clat
EOF
    nsx "$NS_C" tayga -c "$RUN/tayga-clat.conf" --mktun >/dev/null
    ip -n "$NS_C" link set "$CLAT_DEV" up
    ip -n "$NS_C" addr add "$CLAT_V4/32" dev "$CLAT_DEV"
    ip -n "$NS_C" route add default dev "$CLAT_DEV" src "$CLAT_V4" mtu "$CLAT_V4_MTU"
    ip -n "$NS_C" -6 route add "$CLAT_PFX" dev "$CLAT_DEV"
    if [[ $PLAT == xlat64 ]]; then
      nsx "$NS_C" nft -f - <<EOF
table ip6 x64lab_nsp {
  chain prerouting {
    type nat hook prerouting priority dstnat; policy accept;
    ip6 daddr $NSP dnat ip6 prefix to ip6 daddr map { $NSP : $WKP }
  }
}
EOF
    fi
    nsx "$NS_C" tayga -c "$RUN/tayga-clat.conf" --pidfile "$RUN/tayga-clat.pid"
    ;;
  xlat64)
    start_bg "$NS_C" xlat64-clat $XLAT64_CLAT_CMD
    wait_for_device "$NS_C" "$CLAT_DEV" "$RUN/xlat64-clat.pid" "$RUN/xlat64-clat.log"
    # `xlat64 clat` adds its own address and default route before it opens its status socket; wait
    # for the socket so the checks below do not race it (whoever adds the address second fails with
    # "File exists"). A custom command (a stand-in) is not waited for.
    if [[ -z $XLAT64_CLAT_CMD_GIVEN ]]; then
      for _ in $(seq 200); do [[ -S $RUN/xlat64-clat.sock ]] && break; sleep 0.05; done
    fi
    ip -n "$NS_C" link set "$CLAT_DEV" up
    if [[ -z $(ip -n "$NS_C" -4 -o addr show dev "$CLAT_DEV") ]]; then
      ip -n "$NS_C" addr add "$CLAT_V4/29" dev "$CLAT_DEV"
    fi
    if [[ -z $(ip -n "$NS_C" -4 route show default) ]]; then
      ip -n "$NS_C" route add default dev "$CLAT_DEV" src "$CLAT_V4" mtu "$CLAT_V4_MTU"
    fi
    ip -n "$NS_C" -6 route replace "$CLAT_PFX" dev "$CLAT_DEV"
    ;;
  *) die "CLAT must be tayga, xlat64 or none, not '$CLAT'" ;;
  esac
}

up() {
  [[ $(id -u) -eq 0 ]] || die "run as root (network namespaces and TUN devices need CAP_NET_ADMIN)"
  if is_up; then
    log "already up ($(config_line))"
    return 0
  fi
  bash "$REPO/infra/scripts/ensure-system-deps.sh" all
  down 2>/dev/null || true
  mkdir -p "$RUN/www"
  echo "$SERVER_HELLO" >"$RUN/www/index.html"
  # A larger file with known content, to check a multi-megabyte TCP transfer end to end.
  (yes 'xlat64 lab payload 0123456789abcdef' || true) | head -c 4194304 >"$RUN/www/4MiB.bin"
  sha256sum "$RUN/www/4MiB.bin" | cut -d' ' -f1 >"$RUN/www/4MiB.sha256"
  write_xlat64_configs
  # Any failure from here on (a failing command, or die() from a check) tears down what was built.
  trap 'log "up failed at line $LINENO: $BASH_COMMAND"' ERR
  trap 'if [[ ! -s $RUN/config ]]; then log "up failed; tearing down"; down >/dev/null 2>&1 || true; fi' EXIT

  for ns in $ALL_NS; do ns_base "$ns"; done
  nsx "$NS_P" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
  # IPv4-only server, IPv6-only client (its only IPv4 is the CLAT's, on the CLAT device).
  nsx "$NS_S" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1

  # AF_XDP: one socket per receive queue, so as many queues per veth as the PLAT has workers (a veth
  # delivers a frame on the peer's receive queue of the sender's transmit queue).
  local q=()
  [[ $PLAT_IO == xdp ]] && q=(numtxqueues "$XDP_QUEUES" numrxqueues "$XDP_QUEUES")
  ip -n "$NS_C" link add c0 index 10 "${q[@]}" type veth peer name p0 index 11 "${q[@]}" netns "$NS_P"
  ip -n "$NS_P" link add p1 index 12 "${q[@]}" type veth peer name s0 index 13 "${q[@]}" netns "$NS_S"

  ip -n "$NS_C" -6 addr add "$C6/64" dev c0 nodad
  ip -n "$NS_C" link set c0 up
  ip -n "$NS_C" -6 route add default via "$P6" dev c0

  ip -n "$NS_P" -6 addr add "$P6/64" dev p0 nodad
  ip -n "$NS_P" addr add "$P4/24" dev p1
  ip -n "$NS_P" link set p0 up
  ip -n "$NS_P" link set p1 up

  ip -n "$NS_S" addr add "$S4/24" dev s0
  ip -n "$NS_S" link set s0 up
  ip -n "$NS_S" route add default via "$P4" dev s0
  if [[ $PLAT_IO == xdp ]]; then
    nsx "$NS_C" ethtool -K c0 tx off >/dev/null
    nsx "$NS_S" ethtool -K s0 tx off >/dev/null
  fi

  if [[ ${OFFLOAD:-1} == 0 ]]; then
    nsx "$NS_C" ethtool -K c0 tso off gso off gro off >/dev/null
    nsx "$NS_P" ethtool -K p0 tso off gso off gro off >/dev/null
    nsx "$NS_P" ethtool -K p1 tso off gso off gro off >/dev/null
    nsx "$NS_S" ethtool -K s0 tso off gso off gro off >/dev/null
  fi

  # `python3 -m http.server`, but with a 128-deep accept queue instead of 5: suites open a few dozen
  # connections at once, and under load a SYN dropped by a full queue costs the client seconds.
  start_bg "$NS_S" http "$PY" -c 'import functools, http.server as h, sys
class Server(h.ThreadingHTTPServer):
    request_queue_size = 128
handler = functools.partial(h.SimpleHTTPRequestHandler, directory=sys.argv[2])
Server(("0.0.0.0", int(sys.argv[1])), handler).serve_forever()' "$HTTP_PORT" "$RUN/www"
  nsx "$NS_S" iperf3 -s -p "$IPERF_PORT" -D -I "$RUN/iperf3.pid" --logfile "$RUN/iperf3.log"

  start_plat
  start_clat

  for _ in $(seq 200); do
    nsx "$NS_S" ss -ltnH "sport = :$HTTP_PORT" | grep -q . &&
      nsx "$NS_S" ss -ltnH "sport = :$IPERF_PORT" | grep -q . && break
    sleep 0.05
  done
  config_line >"$RUN/config"
  trap - EXIT
  log "up ($(config_line)); state in $RUN"
}

verify() {
  local ok=1 dst6=64:ff9b::c633:6402 body want got
  is_up || die "the lab is not up (or a process died): run lab.sh status"
  nsx "$NS_C" ping -6 -c3 -i0.5 -W3 "$dst6" >/dev/null && log "verify: ping -6 $dst6 ok" ||
    { log "verify: ping -6 $dst6 FAILED"; ok=0; }
  body=$(nsx "$NS_C" curl -sS -g --max-time 10 "http://[$dst6]:$HTTP_PORT/" || true)
  [[ $body == "$SERVER_HELLO" ]] && log "verify: HTTP via NAT64 ok" || { log "verify: HTTP via NAT64 FAILED: '$body'"; ok=0; }
  if [[ $CLAT != none ]]; then
    nsx "$NS_C" ping -c2 -i0.2 -W3 "$S4" >/dev/null && log "verify: ping $S4 via CLAT ok" ||
      { log "verify: ping $S4 via CLAT FAILED"; ok=0; }
    want=$(cat "$RUN/www/4MiB.sha256")
    got=$(nsx "$NS_C" curl -sS --max-time 20 "http://$S4:$HTTP_PORT/4MiB.bin" | sha256sum | cut -d' ' -f1)
    [[ $got == "$want" ]] && log "verify: 4 MiB over HTTP via CLAT ok" || { log "verify: 4 MiB via CLAT FAILED"; ok=0; }
  fi
  [[ $ok == 1 ]] || die "verify failed"
  log "verify: OK"
}

status() {
  local ns f pid
  for ns in $ALL_NS; do
    if [[ -e /run/netns/$ns ]]; then echo "namespace $ns: present"; else echo "namespace $ns: absent"; fi
  done
  [[ -s $RUN/config ]] && echo "config: $(cat "$RUN/config")"
  for f in "$RUN"/*.pid; do
    [[ -e $f ]] || continue
    pid=$(pidof_file "$f" || true)
    if [[ -n $pid ]] && alive "$pid"; then echo "$(basename "$f" .pid): pid $pid running"
    else echo "$(basename "$f" .pid): pid ${pid:-?} NOT running"; fi
  done
  if is_up; then echo "state: up"; else echo "state: down"; fi
}

# verify/status describe the lab as it was brought up, whatever this shell's PLAT/CLAT say.
if [[ ${1:-} != up && -s $RUN/config ]]; then
  for kv in $(cat "$RUN/config"); do
    case $kv in
    PLAT=*) PLAT=${kv#PLAT=} ;;
    PLAT_IO=*) PLAT_IO=${kv#PLAT_IO=} ;;
    XDP_QUEUES=*) XDP_QUEUES=${kv#XDP_QUEUES=} ;;
    CLAT=*) CLAT=${kv#CLAT=} ;;
    OFFLOAD=*) OFFLOAD=${kv#OFFLOAD=} ;;
    esac
  done
fi

case ${1:-} in
up) up ;;
down) down ;;
status) status ;;
verify) verify ;;
*)
  echo "usage: $0 up|down|status|verify   (env: PLAT=tayga|xlat64 CLAT=tayga|xlat64|none)" >&2
  exit 2
  ;;
esac
