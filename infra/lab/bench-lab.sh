#!/usr/bin/env bash
# bench-lab.sh - `npm run bench:lab`: xlat64 PLAT (TUN I/O with 1 and 2 queues, and AF_XDP I/O) vs
# TAYGA (+ nft NAT44) in the namespace lab, same machine, same run, same pinning, in rotating order,
# REPS repetitions. Per run: TCP Gbit/s (TCP_STREAMS streams, both directions), 64-byte UDP offered/delivered
# packets/s and loss (iperf3), small packets from a kernel-speed generator (flood:
# infra/lab/trafgen-flood.sh, trafgen's AF_PACKET TX_RING, 64-byte IPv6/UDP packets of 256 flows from 64
# subscribers in 2001:db8:1::/48 to the server's NAT64 address; iperf3 cannot offer enough), the same
# generator into a blackholed address (gen: its rate into the veth with no translator behind it), and
# the translator's CPU time (utime + stime of the whole process, all threads, from /proc/PID/stat) per
# translated packet / per GB. Prints min-median-max per translator and the ratios against TAYGA, of
# AF_XDP against TUN and of N queues against 1; writes everything as JSON with the load average.
#
# The client talks NAT64 only (CLAT=none, destination 64:ff9b::198.51.100.2): the PLAT is what is
# compared. PLAT=xlat64 is `xlat64 plat` (stateful NAT64 in one process); PLAT=tayga is stateless
# TAYGA + nft NAT44 (+ an nft prefix map in front), as infra/lab/lab.sh builds it. `forward` is no
# translator: plain IPv6 from the client to the server's own IPv6 address (2001:db8:2::2, added for it)
# routed by the PLAT namespace's kernel, the physical upper bound of this lab on this machine
# (`forward-nooffload`: the same with TSO/GSO/GRO off on the veths, lab.sh OFFLOAD=0); its CPU figure is
# the machine's irq + softirq time (the forwarding runs there), and every translator's figures are also
# printed as a fraction of it.
#
# Usage (root): infra/lab/bench-lab.sh            env:
#   REPS=3       repetitions; each repetition runs every translator, the order rotating (ABC, BCA, ...)
#   DUR=5        seconds per iperf3 / generator run
#   PIN=1        translator on CPU1 (xlat64: every thread, taskset -a), iperf3 client + server and the
#                generator on CPU0; PIN=0: nothing pinned (with PIN=1 the workers of xlat64-q2 share
#                CPU1, so compare queue counts with PIN=0 too)
#   PLATS="xlat64 xlat64-q2 xlat64-xdp tayga forward forward-nooffload"   translators: xlat64 on a TUN
#                (xlat64-qN: N queues, N workers, the kernel steering each packet to its shard's worker;
#                xlat64-qN-ring: the same without steering, packets passed on through the rings), xlat64 on AF_XDP (lab PLAT_IO=xdp; xlat64-xdp-qN: N
#                queues per veth), TAYGA, and plain IPv6 forwarding (offloads on, off) as the bound
#   TESTS="tcp tcp-r udp gen flood"   tcp = client -> server, tcp-r = iperf3 -R (server -> client), udp =
#                64-byte UDP from iperf3, gen = the generator into a blackholed address (dropped by the
#                PLAT namespace's routing: the generator's rate into the veth), flood = the generator to the
#                server's NAT64 address (translated pps, CPU/pkt)
#   UDP_LEN=64 UDP_BW=0     UDP payload bytes and iperf3 -b (0 = as fast as the client can send)
#   TCP_STREAMS=4           parallel iperf3 TCP streams (-P): several flows, which a PLAT with several
#                queues spreads over its workers (one stream is one flow, one queue)
#   FLOOD_SUBSCRIBERS=64 FLOOD_PORTS=4   the generator's flows: subscribers (/56 each) x source ports
#   WARMUP=1     seconds of TCP and UDP through each freshly started translator before measuring (JIT)
#   OUT=...      JSON results file (default /tmp/xlat64-bench-lab-<UTC time>.json)
#   X64_LAB_PREFIX=x64b X64_LAB_RUN=/tmp/x64b-lab   lab namespaces / state dir (own names: no collision)
#   XLAT64_NODE_FLAGS="--perf-basic-prof"           node flags for the xlat64 process, via NODE_OPTIONS
#                                                   (one flag, no spaces; e.g. for perf top / perf record)
# The lab is torn down at the end, also on failure and Ctrl-C.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
REPS=${REPS:-3} DUR=${DUR:-5} PIN=${PIN:-1} WARMUP=${WARMUP:-1}
TESTS=${TESTS:-tcp tcp-r udp gen flood} PLATS=${PLATS:-xlat64 xlat64-q2 xlat64-xdp tayga forward forward-nooffload} UDP_LEN=${UDP_LEN:-64} UDP_BW=${UDP_BW:-0}
TCP_STREAMS=${TCP_STREAMS:-4}
FLOOD_SUBSCRIBERS=${FLOOD_SUBSCRIBERS:-64} FLOOD_PORTS=${FLOOD_PORTS:-4}
export X64_LAB_PREFIX=${X64_LAB_PREFIX:-x64b}
export X64_LAB_RUN=${X64_LAB_RUN:-/tmp/x64b-lab}
RUN=$X64_LAB_RUN
WORK=$RUN-bench # outside $RUN: lab.sh deletes $RUN on every up/down
OUT=${OUT:-/tmp/xlat64-bench-lab-$(date -u +%Y%m%dT%H%M%SZ).json}
NS_C=$X64_LAB_PREFIX-client NS_P=$X64_LAB_PREFIX-plat NS_S=$X64_LAB_PREFIX-server
DST=64:ff9b::c633:6402 # 64:ff9b::198.51.100.2
FWD_DST=2001:db8:2::2 FWD_GW=2001:db8:2::1 FWD_PORT=5202 # forward*: the server's own IPv6, its iperf3
GEN_DST=2001:db8:ffff::1 # blackholed in the PLAT namespace (test gen)
FLOOD=$HERE/trafgen-flood.sh
NODE=$(command -v node)
HZ=$(getconf CLK_TCK)

