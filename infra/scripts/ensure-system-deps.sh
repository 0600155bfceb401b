#!/usr/bin/env bash
# ensure-system-deps.sh - make sure the Debian packages xlat64's build, tests and namespace lab need are
# installed, so a fresh machine goes from `npm install && npm test` to green with nothing done by hand.
# Idempotent: checks each command first and runs `apt-get update` + `apt-get install` only when
# something is missing. As root it installs; otherwise it prints what is missing and the exact command.
#
# Usage: ensure-system-deps.sh [build|kafka|all]   build = what node-gyp needs to compile libs/tun and libs/xdp (npm install)
#                                                  kafka = Java 17 and Maven for the Kafka broker (infra/kafka)
#                                                  all   = build + kafka + kernel lab tools + test servers
#                                                          (nats-server, redis-server) (npm test) [default]
set -euo pipefail

group=${1:-all}
case $group in build | kafka | all) ;; *)
  echo "usage: $0 [build|kafka|all]" >&2
  exit 2
  ;;
esac

# command -> Debian package. Commands are looked up in PATH and in the sbin directories, because a
# non-root PATH often lacks /usr/sbin (where ip, nft and ethtool live).
build_deps=(
  "cc:gcc"
  "g++:g++"
  "make:make"
  "/usr/bin/python3:python3" # node-gyp runs gyp with python3; the lab's HTTP server is python3 -m http.server
  # libs/xdp: the AF_XDP addon links libxdp (XSK rings) and libbpf (program load/attach); clang
  # compiles its XDP program to BPF bytecode.
  "/usr/include/xdp/xsk.h:libxdp-dev"
  "/usr/include/bpf/libbpf.h:libbpf-dev"
  "clang:clang"
  "llvm-strip:llvm"
)
lab_deps=(
  "ip:iproute2"
  "ss:iproute2"
  "ping:iputils-ping"
  "iperf3:iperf3"
  "tayga:tayga"
  "nft:nftables"
  "ethtool:ethtool"
  "curl:curl"
  "jq:jq"
  "awk:gawk"
  "timeout:coreutils"
  "unbound:unbound"                           # DNS64 resolver (dns64 module) for the CLAT's RFC 7050 tests
  "/usr/share/doc/python3-venv:python3-venv" # infra/scripts/ensure-scapy.sh builds a scapy virtualenv
  "prometheus:prometheus" # test/observability: a real Prometheus scrapes the PLAT's /metrics
  "chromium:chromium"     # test/observability: the dashboard page rendered headless
  "tmux:tmux"             # test/observability: `xlat64 top` under a terminal
  "tshark:tshark"         # services/cluster: Wireshark's dissector reads the fabric's frames as GENEVE
  "bird:bird2"            # infra/lab/cluster-lab.sh: BGP + BFD between the PLAT nodes and the lab's router
)
# Servers the cluster-state suites (services/state) start on free loopback ports in temporary
# directories, once per test run (infra/services/*.sh, test/support/state-servers.ts).
service_deps=(
  "nats-server:nats-server" # 2.9.10: JetStream, KV, Object Store, Nats-Msg-Id, expected last subject sequence
  "redis-server:redis-server" # 7.0: Functions (FUNCTION LOAD, persisted in the RDB)
)
# The compliance log's Kafka broker (infra/kafka/fetch-kafka.sh resolves its jars with Maven).
kafka_deps=(
  "java:openjdk-17-jre-headless"
  "mvn:maven"
)

have() {
  local c=$1
  if [[ $c == /* ]]; then [[ -x $c || ( $c == *.h && -f $c ) ]]; return; fi
  PATH="$PATH:/usr/local/sbin:/usr/sbin:/sbin" command -v "$c" >/dev/null 2>&1
}

case $group in
  build) deps=("${build_deps[@]}") ;;
  kafka) deps=("${kafka_deps[@]}") ;;
  all) deps=("${build_deps[@]}" "${lab_deps[@]}" "${service_deps[@]}" "${kafka_deps[@]}") ;;
esac

missing=()
for entry in "${deps[@]}"; do
  cmd=${entry%%:*} pkg=${entry#*:}
  if ! have "$cmd"; then
    [[ " ${missing[*]-} " == *" $pkg "* ]] || missing+=("$pkg")
  fi
done

# Node's C headers for node-gyp (libs/tun). Official tarballs and nodesource packages ship them next
# to the binary; Debian's own nodejs package keeps them in libnode-dev. (N-API headers are ABI-stable,
# so Debian's headers also serve a newer Node.)
node_bin=$(command -v node || true)
if [[ -n $node_bin && $group != kafka ]]; then
  node_prefix=$(cd "$(dirname "$(readlink -f "$node_bin")")/.." && pwd)
  if [[ ! -f $node_prefix/include/node/node_api.h && ! -f /usr/include/node/node_api.h ]]; then
    missing+=("libnode-dev")
  fi
fi

tun_missing=0
if [[ $group == all && ! -c /dev/net/tun ]]; then tun_missing=1; fi

if [[ ${#missing[@]} -eq 0 && $tun_missing -eq 0 ]]; then
  exit 0
fi

if [[ ${#missing[@]} -gt 0 ]]; then
  if [[ $(id -u) -ne 0 ]]; then
    echo "xlat64: missing system packages: ${missing[*]}" >&2
    echo "xlat64: install them once as root:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 1
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "xlat64: missing system packages (${missing[*]}) and no apt-get: this script supports Debian/Ubuntu;" >&2
    echo "xlat64: install the equivalent packages with your distribution's package manager." >&2
    exit 1
  fi
  echo "xlat64: installing system packages: ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Other sessions may be running apt at the same moment: wait for the dpkg lock instead of failing.
  apt-get -o DPkg::Lock::Timeout=300 -qq update >&2
  apt-get -o DPkg::Lock::Timeout=300 -qq install -y --no-install-recommends "${missing[@]}" >&2
  for entry in "${deps[@]}"; do
    cmd=${entry%%:*}
    have "$cmd" || {
      echo "xlat64: '$cmd' still missing after installing ${entry#*:}" >&2
      exit 1
    }
  done
fi

if [[ $tun_missing -eq 1 ]]; then
  if [[ $(id -u) -eq 0 ]]; then modprobe tun 2>/dev/null || true; fi
  if [[ ! -c /dev/net/tun ]]; then
    echo "xlat64: /dev/net/tun is missing: load the tun module ('sudo modprobe tun') or, in a container," >&2
    echo "xlat64: pass the device through (docker run --device /dev/net/tun --cap-add NET_ADMIN)." >&2
    exit 1
  fi
fi
exit 0
