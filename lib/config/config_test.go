package config

import (
	"gopkg.in/yaml.v3"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const minimal = `
pool:
  name: demo
  central_manager: 127.0.0.1
clouds:
  - name: local
    image: ehos-worker
    flavors: [m1.small]
`

func TestParseDefaults(t *testing.T) {
	cfg, err := Parse("ehos.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Scaling.Max != 10 || cfg.Scaling.Cycle != 30*time.Second || cfg.Pool.CollectorPort != 9618 {
		t.Errorf("defaults not applied: %+v", cfg.Scaling)
	}
	if cfg.Pool.TrustDomain != "127.0.0.1" || cfg.Clouds[0].Weight != 1 || !cfg.Clouds[0].IsEnabled() {
		t.Errorf("derived defaults not applied: %+v %+v", cfg.Pool, cfg.Clouds[0])
	}
}

func TestParseExplicitZeroWins(t *testing.T) {
	cfg, err := Parse("ehos.yaml", []byte(minimal+"scaling:\n  dry_run: false\n  idle_before_retire: 0s\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Scaling.IdleBeforeRetire != 0 {
		t.Errorf("explicit zero lost: idle=%s", cfg.Scaling.IdleBeforeRetire)
	}
}

func TestParseUnknownKey(t *testing.T) {
	_, err := Parse("ehos.yaml", []byte(minimal+"scaling:\n  maxx: 3\n"))
	if err == nil || !strings.Contains(err.Error(), "maxx") || !strings.Contains(err.Error(), "ehos.yaml") {
		t.Fatalf("typo not named: %v", err)
	}
}

func TestValidateReportsEveryProblem(t *testing.T) {
	bad := `
pool:
  name: "Bad Name"
  collector_port: 70000
scaling:
  min: 5
  max: 3
  spare: -1
  cycle: 10ms
  max_booting: 0
  headroom_window: -1m
clouds:
  - name: a
    flavors: []
  - name: a
    image: img
    flavors: [m1]
    max_vms: -2
    flavor_overrides: {m9: {gpus: 1}}
template_vars:
  Bad-Tag: x
log:
  format: xml
`
	_, err := Parse("f.yaml", []byte(bad))
	if err == nil {
		t.Fatal("accepted")
	}
	want := []string{
		`pool.name: "Bad Name"`, "pool.central_manager", "pool.collector_port: 70000",
		"scaling.min: 5: is above scaling.max (3)", "scaling.spare: -1", "scaling.cycle: 10ms",
		"scaling.max_booting: 0", "scaling.headroom_window: -1m0s: must be at least 0s", `clouds[0].image: ""`, "clouds[0].flavors", `clouds[1].name: "a": is listed twice`,
		"clouds[1].max_vms: -2", "clouds[1].flavor_overrides.m9", "template_vars.Bad-Tag", `log.format: "xml"`,
	}
	msg := err.Error()
	for _, w := range want {
		if !strings.Contains(msg, w) {
			t.Errorf("missing %q in:\n%s", w, msg)
		}
	}
	for _, line := range strings.Split(msg, "\n") {
		if !regexp.MustCompile(`^f\.yaml(:[0-9]+)?: `).MatchString(line) {
			t.Errorf("line does not name the file and line: %q", line)
		}
	}
}

func TestApplyKnobs(t *testing.T) {
	cfg, err := Parse("ehos.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	err = cfg.ApplyKnobs(map[string]string{
		"EHOS_MAX_NODES": "4", "ehos_cycle": "15", "EHOS_IDLE_BEFORE_RETIRE": "2m", "EHOS_DRY_RUN": "True",
		"EHOS_MIN_NODES": "", "UNRELATED": "x", "EHOS_UNMATCHED_AFTER": "5m", "EHOS_HEADROOM_WINDOW": "0",
	})
	if err != nil {
		t.Fatal(err)
	}
	got := []any{cfg.Scaling.Max, cfg.Scaling.Cycle, cfg.Scaling.IdleBeforeRetire, cfg.Scaling.DryRun, cfg.Scaling.Min, cfg.Scaling.UnmatchedAfter, cfg.Scaling.HeadroomWindow}
	want := []any{4, 15 * time.Second, 2 * time.Minute, true, 0, 5 * time.Minute, time.Duration(0)}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	err = cfg.ApplyKnobs(map[string]string{"EHOS_MAX_NODES": "many", "EHOS_CYCLE": "soon", "EHOS_DRY_RUN": "perhaps"})
	for _, w := range []string{"EHOS_MAX_NODES (overrides scaling.max): \"many\"", "EHOS_CYCLE", "EHOS_DRY_RUN"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("bad knob %s not reported: %v", w, err)
		}
	}
}

