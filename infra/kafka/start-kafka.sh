#!/usr/bin/env bash
# start-kafka.sh - start a single-node Apache Kafka broker in KRaft mode (broker and controller in one
# process) on free loopback ports, in a temporary directory, from the jars fetch-kafka.sh caches.
# Internal topics (consumer offsets, transaction state, share-group state) get replication factor 1
# and one partition, so a group coordinator is ready in well under a second on one node.
#
# Usage: start-kafka.sh [--dir DIR] [--no-wait] [--timeout SECONDS] [--owner-pid PID]
#   --dir DIR   use DIR: when it already holds server.properties (an earlier start), the broker is
#               restarted on the same ports and data without formatting; otherwise DIR is set up
#               (default: a new mktemp directory)
#   --no-wait   return once the JVM is started; callers wait for readiness themselves
#   --owner-pid PID  a watchdog stops the broker (by its PID) when process PID is gone, so a test
#               runner that crashes before its teardown leaves no broker behind
# Prints, one per line: KAFKA_PORT=<port> KAFKA_PID=<pid> KAFKA_DIR=<dir> KAFKA_BOOTSTRAP=127.0.0.1:<port>
# Stop with stop-kafka.sh <pid> (by PID; the data stays in DIR until the caller removes it).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir='' wait=1 timeout=120 owner=''
while [[ $# -gt 0 ]]; do
  case $1 in
    --dir) dir=$2; shift 2 ;;
    --no-wait) wait=0; shift ;;
    --timeout) timeout=$2; shift 2 ;;
    --owner-pid) owner=$2; shift 2 ;;
    *) echo "usage: $0 [--dir DIR] [--no-wait] [--timeout SECONDS] [--owner-pid PID]" >&2; exit 2 ;;
  esac
done

cache=$(bash "$here/fetch-kafka.sh")
[[ -n $dir ]] || dir=$(mktemp -d "${TMPDIR:-/tmp}/xlat64-kafka.XXXXXX")
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
java_opts=${XLAT64_KAFKA_JVM_OPTS:--Xms128m -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1}

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

if [[ ! -f $dir/server.properties ]]; then
  port=$(free_port)
  controller_port=$(free_port)
  while [[ $controller_port == "$port" ]]; do controller_port=$(free_port); done
  cat >"$dir/server.properties" <<PROPS
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@127.0.0.1:$controller_port
listeners=PLAINTEXT://127.0.0.1:$port,CONTROLLER://127.0.0.1:$controller_port
advertised.listeners=PLAINTEXT://127.0.0.1:$port
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
log.dirs=$dir/data
num.partitions=1
auto.create.topics.enable=false
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
PROPS
  # A URL-safe base64 UUID can start with '-', which the storage tool's argument parser takes for an
  # option ("expected one argument"): it is drawn again until its first character is a letter.
  cluster_id=$(python3 -c 'import base64, os
while True:
    text = base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("=")
    if text[0].isalpha():
        print(text)
        break')
  # shellcheck disable=SC2086
  java $java_opts -cp "$cache/libs/*" kafka.tools.StorageTool format -t "$cluster_id" \
    -c "$dir/server.properties" >"$dir/format.log" 2>&1 || {
    echo "start-kafka: formatting the storage failed; see $dir/format.log:" >&2
    tail -20 "$dir/format.log" >&2
    exit 1
  }
fi
port=$(sed -n 's/^advertised.listeners=PLAINTEXT:\/\/127.0.0.1:\([0-9]*\)$/\1/p' "$dir/server.properties")

# The broker's own stdout/stderr (slf4j-simple logs there) go to a file; setsid detaches it from the
# caller's process group so a test runner's Ctrl-C does not kill it before its own teardown does.
# shellcheck disable=SC2086
setsid java $java_opts -cp "$cache/libs/*" kafka.Kafka "$dir/server.properties" \
  >>"$dir/broker.log" 2>&1 </dev/null &
pid=$!
echo "$pid" >"$dir/broker.pid"

if [[ -n $owner ]]; then
  # Detached watchdog: returns when the broker exits; stops it when the owner exits first.
  setsid bash -c 'while kill -0 "$1" 2>/dev/null; do
      if ! kill -0 "$2" 2>/dev/null; then exec bash "$3" "$1"; fi
      sleep 2
    done' watchdog "$pid" "$owner" "$here/stop-kafka.sh" </dev/null >/dev/null 2>&1 &
fi

if [[ $wait -eq 1 ]]; then
  deadline=$((SECONDS + timeout))
  # KafkaRaftServer logs this once the broker has caught up with the metadata log and serves clients.
  until grep -q 'Kafka Server started' "$dir/broker.log" 2>/dev/null; do
    if ! kill -0 "$pid" 2>/dev/null; then
      echo "start-kafka: the broker exited during start; last lines of $dir/broker.log:" >&2
      tail -30 "$dir/broker.log" >&2
      exit 1
    fi
    if [[ $SECONDS -ge $deadline ]]; then
      echo "start-kafka: not ready after ${timeout}s (PID $pid left running); see $dir/broker.log" >&2
      exit 1
    fi
    sleep 0.2
  done
fi
echo "KAFKA_PORT=$port"
echo "KAFKA_PID=$pid"
echo "KAFKA_DIR=$dir"
echo "KAFKA_BOOTSTRAP=127.0.0.1:$port"
