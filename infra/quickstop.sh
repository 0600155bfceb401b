#!/usr/bin/env bash
# `sudo npm stop`: takes the namespace lab down; `sudo npm stop -- --cluster` the cluster lab.
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ ${1:-} == --cluster ]]; then exec bash infra/lab/cluster-lab.sh down; fi
exec bash infra/lab/lab.sh down
