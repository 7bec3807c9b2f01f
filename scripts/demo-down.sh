#!/usr/bin/env bash
# make demo-down: stop the sandbox `make demo KEEP=1` left running (the pool,
# the local cloud, the provisioner and every worker VM), as Ctrl-C in its
# terminal would, and wait until it is gone. EHOS_SANDBOX names its
# directory (default /tmp/ehos-sandbox).
set -euo pipefail
dir=${EHOS_SANDBOX:-/tmp/ehos-sandbox}
if [[ ! -f $dir/pid ]]; then
  echo "demo-down: no sandbox in $dir (no $dir/pid)"
  exit 0
fi
pid=$(<"$dir/pid")
if ! kill -TERM "$pid" 2>/dev/null; then
  echo "demo-down: the sandbox (pid $pid) is not running; removing $dir"
  rm -rf "$dir"
  exit 0
fi
echo "demo-down: stopping the sandbox (pid $pid) ..."
for _ in $(seq 600); do
  kill -0 "$pid" 2>/dev/null || { echo "demo-down: stopped"; exit 0; }
  sleep 0.1
done
echo "demo-down: pid $pid still running after 60 s" >&2
exit 1
