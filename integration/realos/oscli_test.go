//go:build integration && openstack

package realos

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
)

// The standard client's battery (integration/localcloud's
// TestStandardOpenStackClient) against the real OpenStack, with the
// project's names (image ehos-test-image, flavor m1.small, network
// ehos-stub-net, security group default), for the password and the
// application-credential entry. Keystone, Nova (fake driver) and Glance
// are real; networks are the neutron-stub, so the network commands prove
// the client's path, not Neutron's answers. What differs from the local
// cloud is listed in docs/local-openstack.md.
func TestStandardClientAgainstRealOpenStack(t *testing.T) {
	cloudsFile(t) // sets OS_CLIENT_CONFIG_FILE (t.Setenv: no t.Parallel)
	cli, _ := integration.RequireOpenStackCLI(t)
	dir := t.TempDir()
	pub := filepath.Join(dir, "key.pub")
	if err := os.WriteFile(pub, []byte(integration.TestPublicKey+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	userData := "#cloud-config\nfinal_message: realos oscli\n"
	ud := filepath.Join(dir, "user-data.yaml")
	if err := os.WriteFile(ud, []byte(userData), 0o644); err != nil {
		t.Fatal(err)
	}
	// The two entries side by side: each is mostly waiting on Nova. (The
	// parent's t.Setenv holds while its subtests run; only the parent
	// itself may not be parallel.)
	for i, cloud := range []string{"ehos", "ehos-appcred"} {
		t.Run(cloud, func(t *testing.T) {
			t.Parallel()
			// Generous: in CI this runs beside the whole integration suite,
			// and real Nova's fake driver answered a request every 2-10 s
			// there (4 minutes ran out in the server stop/start/delete).
			ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
			defer cancel()
			env := append(os.Environ(), "OS_CLOUD="+cloud)
			srv, key := fmt.Sprintf("oscli-%s-%d", cloud, time.Now().Unix()), "oscli-key-"+cloud
			port := 8100 + i
			type cmd struct {
				args string
				want []string
			}
			cmds := []cmd{
				{"token issue", []string{`"project_id"`}},
				{"catalog list", []string{`"compute"`, `"image"`, `"network"`}},
				{"versions show", []string{`"Max Microversion":"2.93"`}},
				{"server list", nil},
				{"server list --long", nil},
				{"image list", []string{`"ehos-test-image"`}},
				{"image show ehos-test-image", []string{`"status":"active"`}},
				{"flavor list", []string{`"m1.small"`}},
				{"flavor show m1.small", []string{`"vcpus":1`}},
				{"quota show", []string{`"instances":10`}},
				{"availability zone list", []string{`"Zone Name":"nova"`}},
				{"network list", []string{`"ehos-stub-net"`}},
				{"subnet list", []string{`"10.42.0.0/24"`}},
				{"port list", nil},
				{"keypair list", nil},
				{"limits show --absolute", []string{`"maxTotalInstances"`}},
				{"security group list", []string{`"default"`}},
				{"keypair create --public-key " + pub + " " + key, []string{`"fingerprint":"` + integration.TestKeyFingerprint + `"`}},
				{"server create --image ehos-test-image --flavor m1.small --network ehos-stub-net --key-name " + key +
					" --security-group default --user-data " + ud + " --property ehos=conformance --wait " + srv,
					[]string{`"status":"ACTIVE"`, `"ehos":"conformance"`}},
				{"server show " + srv, []string{`"key_name":"` + key + `"`}},
				{fmt.Sprintf("security group rule create --protocol tcp --dst-port %d --remote-ip 192.0.2.0/24 default", port),
					[]string{fmt.Sprintf(`"port_range_min":%d`, port)}},
			}
			var lines []string
			for _, c := range cmds {
				lines = append(lines, c.args+" -f json")
			}
			out, err := integration.OpenStackSession(ctx, cli, env, lines)
			t.Cleanup(func() { // whatever happened above
				integration.OpenStackSession(context.Background(), cli, env, []string{"server delete --wait " + srv, "keypair delete " + key})
			})
			if err != nil {
				t.Fatal(err)
			}
			vals, err := integration.JSONValues(out)
			if err != nil || len(vals) != len(lines) {
				t.Fatalf("%d JSON answers to %d commands (%v):\n%s", len(vals), len(lines), err, out)
			}
			for i, v := range vals {
				for _, w := range cmds[i].want {
					if !strings.Contains(v, w) {
						t.Errorf("openstack %s: no %s in\n%s", lines[i], w, v)
					}
				}
			}
			var rule struct{ ID string }
			json.Unmarshal([]byte(vals[len(vals)-1]), &rule)
			out, err = integration.OpenStackSession(ctx, cli, env, []string{
				"server stop " + srv, "server start " + srv, "security group rule delete " + rule.ID,
				"console log show " + srv, "server delete --wait " + srv, "keypair delete " + key,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("console log (fake driver): %q", out)
		})
	}
}
