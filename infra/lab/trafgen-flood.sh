#!/usr/bin/env bash
# trafgen-flood.sh - the small-packet generator of the flood benches (infra/lab/bench-lab.sh `flood`,
# services/ingress/bench/plat-flood-lab.ts): trafgen (Debian netsniff-ng; AF_PACKET TX_RING, frames
# built once and handed to the kernel without a copy or a syscall each) sends 64-byte IPv6/UDP packets
# (78-byte Ethernet frames) from many flows for SECONDS, then prints the number of frames it sent.
# The kernel's pktgen module would be the other kernel-speed generator; these kernels are built
# without it (CONFIG_NET_PKTGEN unset), so trafgen it is.
#
# Flows: SUBSCRIBERS source addresses SRC_PREFIX:XX00::HOST (XX = 00, 01, ...: one IPv6 /56 each, so a
# stateful NAT64 sees as many subscribers and shards them apart) x PORTS source ports 5000, 5001, ...
# (one packet definition per flow, round robin; no per-packet dynamic fields, which slow trafgen down).
# Many flows give the kernel's flow hash something to spread over TUN queues; with more than one
# transmit queue on IFNAME the frames take the qdisc path (-q) so the kernel spreads them over the
# queues by flow hash too (with the qdisc bypassed it picks the queue of the sending CPU).
#
# Usage (root, inside the sender's namespace):
#   trafgen-flood.sh IFNAME DST_MAC SECONDS DST6 [SRC_PREFIX [HOST [SUBSCRIBERS [PORTS [DST_PORT]]]]]
#     SRC_PREFIX 2001:db8:1 (the first three groups: sources SRC_PREFIX:XX00::HOST)  HOST 2
#     SUBSCRIBERS 64  PORTS 4  DST_PORT 9 (discard: nobody listens, or a sink that never reads)
#   env TRAFGEN_CPUS=1 (trafgen processes; pin the script with taskset to choose the CPUs)
set -euo pipefail

[[ $# -ge 4 ]] || {
  echo "usage: $0 IFNAME DST_MAC SECONDS DST6 [SRC_PREFIX [HOST [SUBSCRIBERS [PORTS [DST_PORT]]]]]" >&2
  exit 2
}
ifname=$1 dst_mac=$2 seconds=$3 dst6=$4
src_prefix=${5:-2001:db8:1} host=${6:-2} subscribers=${7:-64} ports=${8:-4} dst_port=${9:-9}
cpus=${TRAFGEN_CPUS:-1}
[[ $dst_mac =~ ^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$ ]] || { echo "$0: DST_MAC '$dst_mac' is not a MAC address" >&2; exit 2; }
[[ $seconds =~ ^[0-9]+(\.[0-9]+)?$ ]] || { echo "$0: SECONDS '$seconds' is not a number" >&2; exit 2; }
[[ $subscribers =~ ^[1-9][0-9]*$ && $subscribers -le 256 ]] || { echo "$0: SUBSCRIBERS must be 1..256" >&2; exit 2; }
[[ $ports =~ ^[1-9][0-9]*$ && $ports -le 1000 ]] || { echo "$0: PORTS must be 1..1000" >&2; exit 2; }
command -v trafgen >/dev/null || PATH=$PATH:/usr/sbin:/sbin
command -v trafgen >/dev/null || { echo "$0: trafgen is missing (infra/scripts/ensure-system-deps.sh all: netsniff-ng)" >&2; exit 1; }

cfg=$(mktemp /tmp/x64-trafgen-XXXXXX.cfg)
out=$(mktemp /tmp/x64-trafgen-XXXXXX.out)
trap 'rm -f "$cfg" "$out"' EXIT
# 40 (IPv6) + 8 (UDP) + 16 payload bytes = a 64-byte IPv6 packet; trafgen computes lengths and the
# UDP checksum over the IPv6 pseudo-header when it compiles the configuration.
for ((s = 0; s < subscribers; s++)); do
  for ((p = 0; p < ports; p++)); do
    printf '{ eth(da=%s), ipv6(sa=%s:%02x00::%s, da=%s, hl=64), udp(sp=%d, dp=%d), fill(0x78, 16) }\n' \
      "$dst_mac" "$src_prefix" "$s" "$host" "$dst6" $((5000 + p)) "$dst_port"
  done
done >"$cfg"

qdisc=()
txq=$(find "/sys/class/net/$ifname/queues" -maxdepth 1 -name 'tx-*' 2>/dev/null | wc -l)
[[ $txq -gt 1 ]] && qdisc=(--qdisc-path)
# --no-sock-mem / --notouch-irq: leave the machine's socket memory sysctls and IRQ affinities alone.
# SIGINT ends trafgen; it then prints "N packets outgoing".
timeout -s INT "$seconds" trafgen --dev "$ifname" --conf "$cfg" --cpus "$cpus" "${qdisc[@]}" \
  --no-sock-mem --notouch-irq --no-cpu-stats >"$out" 2>&1 || true
sent=$(tr "\r" "\n" <"$out" | awk '/packets outgoing/ {n += $1} END {printf "%.0f", n}')
if [[ -z $sent || $sent == 0 ]]; then
  echo "$0: trafgen sent nothing; its output:" >&2
  cat "$out" >&2
  echo 0
  exit 1
fi
echo "$sent"
