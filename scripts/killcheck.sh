#!/bin/bash
# Manual check that a killed integration run leaves no HTCondor process:
#   bash scripts/killcheck.sh          kill -9 `go test` midway
#   bash scripts/killcheck.sh binary   kill -9 the test binary midway

# It counts condor processes whose CONDOR_CONFIG lies in that run's pool or worker dirs.
mine() { [ -n "$1" ] || return; for p in $(pgrep condor); do tr '\0' '\n' </proc/$p/environ 2>/dev/null | grep -q "CONDOR_CONFIG=$1/" && echo "$p:$(cat /proc/$p/comm 2>/dev/null)"; done 2>/dev/null; }
go test -tags integration -count=1 -run TestVanilla -v ./integration/ >/tmp/kill2.log 2>&1 &
GP=$!
for i in $(seq 1 60); do sleep 0.5; grep -q 'submitted' /tmp/kill2.log && break; done
P=$(grep -o '/tmp/ehos-it-pool-[0-9]*' /tmp/kill2.log | head -1)
TB=$(cut -d' ' -f1 $P/owner)
W=$(grep -l "^$TB " /tmp/ehos-it-worker-*/owner | xargs dirname)
echo "go test pid=$GP test binary pid=$TB pool=$P worker=$W"
echo "before: pool: $(mine $P | tr '\n' ' ')| worker: $(mine $W | tr '\n' ' ')"
victim=$GP; [ "${1:-}" = binary ] && victim=$TB
kill -9 $victim; echo "kill -9 $victim at $(date +%T.%N | cut -c1-12)"
for i in 1 2 3 4 5 6 8 10 15 20; do sleep 1; n="$(mine $P)$(mine $W)"; echo "+${i}s: test binary alive: $(kill -0 $TB 2>/dev/null && echo yes || echo no); pool: $(mine $P | tr '\n' ' ')| worker: $(mine $W | tr '\n' ' ')"; kill -0 $TB 2>/dev/null || [ -n "$n" ] || break; done