log() { printf '[%(%H:%M:%S)T] bench: %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
lab() { bash "$HERE/lab.sh" "$@"; }

[[ $(id -u) -eq 0 ]] || die "run as root (network namespaces, TUN devices, taskset of the translators)"
for c in iperf3 jq taskset tayga nft ip trafgen; do PATH=$PATH:/usr/sbin:/sbin command -v "$c" >/dev/null || die "$c is missing (infra/scripts/ensure-system-deps.sh all)"; done
[[ -f $REPO/dist/services/cli/src/main.js ]] || die "dist/ is missing: run npm run build first"
[[ $REPS =~ ^[1-9][0-9]*$ && $DUR =~ ^[1-9][0-9]*$ ]] || die "REPS and DUR must be positive integers"
if [[ $PIN == 1 && $(nproc) -lt 2 ]]; then log "only $(nproc) CPU: PIN=0"; PIN=0; fi
# Translator names: tayga, xlat64 (TUN), xlat64-qN (TUN, N queues), xlat64-qN-ring (unsteered), xlat64-xdp, xlat64-xdp-qN.
for p in $PLATS; do
  [[ $p =~ ^(tayga|forward|forward-nooffload|xlat64(-xdp)?(-q[1-9][0-9]*)?|xlat64-q[1-9][0-9]*-ring)$ ]] || die "PLATS: unknown translator '$p' (tayga, xlat64, xlat64-qN, xlat64-qN-ring, xlat64-xdp, xlat64-xdp-qN, forward, forward-nooffload)"
done
queues_of() { if [[ $1 =~ -q([0-9]+)(-ring)?$ ]]; then echo "${BASH_REMATCH[1]}"; else echo 1; fi; }
io_of() { if [[ $1 == xlat64-xdp* ]]; then echo xdp; else echo tun; fi; }
lab_kind() { if [[ $1 == xlat64* || $1 == forward* ]]; then echo xlat64; else echo "$1"; fi; } # lab.sh's PLAT (forward: an idle xlat64)
is_forward() { [[ $1 == forward* ]]; }
# forward*: the server gets an IPv6 address and an iperf3 of its own (the lab's server is IPv4-only).
stop_forward_server() {
  if [[ -s $WORK/iperf3-fwd.pid ]]; then kill "$(tr -dc 0-9 <"$WORK/iperf3-fwd.pid")" 2>/dev/null || true; fi
  rm -f "$WORK/iperf3-fwd.pid"
}
setup_forward() {
  nsx "$NS_S" sysctl -qw net.ipv6.conf.all.disable_ipv6=0 net.ipv6.conf.default.disable_ipv6=0 net.ipv6.conf.s0.disable_ipv6=0
  ip -n "$NS_P" -6 addr add "$FWD_GW/64" dev p1 nodad
  ip -n "$NS_S" -6 addr add "$FWD_DST/64" dev s0 nodad
  ip -n "$NS_S" -6 route add default via "$FWD_GW" dev s0
  nsx "$NS_S" iperf3 -s -p "$FWD_PORT" -D -I "$WORK/iperf3-fwd.pid" --logfile "$WORK/iperf3-fwd.log"
  for _ in $(seq 50); do nsx "$NS_S" ss -ltnH "sport = :$FWD_PORT" | grep -q . && return 0; sleep 0.1; done
  die "the forward test's iperf3 server did not listen on $FWD_PORT"
}

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  log "tearing the lab down"
  stop_forward_server
  lab down >/dev/null 2>&1 || log "warning: lab.sh down failed; run: X64_LAB_PREFIX=$X64_LAB_PREFIX X64_LAB_RUN=$RUN bash $HERE/lab.sh down"
  rm -rf "$WORK/state"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

mkdir -p "$WORK/state"
rm -f "$WORK/runs.jsonl"
# Our own xlat64 configs, one per translator name (lab.sh's has no stateDir: the default /var/lib/xlat64
# would be shared): queue count from the name, AF_XDP on the lab's p0 and p1 (lab.sh PLAT_IO=xdp builds
# the veths for it) for xlat64-xdp*.
for plat in $PLATS; do
  [[ $plat == xlat64* || $plat == forward* ]] || continue
  mkdir -p "$WORK/state/$plat"
  {
    cat <<EOF
# written by infra/lab/bench-lab.sh
device: plat64
prefix: 64:ff9b::/96
allowNonGlobalIpv4: true
pool4: [203.0.113.0/24]
queues: $(queues_of "$plat")
stateDir: $WORK/state/$plat
statusSocket: $WORK/xlat64-plat.sock
EOF
    if [[ $(io_of "$plat") == xdp ]]; then printf 'io: xdp\ninterface: p0\ninterface4: p1\n'; fi
    # xlat64-qN-ring: N queues without the kernel's queue steering (packets reach their owner through the rings)
    if [[ $plat == *-ring ]]; then printf 'queueSteering: false\n'; fi
  } >"$WORK/$plat-plat.yaml"
done

# --- measurement helpers ------------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, all threads of the process
# ns the translator's threads spent runnable but waiting for a CPU (schedstat field 2): shows how
# much other load on its CPU held it back (the machine may be shared)
rq_wait_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $2} END {printf "%.0f", s}'; }
sirq_ticks() { awk '/^cpu /{print $7 + $8}' /proc/stat; }
sirq_cpu_ticks() { sirq_ticks; } # forward*: the kernel's forwarding work is its "translator" CPU (the pid is ignored)
rcvbuf_errs() { # UDP datagrams the server's socket dropped (receiver too slow), in the server namespace
  nsx "$NS_S" awk '/^Udp:/{if(!f){f=split($0,h);next} for(i=1;i<=f;i++) if(h[i]=="RcvbufErrors") v+=$i}
                 END{printf "%.0f", v}' /proc/net/snmp
}
# Translator counters. TUN: tx = kernel -> translator (read by it), rx = translator -> kernel (written
# by it), txdrop = lost at a full TUN queue. AF_XDP (no TUN): the PLAT's own counters, rx = packets it
# translated, tx = packets it received, txdrop = frames the kernel dropped at its sockets.
tun_ctrs() { # plat
  if is_forward "$1"; then # forwarded = sent on p1 towards the server, received = p0 from the client
    jq -n -c --argjson o "$(ip -n "$NS_P" -s -j link show p1)" --argjson i "$(ip -n "$NS_P" -s -j link show p0)" \
      '{rx: $o[0].stats64.tx.packets, tx: $i[0].stats64.rx.packets, txdrop: $i[0].stats64.rx.dropped}'
  elif [[ $1 == xlat64-xdp* ]]; then
    "$NODE" "$REPO/bin/xlat64.mjs" status --socket "$WORK/xlat64-plat.sock" --json |
      jq -c '{rx: ((.counters["tx.packets64"] // 0) + (.counters["tx.packets46"] // 0)), tx: (.counters["rx.packets"] // 0),
              txdrop: ((.socketStats.rxDropped // 0) + (.socketStats.rxRingFull // 0))}'
  else
    ip -n "$NS_P" -s -j link show plat64 | jq -c '.[0].stats64 | {rx: .rx.packets, tx: .tx.packets, txdrop: .tx.dropped}'
  fi
}
# UDP datagrams to a closed port at the server (the flood's destination port 9): delivered packets
# (IPv4 for the translators, IPv6 for forward*).
server_noports() {
  nsx "$NS_S" awk '/^Udp:/{if(!f){f=split($0,h);next} for(i=1;i<=f;i++) if(h[i]=="NoPorts") v+=$i}
                 END{printf "%.0f", v}' /proc/net/snmp
}
server_noports6() { nsx "$NS_S" awk '$1=="Udp6NoPorts"{v=$2} END{printf "%.0f", v}' /proc/net/snmp6; }
x64_queue() {
  if [[ $1 == xlat64* ]]; then
    "$NODE" "$REPO/bin/xlat64.mjs" status --socket "$WORK/xlat64-plat.sock" --json 2>/dev/null |
      jq -c '{batches: .queueStats.batches, packets: .queueStats.packets, superpackets: (.counters["rx.superpackets"] // 0)}' ||
      echo null
  else echo null; fi
}

translator_pid() { tr -dc 0-9 <"$RUN/$(lab_kind "$1")-plat.pid"; }
# The client's veth end: frames it sent and frames the veth could not hand to the PLAT namespace.
veth_ctrs() { ip -n "$NS_C" -s -j link show c0 | jq -c '.[0].stats64.tx | {pkts: .packets, drops: .dropped}'; }

pin() { # plat
  local tpid ipid all=0-$(($(nproc) - 1))
  tpid=$(translator_pid "$1"); ipid=$(tr -dc 0-9 <"$RUN/iperf3.pid")
  if [[ $PIN == 1 ]]; then
    taskset -apc 1 "$tpid" >/dev/null
    taskset -apc 0 "$ipid" >/dev/null
  else
    taskset -apc "$all" "$tpid" >/dev/null
    taskset -apc "$all" "$ipid" >/dev/null
  fi
}

IPERF_TO=(-c "$DST") # forward*: the server's own IPv6 and port (set per run in run_plat)
iperf_client() { # args...
  local pfx=()
  [[ $PIN == 1 ]] && pfx=(taskset -c 0)
  nsx "$NS_C" "${pfx[@]}" iperf3 "${IPERF_TO[@]}" "$@"
}

measure() { # plat rep test
  local plat=$1 rep=$2 test=$3 tpid args=() json q0 q1 c0 c1 s0 s1 t0 t1 w0 w1 r0 r1 d0 d1 n0 n1 v0 v1 sent
  tpid=$(translator_pid "$plat")
  case $test in
  tcp) args=(-P "$TCP_STREAMS") ;;
  tcp-r) args=(-R -P "$TCP_STREAMS") ;;
  udp) args=(-u -b "$UDP_BW" -l "$UDP_LEN") ;;
  flood | gen) ;;
  *) die "unknown test '$test' (TESTS: tcp tcp-r udp gen flood)" ;;
  esac
  json=$WORK/$plat-$rep-$test.json
  local noports=server_noports cpu=cpu_ticks
  if is_forward "$plat"; then noports=server_noports6 cpu=sirq_cpu_ticks; fi
  snapshot_start() {
    q0=$(x64_queue "$plat")
    n0=$($noports)
    v0=$(veth_ctrs)
    r0=$(rcvbuf_errs); d0=$(rq_wait_ns "$tpid"); c0=$($cpu "$tpid"); s0=$(sirq_ticks); t0=$(tun_ctrs "$plat"); w0=$(date +%s.%N)
  }
  snapshot_start
  if [[ $test == flood || $test == gen ]]; then
    local pfx=() to=$DST
    is_forward "$plat" && to=$FWD_DST
    [[ $PIN == 1 ]] && pfx=(taskset -c 0)
    [[ $test == gen ]] && to=$GEN_DST
    # trafgen now and then cannot start its TX ring ("Flushing TX_RING failed: Resource temporarily
    # unavailable") and sends nothing: try once more, and never hand jq anything but one number.
    for attempt in 1 2; do
      sent=$(nsx "$NS_C" "${pfx[@]}" bash "$FLOOD" c0 "$(nsx "$NS_P" cat /sys/class/net/p0/address)" "$DUR" "$to" \
        2001:db8:1 2 "$FLOOD_SUBSCRIBERS" "$FLOOD_PORTS") || true
      sent=${sent##*$'\n'}
      [[ $sent =~ ^[0-9]+$ ]] || sent=0
      [[ $sent != 0 ]] && break
      log "$plat rep $rep $test: the generator sent nothing (attempt $attempt)"
      snapshot_start # the failed attempt's seconds are not the measurement's
    done
    sleep 0.2 # the last frames through the translator
  else
    iperf_client -t "$DUR" -J "${args[@]}" >"$json" || true
  fi
  c1=$($cpu "$tpid"); s1=$(sirq_ticks); t1=$(tun_ctrs "$plat"); w1=$(date +%s.%N); d1=$(rq_wait_ns "$tpid"); r1=$(rcvbuf_errs)
  n1=$($noports)
  v1=$(veth_ctrs)
  q1=$(x64_queue "$plat")
  if [[ $test == flood || $test == gen ]]; then
    jq -n --argjson sent "${sent:-0}" --argjson dur "$DUR" --argjson n0 "$n0" --argjson n1 "$n1" \
      --argjson v0 "$v0" --argjson v1 "$v1" \
      '{flood: {sent: $sent, seconds: $dur, delivered: ($n1 - $n0), veth: ($v1.pkts - $v0.pkts), veth_drops: ($v1.drops - $v0.drops)}}' >"$json"
  fi
  jq -c --arg plat "$plat" --argjson rep "$rep" --arg test "$test" --argjson hz "$HZ" \
    --argjson c0 "$c0" --argjson c1 "$c1" --argjson s0 "$s0" --argjson s1 "$s1" \
    --argjson t0 "$t0" --argjson t1 "$t1" --argjson w0 "$w0" --argjson w1 "$w1" \
    --argjson q0 "$q0" --argjson q1 "$q1" --argjson pin "$PIN" --argjson r0 "$r0" --argjson r1 "$r1" --argjson d0 "$d0" --argjson d1 "$d1" '
    (($c1 - $c0) / $hz) as $cpu | ($w1 - $w0) as $wall |
    ($t1.rx - $t0.rx) as $out | ($t1.tx - $t0.tx) as $in |
    {plat: $plat, rep: $rep, test: $test, pin: $pin, wall_s: $wall,
     cpu_s: $cpu, cpu_pct: (100 * $cpu / $wall), rq_wait_pct: (100 * ($d1 - $d0) / 1e9 / $wall), sirq_pct: (100 * ($s1 - $s0) / $hz / $wall),
     tun_in_pkts: $in, tun_out_pkts: $out, tun_in_drops: ($t1.txdrop - $t0.txdrop), server_rcvbuf_drops: ($r1 - $r0),
     us_per_pkt: (if $out > 0 then 1e6 * $cpu / $out else null end),
     queue: (if $q0 != null and $q1 != null then
       {batches: ($q1.batches - $q0.batches), packets: ($q1.packets - $q0.packets),
        superpackets: ($q1.superpackets - $q0.superpackets)}
       | . + {pkts_per_batch: (if .batches > 0 then .packets / .batches else null end)}
       else null end)}
    + if .error then {error: .error}
      elif .flood then
        {udp_len: 64, sent_pkts: .flood.sent, delivered_pkts: .flood.delivered,
         offered_pps: (.flood.sent / .flood.seconds), delivered_pps: (.flood.delivered / $wall),
         veth_pps: (.flood.veth / .flood.seconds), veth_drops: .flood.veth_drops,
         loss_pct: (if .flood.sent > 0 then 100 * (1 - .flood.delivered / .flood.sent) else null end),
         translated_pps: ($out / $wall)}
      elif .start.test_start.protocol == "TCP" then
        {gbps: (.end.sum_received.bits_per_second / 1e9), bytes: .end.sum_received.bytes,
         retransmits: .end.sum_sent.retransmits,
         cpu_s_per_gb: (if .end.sum_received.bytes > 0 then $cpu / (.end.sum_received.bytes / 1e9) else null end)}
      else
        (.start.test_start.blksize) as $l | (.end.sum_received.bytes / $l) as $rx |
        {udp_len: $l, sent_pkts: .end.sum_sent.packets, delivered_pkts: $rx,
         offered_pps: (.end.sum_sent.packets / .end.sum_sent.seconds),
         delivered_pps: ($rx / .end.sum_received.seconds),
         loss_pct: (if .end.sum_sent.packets > 0 then 100 * (1 - $rx / .end.sum_sent.packets) else null end),
         translated_pps: ($out / $wall)}
      end' "$json" | tee -a "$WORK/runs.jsonl" | jq -r '
    "  \(.plat) rep \(.rep) \(.test): " +
    (if .error then "ERROR \(.error)"
     elif .gbps then "\(.gbps * 100 | round / 100) Gbit/s, retr \(.retransmits)"
     elif .test == "gen" then "offered \(.offered_pps / 100 | round / 10) kpps, through the veth \(.veth_pps / 100 | round / 10) kpps (veth drops \(.veth_drops))"
     else "offered \(.offered_pps / 100 | round / 10) kpps, delivered \(.delivered_pps / 100 | round / 10) kpps, loss \((.loss_pct // 0) * 10 | round / 10)% (TUN/socket drops \(.tun_in_drops), server rcvbuf drops \(.server_rcvbuf_drops)), translated \(.translated_pps / 100 | round / 10) kpps" end) +
    " | CPU \(.cpu_pct | round)% (waited for a CPU \(.rq_wait_pct | round)%), \(if .us_per_pkt then (.us_per_pkt * 100 | round / 100) else "-" end) us/pkt" +
    (if .queue and .queue.pkts_per_batch then ", \(.queue.pkts_per_batch * 10 | round / 10) pkts/batch" else "" end)' >&2
}

