# common.sh - helpers shared by the test-server start scripts in this folder (sourced, not run).

# A TCP port on 127.0.0.1 that nothing listens on right now. Another process may take it before the
# server binds it, so callers retry the whole start on a bind failure.
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# True while PID runs (a zombie that nobody reaped yet counts as gone: kill -0 would still succeed).
alive() {
  local state
  state=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$1/stat" 2>/dev/null) || return 1
  [[ -n $state && $state != Z ]]
}

# PID's start time (clock ticks since boot): with START, a process is the same one only while it matches
# (PIDs are recycled: pid_max may be 32768, and a test run starts thousands of processes).
start_ticks() {
  awk '{ sub(/.*\) /, ""); print $20 }' "/proc/$1/stat" 2>/dev/null
}

# Stops the process PID (SIGTERM, then SIGKILL after ~5 s) and waits until it is gone. With START (its
# start_ticks when it was recorded), a PID now held by another process is left alone.
stop_pid() {
  local pid=$1 start=${2:-} i
  alive "$pid" || return 0
  [[ -z $start || $(start_ticks "$pid") == "$start" ]] || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  echo "could not stop PID $pid" >&2
  return 1
}

# Starts a watchdog that stops PID when OWNER exits (a test run that crashed before its teardown
# must not leave servers behind) and then removes DIR when it is one of our temporary directories.
# Detached, so it outlives this script.
watch_owner() {
  local owner=$1 pid=$2 dir=$3 cleanup=':'
  [[ -n $owner ]] || return 0
  if [[ $dir == /tmp/x64t-* ]]; then cleanup="rm -rf '$dir'"; fi
  # Both identified by PID and start time: a recycled PID is neither the owner nor the server.
  local owner_start pid_start
  owner_start=$(start_ticks "$owner")
  pid_start=$(start_ticks "$pid")
  setsid bash -c "$(declare -f alive start_ticks stop_pid)
    same() { alive \$1 && [[ \$(start_ticks \$1) == \$2 ]]; }
    while same $owner '$owner_start' && same $pid '$pid_start'; do sleep 1; done
    same $owner '$owner_start' || { stop_pid $pid '$pid_start'; $cleanup; }" \
    </dev/null >/dev/null 2>&1 &
}

usage_common() {
  cat >&2 <<USAGE
usage: $0 start [--dir DIR] [--port PORT] [--owner PID] [--host ADDR]
         nats-server.sh only: [--cluster-name NAME --cluster-port PORT --routes HOST:PORT,…]
         starts the server on ADDR (default 127.0.0.1; a free port unless --port) with its files in DIR (a new
         temporary directory unless --dir; an existing DIR keeps its data across a restart);
         prints url=… pid=… dir=… port=… lines; with --owner the server stops when PID exits
       $0 stop PID [DIR]   stops that PID; removes DIR when given
USAGE
  exit 2
}
