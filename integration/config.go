package integration

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ehos-project/ehos/integration/netns"
)

// condorConfig is one HTCondor configuration file the harness writes: the
// base every test daemon shares, then the sections of its role, in order;
// a knob set in a later section overrides an earlier one.
type condorConfig struct{ sections []string }

// baseConfig is what every test daemon shares: paths in the HTCondor root,
// its own LOCAL_DIR, loopback only, fast intervals, security on.
func baseConfig(localDir, collector string) *condorConfig {
	return &condorConfig{sections: []string{
		"# ehos integration test pool (generated)\n",
		testPaths(localDir),
		"\nCONDOR_HOST = 127.0.0.1\nCOLLECTOR_HOST = " + collector + "\n" + loopbackOnly,
		"UID_DOMAIN = " + Domain + "\nFILESYSTEM_DOMAIN = " + Domain + "\nTRUST_DOMAIN = " + Domain + "\n",
		"\n" + quickIntervals + "MASTER_NEW_BINARY_RESTART = NEVER\n",
		"\n" + testSecurity,
	}}
}

// add appends sections (each a few knob lines).
func (c *condorConfig) add(sections ...string) *condorConfig {
	c.sections = append(c.sections, sections...)
	return c
}

func (c *condorConfig) String() string { return strings.Join(c.sections, "") + "\n" }

// write writes the configuration to path, owned by the pool user.
func (c *condorConfig) write(t testing.TB, path string) {
	t.Helper()
	writeOwned(t, path, []byte(c.String()), 0o644)
}

// testPaths: HTCondor's files in the root, everything a daemon writes in
// localDir, no other configuration read.
func testPaths(localDir string) string {
	return `RELEASE_DIR = /usr
BIN = /usr/bin
SBIN = /usr/sbin
LIB = /usr/lib/condor
LIBEXEC = /usr/libexec/condor
SHARE = /usr/share/condor
LOCAL_DIR = ` + localDir + `
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
`
}

// loopbackOnly keeps a daemon on 127.0.0.1, each on its own port (test
// pools and the installed central manager on loopback).
const loopbackOnly = `NETWORK_INTERFACE = 127.0.0.1
BIND_ALL_INTERFACES = False
ENABLE_IPV6 = False
USE_SHARED_PORT = False
`

// quickIntervals make a pool answer in seconds: every test daemon, the
// installed central manager's site file and the local cloud's workers.
const quickIntervals = `UPDATE_INTERVAL = 5
MASTER_UPDATE_INTERVAL = 5
SCHEDD_INTERVAL = 5
NEGOTIATOR_INTERVAL = 5
NEGOTIATOR_CYCLE_DELAY = 1
NEGOTIATOR_MIN_INTERVAL = 1
STARTER_UPDATE_INTERVAL = 5
POLLING_INTERVAL = 2
JOB_START_DELAY = 0
SHADOW_QUEUE_UPDATE_INTERVAL = 5
`

// testSecurity: HTCondor's recommended security, FS for this host's own
// tools and daemons and IDTOKENS for workers, and identities, never "*":
// tools and daemons of this host are ehos@ over FS, workers condor@
// through their minted tokens, or each its own ehos-<pool>-<hex>@ when the
// provisioner mints them.
const testSecurity = `use security:recommended_v9_0
SEC_DEFAULT_AUTHENTICATION_METHODS = FS, IDTOKENS
SEC_CLIENT_AUTHENTICATION_METHODS = FS, IDTOKENS
SEC_PASSWORD_DIRECTORY = $(LOCAL_DIR)/passwords.d
SEC_TOKEN_SYSTEM_DIRECTORY = $(LOCAL_DIR)/tokens.d
SEC_TOKEN_DIRECTORY = $(LOCAL_DIR)/tokens.d
ALLOW_READ = ehos@$(UID_DOMAIN) condor@$(UID_DOMAIN) ehos-*@$(UID_DOMAIN)
ALLOW_WRITE = ehos@$(UID_DOMAIN)
ALLOW_DAEMON = ehos@$(UID_DOMAIN) condor@$(UID_DOMAIN) ehos-*@$(UID_DOMAIN)
ALLOW_NEGOTIATOR = ehos@$(UID_DOMAIN)
ALLOW_ADMINISTRATOR = ehos@$(UID_DOMAIN)
ALLOW_CONFIG = ehos@$(UID_DOMAIN)
`

// centralManagerRole: collector, negotiator, schedd. Advertising a master or
// startd needs a token (so a worker without a valid one is refused even
// though, on this one host, it could authenticate over FS).
const centralManagerRole = `
DAEMON_LIST = MASTER, COLLECTOR, NEGOTIATOR, SCHEDD
COLLECTOR_NAME = ehos-test-pool
ALLOW_ADVERTISE_STARTD = condor@$(UID_DOMAIN) ehos@$(UID_DOMAIN) ehos-*@$(UID_DOMAIN)
ALLOW_ADVERTISE_MASTER = condor@$(UID_DOMAIN) ehos@$(UID_DOMAIN) ehos-*@$(UID_DOMAIN)
ALLOW_ADVERTISE_SCHEDD = ehos@$(UID_DOMAIN)
SEC_ADVERTISE_STARTD_AUTHENTICATION_METHODS = IDTOKENS
SEC_ADVERTISE_MASTER_AUTHENTICATION_METHODS = IDTOKENS
`

// workerRole: a master and a partitionable startd, named; no family session
// (a second master on the host would be refused with it); retirement as
// in testRetirement.
func workerRole(name string) string {
	return fmt.Sprintf(`
DAEMON_LIST = MASTER, STARTD
MASTER_NAME = %s
STARTD_NAME = %[1]s
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
STARTD_NOCLAIM_SHUTDOWN = 0
RUNBENCHMARKS = False
`, name) + testRetirement
}

// testRetirement lets a graceful drain wait for jobs, in test pools and on
// the local cloud's workers. The retirement time must exceed
// MACHINE_MAX_VACATE_TIME (default 600 s): a draining startd evicts early so
// that retirement plus vacate time fits, so with both at 600 s a graceful
// drain evicted the job at once (seen with 23.9).
const testRetirement = "MAXJOBRETIREMENTTIME = 3600\nMACHINE_MAX_VACATE_TIME = 10\n"

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
