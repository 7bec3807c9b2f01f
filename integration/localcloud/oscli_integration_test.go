//go:build integration

package localcloud_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/integration/localcloud"
	"gopkg.in/yaml.v3"
)

// cliRead is one read command of the battery and what its JSON must hold.
type cliRead struct {
	args string
	want []string
}

// cliReads are the read commands the issue found failing or working, each
// with -f json; docs/local-openstack.md names every one.
var cliReads = []cliRead{
	{"token issue", []string{`"project_id"`}},
	{"catalog list", []string{`"compute"`, `"image"`, `"network"`}},
	{"versions show", []string{`"Max Microversion":"2.96"`, `"Version":"2.16"`}},
	{"server list", nil},
	{"server list --long", nil},
	{"image list", []string{`"debian-12"`}},
	{"image show debian-12", []string{`"status":"active"`}},
	{"flavor list", []string{`"m1.tiny"`}},
	{"flavor show m1.small", []string{`"vcpus":1`, `"ram":2048`}},
	{"quota show", []string{`"instances":20`, `"cores":40`, `"ports":500`}},
	{"availability zone list", []string{`"Zone Name":"nova"`}},
	{"network list", []string{`"private"`, `"public"`}},
	{"network show private", []string{`"status":"ACTIVE"`}},
	{"subnet list", []string{`"10.0.0.0/24"`}},
	{"subnet show private-subnet", []string{`"cidr":"10.0.0.0/24"`}},
	{"port list", nil},
	{"keypair list", []string{`"ehos-key"`}},
	{"limits show --absolute", []string{`"maxTotalInstances"`}},
	{"security group list", []string{`"ehos"`}},
	{"security group show ehos", []string{`"port_range_min":9618`}},
	{"security group rule list ehos", []string{`"9618:9618"`}},
}

// cliBattery runs the battery against one clouds.yaml entry and region:
// every read, then a server with user-data and properties through create,
// show, list, its port, stop, start, snapshot, console and delete; a
// keypair from a public key; a security group rule created and deleted.
func cliBattery(ctx context.Context, cli string, env []string, dir, name string, port int) error {
	ud := filepath.Join(dir, name+".yaml")
	userData := "#cloud-config\nfinal_message: oscli " + name + "\n"
	if err := os.WriteFile(ud, []byte(userData), 0o644); err != nil {
		return err
	}
	pub := ud + ".pub"
	if err := os.WriteFile(pub, []byte(integration.TestPublicKey+"\n"), 0o644); err != nil {
		return err
	}

	lines := []string{}
	checks := [][]string{}
	for _, r := range cliReads {
		lines = append(lines, r.args+" -f json")
		checks = append(checks, r.want)
	}
	srv, key := "cli-"+name, "key-"+name
	more := []cliRead{
		{"server create --image debian-12 --flavor m1.tiny --network private --key-name ehos-key --security-group ehos --user-data " + ud +
			" --property ehos=conformance --property run=" + name + " --wait " + srv, []string{`"status":"ACTIVE"`, `"ehos":"conformance"`, `"run":"` + name + `"`}},
		{"server show " + srv, []string{`"key_name":"ehos-key"`, `"private":["10.0.0.`, `"flavor":"m1.tiny (1)"`}},
		{"server list --name ^" + srv + "$", []string{`"Name":"` + srv + `"`}},
		{"port list --server " + srv, []string{`"ip_address":"10.0.0.`}},
		{"keypair create --public-key " + pub + " " + key, []string{`"fingerprint":"` + integration.TestKeyFingerprint + `"`}},
		{"keypair show " + key, []string{`"fingerprint":"` + integration.TestKeyFingerprint + `"`}},
		{fmt.Sprintf("security group rule create --protocol tcp --dst-port %d --remote-ip 192.0.2.0/24 ehos", port), []string{fmt.Sprintf(`"port_range_min":%d`, port)}},
	}
	for _, r := range more {
		lines = append(lines, r.args+" -f json")
		checks = append(checks, r.want)
	}
	out, err := integration.OpenStackSession(ctx, cli, env, lines)
	if err != nil {
		return err
	}
	vals, err := integration.JSONValues(out)
	if err != nil || len(vals) != len(lines) {
		return fmt.Errorf("%d JSON answers to %d commands (%v):\n%s", len(vals), len(lines), err, out)
	}
	for i, v := range vals {
		for _, w := range checks[i] {
			if !strings.Contains(v, w) {
				return fmt.Errorf("openstack %s: no %s in\n%s", lines[i], w, v)
			}
		}
	}
	var rule struct{ ID string }
	if err := json.Unmarshal([]byte(vals[len(vals)-1]), &rule); err != nil || rule.ID == "" {
		return fmt.Errorf("security group rule create: no id in %s", vals[len(vals)-1])
	}

	// Commands without output, then the console (plain text).
	snap := "snap-" + name
	out, err = integration.OpenStackSession(ctx, cli, env, []string{
		"server stop " + srv, "server start " + srv,
		"server image create --name " + snap + " --wait " + srv + " -f json", "image delete " + snap,
		"keypair delete " + key, "security group rule delete " + rule.ID,
		"security group rule list ehos -f json",
		"console log show " + srv, "server delete --wait " + srv, "server list -f json",
	})
	if err != nil {
		return err
	}
	if !strings.Contains(out, `"status": "active"`) || !strings.Contains(out, fmt.Sprintf("%d bytes of user-data", len(userData))) ||
		!strings.Contains(out, "oscli "+name) {
		return fmt.Errorf("snapshot or console log not as expected:\n%s", out)
	}
	if strings.Contains(out, rule.ID) || strings.Contains(out, `"`+srv+`"`) {
		return fmt.Errorf("rule %s or server %s still listed after delete:\n%s", rule.ID, srv, out)
	}
	return nil
}

