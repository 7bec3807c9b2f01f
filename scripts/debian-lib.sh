# Sourced by install-condor.sh and openstack-up.sh: what both need to make a
# Debian root with debootstrap.

# debian_mirror prints the mirror to debootstrap from: EHOS_DEBIAN_MIRROR, or
# the host's own apt source (the one mirror we know is reachable).
debian_mirror() {
  local m=${EHOS_DEBIAN_MIRROR:-}
  if [[ -z $m ]]; then
    m=$(grep -h -m1 -E '^URIs:' /etc/apt/sources.list.d/*.sources 2>/dev/null | awk '{print $2}' | head -1 || true)
  fi
  if [[ -z $m ]]; then
    m=$(grep -h -m1 -E '^deb ' /etc/apt/sources.list /etc/apt/sources.list.d/*.list 2>/dev/null | awk '{print $2}' | head -1 || true)
  fi
  printf '%s\n' "${m:-http://deb.debian.org/debian}"
}

# ensure_debootstrap installs debootstrap when missing and checks unshare.
ensure_debootstrap() {
  if ! command -v debootstrap >/dev/null; then
    log "installing debootstrap"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >/dev/null
  fi
  command -v unshare >/dev/null || die "unshare (util-linux) is missing"
}
