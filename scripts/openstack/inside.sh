#!/bin/bash
# Runs INSIDE the bookworm root (chroot), in the private mount namespace made
# by scripts/openstack-up.sh. Configures Keystone, Placement, Glance, Nova
# (fake virt driver), RabbitMQ and the neutron-stub on 127.0.0.1 only, starts
# them in the background (PIDs in $RUN/pids), registers them in Keystone and
# creates the ehos project, flavors, image, quotas and application credential.
#
# Configuration (DB sync, fernet keys, bootstrap) happens once, guarded by
# marker files in $RUN; services are (re)started on every call.
set -euo pipefail

RUN=/var/lib/ehos-run          # state dir, seen from the host as $ROOT/var/lib/ehos-run
PIDS=$RUN/pids
LOGS=$RUN/logs
mkdir -p "$PIDS" "$LOGS"
chmod 0700 "$RUN"
export HOME=/root LANG=C.UTF-8 LC_ALL=C.UTF-8

log() { printf 'openstack-up: [%5ss] %s\n' "$(( $(date +%s) - T0 ))" "$*" >&2; }
die() { printf 'openstack-up: error: %s\n' "$*" >&2; exit 1; }
T0=${EHOS_T0:-$(date +%s)}

# --- secrets: generated once, kept in the state dir (0600) -------------------
if [[ ! -f $RUN/secrets.env ]]; then
  gen() { head -c 18 /dev/urandom | base64 | tr -d '/+=' ; }
  umask 077
  cat >"$RUN/secrets.env" <<EOF
ADMIN_PASS=$(gen)
SERVICE_PASS=$(gen)
EHOS_PASS=$(gen)
EOF
  umask 022
fi
# shellcheck disable=SC1091
source "$RUN/secrets.env"
TOKEN_EXPIRATION=${EHOS_OPENSTACK_TOKEN_EXPIRATION:-3600}
KS=http://127.0.0.1:5000

authtoken() { # $1 = service user
  cat <<EOF
[keystone_authtoken]
www_authenticate_uri = $KS/
auth_url = $KS/
auth_type = password
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $1
password = $SERVICE_PASS
service_token_roles_required = true
EOF
}
svcauth() { # $1 = section, $2 = user
  cat <<EOF
[$1]
auth_type = password
auth_url = $KS/v3
project_domain_name = Default
user_domain_name = Default
project_name = service
username = $2
password = $SERVICE_PASS
region_name = RegionOne
EOF
}

# --- configuration files (rewritten every time: cheap, and keeps them honest) -
mkdir -p /var/log/keystone /var/log/nova /var/log/glance /var/log/placement \
  /var/lib/keystone /var/lib/nova/instances /var/lib/nova/tmp /var/lib/glance/images \
  /var/lib/glance/staging /var/lib/glance/tasks /var/lib/placement /var/log/rabbitmq /var/lib/rabbitmq

cat >/etc/keystone/keystone.conf <<EOF
[DEFAULT]
log_dir = /var/log/keystone
[database]
connection = sqlite:////var/lib/keystone/keystone.sqlite?timeout=60
[token]
provider = fernet
expiration = $TOKEN_EXPIRATION
[fernet_tokens]
key_repository = /etc/keystone/fernet-keys/
[credential]
key_repository = /etc/keystone/credential-keys/
[cache]
enabled = false
EOF

cat >/etc/placement/placement.conf <<EOF
[DEFAULT]
log_dir = /var/log/placement
[api]
auth_strategy = keystone
[placement_database]
connection = sqlite:////var/lib/placement/placement.sqlite?timeout=60
$(authtoken placement)
EOF

cat >/etc/glance/glance-api.conf <<EOF
[DEFAULT]
bind_host = 127.0.0.1
bind_port = 9292
workers = 1
log_dir = /var/log/glance
enabled_backends = file:file
[database]
connection = sqlite:////var/lib/glance/glance.sqlite?timeout=60
[glance_store]
default_backend = file
[file]
filesystem_store_datadir = /var/lib/glance/images/
[os_glance_staging_store]
filesystem_store_datadir = /var/lib/glance/staging/
[os_glance_tasks_store]
filesystem_store_datadir = /var/lib/glance/tasks/
[paste_deploy]
flavor = keystone
$(authtoken glance)
EOF

