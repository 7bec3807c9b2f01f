#!/usr/bin/env bash
# Turns a Debian (trixie or later) or Ubuntu (24.04 or later) machine into an
# ehos central manager: HTCondor (collector, negotiator, schedd) with the
# ehos provisioner under condor_master and the demand job submitted. The
# counterpart of cloudinit/master.yaml for a machine that already exists (the
# original EHOS's master.sh).
#
# Run from an ehos source tree after `make build` (or give --bin DIR with the
# binaries):
#   sudo scripts/install-master.sh --pool mypool [--central-manager 10.0.0.5]
#
# Idempotent: a second run changes nothing the admin edited. It installs
#   /usr/local/bin/ehos                       the admin CLI
#   /usr/local/libexec/ehos/                  ehos_provisioner, ehos_demand, ehos_startd_cron
#   /usr/local/share/ehos/                    shipped templates and ehos_demand.submit (replaced on update)
#   /usr/local/etc/ehos/                      the admin's copies (never overwritten): ehos.yaml,
#                                             and templates there win over the shipped ones
#   /etc/condor/config.d/50-ehos-central-manager.conf   shipped snippet (replaced on update)
#   /etc/condor/config.d/40-ehos-central-manager-site.conf  site values (written once)
#   /etc/condor/passwords.d/POOL              the pool signing key (created once)
#   with --ha-peer also
#   /etc/condor/config.d/51-ehos-ha.conf      shipped HAD snippet (replaced on update)
#   /etc/condor/config.d/41-ehos-ha-site.conf the pair's addresses (written once)
#
# Options (or environment):
#   --pool NAME             pool name (EHOS_POOL; default: the host name)
#   --central-manager ADDR  address workers reach the collector at (EHOS_CM; default: first address of hostname -I)
#   --public-address ADDR   a floating IP or name that reaches this machine but is not on its
#                           interface: its daemons advertise it (TCP_FORWARDING_HOST) and workers
#                           are told it (EHOS_PUBLIC; docs/network.md)
#   --private-network NAME  this machine's network for HTCondor (PRIVATE_NETWORK_NAME; EHOS_PRIVNET;
#                           default POOL-cm): workers whose clouds[].private_network is the same
#                           are claimed directly, the others through the collector as broker
#   --ha-peer ADDR          the other central manager of a pair (EHOS_HA_PEER; docs/ha.md): HTCondor's
#                           HAD decides which of the two runs the provisioner. Run the script on both,
#                           each naming the other, with the same --pool, and the first one's
#                           /etc/condor/passwords.d/POOL copied to the second before its run
#   --bin DIR               directory with ehos, ehos_provisioner, ehos_demand, ehos_startd_cron (default: ./bin)
#   --htcondor-repo         install HTCondor from the HTCondor project's repository
#                           (get.htcondor.org) instead of the distribution's package
#   --no-start              do not (re)start HTCondor nor submit the demand job
# Needs root. Without systemd (a chroot, a container) HTCondor is not started
# and the demand job is not submitted; the script says so.
set -euo pipefail

SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
POOL=${EHOS_POOL:-}
CM=${EHOS_CM:-}
PUBLIC=${EHOS_PUBLIC:-}
PRIVNET=${EHOS_PRIVNET:-}
PEER=${EHOS_HA_PEER:-}
BIN=${EHOS_BIN:-$SRC/bin}
REPO=0
START=1
PREFIX=${EHOS_PREFIX:-/usr/local}
CONFIGD=${EHOS_CONFIGD:-/etc/condor/config.d}

log() { printf 'install-master: %s\n' "$*" >&2; }
die() { printf 'install-master: error: %s\n' "$*" >&2; exit 1; }

while [[ $# -gt 0 ]]; do
  case $1 in
    --pool) POOL=$2; shift 2 ;;
    --central-manager) CM=$2; shift 2 ;;
    --public-address) PUBLIC=$2; shift 2 ;;
    --private-network) PRIVNET=$2; shift 2 ;;
    --ha-peer) PEER=$2; shift 2 ;;
    --bin) BIN=$2; shift 2 ;;
    --htcondor-repo) REPO=1; shift ;;
    --no-start) START=0; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
  esac
done

[[ $(id -u) -eq 0 ]] || die "must run as root"
[[ -r /etc/os-release ]] || die "no /etc/os-release: not Debian or Ubuntu"
. /etc/os-release
case " ${ID:-} ${ID_LIKE:-} " in
  *" debian "*|*" ubuntu "*) ;;
  *) die "$PRETTY_NAME is not Debian or Ubuntu" ;;
esac
for b in ehos ehos_provisioner ehos_demand ehos_startd_cron; do
  [[ -x $BIN/$b ]] || die "$BIN/$b missing: run make build first or give --bin DIR"
