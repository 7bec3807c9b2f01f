package integration

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Where a test stands for the shipped HTCondor configuration, the harness
// reads the knobs from condor-config/ instead of copying them, and lists its
// own departures from them here; shipped_test.go checks (without HTCondor)
// that the configurations it writes differ from the shipped snippets in
// these knobs only.

const (
	shippedCM     = "condor-config/50-ehos-central-manager.conf"
	shippedWorker = "condor-config/50-ehos-worker.conf"
)

// testProvisionerIdentity is the test pools' provisioner identity: their
// tools and provisioner run as ehos over FS, not as root (condor@).
const testProvisionerIdentity = "EHOS_PROVISIONER_IDENTITY = ehos@$(UID_DOMAIN)\n"

// cmDepartures are the knobs in which a stack's central manager (a test
// pool's base, its role and Stack.cmConfig) differs from the shipped
// central manager snippet, and why.
var cmDepartures = map[string]string{
	"EHOS_PROVISIONER_IDENTITY":                   "the test pools' tools and provisioner run as ehos over FS, not as root",
	"EHOS_CONFIG":                                 "the stack's own ehos.yaml",
	"EHOS_PROVISIONER":                            "this checkout's bin/",
	"EHOS_PROVISIONER_LOG":                        "in the stack's directory (Stack.ProvisionerLog)",
	"DAEMON_LIST":                                 "named in full: the shipped line appends to the package's list, which a test pool does not read",
	"MASTER_EHOS_PROVISIONER_BACKOFF_CONSTANT":    "a killed provisioner is back within seconds",
	"ALLOW_DAEMON":                                "the test pool names every identity of its domain (testSecurity)",
	"ALLOW_ADVERTISE_STARTD":                      "identities of the test domain, and ehos@ for the tools",
	"ALLOW_ADVERTISE_MASTER":                      "identities of the test domain, and ehos@ for the tools",
	"SEC_ADVERTISE_STARTD_AUTHENTICATION_METHODS": "IDTOKENS only: on one host FS would let a worker in as the pool's own user",
	"SEC_ADVERTISE_MASTER_AUTHENTICATION_METHODS": "IDTOKENS only: on one host FS would let a worker in as the pool's own user",
}

// vmDepartures are the knobs in which the local cloud's workers
// (WorkerRunner's configuration after the rendered user-data) differ from
// the shipped worker snippet, and why.
var vmDepartures = map[string]string{
	"STARTD_CRON_EHOS_PERIOD": "the hook's health reaches the collector in seconds",
	"MAXJOBRETIREMENTTIME":    "testRetirement: an hour, not a week",
}

// trustRules are the shipped central manager's trust rules: the
// collector's COLLECTOR_REQUIREMENTS with the macros it uses, the
// provisioner's identity and the negotiator's slot constraint and rank.
var trustRules = []string{"EHOS_FROM_WORKER", "EHOS_WORKER_", "COLLECTOR_REQUIREMENTS", "EHOS_PROVISIONER_IDENTITY",
	"EHOS_OFFER_TRUSTED", "NEGOTIATOR_SLOT_CONSTRAINT", "NEGOTIATOR_PRE_JOB_RANK"}

// shippedLines returns the lines of the shipped snippet file (under repo)
// that start with one of prefixes, in the snippet's order; a prefix that
// starts no line is an error.
func shippedLines(repo, file string, prefixes ...string) (string, error) {
	b, err := os.ReadFile(filepath.Join(repo, file))
	if err != nil {
		return "", err
	}
	var out strings.Builder
	found := map[string]bool{}
	for _, l := range strings.Split(string(b), "\n") {
		for _, p := range prefixes {
			if strings.HasPrefix(l, p) {
				out.WriteString(l + "\n")
				found[p] = true
				break
			}
		}
	}
	for _, p := range prefixes {
		if !found[p] {
			return "", fmt.Errorf("%s: no line starts with %q", file, p)
		}
	}
	return out.String(), nil
}

// ShippedTrustRules are the trust rules of the shipped central manager
// snippet (condor-config/50-ehos-central-manager.conf under repo), as they
// are, then the one test-only addition (testProvisionerIdentity). Every
// stack's central manager runs them; test pools that need them add them.
func ShippedTrustRules(t testing.TB, repo string) string {
	t.Helper()
	rules, err := shippedLines(repo, shippedCM, trustRules...)
	if err != nil {
		t.Fatal(err)
	}
	return rules + testProvisionerIdentity
}

// ShippedOfferRank is the shipped negotiator rank of offline flavor ads
// (the cheapest trusted flavor first, real slots before any offline ad),
// with what it needs, for test pools that advertise flavor ads with their
// tools (ehos@, testProvisionerIdentity).
func ShippedOfferRank(t testing.TB) string {
	t.Helper()
	repo, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	rank, err := shippedLines(repo, shippedCM, "EHOS_OFFER_TRUSTED", "NEGOTIATOR_PRE_JOB_RANK")
	if err != nil {
		t.Fatal(err)
	}
	return testProvisionerIdentity + rank
}
