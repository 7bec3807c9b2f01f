package integration

import (
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// knobs reads the knob assignments of an HTCondor configuration text, the
// last assignment of each (as HTCondor does); use, include and if lines
// are left out.
func knobs(text string) map[string]string {
	m := map[string]string{}
	for _, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		name, value, ok := strings.Cut(l, "=")
		name = strings.TrimSpace(name)
		if !ok || strings.HasPrefix(l, "#") || strings.ContainsAny(name, " \t:") {
			continue
		}
		m[name] = strings.TrimSpace(value)
	}
	return m
}

// TestHarnessAgreesWithShippedConfig: where the harness stands for the
// shipped configuration, every knob it sets that a shipped snippet sets too
// has the shipped value, unless it is a listed departure; a listed
// departure really departs; and the knobs it takes from the snippets are
// there. No HTCondor needed.
func TestHarnessAgreesWithShippedConfig(t *testing.T) {
	repo, err := findRepo()
	if err != nil {
		t.Fatal(err)
	}
	s := &Stack{Dir: "/tmp/stack", Bin: filepath.Join(repo, "bin"), CloudsFile: "/tmp/stack/clouds.yaml", ConfigFile: "/tmp/stack/ehos.yaml"}
	extra, err := s.cmConfig(repo, StackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	identity := map[string]string{"EHOS_PROVISIONER_IDENTITY": cmDepartures["EHOS_PROVISIONER_IDENTITY"]}
	for _, c := range []struct {
		name, harness, shipped string
		departures             map[string]string
		taken                  []string // knobs the harness must take from the snippet
	}{
		{"a stack's central manager", centralManagerConfig("/tmp/stack/pool", "127.0.0.1:9618", nil, extra).String(), shippedCM, cmDepartures,
			[]string{"COLLECTOR_REQUIREMENTS", "NEGOTIATOR_SLOT_CONSTRAINT", "NEGOTIATOR_PRE_JOB_RANK", "COLLECTOR_PERSISTENT_AD_LOG", "EHOS_TOKEN_REVOCATION_FILE"}},
		{"ShippedOfferRank", ShippedOfferRank(t), shippedCM, identity, []string{"EHOS_OFFER_TRUSTED", "NEGOTIATOR_PRE_JOB_RANK"}},
		{"the installed central manager's site file", installedSite(9618, false, ""), shippedCM, nil, nil},
		{"a local cloud worker's test knobs", vmTestConfig, shippedWorker, vmDepartures, nil},
	} {
		b, err := os.ReadFile(filepath.Join(repo, c.shipped))
		if err != nil {
			t.Fatal(err)
		}
		h, sh := knobs(c.harness), knobs(string(b))
		for _, k := range slices.Sorted(maps.Keys(h)) {
			if sv, ok := sh[k]; ok && sv != h[k] && c.departures[k] == "" {
				t.Errorf("%s sets %s = %s, %s has %s: take it from the snippet, or list the departure and why (shipped.go)", c.name, k, h[k], c.shipped, sv)
			}
		}
		for k := range c.departures {
			if hv, ok := h[k]; !ok || hv == sh[k] {
				t.Errorf("%s: %s is listed as a departure from %s, but %s sets it as shipped or not at all", c.name, k, c.shipped, c.name)
			}
		}
		for _, k := range c.taken {
			if h[k] == "" || h[k] != sh[k] {
				t.Errorf("%s: %s is not the shipped one (%s): %q", c.name, k, c.shipped, h[k])
			}
		}
	}
}
