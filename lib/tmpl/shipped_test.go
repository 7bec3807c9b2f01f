package tmpl

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ehos-project/ehos/lib/config"
	"github.com/google/go-cmp/cmp"
	"gopkg.in/yaml.v3"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the shipped templates")

// Shipped templates live at the top of the repository.
const (
	cloudinitDir = "../../cloudinit"
	condorDir    = "../../condor-config"
)

var shipped = []string{"base.yaml", "master.yaml", "worker.yaml"}

// testToken looks like an IDTOKEN (header.payload.signature).
const testToken = "eyJhbGciOiJIUzI1NiIsImtpZCI6IlBPT0wifQ.eyJzdWIiOiJlaG9zLXdvcmtlckBjbSIsInNjb3BlIjoiY29uZG9yOkFEVkVSVElTRV9TVEFSVEQifQ.c2lnbmF0dXJlLW9mLXRoZS10ZXN0LXRva2Vu"

func testConfig() *config.Config {
	cfg := config.Default()
	cfg.Pool = config.Pool{Name: "bgo-pool", CentralManager: "10.0.0.5", CollectorPort: 9618, UIDDomain: "ehos.example.org", TrustDomain: "10.0.0.5"}
	return &cfg
}

func testVM() VMValues {
	return VMValues{InstanceName: "ehos-bgo-pool-0001", Cloud: "uh-iaas", Region: "bgo", Flavor: "m1.large", WorkerToken: testToken, Cpus: 4, MemoryMB: 7168}
}

func readShipped(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(cloudinitDir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestShippedTemplatesGolden(t *testing.T) {
	values, err := Values(testConfig(), testVM())
	if err != nil {
		t.Fatal(err)
	}
	values["ehos_version"] = "v0.0.0-test" // the golden files must not change with the build
	for _, name := range shipped {
		t.Run(name, func(t *testing.T) {
			got, err := Render("cloudinit/"+name, readShipped(t, name), values)
			if err != nil {
				t.Fatalf("render: %v", err)
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(name, ".yaml")+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./lib/tmpl -run Golden -update)", err)
			}
			if d := cmp.Diff(string(want), string(got)); d != "" {
				t.Errorf("%s differs from %s (-want +got; -update rewrites it):\n%s", name, golden, d)
			}
		})
	}
}

func TestShippedTemplatesUseOnlyBuiltinTags(t *testing.T) {
	for _, name := range shipped {
		for _, u := range Parse(name, readShipped(t, name)).Tags() {
			if !IsBuiltin(u.Name) {
				t.Errorf("%s: <%s> is not a built-in tag", u.Pos, u.Name)
			}
		}
	}
}

// writeFile returns the content of the write_files entry with path p.
func writeFile(t *testing.T, doc []byte, p string) string {
	t.Helper()
	var cc struct {
		WriteFiles []struct {
			Path    string `yaml:"path"`
			Content string `yaml:"content"`
		} `yaml:"write_files"`
	}
	if err := yaml.Unmarshal(doc, &cc); err != nil {
		t.Fatal(err)
	}
	for _, f := range cc.WriteFiles {
		if f.Path == p {
			return f.Content
		}
	}
	t.Fatalf("no write_files entry for %s", p)
	return ""
}

// The condor-config snippets and the copies the templates write must not
// drift apart.
func TestSnippetsMatchTemplates(t *testing.T) {
	for _, tc := range []struct{ template, snippet string }{
		{"worker.yaml", "50-ehos-worker.conf"},
		{"master.yaml", "50-ehos-central-manager.conf"},
	} {
		want, err := os.ReadFile(filepath.Join(condorDir, tc.snippet))
		if err != nil {
			t.Fatal(err)
		}
		if tags := Tags(want); len(tags) > 0 {
			t.Errorf("%s holds tags %v: snippets must be usable as they are", tc.snippet, tags)
		}
		got := writeFile(t, readShipped(t, tc.template), "/etc/condor/config.d/"+tc.snippet)
		if d := cmp.Diff(string(want), got); d != "" {
			t.Errorf("%s's copy of %s differs (-snippet +template):\n%s", tc.template, tc.snippet, d)
		}
	}
}

func TestCentralManagerSnippetListsEveryKnob(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(condorDir, "50-ehos-central-manager.conf"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range append(config.KnobNames(), "EHOS_CONFIG", "EHOS_PROVISIONER", "EHOS_PROVISIONER_LOG") {
		if !strings.Contains(string(b), k+" =") {
			t.Errorf("50-ehos-central-manager.conf does not list %s", k)
		}
	}
}

func TestWorkerTokenFileMode(t *testing.T) {
	var cc struct {
		WriteFiles []struct {
			Path        string `yaml:"path"`
			Permissions string `yaml:"permissions"`
			Content     string `yaml:"content"`
		} `yaml:"write_files"`
	}
	values, _ := Values(testConfig(), testVM())
	out, err := Render("worker.yaml", readShipped(t, "worker.yaml"), values)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(out, &cc); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range cc.WriteFiles {
		if strings.Contains(f.Content, testToken) {
			found = true
			if f.Path != DefaultTokenFile || f.Permissions != "0600" {
				t.Errorf("token written to %s with mode %s, want %s 0600", f.Path, f.Permissions, DefaultTokenFile)
			}
		}
	}
	if !found {
		t.Error("the worker token is not in the rendered worker.yaml")
	}
}