func TestLoadRefusesReadableSecrets(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ehos.yaml")
	body := minimal + "template_vars:\n  registry_password: s3cret\n"
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := Load(p)
	if err == nil || !strings.Contains(err.Error(), "template_vars.registry_password") || !strings.Contains(err.Error(), "chmod 600") {
		t.Fatalf("readable secret accepted or not named: %v", err)
	}
	if err := os.Chmod(p, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("0600 file refused: %v", err)
	}
	if err := os.WriteFile(p, []byte(minimal), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(p); err != nil {
		t.Fatalf("file without secrets refused: %v", err)
	}
}

func TestMigrateLegacy(t *testing.T) {
	data, err := os.ReadFile("testdata/legacy-ehos.yaml")
	if err != nil {
		t.Fatal(err)
	}
	m, err := Migrate("old.yaml", data)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(m.Config), "hunter2") {
		t.Fatalf("a secret leaked into the new ehos.yaml:\n%s", m.Config)
	}
	if strings.Contains(string(m.CloudsYAML), "hunter2-pool-password") {
		t.Fatalf("the pool password leaked into clouds.yaml:\n%s", m.CloudsYAML)
	}
	if !strings.Contains(string(m.CloudsYAML), "hunter2-cloud-secret") {
		t.Errorf("cloud credentials not moved to clouds.yaml:\n%s", m.CloudsYAML)
	}
	notes := strings.Join(m.Notes, "\n")
	for _, w := range []string{"condor.password: DROPPED", "daemon.node_allocation", "daemon.min_cores", "moved to clouds.yaml"} {
		if !strings.Contains(notes, w) {
			t.Errorf("note %q missing:\n%s", w, notes)
		}
	}
	cfg, err := Parse("migrated.yaml", m.Config)
	if err != nil {
		t.Fatalf("migrated config does not load: %v\n%s", err, m.Config)
	}
	got := []any{cfg.Pool.Name, cfg.Pool.CentralManager, cfg.Scaling.Min, cfg.Scaling.Max, cfg.Scaling.Spare, cfg.Scaling.Cycle,
		cfg.Clouds[0].Name, cfg.Clouds[0].Regions, cfg.Clouds[0].Image, cfg.Clouds[0].Flavors, cfg.Clouds[0].SecurityGroups, cfg.Clouds[0].KeyPair}
	want := []any{"ehos-v1", "10.1.2.3", 2, 6, 2, 30 * time.Second,
		"bgo", []string{"bgo"}, "GOLD CentOS 7", []string{"m1.medium"}, []string{"ehos", "default"}, "mykey"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// The shipped example must load as it is.
func TestShippedExampleLoads(t *testing.T) {
	data, err := os.ReadFile("../../condor-config/ehos.yaml.example")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse("ehos.yaml.example", data)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Clouds) != 2 || cfg.Scaling.IdleBeforeRetire != 2*time.Minute {
		t.Errorf("example: %d clouds, idle %s", len(cfg.Clouds), cfg.Scaling.IdleBeforeRetire)
	}
}

// The old file's keys and values are quoted in the comment lines of the new
// ehos.yaml: a key holding a newline must not start a YAML line of its own.
func TestMigrateEscapesWhatItQuotes(t *testing.T) {
	old := "\"x\\nscaling: {max: 100000}\\n#\": 1\n" +
		"ehos:\n  \"y\\rpool: {name: evil}\": 2\n  project_prefix: \"demo\\u2028scaling: {max: 7}\"\n" +
		"clouds:\n  c1:\n    \"z\\n# not a comment\\nclouds: []\": 3\n"
	m, err := Migrate("old.yaml", []byte(old))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(m.Config, &doc); err != nil {
		t.Fatalf("migrated file is not YAML: %v\n%s", err, m.Config)
	}
	if _, ok := doc["scaling"]; ok {
		t.Errorf("a quoted key injected a scaling section:\n%s", m.Config)
	}
	if p, _ := doc["pool"].(map[string]any); p != nil && p["name"] == "evil" {
		t.Errorf("a quoted key injected pool.name:\n%s", m.Config)
	}
	for i, l := range strings.Split(string(m.Config), "\n") {
		if strings.HasPrefix(l, "#") || l == "" {
			continue
		}
		if strings.Contains(l, "100000") || strings.Contains(l, "not a comment") {
			t.Errorf("line %d carries the old key outside a comment: %q", i+1, l)
		}
	}
	for _, n := range m.Notes {
		if strings.ContainsAny(n, "\n\r\u2028") {
			t.Errorf("note spans lines: %q", n)
		}
	}
}

// Each worker gets its own identity; one shared by all of them is refused.
func TestTokenIdentityIsPerVM(t *testing.T) {
	cfg, err := Parse("ehos.yaml", []byte(minimal))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Worker.IdentityOf("ehos-demo-1a2b"); got != "ehos-demo-1a2b@127.0.0.1" {
		t.Errorf("default identity of ehos-demo-1a2b = %q", got)
	}
	for _, id := range []string{"ehos-worker@127.0.0.1", "{name}", "{name}-{name}@d", "{name}@*", "a b{name}@d", "{name}@d,x@d"} {
		_, err := Parse("ehos.yaml", []byte(minimal+"worker:\n  token_identity: \""+id+"\"\n"))
		if err == nil || !strings.Contains(err.Error(), "worker.token_identity") {
			t.Errorf("token_identity %q: error %v, want it refused", id, err)
		}
	}
	cfg, err = Parse("ehos.yaml", []byte(minimal+"worker:\n  token_identity: \"w-{name}@pool.example\"\n"))
	if err != nil || cfg.Worker.IdentityOf("ehos-demo-1") != "w-ehos-demo-1@pool.example" {
		t.Errorf("custom identity: %v %q", err, cfg.Worker.IdentityOf("ehos-demo-1"))
	}
}
