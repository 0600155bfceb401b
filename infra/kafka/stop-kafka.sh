#!/usr/bin/env bash
# stop-kafka.sh - stop a broker that start-kafka.sh started, by its PID (never by name): SIGTERM for a
# controlled shutdown (SIGKILL with --kill, as a crash), then wait until it is gone (SIGKILL after the
# timeout). Refuses a PID that is not a kafka.Kafka JVM, so a recycled PID is never killed.
#
# Usage: stop-kafka.sh PID [--kill] [--timeout SECONDS]
set -euo pipefail

pid=${1:?usage: $0 PID [--kill] [--timeout SECONDS]}
shift
signal=TERM timeout=30
while [[ $# -gt 0 ]]; do
  case $1 in
    --kill) signal=KILL; shift ;;
    --timeout) timeout=$2; shift 2 ;;
    *) echo "usage: stop-kafka.sh PID [--kill] [--timeout SECONDS]" >&2; exit 2 ;;
  esac
done

if [[ ! -r /proc/$pid/cmdline ]]; then
  exit 0 # already gone
fi
if ! tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q 'kafka\.Kafka '; then
  echo "stop-kafka: PID $pid is not a Kafka broker; not touching it" >&2
  exit 1
fi
kill -s "$signal" "$pid" 2>/dev/null || exit 0
deadline=$((SECONDS + timeout))
while [[ -d /proc/$pid ]]; do
  state=$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null || echo gone)
  [[ $state == Z || $state == gone ]] && break
  if [[ $SECONDS -ge $deadline ]]; then
    kill -s KILL "$pid" 2>/dev/null || true
    deadline=$((SECONDS + 10))
  fi
  sleep 0.1
done
