#!/usr/bin/env bash
# make demo: a whole ehos on this machine. A loopback HTCondor pool whose
# condor_master runs ehos_provisioner, the demand job in its schedd, and the
# local OpenStack API whose servers boot real HTCondor workers from
# cloudinit/worker.yaml. A burst of jobs is submitted and `ehos status` is
# shown while the pool scales up, runs them and scales back to zero; then
# everything it started is stopped (Ctrl-C stops it too). With -keep (make
# demo KEEP=1) it stays up as a sandbox until Ctrl-C or make demo-down.
# Needs root the first time (it installs HTCondor into a Debian trixie root).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-condor.sh
make --no-print-directory build
exec go run ./integration/cmd/ehos-demo "$@"
