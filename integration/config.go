package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehos-project/ehos/integration/netns"
)

// baseConfig is what every test daemon shares: paths in the trixie root, its
// own LOCAL_DIR, loopback only, fast intervals, security on.
func baseConfig(localDir, collector string) string {
	return fmt.Sprintf(`# ehos integration test pool (generated)
RELEASE_DIR = /usr
BIN = /usr/bin
SBIN = /usr/sbin
LIB = /usr/lib/condor
LIBEXEC = /usr/libexec/condor
SHARE = /usr/share/condor
LOCAL_DIR = %s
LOG = $(LOCAL_DIR)/log
SPOOL = $(LOCAL_DIR)/spool
EXECUTE = $(LOCAL_DIR)/execute
LOCK = $(LOCAL_DIR)/lock
RUN = $(LOCAL_DIR)/run
CRED_STORE_DIR = $(LOCAL_DIR)/cred_dir
ETC = $(LOCAL_DIR)
LOCAL_CONFIG_FILE =
LOCAL_CONFIG_DIR =
REQUIRE_LOCAL_CONFIG_FILE = False
MAIL = /bin/true
CONDOR_ADMIN =

CONDOR_HOST = 127.0.0.1
COLLECTOR_HOST = %s
NETWORK_INTERFACE = 127.0.0.1
BIND_ALL_INTERFACES = False
ENABLE_IPV6 = False
USE_SHARED_PORT = False
UID_DOMAIN = %[3]s
FILESYSTEM_DOMAIN = %[3]s
TRUST_DOMAIN = %[3]s

UPDATE_INTERVAL = 5
MASTER_UPDATE_INTERVAL = 5
SCHEDD_INTERVAL = 5
NEGOTIATOR_INTERVAL = 5
NEGOTIATOR_CYCLE_DELAY = 1
NEGOTIATOR_MIN_INTERVAL = 1
STARTER_UPDATE_INTERVAL = 5
POLLING_INTERVAL = 2
JOB_START_DELAY = 0
SHADOW_QUEUE_UPDATE_INTERVAL = 5
MASTER_NEW_BINARY_RESTART = NEVER

use security:recommended_v9_0
SEC_DEFAULT_AUTHENTICATION_METHODS = FS, IDTOKENS
SEC_CLIENT_AUTHENTICATION_METHODS = FS, IDTOKENS
SEC_PASSWORD_DIRECTORY = $(LOCAL_DIR)/passwords.d
SEC_TOKEN_SYSTEM_DIRECTORY = $(LOCAL_DIR)/tokens.d
SEC_TOKEN_DIRECTORY = $(LOCAL_DIR)/tokens.d
# Identities, never "*": tools and daemons of this host are ehos@ over FS,
# workers condor@ through their minted tokens, or each its own
# ehos-<pool>-<hex>@ when the provisioner mints them.
ALLOW_READ = ehos@$(UID_DOMAIN) condor@$(UID_DOMAIN) ehos-*@$(UID_DOMAIN)
ALLOW_WRITE = ehos@$(UID_DOMAIN)
ALLOW_DAEMON = ehos@$(UID_DOMAIN) condor@$(UID_DOMAIN) ehos-*@$(UID_DOMAIN)
ALLOW_NEGOTIATOR = ehos@$(UID_DOMAIN)
ALLOW_ADMINISTRATOR = ehos@$(UID_DOMAIN)
ALLOW_CONFIG = ehos@$(UID_DOMAIN)
`, localDir, collector, Domain)
}

