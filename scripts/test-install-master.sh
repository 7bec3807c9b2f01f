#!/usr/bin/env bash
# Runs scripts/install-master.sh twice in a throw-away copy of the HTCondor
# test root (/var/lib/ehos/trixie, made by scripts/install-condor.sh) and
# checks what it installed and that the second run changes nothing. Needs root
# and `make build` (a stub stands in for ehos_provisioner when it is not built).
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=${EHOS_CONDOR_ROOT:-/var/lib/ehos/trixie}
[[ $(id -u) -eq 0 ]] || { echo "needs root (chroot)" >&2; exit 1; }
[[ -x $ROOT/usr/bin/condor_version ]] || { echo "no HTCondor root at $ROOT: make condor" >&2; exit 1; }
T=$(mktemp -d /tmp/ehos-install-master-XXXXXX)
trap 'rm -rf "$T"' EXIT
# fresh_root makes $T/root a new copy of the HTCondor root with the sources
# and binaries at /src, as an admin's checkout would be.
fresh_root() {
  rm -rf "$T/root"
  cp -a "$ROOT" "$T/root"
  mkdir -p "$T/root/src/bin"
  cp -a "$SRC/scripts" "$SRC/cloudinit" "$SRC/condor-config" "$T/root/src/"
  for b in ehos ehos_demand ehos_startd_cron ehos_provisioner; do
    if [[ -x $SRC/bin/$b ]]; then cp "$SRC/bin/$b" "$T/root/src/bin/"
    elif [[ $b == ehos_provisioner ]]; then printf '#!/bin/sh\nexit 0\n' >"$T/root/src/bin/$b"; chmod +x "$T/root/src/bin/$b"
    else echo "bin/$b missing: make build" >&2; exit 1; fi
  done
}
fresh_root
chroot "$T/root" /bin/bash /src/scripts/install-master.sh --pool testpool --central-manager 10.0.0.5
second=$(chroot "$T/root" /bin/bash /src/scripts/install-master.sh --pool other --central-manager 10.9.9.9 2>&1)
echo "$second"
fail() { echo "FAIL: $*" >&2; exit 1; }
grep -q 'installed' <<<"$second" && fail "second run installed something"
cv() { chroot "$T/root" condor_config_val "$1"; }
[[ $(cv EHOS_POOL_NAME) == testpool ]] || fail "EHOS_POOL_NAME $(cv EHOS_POOL_NAME)"
[[ $(cv DAEMON_LIST) == *EHOS_PROVISIONER* ]] || fail "DAEMON_LIST $(cv DAEMON_LIST)"
[[ $(cv EHOS_CONFIG) == /usr/local/etc/ehos/ehos.yaml ]] || fail "EHOS_CONFIG"
[[ $(stat -c %a "$T/root/etc/condor/passwords.d/POOL") == 600 ]] || fail "POOL key mode"
[[ $(stat -c %a "$T/root/usr/local/etc/ehos/ehos.yaml") == 640 ]] || fail "ehos.yaml mode"
grep -q 'name: testpool' "$T/root/usr/local/etc/ehos/ehos.yaml" || fail "ehos.yaml overwritten"
chroot "$T/root" getent passwd ehos >/dev/null || fail "no ehos user (the demand job's owner)"
[[ $(stat -c %U "$T/root/var/lib/ehos") == ehos ]] || fail "/var/lib/ehos not owned by ehos"
for f in base.yaml master.yaml worker.yaml ehos_demand.submit; do [[ -f $T/root/usr/local/share/ehos/$f ]] || fail "share/$f"; done
chroot "$T/root" /usr/local/bin/ehos version >/dev/null || fail "ehos does not run"
# Behind a floating address: workers are told it and daemons advertise it.
fresh_root
chroot "$T/root" /bin/bash /src/scripts/install-master.sh --pool fip --central-manager 10.0.0.5 --public-address 192.0.2.7 --no-start >/dev/null \
  || fail "install-master.sh --public-address failed"
[[ $(cv TCP_FORWARDING_HOST) == 192.0.2.7 ]] || fail "TCP_FORWARDING_HOST $(cv TCP_FORWARDING_HOST)"
[[ $(cv PRIVATE_NETWORK_INTERFACE) == 10.0.0.5 ]] || fail "PRIVATE_NETWORK_INTERFACE $(cv PRIVATE_NETWORK_INTERFACE)"
[[ $(cv EHOS_CENTRAL_MANAGER) == 192.0.2.7 ]] || fail "EHOS_CENTRAL_MANAGER $(cv EHOS_CENTRAL_MANAGER)"
# A pair under HAD: both name the pair in one order, one domain, HAD controls the provisioner.
fresh_root
chroot "$T/root" /bin/bash /src/scripts/install-master.sh --pool pair --central-manager 10.0.0.6 --ha-peer 10.0.0.5 --no-start >/dev/null \
  || fail "install-master.sh --ha-peer failed"
[[ $(cv EHOS_HAD.HAD_LIST) == "10.0.0.5:51451, 10.0.0.6:51451" ]] || fail "EHOS_HAD.HAD_LIST $(cv EHOS_HAD.HAD_LIST)"
[[ $(cv MASTER_EHOS_PROVISIONER_CONTROLLER) == EHOS_HAD ]] || fail "MASTER_EHOS_PROVISIONER_CONTROLLER"
[[ $(cv EHOS_HA_PEER) == 10.0.0.5 ]] || fail "EHOS_HA_PEER $(cv EHOS_HA_PEER): workers would not be told the other central manager"
[[ $(cv DAEMON_LIST) == *EHOS_PROVISIONER*EHOS_HAD* ]] || fail "DAEMON_LIST $(cv DAEMON_LIST)"
[[ $(cv UID_DOMAIN) == 10.0.0.5 && $(cv TRUST_DOMAIN) == 10.0.0.5 ]] || fail "UID_DOMAIN $(cv UID_DOMAIN) TRUST_DOMAIN $(cv TRUST_DOMAIN)"
[[ $(cv COLLECTOR_HOST) == "10.0.0.5, 10.0.0.6" ]] || fail "COLLECTOR_HOST $(cv COLLECTOR_HOST)"
chroot "$T/root" /bin/bash /src/scripts/install-master.sh --pool pair --central-manager 10.0.0.6 --ha-peer 10.0.0.6 --no-start 2>/dev/null \
  && fail "--ha-peer naming itself accepted"
echo "test-install-master: ok"