# nova-compute gets no [database]/[api_database]: with them it tries direct DB
# access and logs "No DB access allowed in nova-compute".
nova_conf() {
  cat <<EOF
[DEFAULT]
transport_url = rabbit://guest:guest@127.0.0.1:5672/
my_ip = 127.0.0.1
host = ehos-fake-compute
compute_driver = fake.SmallFakeDriver
enabled_apis = osapi_compute
osapi_compute_listen = 127.0.0.1
osapi_compute_listen_port = 8774
osapi_compute_workers = 1
log_dir = /var/log/nova
state_path = /var/lib/nova
instances_path = /var/lib/nova/instances
# SmallFakeDriver reports 1 vCPU, 8 GiB RAM, 1 TiB disk: overcommit so the
# test flavors fit a few servers.
cpu_allocation_ratio = 64.0
ram_allocation_ratio = 8.0
disk_allocation_ratio = 1.0
[api]
auth_strategy = keystone
[conductor]
workers = 1
[scheduler]
workers = 1
discover_hosts_in_cells_interval = 30
[oslo_concurrency]
lock_path = /var/lib/nova/tmp
[oslo_messaging_notifications]
driver = noop
[vnc]
enabled = false
[glance]
api_servers = http://127.0.0.1:9292
$(authtoken nova)
$(svcauth placement nova)
$(svcauth neutron nova)
endpoint_override = http://127.0.0.1:9696
EOF
}
nova_conf >/etc/nova/nova-compute.conf
{ nova_conf; cat <<EOF
[api_database]
connection = sqlite:////var/lib/nova/nova_api.sqlite?timeout=60
[database]
connection = sqlite:////var/lib/nova/nova.sqlite?timeout=60
EOF
} >/etc/nova/nova.conf

# --- helpers to run services ------------------------------------------------
start() { # name cmd... : background, own session, PID recorded
  local name=$1; shift
  local pidf=$PIDS/$name.pid
  if [[ -f $pidf ]] && kill -0 "$(cat "$pidf")" 2>/dev/null; then return 0; fi
  setsid "$@" >>"$LOGS/$name.log" 2>&1 </dev/null &
  echo $! >"$pidf"
}
wait_http() { # name url [seconds]
  local i
  for ((i = 0; i < ${3:-120} * 4; i++)); do
    if python3 - "$2" <<'PY' 2>/dev/null; then return 0; fi
import sys, urllib.request, urllib.error
try:
    urllib.request.urlopen(sys.argv[1], timeout=2)
except urllib.error.HTTPError:
    pass  # any HTTP answer means it is serving
PY
    kill -0 "$(cat "$PIDS/$1.pid")" 2>/dev/null || { tail -30 "$LOGS/$1.log" >&2; die "$1 died (log: $LOGS/$1.log)"; }
    sleep 0.25
  done
  tail -30 "$LOGS/$1.log" >&2; die "$1 did not answer on $2"
}
uwsgi_ini() { # name port wsgi-file processes threads
  cat >"$RUN/$1-uwsgi.ini" <<EOF
[uwsgi]
plugins = python3
master = true
die-on-term = true
no-orphans = true
lazy-apps = true
enable-threads = true
processes = $4
threads = $5
buffer-size = 65535
socket-timeout = 30
# uwsgi's http-socket closes the connection after each answer; without this
# header keystoneauth reuses the dead connection and fails with
# "RemoteDisconnected" (seen: nova-compute died of it at startup).
add-header = Connection: close
http-socket = 127.0.0.1:$2
wsgi-file = $3
EOF
}
wal() { local db; for db in "$@"; do sqlite3 "$db" 'PRAGMA journal_mode=WAL;' >/dev/null; done; }

# Keystone reads its token lifetime when it starts, so a running Keystone
# with another lifetime (recorded in $RUN/keystone-expiration by the start
# that made it; unknown for roots made before that) is stopped and started
# again. The fernet keys stay: tokens it issued before remain valid.
up_keystone() {
  local p i had
  had=$(cat "$RUN/keystone-expiration" 2>/dev/null || echo unknown)
  p=$(cat "$PIDS/keystone.pid" 2>/dev/null || true)
  if [[ -n $p ]] && kill -0 "$p" 2>/dev/null && [[ $had != "$TOKEN_EXPIRATION" ]]; then
    log "keystone: token expiration $had s -> $TOKEN_EXPIRATION s: restarting it"
    # uwsgi master and workers: one process group (started by setsid).
    kill -TERM -- "-$p" 2>/dev/null || kill -TERM "$p"
    for ((i = 0; i < 200; i++)); do kill -0 -- "-$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$p" 2>/dev/null || true
    rm -f "$PIDS/keystone.pid"
  fi
  # One thread per process: Keystone loads eventlet, whose locks break when
  # uwsgi threads share them ("greenlet.error: cannot switch to a different
  # thread" in keystone.log), and the request on that thread then hangs for
  # good (seen: openstack-up stuck 10 min in register.py phase2).
  uwsgi_ini keystone 5000 /usr/bin/keystone-wsgi-public 3 1
  start keystone uwsgi --ini "$RUN/keystone-uwsgi.ini"
  wait_http keystone $KS/v3
  echo "$TOKEN_EXPIRATION" >"$RUN/keystone-expiration"
}
if [[ ${1:-} == keystone ]]; then # openstack-up.sh: only the token lifetime changed
  up_keystone
  exit 0
