#!/usr/bin/env bash
# Makes a root with Debian's own cloud-init package beside HTCondor, for the
# tests that boot "VMs" through real cloud-init (integration: cloud-init schema
# checks of every shipped template, worker VMs whose user-data cloud-init
# applies). It copies the HTCondor trixie root that scripts/install-condor.sh
# made (read only: other tests use it) and installs cloud-init into the copy.
# Measured on the 2-core CI machine: copy 3 s + cloud-init 8 s = 11 s (23 s
# while a debootstrap ran beside it), against 31 s for `debootstrap
# --variant=minbase trixie` alone, before condor (12 s) and cloud-init; and
# the copy needs the network only for cloud-init's packages.
#
# Idempotent: a second run checks the marker and `cloud-init --version` and
# exits in well under a second. Needs root (chroot).
#
# Environment:
#   EHOS_CONDOR_ROOT     the HTCondor root to copy (default /var/lib/ehos/trixie)
#   EHOS_CLOUDINIT_ROOT  where the cloud-init root goes (default /var/lib/ehos/cloudinit)
#   EHOS_DEBIAN_MIRROR   mirror for apt inside the root (default: the host's own apt source)
set -euo pipefail

SRC=${EHOS_CONDOR_ROOT:-/var/lib/ehos/trixie}
ROOT=${EHOS_CLOUDINIT_ROOT:-/var/lib/ehos/cloudinit}
MARKER="$ROOT/.ehos-cloudinit-ready"
# Bump when the package set changes, so an older root is completed.
LEVEL=3

log() { printf 'install-cloudinit: %s\n' "$*" >&2; }
die() { printf 'install-cloudinit: error: %s\n' "$*" >&2; exit 1; }

if [[ -f $MARKER && $(cat "$MARKER") == "$LEVEL" ]] && chroot "$ROOT" /usr/bin/cloud-init --version >/dev/null 2>&1; then
  log "cloud-init already installed in $ROOT ($(chroot "$ROOT" /usr/bin/cloud-init --version 2>&1 | head -1))"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (chroot needs it)"
[[ -f $SRC/.ehos-condor-ready && -x $SRC/usr/sbin/condor_master ]] \
  || die "no HTCondor root at $SRC (run scripts/install-condor.sh first)"

start=$(date +%s)

# shellcheck source=debian-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/debian-lib.sh"
mirror=$(debian_mirror)

if [[ ! -x $ROOT/usr/bin/condor_version ]]; then
  log "copying $SRC to $ROOT"
  rm -rf "$ROOT.partial"
  cp -a "$SRC" "$ROOT.partial"
  rm -f "$ROOT.partial/.ehos-condor-ready"
  rm -rf "$ROOT"
  mv "$ROOT.partial" "$ROOT"
  log "copied in $(( $(date +%s) - start ))s"
fi

# The copy's apt source is the trixie one debootstrap wrote; point it at the
# mirror we know is reachable, in case the source root was made from another.
printf 'deb %s trixie main\n' "$mirror" >"$ROOT/etc/apt/sources.list"
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
cp /etc/hosts "$ROOT/etc/hosts"

# Also the packages cloudinit/base.yaml installs, so the root is what a base
# image holds and base.yaml and master.yaml can run offline, and nftables
# (worker.yaml keeps non-root users from the metadata service with it).
log "installing cloud-init (and base.yaml's packages) inside the root"
unshare --mount --propagation private -- sh -ec '
  mount -t proc proc "$1/proc"
  chroot "$1" sh -ec "
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends cloud-init curl ca-certificates openssl nftables >/dev/null 2>/tmp/cloudinit-install.err || { cat /tmp/cloudinit-install.err >&2; exit 1; }
    apt-get clean
  "
' sh "$ROOT"

# A root without systemd: cloud-init would otherwise look for a datasource
# among all it knows (and try the network for some). The tests seed NoCloud.
mkdir -p "$ROOT/etc/cloud/cloud.cfg.d"
printf '# Written by ehos scripts/install-cloudinit.sh: tests seed NoCloud only.\ndatasource_list: [ NoCloud, None ]\n' \
  >"$ROOT/etc/cloud/cloud.cfg.d/90-ehos-test.cfg"

chroot "$ROOT" /usr/bin/cloud-init --version >/dev/null 2>&1 || die "cloud-init does not run inside $ROOT"
echo "$LEVEL" >"$MARKER"
log "cloud-init installed in $ROOT in $(( $(date +%s) - start ))s: $(chroot "$ROOT" /usr/bin/cloud-init --version 2>&1 | head -1)"
