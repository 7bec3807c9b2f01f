#!/usr/bin/env bash
# make demo: for now, a loopback HTCondor pool with one worker running a small
# burst of jobs, shown through condor_status and condor_q. It grows into the
# full demo (local OpenStack API + provisioner scaling the pool) later.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-condor.sh
EHOS_DEMO=1 EHOS_REQUIRE_CONDOR=1 exec go test -tags integration -count=1 -run '^TestDemoPool$' -v ./integration/