done
[[ -n $POOL ]] || POOL=$(hostname -s)
if [[ -z $CM ]]; then
  CM=$(hostname -I 2>/dev/null | awk '{print $1}')
  [[ -n $CM ]] || die "cannot tell this machine's address: give --central-manager ADDR"
fi
[[ $POOL =~ ^[A-Za-z0-9][A-Za-z0-9._-]*$ ]] || die "--pool $POOL: use letters, digits, . _ -"
[[ $CM =~ ^[A-Za-z0-9.:_-]+$ ]] || die "--central-manager $CM: not a host name or address"
[[ -z $PUBLIC || $PUBLIC =~ ^[A-Za-z0-9.:_-]+$ ]] || die "--public-address $PUBLIC: not a host name or address"
[[ -z $PEER || $PEER =~ ^[A-Za-z0-9.:_-]+$ ]] || die "--ha-peer $PEER: not a host name or address"
[[ $PEER != "$CM" ]] || die "--ha-peer $PEER: that is this central manager (--central-manager); name the other one"
PRIVNET=${PRIVNET:-$POOL-cm}
[[ $PRIVNET =~ ^[A-Za-z0-9._-]+$ ]] || die "--private-network $PRIVNET: use letters, digits, . _ -"
WORKERS_CM=${PUBLIC:-$CM}

# --- HTCondor
if command -v condor_version >/dev/null 2>&1; then
  log "HTCondor present: $(condor_version | head -1)"
elif [[ $REPO -eq 1 ]]; then
  command -v curl >/dev/null || { apt-get update -q; DEBIAN_FRONTEND=noninteractive apt-get install -y -q curl ca-certificates; }
  log "installing HTCondor from the HTCondor repository (get.htcondor.org)"
  curl -fsSL https://get.htcondor.org | /bin/bash -s -- --no-dry-run
else
  log "installing HTCondor from $PRETTY_NAME's packages"
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q condor \
    || DEBIAN_FRONTEND=noninteractive apt-get install -y -q htcondor \
    || die "no condor or htcondor package: use --htcondor-repo"
fi
command -v condor_version >/dev/null || die "HTCondor tools still missing after the install"
getent passwd condor >/dev/null || die "no condor user after the HTCondor install"
# The demand job's owner: HTCondor 23 refuses jobs owned by condor.
if ! getent passwd ehos >/dev/null; then
  useradd --system --home-dir /var/lib/ehos --shell /usr/sbin/nologin --comment "ehos demand reporter" ehos \
    || die "cannot create the ehos system user"
  log "created the ehos system user (owner of the demand job)"
fi
install -d -o ehos -g ehos -m 0755 /var/lib/ehos

