package tmpl

import (
	"fmt"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// The rendered worker keeps its token from jobs: the metadata service (which
// serves the user-data, token included) answers root only, the rule is
// loaded before HTCondor starts and HTCondor does not start without it, and
// cloud-init's copies of the user-data are made root's. The rule itself is
// proven in a network namespace by integration.TestMetadataServiceOnlyForRoot.
func TestWorkerGuardsMetadataBeforeHTCondorStarts(t *testing.T) {
	values, _ := Values(testConfig(), testVM())
	out, err := Render("worker.yaml", readShipped(t, "worker.yaml"), values)
	if err != nil {
		t.Fatal(err)
	}
	var cc struct {
		WriteFiles []struct{ Path, Owner, Permissions, Content string } `yaml:"write_files"`
		RunCmd     []any                                                `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal(out, &cc); err != nil {
		t.Fatal(err)
	}
	var rules string
	for _, f := range cc.WriteFiles {
		if f.Path == "/etc/ehos/metadata-guard.nft" {
			rules = f.Content
			if f.Owner != "root:root" {
				t.Errorf("%s owned by %q, want root:root", f.Path, f.Owner)
			}
		}
	}
	for _, want := range []string{
		"type filter hook output",
		"ip daddr 169.254.169.254 meta skuid != 0 counter reject",
		"ip6 daddr fe80::a9fe:a9fe meta skuid != 0 counter reject",
	} {
		if !strings.Contains(rules, want) {
			t.Errorf("metadata guard lacks %q:\n%s", want, rules)
		}
	}

	var cmds []string
	for _, c := range cc.RunCmd {
		cmds = append(cmds, fmt.Sprint(c))
	}
	script := strings.Join(cmds, "\n")
	guard := strings.Index(script, "nft -f /etc/ehos/metadata-guard.nft")
	fallback := strings.Index(script, "iptables -w -I OUTPUT -d 169.254.169.254 -m owner ! --uid-owner 0 -j REJECT")
	refuse := strings.Index(script, "HTCondor not started' >&2; exit 1")
	private := strings.Index(script, "chmod -R go-rwx /var/lib/cloud/instances")
	start := strings.Index(script, "systemctl restart condor")
	if guard < 0 || fallback < 0 || refuse < 0 || private < 0 || start < 0 {
		t.Fatalf("runcmd lacks the guard (%d), its iptables fallback (%d), the refusal (%d), the user-data chmod (%d) or the start (%d):\n%s", guard, fallback, refuse, private, start, script)
	}
	if !(guard < fallback && fallback < refuse && refuse < private && private < start) {
		t.Errorf("runcmd starts HTCondor before the metadata guard and the user-data copies are in place:\n%s", script)
	}
	if strings.Count(script, "systemctl restart condor") != 1 || strings.Contains(script, "[systemctl restart condor]") {
		t.Errorf("HTCondor is started outside the guarded command:\n%s", script)
	}
}
