package localcloud

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/google/go-cmp/cmp"
)

// A server that failed to boot answers with the keys real Nova gives a
// NoValidHost server (captured in integration/realos/testdata): the fault
// on GET servers/{id} only, never in servers/detail. An ACTIVE server with
// networks "none" has the keys of real Nova's (no security_groups).
func TestServerShapesMatchRealNova(t *testing.T) {
	t.Parallel()
	srv, err := Start(Options{BootDelay: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := srv.WriteCloudsYAML(path); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := openstack.Open(ctx, cloud.Config{Name: "alpha"}, openstack.Options{CloudsFile: path})
	if err != nil {
		t.Fatal(err)
	}
	// createUntil creates a server and waits for it to reach status.
	createUntil := func(req cloud.CreateRequest, status cloud.Status) cloud.VM {
		t.Helper()
		req.Flavor, req.Image, req.Metadata = "2", "debian-12", map[string]string{cloud.MetaPool: "p"}
		vm, err := c.Create(ctx, "RegionOne", req)
		if err != nil {
			t.Fatal(err)
		}
		for {
			got, err := c.Get(ctx, "RegionOne", vm.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status == status {
				return vm
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := srv.SetFaults("RegionOne", Faults{BootError: "No valid host was found. "}); err != nil {
		t.Fatal(err)
	}
	vm := createUntil(cloud.CreateRequest{Name: "w"}, cloud.StatusError)
	if err := srv.SetFaults("RegionOne", Faults{}); err != nil {
		t.Fatal(err)
	}
	active := createUntil(cloud.CreateRequest{Name: "ok", Network: "none"}, cloud.StatusActive)
	tok := getToken(t, srv)
	mv := openstack.ComputeMicroversion
	keys := func(url, wrap string) []string {
		req, _ := http.NewRequestWithContext(ctx, "GET", url, nil)
		req.Header.Set("X-Auth-Token", tok)
		req.Header.Set("OpenStack-API-Version", "compute "+mv)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		return serverKeys(t, resp.Body, wrap)
	}
	real := func(name, wrap string) []string {
		f, err := os.Open(filepath.Join("..", "realos", "testdata", name))
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		return serverKeys(t, f, wrap)
	}
	base := srv.URL() + "/compute/RegionOne/v2.1/servers/"
	if diff := cmp.Diff(real("nova-servers-detail-error-2.47.json", "servers"), keys(base+"detail?name=^w$", "servers")); diff != "" {
		t.Errorf("servers/detail keys of an ERROR server (-real Nova +local):\n%s", diff)
	}
	if diff := cmp.Diff(real("nova-server-error-get-2.47.json", "server"), keys(base+vm.ID, "server")); diff != "" {
		t.Errorf("servers/{id} keys of an ERROR server (-real Nova +local):\n%s", diff)
	}
	mv = "2.37"
	if diff := cmp.Diff(real("nova-server-get-2.37.json", "server"), keys(base+active.ID, "server")); diff != "" {
		t.Errorf("servers/{id} keys of an ACTIVE server without network at 2.37 (-real Nova +local):\n%s", diff)
	}
}

// serverKeys reads {"server": {...}} or {"servers": [{...}]} and returns
// the server's keys, sorted.
func serverKeys(t *testing.T, r interface{ Read([]byte) (int, error) }, wrap string) []string {
	t.Helper()
	var one map[string]map[string]any
	var many map[string][]map[string]any
	var s map[string]any
	dec := json.NewDecoder(r)
	if wrap == "servers" {
		if err := dec.Decode(&many); err != nil || len(many[wrap]) != 1 {
			t.Fatalf("decode %s: %v (%d servers)", wrap, err, len(many[wrap]))
		}
		s = many[wrap][0]
	} else {
		if err := dec.Decode(&one); err != nil {
			t.Fatalf("decode %s: %v", wrap, err)
		}
		s = one[wrap]
	}
	var out []string
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// A snapshot's status only moves forward, whichever of its two timers
// fires first.
func TestImageStatusOnlyMovesForward(t *testing.T) {
	s := &Server{}
	img := &image{Status: "queued"}
	s.setImageStatus(img, "active")
	s.setImageStatus(img, "saving")
	if img.Status != "active" {
		t.Fatalf("a late \"saving\" after \"active\" left the image %s", img.Status)
	}
	img = &image{Status: "deleted"}
	s.setImageStatus(img, "active")
	if img.Status != "deleted" {
		t.Fatalf("a deleted image became %s", img.Status)
	}
}
