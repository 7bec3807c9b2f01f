#!/usr/bin/env bash
# Installs HTCondor (Debian trixie's `condor` package, 23.x, or forky's, 25.x)
# into a debootstrap'd root of that suite, because Debian bookworm does not
# package HTCondor and those binaries need their suite's libc. Host-side wrappers (scripts/condor-wrap) run the
# tools inside that root through a private mount namespace, so nothing stays
# mounted on the host.
#
# Idempotent: a second run checks the marker and the binaries and exits in well
# under a second. Needs root (debootstrap, chroot).
#
# Environment:
#   EHOS_CONDOR_SUITE  Debian suite to install from: trixie (default, HTCondor
#                      23.9) or forky (HTCondor 25.x); see docs/condor-versions.md.
#                      Unset, a root ending in /forky or /sid means that suite.
#   EHOS_CONDOR_ROOT  where the root lives (default /var/lib/ehos/$EHOS_CONDOR_SUITE)
#   EHOS_DEBIAN_MIRROR  mirror for debootstrap (default: the host's own apt source)
#   EHOS_CONDOR_USER  unprivileged user inside the root that runs the pool (default ehos, uid 4242)
set -euo pipefail

SUITE=${EHOS_CONDOR_SUITE:-}
if [[ -z $SUITE ]]; then
  # A root named after a suite (EHOS_CONDOR_ROOT=/var/lib/ehos/forky) is that
  # suite, so setting the root alone never puts trixie into the forky root.
  case ${EHOS_CONDOR_ROOT:-} in
    */forky) SUITE=forky ;;
    */sid) SUITE=sid ;;
    *) SUITE=trixie ;;
  esac
fi
case $SUITE in
  trixie | forky | sid) ;;
  *) printf 'install-condor: error: EHOS_CONDOR_SUITE=%s: want trixie (HTCondor 23) or forky (HTCondor 25)\n' "$SUITE" >&2; exit 2 ;;
esac
ROOT=${EHOS_CONDOR_ROOT:-/var/lib/ehos/$SUITE}
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
  log "debootstrap $SUITE into $ROOT from $mirror"
  rm -rf "$ROOT.partial"
  mkdir -p "$(dirname "$ROOT")"
  # bookworm's debootstrap has no script for forky: sid's is the same recipe.
  script=()
  [[ -e /usr/share/debootstrap/scripts/$SUITE ]] || script=(/usr/share/debootstrap/scripts/sid)
  dlog="$(dirname "$ROOT")/debootstrap-$SUITE.log"
  debootstrap --variant=minbase "$SUITE" "$ROOT.partial" "$mirror" "${script[@]}" >"$dlog" 2>&1 \
    || { tail -20 "$dlog" >&2; die "debootstrap $SUITE failed (log: $dlog)"; }
  rm -rf "$ROOT"
  mv "$ROOT.partial" "$ROOT"
fi

# Keep package scripts from trying to start services inside the root.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
# Testing and unstable carry a Release file valid for a week only; the archive
# this machine reaches is a frozen copy, so apt would refuse forky's as expired.
if [[ $SUITE != trixie ]]; then
  printf 'Acquire::Check-Valid-Until "false";\n' >"$ROOT/etc/apt/apt.conf.d/99ehos-no-valid-until"
fi
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