run_plat() { # plat rep
  local plat=$1 rep=$2 cmd test io
  io=$(io_of "$plat")
  cmd="$NODE $REPO/bin/xlat64.mjs plat --config $WORK/$plat-plat.yaml"
  # Through NODE_OPTIONS: worker threads refuse flags like --perf-basic-prof in an inherited execArgv.
  [[ -n ${XLAT64_NODE_FLAGS:-} ]] && cmd="env NODE_OPTIONS=$XLAT64_NODE_FLAGS $cmd"
  log "rep $rep/$REPS: PLAT=$plat up"
  # A fresh lab and translator process per run (lab.sh up keeps a running lab of the same PLAT).
  stop_forward_server
  lab down >/dev/null 2>&1 || true
  local offload=1
  [[ $plat == forward-nooffload ]] && offload=0
  OFFLOAD=$offload PLAT=$(lab_kind "$plat") PLAT_IO=$io X64_LAB_XDP_QUEUES=$(queues_of "$plat") CLAT=none XLAT64_PLAT_CMD=$cmd lab up >"$WORK/lab-up.log" 2>&1 ||
    die "lab up (PLAT=$plat) failed: $(tail -5 "$WORK/lab-up.log")"
  # Under heavy load a fresh translator can lose verify's first pings (workers still warming up): try
  # three times before giving up on this translator for this repetition (the summary shows it missing).
  local tries=0
  until lab verify >>"$WORK/lab-up.log" 2>&1; do
    tries=$((tries + 1))
    if [[ $tries -ge 3 ]]; then
      log "warning: lab verify (PLAT=$plat) failed 3 times, skipping it in rep $rep: $(tail -3 "$WORK/lab-up.log" | tr '\n' ' ')"
      return 0
    fi
    sleep 2
  done
  # The generator's sources (2001:db8:1:XX00::2, one /56 per subscriber) are behind the client, and
  # test gen's destination goes nowhere.
  ip -n "$NS_P" -6 route add 2001:db8:1::/48 via 2001:db8:1::2 dev p0
  ip -n "$NS_P" -6 route add blackhole "$GEN_DST/128"
  IPERF_TO=(-c "$DST")
  if is_forward "$plat"; then
    setup_forward
    IPERF_TO=(-c "$FWD_DST" -p "$FWD_PORT")
  fi
  pin "$plat"
  if [[ $WARMUP -gt 0 ]]; then
    iperf_client -t "$WARMUP" >/dev/null 2>&1 || true
    iperf_client -t "$WARMUP" -u -b "$UDP_BW" -l "$UDP_LEN" >/dev/null 2>&1 || true
  fi
  for test in $TESTS; do
    sleep 0.5
    measure "$plat" "$rep" "$test"
  done
}