fi

# --- one-time DB setup -------------------------------------------------------
if [[ ! -f $RUN/.keystone-db ]]; then
  log "keystone: db_sync, fernet, bootstrap"
  keystone-manage db_sync
  keystone-manage fernet_setup --keystone-user root --keystone-group root
  keystone-manage credential_setup --keystone-user root --keystone-group root
  keystone-manage bootstrap --bootstrap-password "$ADMIN_PASS" \
    --bootstrap-admin-url $KS/v3/ --bootstrap-internal-url $KS/v3/ \
    --bootstrap-public-url $KS/v3/ --bootstrap-region-id RegionOne
  wal /var/lib/keystone/keystone.sqlite
  touch "$RUN/.keystone-db"
fi
if [[ ! -f $RUN/.other-db ]]; then
  log "placement, glance, nova: db sync"
  placement-manage db sync
  glance-manage db_sync >/dev/null 2>&1 || { glance-manage db_sync; exit 1; }
  nova-manage api_db sync
  nova-manage cell_v2 map_cell0 --database_connection sqlite:////var/lib/nova/nova_cell0.sqlite?timeout=60
  cells=$(nova-manage cell_v2 list_cells 2>/dev/null || true)
  [[ $cells == *" cell1 "* ]] || nova-manage cell_v2 create_cell --name=cell1
  nova-manage db sync
  wal /var/lib/placement/placement.sqlite /var/lib/glance/glance.sqlite \
    /var/lib/nova/nova_api.sqlite /var/lib/nova/nova_cell0.sqlite /var/lib/nova/nova.sqlite
  touch "$RUN/.other-db"
fi

# sqlite's default busy timeout (5 s) is too short when conductor, scheduler and
# API write at once on 2 busy cores: "database is locked" put a server in ERROR
# while deleting it. WAL alone was not enough. The cells' URLs live in the API
# DB, so they get the timeout there too (also for roots made before this fix).
sqlite3 /var/lib/nova/nova_api.sqlite "UPDATE cell_mappings SET database_connection =
  database_connection || '?timeout=60' WHERE database_connection LIKE 'sqlite:%'
  AND database_connection NOT LIKE '%timeout=%';"

# oslo.db opens every SQLAlchemy transaction on sqlite with a deferred "BEGIN":
# a transaction that read first and writes later then fails AT ONCE with
# "database is locked" when another process wrote meanwhile (WAL snapshot
# conflict: the busy timeout does not apply). Seen as servers going ERROR on
# create and delete under light concurrency. "BEGIN IMMEDIATE" takes the write
# lock up front, so transactions queue on the busy timeout instead; but only
# for nova: keystone nests a writing session inside an open one and then
# deadlocks on itself for the whole timeout. Hence an environment switch,
# EHOS_SQLITE_BEGIN, set for the nova services only. Test-only patch of the
# root's oslo.db; not for production.
ENGINES=/usr/lib/python3/dist-packages/oslo_db/sqlalchemy/engines.py
sed -i -E 's/conn\.execute\(sqlalchemy\.text\("BEGIN( IMMEDIATE)?"\)\)$/conn.execute(sqlalchemy.text(__import__("os").environ.get("EHOS_SQLITE_BEGIN", "BEGIN")))/' "$ENGINES"
grep -q 'EHOS_SQLITE_BEGIN' "$ENGINES" || die "could not patch $ENGINES for EHOS_SQLITE_BEGIN (file changed?)"

