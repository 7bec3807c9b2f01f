#!/usr/bin/env bash
# Installs HTCondor (Debian trixie's `condor` package, 23.x) into a debootstrap'd
# trixie root, because Debian bookworm does not package HTCondor and trixie's
# binaries need trixie's libc. Host-side wrappers (scripts/condor-wrap) run the
# tools inside that root through a private mount namespace, so nothing stays
# mounted on the host.
#
# Idempotent: a second run checks the marker and the binaries and exits in well
# under a second. Needs root (debootstrap, chroot).
#
# Environment:
#   EHOS_CONDOR_ROOT  where the trixie root lives (default /var/lib/ehos/trixie)
#   EHOS_DEBIAN_MIRROR  mirror for debootstrap (default: the host's own apt source)
#   EHOS_CONDOR_USER  unprivileged user inside the root that runs the pool (default ehos, uid 4242)
set -euo pipefail

ROOT=${EHOS_CONDOR_ROOT:-/var/lib/ehos/trixie}
USER_NAME=${EHOS_CONDOR_USER:-ehos}
USER_UID=${EHOS_CONDOR_UID:-4242}
MARKER="$ROOT/.ehos-condor-ready"

log() { printf 'install-condor: %s\n' "$*" >&2; }
die() { printf 'install-condor: error: %s\n' "$*" >&2; exit 1; }

if [[ -f $MARKER ]] && chroot "$ROOT" /usr/bin/condor_version >/dev/null 2>&1; then
  log "HTCondor already installed in $ROOT ($(chroot "$ROOT" /usr/bin/condor_version | head -1))"
  exit 0
fi

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap and chroot need it)"

start=$(date +%s)

# shellcheck source=debian-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/debian-lib.sh"
mirror=$(debian_mirror)
ensure_debootstrap

if [[ ! -x $ROOT/usr/bin/apt-get ]]; then
  log "debootstrap trixie into $ROOT from $mirror"
  rm -rf "$ROOT.partial"
  mkdir -p "$(dirname "$ROOT")"
  debootstrap --variant=minbase trixie "$ROOT.partial" "$mirror" >"$(dirname "$ROOT")/debootstrap.log" 2>&1 \
    || { tail -20 "$(dirname "$ROOT")/debootstrap.log" >&2; die "debootstrap failed (log: $(dirname "$ROOT")/debootstrap.log)"; }
  rm -rf "$ROOT"
  mv "$ROOT.partial" "$ROOT"
fi

# Keep package scripts from trying to start services inside the root.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
cp /etc/hosts "$ROOT/etc/hosts"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true

log "installing condor inside the root"
unshare --mount --propagation private -- sh -ec '
  mount -t proc proc "$1/proc"
  chroot "$1" sh -ec "
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends condor >/dev/null 2>/tmp/condor-install.err || { cat /tmp/condor-install.err >&2; exit 1; }
  "
' sh "$ROOT"

if ! chroot "$ROOT" getent passwd "$USER_NAME" >/dev/null; then
  chroot "$ROOT" groupadd -g "$USER_UID" "$USER_NAME"
  chroot "$ROOT" useradd -u "$USER_UID" -g "$USER_UID" -m -s /bin/sh "$USER_NAME"
fi
# The same uid on the host so files in shared directories have one owner.
if ! getent passwd "$USER_NAME" >/dev/null; then
  groupadd -g "$USER_UID" "$USER_NAME" 2>/dev/null || true
  useradd -u "$USER_UID" -g "$USER_UID" -M -s /usr/sbin/nologin "$USER_NAME" 2>/dev/null || true
fi

chroot "$ROOT" /usr/bin/condor_version >/dev/null || die "condor_version does not run inside $ROOT"
touch "$MARKER"
log "HTCondor installed in $ROOT in $(( $(date +%s) - start ))s: $(chroot "$ROOT" /usr/bin/condor_version | head -1)"