// sdkScript is openstacksdk as a program would use it.
const sdkScript = `import openstack, sys
c = openstack.connect(cloud=sys.argv[1], region_name=sys.argv[2])
s = c.create_server(sys.argv[3], image="debian-12", flavor="m1.tiny", network="private",
                    userdata="#cloud-config\n", meta={"ehos": "sdk"}, wait=True, timeout=60)
assert s.status == "ACTIVE" and s.metadata["ehos"] == "sdk", s
assert c.delete_server(s.id, wait=True, timeout=60)
assert c.get_server(s.id) is None
print("ok")
`

// The local cloud answers Debian bookworm's standard client
// (python3-openstackclient 6.0.0, openstacksdk 0.101) unchanged: the
// battery above on every cloud and region, with password and with
// application-credential auth, and openstacksdk's create and delete with
// wait=True.
func TestStandardOpenStackClient(t *testing.T) {
	t.Parallel()
	cli, python := integration.RequireOpenStackCLI(t)
	srv, err := localcloud.Start(localcloud.Options{BootDelay: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	dir := t.TempDir()

	// clouds.yaml: each cloud twice, once per auth method.
	type target struct{ entry, region string }
	var targets []target
	clouds := map[string]any{}
	for _, c := range localcloud.DefaultClouds() {
		base := map[string]any{"region_name": c.Regions[0], "regions": c.Regions, "interface": "public",
			"identity_api_version": "3", "floating_ip_source": "None"}
		pw, ac := map[string]any{}, map[string]any{}
		for k, v := range base {
			pw[k], ac[k] = v, v
		}
		pw["auth_type"] = "password"
		pw["auth"] = map[string]string{"auth_url": srv.AuthURL(), "username": c.Name, "password": c.Password,
			"project_name": c.Name, "user_domain_name": "Default", "project_domain_name": "Default"}
		ac["auth_type"] = "v3applicationcredential"
		ac["auth"] = map[string]string{"auth_url": srv.AuthURL(), "application_credential_id": c.AppCredID,
			"application_credential_secret": c.AppCredSecret}
		clouds[c.Name+"-password"], clouds[c.Name+"-appcred"] = pw, ac
		for _, r := range c.Regions {
			targets = append(targets, target{c.Name + "-password", r}, target{c.Name + "-appcred", r})
		}
	}
	b, err := yaml.Marshal(map[string]any{"clouds": clouds})
	if err != nil {
		t.Fatal(err)
	}
	cloudsFile := filepath.Join(dir, "clouds.yaml")
	if err := os.WriteFile(cloudsFile, b, 0o600); err != nil {
		t.Fatal(err)
	}
	sdkFile := filepath.Join(dir, "sdk.py")
	if err := os.WriteFile(sdkFile, []byte(sdkScript), 0o644); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	t0 := time.Now()
	for i, tg := range targets {
		env := append(os.Environ(), "OS_CLIENT_CONFIG_FILE="+cloudsFile, "OS_CLOUD="+tg.entry, "OS_REGION_NAME="+tg.region)
		name := tg.entry + "-" + tg.region
		wg.Add(2)
		go func() {
			defer wg.Done()
			if err := cliBattery(ctx, cli, env, dir, name, 8000+i); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, python, sdkFile, tg.entry, tg.region, "sdk-"+name)
			cmd.Env = env
			if out, err := cmd.CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "ok" {
				t.Errorf("%s: openstacksdk: %v\n%s", name, err, out)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d targets × (%d CLI commands + openstacksdk) in %s", len(targets), len(cliReads)+17, time.Since(t0).Round(time.Millisecond))
	if left := srv.Servers(""); len(left) > 0 {
		t.Errorf("servers left behind: %+v", left)
	}

	// docs/local-openstack.md names every command of the battery.
	doc, err := os.ReadFile("../../docs/local-openstack.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cliReads {
		if !strings.Contains(string(doc), "`openstack "+r.args+"`") {
			t.Errorf("docs/local-openstack.md does not name `openstack %s`", r.args)
		}
	}
}
