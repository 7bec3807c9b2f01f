package config

import (
	"fmt"
	"strings"
	"testing"
)

const okBase = "pool:\n  name: demo\n  central_manager: 127.0.0.1\nclouds:\n  - name: a\n    image: i\n    flavors: [m1.small]\n"

func TestParseProblemsInTheUsersWords(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		want       []string // each must appear, in this many problems
	}{
		{"original clouds map", "clouds:\n  mycloud:\n    auth_url: http://k\n    password: x\nehos:\n  flavor: m1.small\n",
			[]string{"f.yaml:1: this is the original EHOS layout (clouds: as a mapping of credentials, ehos:)", "ehos config migrate f.yaml -o ehos.yaml"}},
		{"original cloud singular", "cloud:\n  auth_url: http://k\n", []string{"f.yaml:1: this is the original EHOS layout (cloud:)"}},
		{"cycle in seconds", okBase + "scaling:\n  cycle: 5\n", []string{`f.yaml:9: scaling.cycle: "5": a duration needs a unit: 5s (the original EHOS counted plain seconds)`}},
		{"typo", okBase + "scaling:\n  maxx: 3\n", []string{`f.yaml:9: scaling.maxx: unknown key: did you mean "max"?`}},
		{"typo without a near key", okBase + "scaling:\n  zzzzzz: 3\n", []string{"scaling.zzzzzz: unknown key (known: backoff_initial"}},
		{"three problems, all reported, validation too", okBase + "scaling:\n  max: 20.9\n  spare: 1.5\n  cylce: 5s\n  min: -1\n", []string{
			`f.yaml:9: scaling.max: "20.9": want a whole number`,
			`f.yaml:10: scaling.spare: "1.5": want a whole number`,
			`f.yaml:11: scaling.cylce: unknown key: did you mean "cycle"?`,
			`f.yaml:12: scaling.min: -1: must be 0 or more`,
		}},
		{"duplicate key", okBase + "log:\n  level: info\n  level: debug\n", []string{"f.yaml:10: log.level: given twice (first at line 9)"}},
		{"list where a mapping belongs", okBase + "scaling: [1, 2]\n", []string{"f.yaml:8: scaling: want a mapping"}},
		{"scalar where a list belongs", "pool:\n  name: demo\n  central_manager: x\nclouds: alpha\n", []string{`f.yaml:4: clouds: "alpha": want a list`, "f.yaml:4: clouds: \"[]\": at least one cloud is required"}},
		{"bool", okBase + "scaling:\n  dry_run: maybe\n", []string{`scaling.dry_run: "maybe": want true or false`}},
		{"not YAML", "pool: [\n", []string{"f.yaml: not YAML"}},
		{"too large", okBase + "# " + strings.Repeat("x", MaxSize) + "\n", []string{"more than the 1024 KB an ehos.yaml may be"}},
	} {
		_, err := Parse("f.yaml", []byte(tc.yaml))
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		msg := err.Error()
		for _, w := range tc.want {
			if !strings.Contains(msg, w) {
				t.Errorf("%s: missing %q in:\n%s", tc.name, w, msg)
			}
		}
		if n := len(Problems(err)); n != len(tc.want) && tc.name != "original clouds map" {
			t.Errorf("%s: %d problems, want %d:\n%s", tc.name, n, len(tc.want), msg)
		}
	}
}

func TestParseAcceptsWhatYAMLAllows(t *testing.T) {
	_, err := Parse("f.yaml", []byte(okBase+"scaling:\n  max: 0x10\n  cycle: 90s\n  dry_run: yes\nx-anchor: &d 2h\nworker:\n  token_lifetime: 48h\n  max_lifetime: ~\ntemplate_vars:\n  site: 'a: b'\n"))
	if err == nil || !strings.Contains(err.Error(), "x-anchor: unknown key") {
		t.Fatalf("want only the unknown x-anchor refused, got %v", err)
	}
	cfg, err := Parse("f.yaml", []byte(okBase+"scaling:\n  max: 0x10\n  cycle: 90s\n  dry_run: true\nworker:\n  token_lifetime: 48h\n  max_lifetime: ~\ntemplate_vars:\n  site: 'a: b'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Scaling.Max != 16 || cfg.Scaling.Cycle.String() != "1m30s" || !cfg.Scaling.DryRun || cfg.TemplateVars["site"] != "a: b" || cfg.Clouds[0].Flavors[0] != "m1.small" {
		t.Errorf("decoded %+v", cfg)
	}
}

// The decode is linear: yaml.v3's own checks duplicate keys in time
// quadratic in a mapping's size (1 MB of template_vars: 2.4 s, 5 MB: 94 s
// at dd27b71).
func BenchmarkParseLargeMapping(b *testing.B) {
	var sb strings.Builder
	sb.WriteString(okBase + "template_vars:\n")
	for i := 0; sb.Len() < MaxSize-100; i++ {
		fmt.Fprintf(&sb, "  v%d: %s\n", i, strings.Repeat("x", 30))
	}
	data := []byte(sb.String())
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := Parse("f.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}

func TestMigrateEveryOriginalLayout(t *testing.T) {
	for _, tc := range []struct{ name, old, want string }{
		{"1.0: cloud: and ehos: nodes_*", "cloud:\n  auth_url: http://k/v3\n  password: x\nehos:\n  flavor: m1.small\n  nodes_max: 5\n", "max: 5"},
		{"1.1: clouds: map and daemon:", "clouds:\n  a:\n    auth_url: http://k/v3\ndaemon:\n  nodes_max: 6\n", "max: 6"},
		{"1.3: ehos_daemon:", "clouds:\n  a:\n    auth_url: http://k/v3\nehos_daemon:\n  sleep: 20\n", "cycle: 20s"},
	} {
		m, err := Migrate("old.yaml", []byte(tc.old))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if !strings.Contains(string(m.Config), tc.want) || strings.Contains(strings.Join(m.Notes, "\n"), "unknown setting") {
			t.Errorf("%s: want %q, no unknown setting:\n%s", tc.name, tc.want, m.Config)
		}
	}
	for _, bad := range []string{okBase, "foo: 1\n"} {
		if _, err := Migrate("x.yaml", []byte(bad)); err == nil {
			t.Errorf("migrated %q", bad)
		}
	}
}
