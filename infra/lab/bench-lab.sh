#!/usr/bin/env bash
# bench-lab.sh - `npm run bench:lab`: xlat64 PLAT vs TAYGA (+ nft NAT44) in the namespace lab, same
# machine, same run, same pinning, alternating, REPS repetitions. Per run: TCP Gbit/s (one stream, both
# directions), 64-byte UDP offered/delivered packets/s and loss, and the translator's CPU time (utime +
# stime of the whole process, all threads, from /proc/PID/stat) per translated packet / per GB.
# Prints min-median-max per translator and the xlat64/TAYGA ratios; writes everything as JSON.
#
# The client talks NAT64 only (CLAT=none, destination 64:ff9b::198.51.100.2): the PLAT is what is
# compared. PLAT=xlat64 is `xlat64 plat` (stateful NAT64 in one process); PLAT=tayga is stateless
# TAYGA + nft NAT44 (+ an nft prefix map in front), as infra/lab/lab.sh builds it.
#
# Usage (root): infra/lab/bench-lab.sh            env:
#   REPS=3       repetitions; each repetition runs both translators, the order alternating (AB, BA, ...)
#   DUR=5        seconds per iperf3 run
#   PIN=1        translator on CPU1 (xlat64: every thread, taskset -a), iperf3 client + server on CPU0;
#                PIN=0: nothing pinned
#   TESTS="tcp tcp-r udp"   tcp = client -> server, tcp-r = iperf3 -R (server -> client), udp = 64-byte UDP
#   UDP_LEN=64 UDP_BW=0     UDP payload bytes and iperf3 -b (0 = as fast as the client can send)
#   WARMUP=1     seconds of TCP and UDP through each freshly started translator before measuring (JIT)
#   QUEUES="1"   xlat64's TUN queues (workers); a list ("1 2") runs xlat64 once per count in every
#                repetition ("xlat64", "xlat64-q2", ...) and prints each count's ratio to the first
#                (with PIN=1 every xlat64 thread shares CPU1, so compare worker counts with PIN=0)
#   STREAMS=1    parallel iperf3 streams (-P): several flows, which the kernel spreads over TUN queues
#   OUT=...      JSON results file (default /tmp/xlat64-bench-lab-<UTC time>.json)
#   X64_LAB_PREFIX=x64b X64_LAB_RUN=/tmp/x64b-lab   lab namespaces / state dir (own names: no collision)
#   XLAT64_NODE_FLAGS="--perf-basic-prof"           node flags for the xlat64 process, via NODE_OPTIONS
#                                                   (one flag, no spaces; e.g. for perf top / perf record)
# The lab is torn down at the end, also on failure and Ctrl-C.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
REPS=${REPS:-3} DUR=${DUR:-5} PIN=${PIN:-1} WARMUP=${WARMUP:-1}
TESTS=${TESTS:-tcp tcp-r udp} UDP_LEN=${UDP_LEN:-64} UDP_BW=${UDP_BW:-0}
QUEUES=${QUEUES:-1} STREAMS=${STREAMS:-1}
export X64_LAB_PREFIX=${X64_LAB_PREFIX:-x64b}
export X64_LAB_RUN=${X64_LAB_RUN:-/tmp/x64b-lab}
RUN=$X64_LAB_RUN
WORK=$RUN-bench # outside $RUN: lab.sh deletes $RUN on every up/down
OUT=${OUT:-/tmp/xlat64-bench-lab-$(date -u +%Y%m%dT%H%M%SZ).json}
NS_C=$X64_LAB_PREFIX-client NS_P=$X64_LAB_PREFIX-plat NS_S=$X64_LAB_PREFIX-server
DST=64:ff9b::c633:6402 # 64:ff9b::198.51.100.2
NODE=$(command -v node)
HZ=$(getconf CLK_TCK)