log "$(nproc) CPUs, REPS=$REPS DUR=${DUR}s PIN=$PIN PLATS='$PLATS' TESTS='$TESTS' UDP_LEN=$UDP_LEN UDP_BW=$UDP_BW TCP_STREAMS=$TCP_STREAMS; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
read -r -a plats <<<"$PLATS"
for rep in $(seq "$REPS"); do
  # Rotate the order each repetition (AB, BA for two; ABC, BCA, CAB for three).
  for i in "${!plats[@]}"; do run_plat "${plats[$(((i + rep - 1) % ${#plats[@]}))]}" "$rep"; done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
lab down >/dev/null 2>&1 || true

# --- summary ------------------------------------------------------------------------------------
jq -s --arg started "$started" --arg load0 "$load_start" --arg load1 "$load_end" --arg kernel "$(uname -r)" \
  --argjson cpus "$(nproc)" --argjson reps "$REPS" --argjson dur "$DUR" --argjson pin "$PIN" --argjson streams "$TCP_STREAMS" \
  --arg tests "$TESTS" --arg plats "$PLATS" --arg xlat64 "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg tayga "TAYGA $(dpkg-query -W -f '${Version}' tayga 2>/dev/null || echo '?')" \
  '{started: $started, cpus: $cpus, kernel: $kernel, reps: $reps, dur_s: $dur, pin: $pin, tcp_streams: $streams, tests: $tests,
    plats: ($plats | split(" ") | map(select(. != ""))), loadavg_start: $load0, loadavg_end: $load1, xlat64_commit: $xlat64, tayga: $tayga, runs: .}' \
  "$WORK/runs.jsonl" >"$OUT"

