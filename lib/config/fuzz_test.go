package config

import (
	"strings"
	"testing"
)

// FuzzParse: any ehos.yaml either loads into a configuration that
// validates, or is refused with problems that each name the file; never a
// panic. Seeds: the new form, the original's layouts, the mistakes of
// issue 25.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		okBase, okBase + "scaling:\n  cycle: 5\n  maxx: 3\n  max: 20.9\n",
		"clouds:\n  a:\n    auth_url: http://k\nehos:\n  nodes_max: 3\n", "cloud:\n  auth_url: x\n",
		"a: &a [*a]\n", "x: &a\n  - *a\n", "pool: {name: [1]}\n", "clouds: [[1]]\n", "scaling: {max: 0x7fffffffffffffffff}\n",
		okBase + "template_vars: {a: 1, a: 2}\n", "", "---\n---\n", "!!binary x\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := Parse("f.yaml", data)
		if err != nil {
			for _, p := range Problems(err) {
				if !strings.HasPrefix(p.Error(), "f.yaml") {
					t.Fatalf("a problem that does not name the file: %q", p)
				}
			}
			return
		}
		if verr := cfg.Validate(); verr != nil {
			t.Fatalf("loaded, yet does not validate: %v", verr)
		}
	})
}

// FuzzMigrate: any input is migrated or refused, never a panic; what is
// migrated decodes as the new form.
func FuzzMigrate(f *testing.F) {
	for _, s := range []string{
		"clouds:\n  a:\n    auth_url: http://k\n    password: p\n    ehos:\n      image: i\nehos:\n  flavor: m\n  nodes_max: 3\ndaemon:\n  sleep: 10\ncondor:\n  host_ip: 1.2.3.4\n",
		"cloud:\n  name: x\n  auth_url: u\n", "ehos_daemon:\n  nodes_min: '2'\n", okBase, "clouds: 1\n", "ehos: [1]\n", "cloud: {name: [1]}\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := Migrate("old.yaml", data)
		if err != nil {
			if !strings.Contains(err.Error(), "old.yaml") {
				t.Fatalf("refusal that does not name the file: %v", err)
			}
			return
		}
		if _, err := Decode("new.yaml", m.Config); err != nil {
			t.Fatalf("migrated config does not decode: %v\n%s", err, m.Config)
		}
	})
}

// FuzzKnobs: any knob value is applied or refused naming the knob.
func FuzzKnobs(f *testing.F) {
	for _, k := range Knobs {
		f.Add(k.Name, "5")
		f.Add(k.Name, "5m")
	}
	f.Add("EHOS_DRY_RUN", "maybe")
	f.Fuzz(func(t *testing.T, name, value string) {
		cfg := Default()
		err := cfg.ApplyKnobs(map[string]string{name: value})
		for _, p := range Problems(err) {
			if !strings.HasPrefix(p.Error(), "knob EHOS_") {
				t.Fatalf("refusal that does not name the knob: %v", p)
			}
		}
	})
}
