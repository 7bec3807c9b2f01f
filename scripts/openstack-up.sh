#!/usr/bin/env bash
# Stands up a REAL OpenStack (Debian bookworm's Zed packages) on 127.0.0.1 only,
# for proving ehos against the real API: Keystone, Placement, Glance (file
# store), Nova api/conductor/scheduler and a compute service running the fake
# virt driver (fake.SmallFakeDriver), RabbitMQ, and a neutron-stub (NOT
# Neutron: a small in-memory stand-in, scripts/openstack/neutron-stub.py) on
# 127.0.0.1:9696.
#
# Everything lives in a debootstrap'd bookworm root. Services run inside a
# private mount namespace (unshare), so the root's /proc is never mounted on
# the host; their PIDs are recorded in $ROOT/var/lib/ehos-run/pids and
# scripts/openstack-down.sh stops them all.
#
# Idempotent: when every service is already up it only verifies and prints
# clouds.yaml (about a second). Fresh: about 3-4 minutes. Needs root.
#
# Environment:
#   EHOS_OPENSTACK_ROOT     the bookworm root (default /var/lib/ehos/openstack)
#   EHOS_OPENSTACK_CLOUDS   where clouds.yaml is written (default /var/lib/ehos/openstack-clouds.yaml)
#   EHOS_OPENSTACK_TOKEN_EXPIRATION  Keystone token lifetime in seconds (default 3600);
#                           when up with another one, only Keystone is restarted
#   EHOS_DEBIAN_MIRROR      mirror for debootstrap (default: the host's own apt source)
set -euo pipefail

ROOT=${EHOS_OPENSTACK_ROOT:-/var/lib/ehos/openstack}
CLOUDS=${EHOS_OPENSTACK_CLOUDS:-/var/lib/ehos/openstack-clouds.yaml}
RUN=$ROOT/var/lib/ehos-run
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SERVICES=(rabbitmq keystone neutron-stub placement glance-api nova-conductor nova-scheduler nova-compute nova-api)
PACKAGES=(keystone nova-api nova-conductor nova-scheduler python3-nova glance placement-api
  rabbitmq-server python3-openstackclient uwsgi-core uwsgi-plugin-python3 sqlite3)