# keystoneauth renews a service's token once it has under
# MIN_TOKEN_LIFE_SECONDS (120 s) left. With the suite's 60 s tokens
# (make integration-openstack) every token is "about to expire" from birth,
# so Nova, Glance and Placement fetched a new one on nearly every call:
# 150-200 token requests a minute, Keystone saturated a core and the suite
# took 15 min instead of 4. At 15 s they renew once a token is 45 s old (and
# a 401 still makes keystoneauth re-authenticate and retry). Test-only patch
# of the root's keystoneauth; harmless with long tokens.
KSA=/usr/lib/python3/dist-packages/keystoneauth1/identity/base.py
sed -i -E 's/^(    MIN_TOKEN_LIFE_SECONDS = )120$/\115  # ehos test patch: see scripts\/openstack\/inside.sh/' "$KSA"
grep -q '^    MIN_TOKEN_LIFE_SECONDS = 15 ' "$KSA" || die "could not patch $KSA for MIN_TOKEN_LIFE_SECONDS (file changed?)"

# --- services ---------------------------------------------------------------
log "starting rabbitmq, keystone, neutron-stub"
# epmd and Erlang distribution listen on every interface by default: pin to loopback.
start rabbitmq env HOME=/var/lib/rabbitmq ERL_EPMD_ADDRESS=127.0.0.1 \
  RABBITMQ_NODENAME=rabbit@localhost RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=5672 \
  RABBITMQ_DIST_PORT=25672 \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
  RABBITMQ_LOG_BASE=/var/log/rabbitmq RABBITMQ_MNESIA_BASE=/var/lib/rabbitmq/mnesia \
  /usr/lib/rabbitmq/bin/rabbitmq-server
start neutron-stub python3 /opt/ehos/neutron-stub.py 9696
up_keystone
if [[ ! -f $RUN/.registered ]]; then
  # ~25 s (a dozen Keystone writes, password hashing on 2 shared cores): once.
  log "keystone up; registering services and users"
  python3 /opt/ehos/register.py phase1
  touch "$RUN/.registered"
fi

log "starting placement, glance, nova"
uwsgi_ini placement 8778 /usr/bin/placement-api 1 4
start placement uwsgi --ini "$RUN/placement-uwsgi.ini"
start glance-api glance-api --config-file /etc/glance/glance-api.conf
# Nova services talk over RabbitMQ: wait for it first.
for ((i = 0; i < 240; i++)); do
  (exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null && break
  kill -0 "$(cat "$PIDS/rabbitmq.pid")" 2>/dev/null || { tail -30 "$LOGS/rabbitmq.log" >&2; die "rabbitmq died"; }
  sleep 0.25
done
(exec 3<>/dev/tcp/127.0.0.1/5672) 2>/dev/null || die "rabbitmq did not listen on 127.0.0.1:5672"
start nova-conductor env EHOS_SQLITE_BEGIN="BEGIN IMMEDIATE" nova-conductor --config-file /etc/nova/nova.conf
start nova-scheduler env EHOS_SQLITE_BEGIN="BEGIN IMMEDIATE" nova-scheduler --config-file /etc/nova/nova.conf
# The fake virt driver lives in python3-nova; the nova-compute package would pull libvirt/qemu.
# A file, not python3 -c: oslo.log names the log after the script (else "<string>.log").
start nova-compute /opt/ehos/bin/nova-compute --config-file /etc/nova/nova-compute.conf
start nova-api env EHOS_SQLITE_BEGIN="BEGIN IMMEDIATE" nova-api --config-file /etc/nova/nova.conf
wait_http placement http://127.0.0.1:8778/
wait_http glance-api http://127.0.0.1:9292/
wait_http nova-api http://127.0.0.1:8774/
wait_http neutron-stub http://127.0.0.1:9696/

log "waiting for the fake compute host to register"
restarts=0
for ((i = 0; i < 240; i++)); do
  # Not "| grep -q": nova-manage dies of BrokenPipeError when grep exits first.
  nova-manage cell_v2 discover_hosts --by-service >/dev/null 2>&1 || true
  hosts=$(nova-manage cell_v2 list_hosts 2>/dev/null || true)
  [[ $hosts == *ehos-fake-compute* ]] && break
  if ! kill -0 "$(cat "$PIDS/nova-compute.pid")" 2>/dev/null; then
    # It exits on any error while registering (e.g. Keystone or Placement slow
    # to answer on a busy machine): start it again, a few times.
    ((restarts++ < 3)) || die "nova-compute keeps dying (log: /var/log/nova/nova-compute.log)"
    log "nova-compute exited while starting; starting it again ($restarts)"
    start nova-compute /opt/ehos/bin/nova-compute --config-file /etc/nova/nova-compute.conf
  fi
  sleep 1
done
[[ $hosts == *ehos-fake-compute* ]] || die "compute host never registered (log: /var/log/nova/nova-compute.log)"

log "creating flavors, image, quotas, application credential"
python3 /opt/ehos/register.py phase2
log "inside: done"