"$NODE" - "$OUT" <<'EOF'
const doc = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const metrics = [
  // [label, test, field, digits, better]
  [`TCP Gbit/s (client->server, ${doc.tcp_streams ?? 1} streams)`, 'tcp', 'gbps', 2, 'higher'],
  ['  translator CPU s per GB', 'tcp', 'cpu_s_per_gb', 2, 'lower'],
  ['  translator CPU %', 'tcp', 'cpu_pct', 0, ''],
  ['  translator waiting for a CPU %', 'tcp', 'rq_wait_pct', 0, ''],
  [`TCP Gbit/s (server->client, -R, ${doc.tcp_streams ?? 1} streams)`, 'tcp-r', 'gbps', 2, 'higher'],
  ['  translator CPU s per GB', 'tcp-r', 'cpu_s_per_gb', 2, 'lower'],
  ['  translator CPU %', 'tcp-r', 'cpu_pct', 0, ''],
  ['  translator waiting for a CPU %', 'tcp-r', 'rq_wait_pct', 0, ''],
  ['UDP offered kpps', 'udp', 'offered_pps', 1, '', 1e-3],
  ['UDP delivered kpps', 'udp', 'delivered_pps', 1, 'higher', 1e-3],
  ['UDP loss %', 'udp', 'loss_pct', 1, 'lower'],
  ['UDP translated kpps (TUN out)', 'udp', 'translated_pps', 1, 'higher', 1e-3],
  ['UDP translator CPU us/pkt', 'udp', 'us_per_pkt', 2, 'lower'],
  ['  translator CPU %', 'udp', 'cpu_pct', 0, ''],
  ['  translator waiting for a CPU %', 'udp', 'rq_wait_pct', 0, ''],
  ['generator alone: offered kpps (trafgen, blackholed)', 'gen', 'offered_pps', 1, '', 1e-3],
  ['  through the veth kpps', 'gen', 'veth_pps', 1, '', 1e-3],
  ['flood offered kpps (trafgen)', 'flood', 'offered_pps', 1, '', 1e-3],
  ['  through the veth kpps', 'flood', 'veth_pps', 1, '', 1e-3],
  ['flood translated kpps', 'flood', 'translated_pps', 1, 'higher', 1e-3],
  ['flood delivered kpps (server)', 'flood', 'delivered_pps', 1, 'higher', 1e-3],
  ['flood translator CPU us/pkt', 'flood', 'us_per_pkt', 2, 'lower'],
  ['  translator CPU %', 'flood', 'cpu_pct', 0, ''],
  ['  translator waiting for a CPU %', 'flood', 'rq_wait_pct', 0, ''],
];
const median = (a) => {
  const s = [...a].sort((x, y) => x - y);
  const n = s.length;
  return n === 0 ? NaN : n % 2 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
};
const mmm = (a, d) =>
  a.length === 0 ? '-' : `${Math.min(...a).toFixed(d)} – ${median(a).toFixed(d)} – ${Math.max(...a).toFixed(d)}`;