// centralManagerConfig: collector, negotiator, schedd. Advertising a master or
// startd needs a token (so a worker without a valid one is refused even
// though, on this one host, it could authenticate over FS).
const centralManagerConfig = `
DAEMON_LIST = MASTER, COLLECTOR, NEGOTIATOR, SCHEDD
COLLECTOR_NAME = ehos-test-pool
ALLOW_ADVERTISE_STARTD = condor@$(UID_DOMAIN) ehos@$(UID_DOMAIN) ehos-*@$(UID_DOMAIN)
ALLOW_ADVERTISE_MASTER = condor@$(UID_DOMAIN) ehos@$(UID_DOMAIN) ehos-*@$(UID_DOMAIN)
ALLOW_ADVERTISE_SCHEDD = ehos@$(UID_DOMAIN)
SEC_ADVERTISE_STARTD_AUTHENTICATION_METHODS = IDTOKENS
SEC_ADVERTISE_MASTER_AUTHENTICATION_METHODS = IDTOKENS
`

// workerConfig: a master and a partitionable startd, named; no family session
// (a second master on the host would be refused with it); a retirement time so
// a graceful drain lets jobs finish. The retirement time must exceed
// MACHINE_MAX_VACATE_TIME (default 600 s): a draining startd evicts early so
// that retirement plus vacate time fits, so with both at 600 s a graceful
// drain evicted the job at once (seen with 23.9).
const workerConfig = `
DAEMON_LIST = MASTER, STARTD
MASTER_NAME = %s
STARTD_NAME = %s
SEC_USE_FAMILY_SESSION = False
NUM_CPUS = 2
MEMORY = 2048
NUM_SLOTS_TYPE_1 = 1
SLOT_TYPE_1 = 100%%
SLOT_TYPE_1_PARTITIONABLE = True
START = True
SUSPEND = False
PREEMPT = False
KILL = False
WANT_SUSPEND = False
WANT_VACATE = False
MAXJOBRETIREMENTTIME = 3600
MACHINE_MAX_VACATE_TIME = 10
STARTD_NOCLAIM_SHUTDOWN = 0
RUNBENCHMARKS = False
`

// ownHostConfig follows baseConfig for a daemon on a test host of its own
// (integration/netns): the pool's central manager at cm, this host's address
// self, and every daemon behind the shared port on 9618, the one port the
// security group opens between nodes (docs/network.md).
func ownHostConfig(cm, self string) string {
	return fmt.Sprintf(`
# On a test host of its own: a real network between the nodes.
CONDOR_HOST = %s
NETWORK_INTERFACE = %s
USE_SHARED_PORT = True
SHARED_PORT_PORT = %d
`, cm, self, netns.HTCondorPort)
}

// ShippedTrustRules are the trust rules of the shipped central manager
// snippet (condor-config/50-ehos-central-manager.conf under repo), as they
// are: the collector's COLLECTOR_REQUIREMENTS with the macros it uses, the
// provisioner's identity and the negotiator's slot constraint and rank.
// Every stack's central manager runs them; test pools that need them add
// them. The test-only additions are at the end (and the harness's own
// ALLOW_* lists in baseConfig).
func ShippedTrustRules(t testing.TB, repo string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repo, "condor-config", "50-ehos-central-manager.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	for _, l := range strings.Split(string(b), "\n") {
		for _, p := range []string{"EHOS_FROM_WORKER", "EHOS_WORKER_", "COLLECTOR_REQUIREMENTS", "EHOS_PROVISIONER_IDENTITY", "EHOS_OFFER_TRUSTED", "NEGOTIATOR_"} {
			if strings.HasPrefix(l, p) {
				out.WriteString(l + "\n")
				break
			}
		}
	}
	if !strings.Contains(out.String(), "COLLECTOR_REQUIREMENTS") || !strings.Contains(out.String(), "NEGOTIATOR_PRE_JOB_RANK") {
		t.Fatalf("no COLLECTOR_REQUIREMENTS or NEGOTIATOR_PRE_JOB_RANK in the shipped central manager snippet")
	}
	// The test-only additions, all of them: the test pools' tools and
	// provisioner run as ehos over FS, not as root (condor@).
	out.WriteString("EHOS_PROVISIONER_IDENTITY = ehos@$(UID_DOMAIN)\n")
	return out.String()
}