# --- ehos binaries, templates, config snippets
changed=0
put() { # put MODE SRC DEST: install when missing or different
  if ! cmp -s "$2" "$3"; then install -D -m "$1" "$2" "$3"; log "installed $3"; changed=1; fi
}
put 0755 "$BIN/ehos" "$PREFIX/bin/ehos"
for b in ehos_provisioner ehos_demand ehos_startd_cron; do put 0755 "$BIN/$b" "$PREFIX/libexec/ehos/$b"; done
for f in "$SRC"/cloudinit/*.yaml "$SRC"/condor-config/ehos_demand.submit; do
  put 0644 "$f" "$PREFIX/share/ehos/$(basename "$f")"
done
put 0644 "$SRC/condor-config/50-ehos-central-manager.conf" "$CONFIGD/50-ehos-central-manager.conf"
install -d -m 0755 "$PREFIX/etc/ehos"
if [[ -n $PEER ]]; then
  put 0644 "$SRC/condor-config/51-ehos-ha.conf" "$CONFIGD/51-ehos-ha.conf"
  ha=$CONFIGD/41-ehos-ha-site.conf
  if [[ ! -e $ha ]]; then
    # The same text on both central managers: the pair in one order.
    pair=$(printf '%s\n' "$CM" "$PEER" | LC_ALL=C sort)
    cm1=${pair%%$'\n'*} cm2=${pair#*$'\n'}
    cat >"$ha" <<EOF
# Written once by ehos scripts/install-master.sh --ha-peer; yours to edit.
# The same on both central managers (docs/ha.md).
EHOS_HA_CM1 = $cm1
EHOS_HA_CM2 = $cm2
# One pool: daemons and tools report to both collectors, and both central
# managers are one domain, so each provisioner believes the other's ads
# (its lease above all: EHOS_PROVISIONER_IDENTITY is condor@\$(UID_DOMAIN)).
CONDOR_HOST = \$(EHOS_HA_CM1), \$(EHOS_HA_CM2)
UID_DOMAIN = \$(EHOS_HA_CM1)
TRUST_DOMAIN = \$(EHOS_HA_CM1)
EOF
    chmod 0644 "$ha"; log "wrote $ha"; changed=1
  else
    log "kept $ha"
  fi
fi

site=$CONFIGD/40-ehos-central-manager-site.conf
if [[ ! -e $site ]]; then
  # Only behind a floating address (--public-address). Made apart from the
  # here-document: bash parses quotes inside ${VAR:+...} there.
  forwarding=""
  if [[ -n $PUBLIC ]]; then
    forwarding="# Reached at $PUBLIC, which is not on this machine's interface: daemons advertise it,
# and their private address $CM for daemons on this network.
TCP_FORWARDING_HOST = $PUBLIC
PRIVATE_NETWORK_INTERFACE = $CM
"
  fi
  peerline=""
  if [[ -n $PEER ]]; then
    peerline="# Workers report to both central managers of the pair (pool.ha_peer; docs/ha.md).
EHOS_HA_PEER = $PEER
"
  fi
  cat >"$site" <<EOF
# Written once by ehos scripts/install-master.sh; yours to edit.
CONDOR_HOST = $CM
COLLECTOR_HOST = \$(CONDOR_HOST)
DAEMON_LIST = MASTER, COLLECTOR, NEGOTIATOR, SCHEDD
UID_DOMAIN = $CM
TRUST_DOMAIN = $CM
EHOS_POOL_NAME = $POOL
EHOS_CENTRAL_MANAGER = $WORKERS_CM
${peerline}# Workers on this network (clouds[].private_network: $PRIVNET in ehos.yaml)
# are claimed directly; the others reach back through the collector (CCB).
PRIVATE_NETWORK_NAME = $PRIVNET
${forwarding}# The pool signs IDTOKENs; local tools use FS.
SEC_DEFAULT_AUTHENTICATION_METHODS = FS, IDTOKENS
SEC_PASSWORD_DIRECTORY = /etc/condor/passwords.d
SEC_TOKEN_DIRECTORY = /etc/condor/tokens.d
ALLOW_ADMINISTRATOR = condor@\$(TRUST_DOMAIN) root@\$(TRUST_DOMAIN) \$(ALLOW_ADMINISTRATOR)
EOF
  chmod 0644 "$site"; log "wrote $site"; changed=1
else
  log "kept $site (edited by you, or from an earlier run)"
fi

cfg=$PREFIX/etc/ehos/ehos.yaml
if [[ ! -e $cfg ]]; then
  cat >"$cfg" <<EOF
# ehos.yaml, written once by scripts/install-master.sh; yours to edit.
# Fill in clouds (each a clouds.yaml entry name), then: ehos doctor
pool:
  name: $POOL
  central_manager: $WORKERS_CM
clouds: []
EOF
  chown root:condor "$cfg"; chmod 0640 "$cfg"; log "wrote $cfg (add your clouds)"; changed=1
else
  log "kept $cfg"
fi

install -d -m 0700 /etc/condor/passwords.d /etc/condor/tokens.d
if [[ ! -s /etc/condor/passwords.d/POOL ]]; then
  head -c 32 /dev/urandom | base64 | condor_store_cred add -c -i - -f /etc/condor/passwords.d/POOL >/dev/null \
    || die "cannot create the pool signing key"
  chmod 0600 /etc/condor/passwords.d/POOL
  log "created the pool signing key /etc/condor/passwords.d/POOL"; changed=1
fi

# --- start HTCondor and the demand job
if [[ $START -eq 0 ]]; then
  log "--no-start: HTCondor not restarted, demand job not submitted"
elif [[ ! -d /run/systemd/system ]]; then
  log "no systemd here (chroot or container): start condor_master yourself, then submit the demand job:"
  log "  runuser -u ehos -- condor_submit $PREFIX/share/ehos/ehos_demand.submit"
else
  systemctl enable -q condor
  if [[ $changed -eq 1 ]] || ! systemctl is-active -q condor; then systemctl restart condor; log "restarted HTCondor"; fi
  for _ in $(seq 30); do condor_q -totals >/dev/null 2>&1 && break; sleep 1; done
  if [[ -n $(condor_q -allusers -constraint 'EHOSReporter =?= True' -af ClusterId 2>/dev/null) ]]; then
    log "demand job already queued"
  else
    (cd /var/lib/ehos && runuser -u ehos -- condor_submit "$PREFIX/share/ehos/ehos_demand.submit") \
      || die "could not submit the demand job"
    log "submitted the demand job as ehos"
  fi
fi
log "done. Next: put clouds.yaml in place (mode 0600), list your clouds in $cfg, run: ehos doctor"