log() { printf '[%(%H:%M:%S)T] bench: %s\n' -1 "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
lab() { bash "$HERE/lab.sh" "$@"; }

[[ $(id -u) -eq 0 ]] || die "run as root (network namespaces, TUN devices, taskset of the translators)"
for c in iperf3 jq taskset tayga nft ip; do command -v "$c" >/dev/null || die "$c is missing (infra/scripts/ensure-system-deps.sh all)"; done
[[ -f $REPO/dist/services/cli/src/main.js ]] || die "dist/ is missing: run npm run build first"
[[ $REPS =~ ^[1-9][0-9]*$ && $DUR =~ ^[1-9][0-9]*$ ]] || die "REPS and DUR must be positive integers"
[[ $STREAMS =~ ^[1-9][0-9]*$ ]] || die "STREAMS must be a positive integer"
for q in $QUEUES; do [[ $q =~ ^[1-9][0-9]*$ ]] || die "QUEUES must list positive integers, got '$q'"; done
# The xlat64 runs of one repetition: "xlat64" for the first queue count, "xlat64-qN" for the others.
XLAT64_PLATS=() first_queues=${QUEUES%% *}
for q in $QUEUES; do
  if [[ ${#XLAT64_PLATS[@]} -eq 0 ]]; then XLAT64_PLATS+=(xlat64); else XLAT64_PLATS+=("xlat64-q$q"); fi
done
if [[ $PIN == 1 && $(nproc) -lt 2 ]]; then log "only $(nproc) CPU: PIN=0"; PIN=0; fi

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  log "tearing the lab down"
  lab down >/dev/null 2>&1 || log "warning: lab.sh down failed; run: X64_LAB_PREFIX=$X64_LAB_PREFIX X64_LAB_RUN=$RUN bash $HERE/lab.sh down"
  rm -rf "$WORK/state"
  exit "$rc"
}
trap cleanup EXIT
trap 'log "interrupted"; exit 130' INT TERM

mkdir -p "$WORK/state"
rm -f "$WORK/runs.jsonl"
# Our own xlat64 configs (lab.sh's has no stateDir: the default /var/lib/xlat64 would be shared), one per
# queue count.
queues_of() { if [[ $1 == xlat64 ]]; then echo "$first_queues"; else echo "${1#xlat64-q}"; fi; }
for plat in "${XLAT64_PLATS[@]}"; do
  mkdir -p "$WORK/state/$plat"
  cat >"$WORK/$plat-plat.yaml" <<EOF
# written by infra/lab/bench-lab.sh
device: plat64
prefix: 64:ff9b::/96
allowNonGlobalIpv4: true
pool4: [203.0.113.0/24]
queues: $(queues_of "$plat")
stateDir: $WORK/state/$plat
statusSocket: $WORK/xlat64-plat.sock
EOF
done

# --- measurement helpers ------------------------------------------------------------------------
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; } # utime + stime, all threads of the process
# ns the translator's threads spent runnable but waiting for a CPU (schedstat field 2): shows how
# much other load on its CPU held it back (the machine may be shared)
rq_wait_ns() { cat /proc/"$1"/task/*/schedstat 2>/dev/null | awk '{s += $2} END {printf "%.0f", s}'; }
sirq_ticks() { awk '/^cpu /{print $7 + $8}' /proc/stat; }
rcvbuf_errs() { # UDP datagrams the server's socket dropped (receiver too slow), in the server namespace
  nsx "$NS_S" awk '/^Udp:/{if(!f){f=split($0,h);next} for(i=1;i<=f;i++) if(h[i]=="RcvbufErrors") v+=$i}
                 END{printf "%.0f", v}' /proc/net/snmp
}
# TUN counters: tx = kernel -> translator (read by it), rx = translator -> kernel (written by it)
tun_ctrs() { ip -n "$NS_P" -s -j link show plat64 | jq -c '.[0].stats64 | {rx: .rx.packets, tx: .tx.packets, txdrop: .tx.dropped}'; }
x64_queue() {
  if [[ $1 == xlat64* ]]; then
    "$NODE" "$REPO/bin/xlat64.mjs" status --socket "$WORK/xlat64-plat.sock" --json 2>/dev/null |
      jq -c '{batches: .queueStats.batches, packets: .queueStats.packets, superpackets: (.counters["rx.superpackets"] // 0)}' ||
      echo null
  else echo null; fi
}

# lab.sh's PLAT kind of a run: xlat64 for every queue count.
lab_kind() { if [[ $1 == xlat64* ]]; then echo xlat64; else echo "$1"; fi; }
translator_pid() { tr -dc 0-9 <"$RUN/$(lab_kind "$1")-plat.pid"; }

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

iperf_client() { # args...
  local pfx=()
  [[ $PIN == 1 ]] && pfx=(taskset -c 0)
  nsx "$NS_C" "${pfx[@]}" iperf3 -c "$DST" -P "$STREAMS" "$@"
}

measure() { # plat rep test
  local plat=$1 rep=$2 test=$3 tpid args=() json q0 q1 c0 c1 s0 s1 t0 t1 w0 w1 r0 r1 d0 d1
  tpid=$(translator_pid "$plat")
  case $test in
  tcp) args=() ;;
  tcp-r) args=(-R) ;;
  udp) args=(-u -b "$UDP_BW" -l "$UDP_LEN") ;;
  *) die "unknown test '$test' (TESTS: tcp tcp-r udp)" ;;
  esac
  json=$WORK/$plat-$rep-$test.json
  q0=$(x64_queue "$plat")
  r0=$(rcvbuf_errs); d0=$(rq_wait_ns "$tpid"); c0=$(cpu_ticks "$tpid"); s0=$(sirq_ticks); t0=$(tun_ctrs); w0=$(date +%s.%N)
  iperf_client -t "$DUR" -J "${args[@]}" >"$json" || true
  c1=$(cpu_ticks "$tpid"); s1=$(sirq_ticks); t1=$(tun_ctrs); w1=$(date +%s.%N); d1=$(rq_wait_ns "$tpid"); r1=$(rcvbuf_errs)
  q1=$(x64_queue "$plat")
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
     else "offered \(.offered_pps / 100 | round / 10) kpps, delivered \(.delivered_pps / 100 | round / 10) kpps, loss \(.loss_pct * 10 | round / 10)% (TUN queue drops \(.tun_in_drops), server rcvbuf drops \(.server_rcvbuf_drops)), translated \(.translated_pps / 100 | round / 10) kpps" end) +
    " | CPU \(.cpu_pct | round)% (waited for a CPU \(.rq_wait_pct | round)%), \(if .us_per_pkt then (.us_per_pkt * 100 | round / 100) else "-" end) us/pkt" +
    (if .queue and .queue.pkts_per_batch then ", \(.queue.pkts_per_batch * 10 | round / 10) pkts/batch" else "" end)' >&2
}

run_plat() { # plat rep
  local plat=$1 rep=$2 cmd test
  cmd="$NODE $REPO/bin/xlat64.mjs plat --config $WORK/$plat-plat.yaml"
  # Through NODE_OPTIONS: worker threads refuse flags like --perf-basic-prof in an inherited execArgv.
  [[ -n ${XLAT64_NODE_FLAGS:-} ]] && cmd="env NODE_OPTIONS=$XLAT64_NODE_FLAGS $cmd"
  log "rep $rep/$REPS: PLAT=$plat up"
  # A fresh lab and translator process per run (lab.sh up keeps a running lab of the same PLAT).
  lab down >/dev/null 2>&1 || true
  PLAT=$(lab_kind "$plat") CLAT=none XLAT64_PLAT_CMD=$cmd lab up >"$WORK/lab-up.log" 2>&1 ||
    die "lab up (PLAT=$plat) failed: $(tail -5 "$WORK/lab-up.log")"
  lab verify >>"$WORK/lab-up.log" 2>&1 || die "lab verify (PLAT=$plat) failed: $(tail -5 "$WORK/lab-up.log")"
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

log "$(nproc) CPUs, REPS=$REPS DUR=${DUR}s PIN=$PIN TESTS='$TESTS' UDP_LEN=$UDP_LEN UDP_BW=$UDP_BW QUEUES='$QUEUES' STREAMS=$STREAMS; load average: $(cut -d' ' -f1-3 /proc/loadavg)"
load_start=$(cut -d' ' -f1-3 /proc/loadavg)
started=$(date -u +%Y-%m-%dT%H:%M:%SZ)
for rep in $(seq "$REPS"); do
  if ((rep % 2 == 1)); then order="${XLAT64_PLATS[*]} tayga"; else order="tayga $(printf '%s\n' "${XLAT64_PLATS[@]}" | tac | tr '\n' ' ')"; fi
  for plat in $order; do run_plat "$plat" "$rep"; done
done
load_end=$(cut -d' ' -f1-3 /proc/loadavg)
lab down >/dev/null 2>&1 || true

# --- summary ------------------------------------------------------------------------------------
jq -s --arg started "$started" --arg load0 "$load_start" --arg load1 "$load_end" --arg kernel "$(uname -r)" \
  --argjson cpus "$(nproc)" --argjson reps "$REPS" --argjson dur "$DUR" --argjson pin "$PIN" \
  --arg tests "$TESTS" --arg queues "$QUEUES" --argjson streams "$STREAMS" --arg xlat64 "$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)" \
  --arg tayga "TAYGA $(dpkg-query -W -f '${Version}' tayga 2>/dev/null || echo '?')" \
  '{started: $started, cpus: $cpus, kernel: $kernel, reps: $reps, dur_s: $dur, pin: $pin, tests: $tests,
    queues: $queues, streams: $streams,
    loadavg_start: $load0, loadavg_end: $load1, xlat64_commit: $xlat64, tayga: $tayga, runs: .}' \
  "$WORK/runs.jsonl" >"$OUT"

"$NODE" - "$OUT" <<'EOF'
const doc = JSON.parse(require('node:fs').readFileSync(process.argv[2], 'utf8'));
const metrics = [
  // [label, test, field, digits, better]
  ['TCP Gbit/s (client->server)', 'tcp', 'gbps', 2, 'higher'],
  ['  translator CPU s per GB', 'tcp', 'cpu_s_per_gb', 2, 'lower'],
  ['  translator CPU %', 'tcp', 'cpu_pct', 0, ''],
  ['  translator waiting for a CPU %', 'tcp', 'rq_wait_pct', 0, ''],
  ['TCP Gbit/s (server->client, -R)', 'tcp-r', 'gbps', 2, 'higher'],
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
const rows = [['metric', 'xlat64 min – med – max', 'TAYGA min – med – max', 'xlat64/TAYGA med (min – max)']];
const summary = {};
for (const [label, test, field, digits, , scale] of metrics) {
  if (!doc.tests.split(/\s+/).includes(test)) continue;
  const x = reps.map((r) => val('xlat64', r, test, field, scale)).filter((v) => v !== undefined);
  const t = reps.map((r) => val('tayga', r, test, field, scale)).filter((v) => v !== undefined);
  const ratios = reps
    .map((r) => [val('xlat64', r, test, field), val('tayga', r, test, field)])
    .filter(([a, b]) => a !== undefined && b !== undefined && b !== 0)
    .map(([a, b]) => a / b);
  summary[`${test}.${field}`] = { xlat64: x, tayga: t, ratios, ratioMedian: median(ratios) };
  const ratio = ratios.length
    ? `${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)} – ${Math.max(...ratios).toFixed(2)})`
    : '-';
  rows.push([label, mmm(x, digits), mmm(t, digits), ratio]);
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
const line = (r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ');
const out = [];
out.push(
  `xlat64 (${doc.xlat64_commit}) vs ${doc.tayga || 'TAYGA'} + nft NAT44: ${doc.reps} reps x ${doc.dur_s} s, ` +
    `PIN=${doc.pin}, ${doc.cpus} CPUs, kernel ${doc.kernel}, load avg ${doc.loadavg_start} -> ${doc.loadavg_end}`,
);
out.push(line(rows[0]));
out.push(widths.map((w) => '-'.repeat(w)).join('  '));
for (const r of rows.slice(1)) out.push(line(r));
const target = (key, min, what) => {
  const s = summary[key];
  if (!s || s.ratios.length === 0) return;
  const ok = s.ratioMedian >= min;
  out.push(`target ${what}: median ratio ${s.ratioMedian.toFixed(3)} ${ok ? '>=' : '<'} ${min} -> ${ok ? 'MET' : 'NOT MET'}`);
};
target('tcp.gbps', 3, 'TCP throughput >= 3x TAYGA');
target('udp.delivered_pps', 1, 'small-packet rate >= TAYGA');
const q = doc.runs.filter((r) => r.plat === 'xlat64' && r.test === 'udp' && r.queue?.pkts_per_batch);
if (q.length)
  out.push(
    `xlat64 UDP read batches: ${q.map((r) => r.queue.pkts_per_batch.toFixed(1)).join(', ')} packets per batch (per rep)`,
  );
// Worker scaling: each further queue count against the first, per repetition (same repetition = same
// machine state), median and range.
const plats = [...new Set(doc.runs.map((r) => r.plat))].filter((p) => p.startsWith('xlat64-q'));
for (const plat of plats) {
  out.push(`${plat} / xlat64 (${doc.queues.split(/\s+/)[0]} queue(s)), ${doc.streams} stream(s), median (min – max) over reps:`);
  for (const [label, test, field] of metrics) {
    if (!doc.tests.split(/\s+/).includes(test) || label.startsWith('  ')) continue;
    const ratios = reps
      .map((r) => [val(plat, r, test, field), val('xlat64', r, test, field)])
      .filter(([a, b]) => a !== undefined && b !== undefined && b !== 0)
      .map(([a, b]) => a / b);
    if (ratios.length === 0) continue;
    summary[`${plat}.${test}.${field}`] = { ratios, ratioMedian: median(ratios) };
    out.push(
      `  ${label}: ${median(ratios).toFixed(2)} (${Math.min(...ratios).toFixed(2)} – ${Math.max(...ratios).toFixed(2)})`,
    );
  }
}
doc.summary = summary;
require('node:fs').writeFileSync(process.argv[2], `${JSON.stringify(doc, null, 2)}\n`);
console.log(out.join('\n'));
EOF
log "results (every run, the summary): $OUT"