const val = (plat, rep, test, field, scale = 1) => {
  const r = doc.runs.find((x) => x.plat === plat && x.rep === rep && x.test === test);
  const v = r?.[field];
  return typeof v === 'number' && Number.isFinite(v) ? v * scale : undefined;
};
const reps = Array.from({ length: doc.reps }, (_, i) => i + 1);
const plats = doc.plats ?? ['xlat64', 'tayga'];
const name = (p) => {
  if (p === 'tayga') return 'TAYGA';
  if (p === 'forward') return 'IPv6 fwd';
  if (p === 'forward-nooffload') return 'IPv6 fwd no-offl';
  const m = /^xlat64(-xdp)?(?:-q(\d+))?(-ring)?$/.exec(p);
  return m ? `xlat64 ${m[1] ? 'AF_XDP' : 'TUN'}${m[2] ? ` ${m[2]}q` : ''}${m[3] ? ' rings' : ''}` : p;
};
// Ratios of the same repetition (same lab run, neighbouring minutes): every xlat64 variant against
// TAYGA, AF_XDP against TUN, N queues against one of the same I/O, and every translator against plain
// IPv6 forwarding (the bound: what fraction of it each reaches).
const translators = plats.filter((p) => !p.startsWith('forward'));
const pairs = [
  ...translators.filter((p) => p !== 'tayga').map((p) => [p, 'tayga']),
  ['xlat64-xdp', 'xlat64'],
  ...plats.filter((p) => /-q\d+(-ring)?$/.test(p)).map((p) => [p, p.replace(/-q\d+(-ring)?$/, '')]),
  // Steered against the rings, same queue count.
  ...plats.filter((p) => /-q\d+-ring$/.test(p)).map((p) => [p.replace(/-ring$/, ''), p]),
  ...translators.map((p) => [p, 'forward']),
].filter(([a, b]) => a !== b && plats.includes(a) && plats.includes(b));
const rows = [
  [
    'metric',
    ...plats.map((p) => `${name(p)} min – med – max`),
    ...pairs.map(([a, b]) => `${name(a)}/${name(b)} med (min – max)`),
  ],
];
const summary = {};
for (const [label, test, field, digits, , scale] of metrics) {
  if (!doc.tests.split(/\s+/).includes(test)) continue;
  const values = Object.fromEntries(
    plats.map((p) => [p, reps.map((r) => val(p, r, test, field, scale)).filter((v) => v !== undefined)]),
  );
  const entry = { ...values };
  const cells = [];
  for (const [a, b] of pairs) {
    const ratios = reps
      .map((r) => [val(a, r, test, field), val(b, r, test, field)])
      .filter(([x, y]) => x !== undefined && y !== undefined && y !== 0)
      .map(([x, y]) => x / y);
    entry[`${a}/${b}`] = { ratios, ratioMedian: median(ratios) };
    cells.push(
      ratios.length
        ? `${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)} – ${Math.max(...ratios).toFixed(2)})`
        : '-',
    );
  }
  summary[`${test}.${field}`] = entry;
  rows.push([label, ...plats.map((p) => mmm(values[p], digits)), ...cells]);
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
const line = (r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
const out = [];
out.push(
  `xlat64 (${doc.xlat64_commit}) [${plats.map(name).join(', ')}], TAYGA = ${doc.tayga || 'TAYGA'} + nft NAT44: ` +
    `${doc.reps} reps x ${doc.dur_s} s, PIN=${doc.pin}, ${doc.cpus} CPUs, kernel ${doc.kernel}, ` +
    `load avg ${doc.loadavg_start} -> ${doc.loadavg_end}`,
);
out.push(line(rows[0]));
out.push(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows.slice(1)) out.push(line(r));
const target = (key, pair, min, what) => {
  const s = summary[key]?.[pair];
  if (!s || s.ratios.length === 0) return;
  const ok = s.ratioMedian >= min;
  out.push(`target ${what}: median ratio ${s.ratioMedian.toFixed(3)} ${ok ? '>=' : '<'} ${min} -> ${ok ? 'MET' : 'NOT MET'}`);
};
// The summary holds values in the table's units (kpps for packet rates).
const absolute = (key, plat, min, unit, what) => {
  const v = summary[key]?.[plat];
  if (!v || v.length === 0) return;
  const m = median(v);
  out.push(`target ${what}: median ${m.toFixed(1)} ${unit} ${m >= min ? '>=' : '<'} ${min} -> ${m >= min ? 'MET' : 'NOT MET'}`);
};
target('tcp.gbps', 'xlat64/tayga', 3, 'TCP throughput >= 3x TAYGA (TUN)');
target('udp.delivered_pps', 'xlat64/tayga', 1, 'small-packet rate >= TAYGA (TUN, iperf3)');
target('flood.translated_pps', 'xlat64-xdp/tayga', 5, 'small packets translated >= 5x TAYGA (AF_XDP, flood)');
absolute('flood.translated_pps', 'xlat64-xdp', 500, 'kpps', 'AF_XDP small packets translated >= 500 kpps');
for (const test of ['gen', 'flood']) {
  const offered = doc.runs.filter((r) => r.test === test).map((r) => r.offered_pps);
  if (offered.length)
    out.push(
      `${test === 'gen' ? 'generator alone (blackholed destination)' : 'flood generator'} offered ` +
        `${(Math.min(...offered) / 1e3).toFixed(0)}–${(Math.max(...offered) / 1e3).toFixed(0)} kpps` +
        (test === 'flood'
          ? ': a translator cannot translate more than it is offered, so a rate near the offered one is a lower bound'
          : ''),
    );
}
const q = doc.runs.filter((r) => r.plat === 'xlat64' && r.test === 'udp' && r.queue?.pkts_per_batch);
if (q.length)
  out.push(
    `xlat64 UDP read batches: ${q.map((r) => r.queue.pkts_per_batch.toFixed(1)).join(', ')} packets per batch (per rep)`,
  );
doc.summary = summary;
require('node:fs').writeFileSync(process.argv[2], `${JSON.stringify(doc, null, 2)}\n`);
console.log(out.join('\n'));
EOF
log "results (every run, the summary): $OUT"
