#!/usr/bin/env bash
# ensure-scapy.sh - makes sure a Python with scapy (PyPI, pinned) exists for the CLAT's tests and lab:
# scapy encodes the RFC 8781 PREF64 router-advertisement option independently of xlat64 (Debian's
# python3-scapy 2.5 predates it). The virtualenv lives in a cache outside the repository and is made
# once; prints the path of its python on stdout. Needs python3-venv (ensure-system-deps.sh installs it).
#
# Usage: ensure-scapy.sh          environment: XLAT64_CACHE (default ${XDG_CACHE_HOME:-$HOME/.cache}/xlat64)
set -euo pipefail

version=2.6.1
cache=${XLAT64_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xlat64}
venv=$cache/scapy-$version
python=$venv/bin/python

if [[ -x $python ]] && "$python" -c 'from scapy.layers.inet6 import ICMPv6NDOptPREF64' 2>/dev/null; then
  echo "$python"
  exit 0
fi

mkdir -p "$cache"
# Two test files may ask at once: one builds, the other waits for it.
exec 9>"$cache/scapy.lock"
flock 9
if ! [[ -x $python ]] || ! "$python" -c 'from scapy.layers.inet6 import ICMPv6NDOptPREF64' 2>/dev/null; then
  rm -rf "$venv"
  /usr/bin/python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check "scapy==$version" >&2
  "$python" -c 'from scapy.layers.inet6 import ICMPv6NDOptPREF64' >&2
fi
echo "$python"