ENDPOINTS=(http://127.0.0.1:5000/v3 http://127.0.0.1:8774/ http://127.0.0.1:8778/
  http://127.0.0.1:9292/ http://127.0.0.1:9696/)

TOKEN_EXPIRATION=${EHOS_OPENSTACK_TOKEN_EXPIRATION:-3600}
[[ $TOKEN_EXPIRATION =~ ^[1-9][0-9]*$ ]] || { echo "openstack-up: error: EHOS_OPENSTACK_TOKEN_EXPIRATION must be seconds, not '$TOKEN_EXPIRATION'" >&2; exit 1; }
T0=$(date +%s)
log() { printf 'openstack-up: [%5ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { printf 'openstack-up: error: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root (debootstrap, chroot and unshare need it)"

all_up() {
  local s p u
  for s in "${SERVICES[@]}"; do
    p=$(cat "$RUN/pids/$s.pid" 2>/dev/null) || return 1
    kill -0 "$p" 2>/dev/null || return 1
  done
  for u in "${ENDPOINTS[@]}"; do
    curl -s -o /dev/null --max-time 5 "$u" || return 1
  done
  [[ -s $RUN/clouds.yaml ]]
}

publish() {
  install -m 0600 "$RUN/clouds.yaml" "$CLOUDS"
  log "clouds.yaml written to $CLOUDS (clouds: ehos, ehos-appcred, ehos-admin):"
  cat "$CLOUDS"
}

# Runs a command chrooted in $ROOT inside a private mount namespace: /proc and
# /dev/shm are mounted there only, and vanish with the namespace's last process.
in_root() {
  unshare --mount --propagation private --fork -- /bin/sh -ec '
    root=$1; shift
    mount -t proc proc "$root/proc"
    mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"
    exec chroot "$root" "$@"
  ' sh "$ROOT" "$@"
}

if [[ -f $ROOT/.ehos-openstack-ready ]] && all_up; then
  if [[ $(cat "$RUN/keystone-expiration" 2>/dev/null) != "$TOKEN_EXPIRATION" ]]; then
    # Only Keystone reads the token lifetime: restart it alone (a few seconds).
    install -m 0755 "$HERE/openstack/inside.sh" "$ROOT/opt/ehos/"
    in_root /usr/bin/env EHOS_T0="$T0" EHOS_OPENSTACK_TOKEN_EXPIRATION="$TOKEN_EXPIRATION" /opt/ehos/inside.sh keystone \
      || die "restarting Keystone failed; logs in $RUN/logs/keystone.log"
  fi
  # Prove Keystone really issues tokens, with the asked lifetime, not just
  # that the port answers.
  source "$RUN/secrets.env"
  body=$(curl -s -w '\n%{http_code}' --max-time 10 -H 'Content-Type: application/json' \
    -d '{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"ehos","domain":{"id":"default"},"password":"'"$EHOS_PASS"'"}}},"scope":{"project":{"name":"ehos","domain":{"id":"default"}}}}}' \
    http://127.0.0.1:5000/v3/auth/tokens) || true
  code=${body##*$'\n'}
  [[ $code == 201 ]] || die "services are running but Keystone refused a token (HTTP $code): run scripts/openstack-down.sh, then this again"
  iat=$(grep -o '"issued_at": *"[^"]*"' <<<"$body" | cut -d'"' -f4)
  exp=$(grep -o '"expires_at": *"[^"]*"' <<<"$body" | cut -d'"' -f4)
  life=$(( $(date -d "$exp" +%s) - $(date -d "$iat" +%s) ))
  (( life >= TOKEN_EXPIRATION - 1 && life <= TOKEN_EXPIRATION + 1 )) \
    || die "Keystone issues tokens for ${life}s, not EHOS_OPENSTACK_TOKEN_EXPIRATION=${TOKEN_EXPIRATION}s"
  log "already up: all ${#SERVICES[@]} services running, endpoints answer, token issued (lifetime ${life}s)"
  publish
  exit 0
fi

# Some but not all services up (a crash, a half-finished run): start clean.
if compgen -G "$RUN/pids/*.pid" >/dev/null; then
  log "found a partial run: stopping it first"
  EHOS_OPENSTACK_ROOT=$ROOT bash "$HERE/openstack-down.sh"
fi

# shellcheck source=debian-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/debian-lib.sh"
mirror=$(debian_mirror)
ensure_debootstrap
command -v curl >/dev/null || die "curl is missing"

if [[ ! -x $ROOT/usr/bin/apt-get ]]; then
  log "debootstrap bookworm into $ROOT from $mirror"
  rm -rf "$ROOT.partial"
  mkdir -p "$(dirname "$ROOT")"
  debootstrap --variant=minbase bookworm "$ROOT.partial" "$mirror" >"$ROOT.debootstrap.log" 2>&1 \
    || { tail -20 "$ROOT.debootstrap.log" >&2; die "debootstrap failed (log: $ROOT.debootstrap.log)"; }
  rm -rf "$ROOT"
  mv "$ROOT.partial" "$ROOT"
fi

# Keep package scripts from starting services inside the root.
printf '#!/bin/sh\nexit 101\n' >"$ROOT/usr/sbin/policy-rc.d"
chmod 0755 "$ROOT/usr/sbin/policy-rc.d"
cp /etc/hosts "$ROOT/etc/hosts"
cp /etc/resolv.conf "$ROOT/etc/resolv.conf" 2>/dev/null || true

pkgs_marker="$ROOT/.ehos-openstack-pkgs-$(printf '%s ' "${PACKAGES[@]}" | md5sum | cut -c1-8)"
if [[ ! -f $pkgs_marker ]]; then
  log "installing OpenStack Zed packages in the root (about 1.5 minutes)"
  in_root /bin/sh -ec '
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -q --no-install-recommends "$@" >/var/log/ehos-apt.log 2>&1 \
      || { tail -30 /var/log/ehos-apt.log >&2; exit 1; }
  ' sh "${PACKAGES[@]}"
  touch "$pkgs_marker"
fi

install -d -m 0755 "$ROOT/opt/ehos/bin"
install -m 0755 "$HERE/openstack/bin/nova-compute" "$ROOT/opt/ehos/bin/"
install -m 0755 "$HERE/openstack/inside.sh" "$HERE/openstack/register.py" "$HERE/openstack/neutron-stub.py" "$ROOT/opt/ehos/"

log "configuring and starting services"
if ! in_root /usr/bin/env EHOS_T0="$T0" EHOS_OPENSTACK_TOKEN_EXPIRATION="$TOKEN_EXPIRATION" /opt/ehos/inside.sh; then
  die "setup failed; logs in $RUN/logs and $ROOT/var/log/{keystone,nova,glance,placement}; stop with scripts/openstack-down.sh"
fi
all_up || die "setup finished but not every service is up; logs in $RUN/logs"
touch "$ROOT/.ehos-openstack-ready"
publish
log "OpenStack up in $(( $(date +%s) - T0 ))s: keystone :5000, nova :8774, placement :8778, glance :9292, neutron-stub :9696 (all 127.0.0.1)"
