#!/usr/bin/env bash
# Stops the OpenStack started by scripts/openstack-up.sh: every recorded PID
# (SIGTERM, then SIGKILL after a grace period), then any helper process those
# services forked whose root is still the bookworm root (epmd, uwsgi workers,
# erlang port programs), each by its PID. With the last process gone, the
# private mount namespace and its /proc and /dev/shm mounts go too. Verifies
# that no process runs in the root and that nothing of it is mounted on the host.
# Keeps the root, the databases and clouds.yaml: the next up is fast.
#
# Environment: EHOS_OPENSTACK_ROOT (default /var/lib/ehos/openstack)
set -euo pipefail

ROOT=${EHOS_OPENSTACK_ROOT:-/var/lib/ehos/openstack}
RUN=$ROOT/var/lib/ehos-run
# Reverse start order: API first, so nothing new arrives while the rest stops.
ORDER=(nova-api nova-compute nova-scheduler nova-conductor glance-api placement keystone neutron-stub rabbitmq)

log() { printf 'openstack-down: %s\n' "$*" >&2; }
die() { printf 'openstack-down: error: %s\n' "$*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root"
[[ -d $ROOT ]] || { log "no root at $ROOT: nothing to stop"; exit 0; }
realroot=$(readlink -f "$ROOT")

# PIDs of processes whose root directory is our bookworm root.
in_root_pids() {
  local d
  for d in /proc/[0-9]*; do
    [[ $(readlink "$d/root" 2>/dev/null) == "$realroot" ]] && echo "${d#/proc/}"
  done
  return 0
}

stop_pids() { # signal grace pids...
  local sig=$1 grace=$2; shift 2
  local p i alive
  [[ $# -gt 0 ]] || return 0
  kill "-$sig" "$@" 2>/dev/null || true
  for ((i = 0; i < grace * 10; i++)); do
    alive=0
    for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
    [[ $alive -eq 0 ]] && return 0
    sleep 0.1
  done
  return 1
}

pids=()
for s in "${ORDER[@]}"; do
  f=$RUN/pids/$s.pid
  [[ -f $f ]] || continue
  p=$(cat "$f")
  # Only signal it if it is still ours (PIDs get reused).
  if kill -0 "$p" 2>/dev/null && [[ $(readlink "/proc/$p/root" 2>/dev/null) == "$realroot" ]]; then
    pids+=("$p")
  fi
done
if [[ ${#pids[@]} -gt 0 ]]; then
  log "stopping ${#pids[@]} services: ${pids[*]}"
  stop_pids TERM 20 "${pids[@]}" || { log "some did not stop on SIGTERM: SIGKILL"; stop_pids KILL 5 "${pids[@]}" || true; }
fi

mapfile -t rest < <(in_root_pids)
if [[ ${#rest[@]} -gt 0 ]]; then
  log "stopping ${#rest[@]} leftover processes in the root: $(for p in "${rest[@]}"; do printf '%s(%s) ' "$p" "$(cat /proc/$p/comm 2>/dev/null)"; done)"
  stop_pids TERM 10 "${rest[@]}" || stop_pids KILL 5 "${rest[@]}" || true
fi
rm -f "$RUN"/pids/*.pid "$ROOT/.ehos-openstack-ready"

mapfile -t rest < <(in_root_pids)
[[ ${#rest[@]} -eq 0 ]] || die "processes still running in $ROOT: ${rest[*]}"
if findmnt -rn -o TARGET | grep -qF "$realroot/"; then
  die "mounts under $ROOT remain on the host: $(findmnt -rn -o TARGET | grep -F "$realroot/" | tr '\n' ' ')"
fi
log "stopped: no process runs in $ROOT and nothing under it is mounted"
