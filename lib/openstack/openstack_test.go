package openstack_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/openstack"
)

type env struct {
	srv  *localcloud.Server
	opts openstack.Options
}

func start(t *testing.T, o localcloud.Options) *env {
	t.Helper()
	if o.BootDelay == 0 {
		o.BootDelay = 20 * time.Millisecond
	}
	srv, err := localcloud.Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := srv.WriteCloudsYAML(path); err != nil {
		t.Fatal(err)
	}
	return &env{srv: srv, opts: openstack.Options{CloudsFile: path, Timeout: 5 * time.Second}}
}

func (e *env) open(t *testing.T, name string, regions ...string) *openstack.Cloud {
	t.Helper()
	c, err := openstack.Open(context.Background(), cloud.Config{Name: name, Regions: regions}, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestOpenTwoCloudsThreeRegions(t *testing.T) {
	e := start(t, localcloud.Options{})
	clouds, err := openstack.OpenAll(ctx(t), []cloud.Config{
		{Name: "alpha", Regions: []string{"RegionOne", "RegionTwo"}},
		{Name: "beta"}, // application credential; region_name RegionThree
	}, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, c := range clouds {
		got[c.Name()] = c.Regions()
		for _, r := range c.Regions() {
			if _, err := c.Limits(ctx(t), r); err != nil {
				t.Errorf("limits in %s/%s: %v", c.Name(), r, err)
			}
		}
	}
	want := map[string][]string{"alpha": {"RegionOne", "RegionTwo"}, "beta": {"RegionThree"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("regions = %v, want %v", got, want)
	}
	// Default region: the entry's region_name.
	if r := e.open(t, "alpha").Regions(); !slices.Equal(r, []string{"RegionOne"}) {
		t.Errorf("default regions of alpha = %v", r)
	}
}

func TestOpenNamesWhatIsMissing(t *testing.T) {
	e := start(t, localcloud.Options{})
	_, err := openstack.OpenAll(ctx(t), []cloud.Config{
		{Name: "gamma"},
		{Name: "alpha", Regions: []string{"RegionOne", "RegionThree"}},   // RegionThree belongs to beta
		{Name: "beta", Regions: []string{"Nowhere"}, Enabled: new(bool)}, // disabled: not opened
	}, e.opts)
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{`cloud "gamma"`, `cloud "alpha": region "RegionThree" not in its catalog`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "Nowhere") {
		t.Errorf("disabled cloud was opened: %v", err)
	}
}

func TestEnvVarsAndToken(t *testing.T) {
	e := start(t, localcloud.Options{})
	t.Setenv("OS_CLOUD", "")
	t.Setenv("OS_AUTH_URL", e.srv.AuthURL())
	t.Setenv("OS_USERNAME", "beta")
	t.Setenv("OS_PASSWORD", "beta-secret")
	t.Setenv("OS_PROJECT_NAME", "beta")
	t.Setenv("OS_USER_DOMAIN_NAME", "Default")
	t.Setenv("OS_PROJECT_DOMAIN_NAME", "Default")
	t.Setenv("OS_REGION_NAME", "RegionThree")
	c := e.open(t, openstack.EnvVars)
	if !slices.Equal(c.Regions(), []string{"RegionThree"}) {
		t.Errorf("regions %v", c.Regions())
	}

	// Token auth from a clouds.yaml entry.
	body := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alpha","domain":{"name":"Default"},"password":"alpha-secret"}}},"scope":{"project":{"name":"alpha","domain":{"name":"Default"}}}}}`
	resp, err := http.Post(e.srv.AuthURL()+"/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	tok := resp.Header.Get("X-Subject-Token")
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	yml := fmt.Sprintf("clouds:\n  tok:\n    auth_type: token\n    auth:\n      auth_url: %s\n      token: %s\n      project_name: alpha\n      project_domain_name: Default\n    region_name: RegionTwo\n", e.srv.AuthURL(), tok)
	os.WriteFile(path, []byte(yml), 0o600)
	tc, err := openstack.Open(ctx(t), cloud.Config{Name: "tok"}, openstack.Options{CloudsFile: path})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tc.Flavors(ctx(t), "RegionTwo"); err != nil {
		t.Error(err)
	}
}

func waitStatus(t *testing.T, c *openstack.Cloud, region, pool, id string, want cloud.Status) cloud.VM {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		vms, err := c.List(ctx(t), region, pool, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vms {
			if v.ID == id && v.Status == want {
				return v
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("server %s never reached %s", id, want)
	return cloud.VM{}
}

func TestCreateListDelete(t *testing.T) {
	var gotUserData []byte
	ran := make(chan localcloud.VMInfo, 1)
	stopped := make(chan string, 1)
	e := start(t, localcloud.Options{Runner: localcloud.RunnerFunc(func(_ context.Context, vm localcloud.VMInfo, ud []byte) (func(context.Context) error, error) {
		gotUserData = ud
		fmt.Fprintln(vm.Console, "hello from the runner")
		ran <- vm
		return func(context.Context) error { stopped <- vm.ID; return nil }, nil
	})})
	c := e.open(t, "alpha", "RegionOne", "RegionTwo")
	ud := []byte("#cloud-config\nwrite_files: []\n")
	md := map[string]string{cloud.MetaPool: "p", cloud.MetaOwner: "me", cloud.MetaName: "w1"}
	vm, err := c.Create(ctx(t), "RegionTwo", cloud.CreateRequest{
		Name: "w1", Flavor: "m1.medium", Image: "ehos-worker", Network: "private",
		KeyPair: "ehos-key", SecurityGroups: []string{"ehos"}, AvailabilityZone: "nova",
		UserData: ud, Metadata: md,
	})
	if err != nil {
		t.Fatal(err)
	}
	if vm.Status != cloud.StatusBuild || vm.Flavor != "m1.medium" || vm.Location != (cloud.Location{Cloud: "alpha", Region: "RegionTwo"}) {
		t.Errorf("created %+v", vm)
	}
	got := waitStatus(t, c, "RegionTwo", "p", vm.ID, cloud.StatusActive)
	if got.Flavor != "m1.medium" || got.Name != "w1" || len(got.Addresses) != 1 || got.Metadata[cloud.MetaName] != "w1" {
		t.Errorf("listed %+v", got)
	}
	info := <-ran
	if info.Region != "RegionTwo" || info.Cloud != "alpha" || info.VCPUs != 2 || !bytes.Equal(gotUserData, ud) {
		t.Errorf("runner got %+v, user-data %q", info, gotUserData)
	}
	if vms, _ := c.List(ctx(t), "RegionOne", "p", ""); len(vms) != 0 {
		t.Errorf("RegionOne lists %d servers, want 0", len(vms))
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		log, err := c.ConsoleLog(ctx(t), "RegionTwo", vm.ID, 5)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(log, "hello from the runner") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("console log lacks the runner's line:\n%s", log)
		}
		time.Sleep(20 * time.Millisecond)
	}
	l, err := c.Limits(ctx(t), "RegionTwo")
	if err != nil {
		t.Fatal(err)
	}
	if l.UsedInstances != 1 || l.UsedCores != 2 || l.UsedRAMMB != 4096 {
		t.Errorf("limits %+v", l)
	}
	if err := c.Delete(ctx(t), "RegionTwo", vm.ID); err != nil {
		t.Fatal(err)
	}
	if id := <-stopped; id != vm.ID {
		t.Errorf("stopped %s", id)
	}
	if err := c.Delete(ctx(t), "RegionTwo", vm.ID); err != nil {
		t.Errorf("second delete: %v (404 must count as gone)", err)
	}
	if vms, _ := c.List(ctx(t), "RegionTwo", "p", ""); len(vms) != 0 {
		t.Errorf("after delete: %d servers", len(vms))
	}
}

func TestListOwnership(t *testing.T) {
	e := start(t, localcloud.Options{})
	add := func(prefix string, n int, md map[string]string) {
		if err := e.srv.AddServers("RegionOne", prefix, n, md); err != nil {
			t.Fatal(err)
		}
	}
	add("mine", 2, map[string]string{cloud.MetaPool: "p", cloud.MetaOwner: "a"})
	add("colleague", 3, map[string]string{cloud.MetaPool: "p", cloud.MetaOwner: "b"})
	add("other-pool", 4, map[string]string{cloud.MetaPool: "q", cloud.MetaOwner: "a"})
	add("nobody", 5, nil)
	add("named-like-mine", 1, map[string]string{"ehos_pool_x": "p"})
	c := e.open(t, "alpha")
	names := func(owner string) []string {
		vms, err := c.List(ctx(t), "RegionOne", "p", owner)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, v := range vms {
			out = append(out, v.Name)
		}
		sort.Strings(out)
		return out
	}
	if got := names("a"); !slices.Equal(got, []string{"mine-0", "mine-1"}) {
		t.Errorf("pool p owner a: %v", got)
	}
	if got := names(""); len(got) != 5 {
		t.Errorf("pool p any owner: %v", got)
	}
	if _, err := c.List(ctx(t), "RegionOne", "", ""); !errors.Is(err, cloud.ErrFatal) {
		t.Errorf("empty pool: %v, want ErrFatal", err)
	}
}

func TestPaging(t *testing.T) {
	e := start(t, localcloud.Options{PageSize: 4})
	if err := e.srv.AddServers("RegionOne", "w", 11, map[string]string{cloud.MetaPool: "p"}); err != nil {
		t.Fatal(err)
	}
	e.srv.AddServers("RegionOne", "x", 2, map[string]string{cloud.MetaPool: "other"})
	c := e.open(t, "alpha")
	vms, err := c.List(ctx(t), "RegionOne", "p", "")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range vms {
		seen[v.ID] = true
		if v.Flavor != "m1.tiny" {
			t.Errorf("%s flavor %q", v.Name, v.Flavor)
		}
	}
	if len(vms) != 11 || len(seen) != 11 {
		t.Errorf("listed %d servers (%d distinct) over pages of 4, want 11", len(vms), len(seen))
	}
	// One paged listing: ceil(13/4) = 4 pages (the last one short), no
	// per-server GETs, no flavor lookups (2.47 embeds flavor names).
	e.srv.ResetRequestCounts()
	if _, err := c.List(ctx(t), "RegionOne", "p", ""); err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"GET /compute/{region}/v2.1/servers/detail": 4}
	if got := e.srv.RequestCounts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests of one List: %v, want %v", got, want)
	}
}

func TestCreateCostsOneCallOnceWarm(t *testing.T) {
	e := start(t, localcloud.Options{})
	c := e.open(t, "alpha")
	req := cloud.CreateRequest{Name: "w", Flavor: "m1.small", Image: "ehos-worker", Network: "private",
		Metadata: map[string]string{cloud.MetaPool: "p"}}
	if _, err := c.Create(ctx(t), "RegionOne", req); err != nil {
		t.Fatal(err)
	}
	e.srv.ResetRequestCounts()
	for i := 0; i < 3; i++ {
		if _, err := c.Create(ctx(t), "RegionOne", req); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]int{"POST /compute/{region}/v2.1/servers": 3}
	if got := e.srv.RequestCounts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests of three creates: %v, want %v", got, want)
	}
}

func TestTokenLifetime(t *testing.T) {
	e := start(t, localcloud.Options{TokenTTL: 300 * time.Millisecond})
	var mu sync.Mutex
	var reauths []string
	e.opts.OnReauth = func(cloud string, err error) {
		mu.Lock()
		defer mu.Unlock()
		reauths = append(reauths, fmt.Sprintf("%s %v", cloud, err))
	}
	c := e.open(t, "alpha")
	time.Sleep(400 * time.Millisecond) // the token has expired on its own
	if _, err := c.Flavors(ctx(t), "RegionOne"); err != nil {
		t.Fatalf("after natural expiry: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(reauths) != "[alpha <nil>]" {
		t.Errorf("OnReauth calls %q, want one for alpha without error", reauths)
	}
}

func TestReauthenticatesOnceOnExpiredToken(t *testing.T) {
	e := start(t, localcloud.Options{})
	c := e.open(t, "beta") // application credential
	e.srv.ExpireTokens()
	if _, err := c.List(ctx(t), "RegionThree", "p", ""); err != nil {
		t.Fatalf("after token expiry: %v", err)
	}
	e.srv.ExpireTokens()
	e.srv.FailAuth(true)
	_, err := c.List(ctx(t), "RegionThree", "p", "")
	if !errors.Is(err, cloud.ErrAuth) {
		t.Fatalf("expired token, Keystone refusing: %v, want ErrAuth", err)
	}
	e.srv.FailAuth(false)
	if _, err := c.List(ctx(t), "RegionThree", "p", ""); err != nil {
		t.Fatalf("Keystone back: %v", err)
	}
}

func TestErrorClasses(t *testing.T) {
	e := start(t, localcloud.Options{})
	c := e.open(t, "alpha", "RegionOne", "RegionTwo")
	req := cloud.CreateRequest{Name: "w", Flavor: "m1.small", Image: "ehos-worker", Network: "none",
		Metadata: map[string]string{cloud.MetaPool: "p"}}
	list := func() error { _, err := c.List(ctx(t), "RegionOne", "p", ""); return err }
	create := func() error { _, err := c.Create(ctx(t), "RegionOne", req); return err }
	tests := []struct {
		name       string
		faults     localcloud.Faults
		quota      *localcloud.Quota
		call       func() error
		class      error
		status     int
		msg        string
		retryAfter time.Duration
	}{
		{name: "quota 403", quota: &localcloud.Quota{Instances: 0, Cores: -1, RAMMB: -1}, call: create,
			class: cloud.ErrQuota, status: 403, msg: "Quota exceeded for instances"},
		{name: "quota 413 overLimit", quota: &localcloud.Quota{Instances: 10, Cores: 0, RAMMB: -1},
			faults: localcloud.Faults{QuotaStatus: 413}, call: create, class: cloud.ErrQuota, status: 413, msg: "Quota exceeded for cores"},
		{name: "not found", call: func() error {
			_, err := c.ConsoleLog(ctx(t), "RegionOne", "0b3c2a6e-0000-4000-8000-000000000000", 1)
			return err
		},
			class: cloud.ErrNotFound, status: 404, msg: "could not be found"},
		{name: "image not found", call: func() error { _, err := c.ResolveImage(ctx(t), "RegionOne", "no-such-image"); return err },
			class: cloud.ErrNotFound},
		{name: "key pair not found", call: func() error { return c.KeyPairExists(ctx(t), "RegionOne", "nope") },
			class: cloud.ErrNotFound, status: 404},
		{name: "500", faults: localcloud.Faults{FailNext: 1, FailStatus: 500}, call: list, class: cloud.ErrTransient, status: 500},
		{name: "503", faults: localcloud.Faults{FailNext: 1, FailStatus: 503, RetryAfter: localcloud.Duration(2 * time.Second)}, call: list,
			class: cloud.ErrTransient, status: 503, retryAfter: 2 * time.Second},
		{name: "429 retry-after", faults: localcloud.Faults{FailNext: 1, FailStatus: 429, RetryAfter: localcloud.Duration(7 * time.Second)}, call: list,
			class: cloud.ErrTransient, status: 429, retryAfter: 7 * time.Second},
		{name: "error rate 1", faults: localcloud.Faults{ErrorRate: 1}, call: create, class: cloud.ErrTransient, status: 500},
		{name: "bad request", call: func() error {
			r := req
			r.KeyPair = "missing"
			_, err := c.Create(ctx(t), "RegionOne", r)
			return err
		}, class: cloud.ErrFatal, status: 400, msg: "Invalid key_name provided."},
		{name: "user-data too large", call: func() error {
			r := req
			r.UserData = bytes.Repeat([]byte("x"), 60000)
			_, err := c.Create(ctx(t), "RegionOne", r)
			return err
		}, class: cloud.ErrFatal, status: 400, msg: "User data too large"},
		{name: "unknown region", call: func() error { _, err := c.List(ctx(t), "RegionSeven", "p", ""); return err }, class: cloud.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := localcloud.DefaultQuota
			if tc.quota != nil {
				q = *tc.quota
			}
			e.srv.SetQuota("RegionOne", q)
			e.srv.SetFaults("RegionOne", tc.faults)
			defer e.srv.SetFaults("RegionOne", localcloud.Faults{})
			err := tc.call()
			if !errors.Is(err, tc.class) {
				t.Fatalf("err = %v, want class %v", err, tc.class)
			}
			var ae *cloud.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("%T is not *cloud.APIError", err)
			}
			if tc.status != 0 && ae.Status != tc.status {
				t.Errorf("status %d, want %d", ae.Status, tc.status)
			}
			if !strings.Contains(ae.Message, tc.msg) {
				t.Errorf("message %q lacks %q", ae.Message, tc.msg)
			}
			if ae.RetryAfter != tc.retryAfter || cloud.RetryAfter(err) != tc.retryAfter {
				t.Errorf("retry after %v, want %v", ae.RetryAfter, tc.retryAfter)
			}
			if ae.Location.Cloud != "alpha" {
				t.Errorf("location %v", ae.Location)
			}
		})
	}
	// Other regions are not affected by RegionOne's faults.
	e.srv.SetFaults("RegionOne", localcloud.Faults{ErrorRate: 1})
	if _, err := c.List(ctx(t), "RegionTwo", "p", ""); err != nil {
		t.Errorf("RegionTwo: %v", err)
	}
}

func TestTransientNetwork(t *testing.T) {
	e := start(t, localcloud.Options{})
	e.opts.Timeout = 200 * time.Millisecond
	c := e.open(t, "alpha")
	e.srv.SetFaults("RegionOne", localcloud.Faults{Latency: localcloud.Duration(2 * time.Second)})
	if _, err := c.List(ctx(t), "RegionOne", "p", ""); !errors.Is(err, cloud.ErrTransient) {
		t.Errorf("timeout: %v, want ErrTransient", err)
	}
	e.srv.SetFaults("RegionOne", localcloud.Faults{})
	e.srv.Close()
	if _, err := c.List(ctx(t), "RegionOne", "p", ""); !errors.Is(err, cloud.ErrTransient) {
		t.Errorf("connection refused: %v, want ErrTransient", err)
	}
}

func TestBootFaults(t *testing.T) {
	e := start(t, localcloud.Options{})
	c := e.open(t, "alpha")
	req := cloud.CreateRequest{Name: "w", Flavor: "2", Image: "debian-12", Metadata: map[string]string{cloud.MetaPool: "p"}}
	e.srv.SetFaults("RegionOne", localcloud.Faults{BootError: "No valid host was found."})
	vm, err := c.Create(ctx(t), "RegionOne", req)
	if err != nil {
		t.Fatal(err)
	}
	got := waitStatus(t, c, "RegionOne", "p", vm.ID, cloud.StatusError)
	if got.Fault != "No valid host was found." {
		t.Errorf("fault %q", got.Fault)
	}
	e.srv.SetFaults("RegionOne", localcloud.Faults{StuckBuild: true})
	vm, err = c.Create(ctx(t), "RegionOne", req)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if got := waitStatus(t, c, "RegionOne", "p", vm.ID, cloud.StatusBuild); got.ID != vm.ID {
		t.Error("stuck server vanished")
	}
}

func TestChecksAndImages(t *testing.T) {
	e := start(t, localcloud.Options{})
	c := e.open(t, "beta")
	const r = "RegionThree"
	n, err := c.ResolveNetwork(ctx(t), r, "private")
	if err != nil {
		t.Fatal(err)
	}
	if n2, err := c.ResolveNetwork(ctx(t), r, n.ID); err != nil || n2.Name != "private" {
		t.Errorf("network by id: %+v %v", n2, err)
	}
	if _, err := c.ResolveNetwork(ctx(t), r, "nope"); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("missing network: %v", err)
	}
	if err := c.KeyPairExists(ctx(t), r, "ehos-key"); err != nil {
		t.Error(err)
	}
	rules, err := c.SecurityGroupRules(ctx(t), r, "ehos")
	if err != nil {
		t.Fatal(err)
	}
	var tcp, udp, ssh bool
	for _, rule := range rules {
		tcp = tcp || rule.Allows("tcp", 9618)
		udp = udp || rule.Allows("udp", 9618)
		ssh = ssh || rule.Allows("tcp", 22)
	}
	if !tcp || !udp || !ssh {
		t.Errorf("rules %+v: 9618/tcp %v 9618/udp %v 22/tcp %v", rules, tcp, udp, ssh)
	}
	if _, err := c.SecurityGroupRules(ctx(t), r, "nope"); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("missing group: %v", err)
	}
	f, err := c.ResolveFlavor(ctx(t), r, "m1.large")
	if err != nil || f.VCPUs != 4 || f.RAMMB != 8192 {
		t.Errorf("flavor %+v %v", f, err)
	}

	vm, err := c.Create(ctx(t), r, cloud.CreateRequest{Name: "base", Flavor: "m1.small", Image: "debian-12", Metadata: map[string]string{cloud.MetaPool: "img"}})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, r, "img", vm.ID, cloud.StatusActive)
	if err := c.Stop(ctx(t), r, vm.ID); err != nil {
		t.Fatal(err)
	}
	id, err := c.CreateImage(ctx(t), r, vm.ID, "ehos-base-1", nil)
	if err != nil {
		t.Fatal(err)
	}
	img, err := c.WaitImage(ctx(t), r, id, 10*time.Millisecond)
	if err != nil || img.Name != "ehos-base-1" || img.Status != "active" {
		t.Fatalf("image %+v %v", img, err)
	}
	if img2, err := c.ResolveImage(ctx(t), r, "ehos-base-1"); err != nil || img2.ID != id {
		t.Errorf("resolve new image: %+v %v", img2, err)
	}
}

func TestAdminEndpoint(t *testing.T) {
	e := start(t, localcloud.Options{})
	c := e.open(t, "alpha")
	body, _ := json.Marshal(localcloud.Faults{FailNext: 1, FailStatus: 429, RetryAfter: localcloud.Duration(3 * time.Second)})
	req, _ := http.NewRequest("PUT", e.srv.URL()+"/admin/regions/RegionOne/faults", bytes.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("admin: %v %v", resp, err)
	}
	resp.Body.Close()
	_, err = c.List(ctx(t), "RegionOne", "p", "")
	if !errors.Is(err, cloud.ErrTransient) || cloud.RetryAfter(err) != 3*time.Second {
		t.Errorf("after admin 429 fault: %v", err)
	}
}

func TestOldMicroversion(t *testing.T) {
	e := start(t, localcloud.Options{})
	e.opts.ComputeMicroversion = "2.1"
	c := e.open(t, "alpha")
	vm, err := c.Create(ctx(t), "RegionOne", cloud.CreateRequest{Name: "old", Flavor: "m1.large", Image: "debian-12",
		Metadata: map[string]string{cloud.MetaPool: "p"}})
	if err != nil {
		t.Fatal(err)
	}
	e.srv.ResetRequestCounts()
	got := waitStatus(t, c, "RegionOne", "p", vm.ID, cloud.StatusBuild)
	if got.FlavorID != "4" || got.Flavor != "m1.large" {
		t.Errorf("flavor id %q name %q, want 4 m1.large", got.FlavorID, got.Flavor)
	}
	// The flavor names came from the cached listing made by Create.
	if n := e.srv.RequestCounts()["GET /compute/{region}/v2.1/flavors/detail"]; n != 0 {
		t.Errorf("%d flavor listings during List, want 0 (cached)", n)
	}
	if _, err := c.Create(ctx(t), "RegionOne", cloud.CreateRequest{Name: "x", Flavor: "1", Image: "debian-12", Network: "none"}); !errors.Is(err, cloud.ErrFatal) {
		t.Errorf("network none at 2.1: %v, want ErrFatal", err)
	}
	zones, err := c.AvailabilityZones(ctx(t), "RegionOne")
	if err != nil || !slices.Equal(zones, []string{"nova"}) {
		t.Errorf("zones %v %v", zones, err)
	}
	if got, err := c.Get(ctx(t), "RegionOne", vm.ID); err != nil || got.Name != "old" {
		t.Errorf("get: %+v %v", got, err)
	}
}

// Many creates and deletes at once across clouds and regions, with a
// runner that records starts and stops: nothing lost, nothing left running.
func TestConcurrentCreateDelete(t *testing.T) {
	var mu sync.Mutex
	running := map[string]bool{}
	e := start(t, localcloud.Options{BootDelay: 5 * time.Millisecond, Runner: localcloud.RunnerFunc(
		func(_ context.Context, vm localcloud.VMInfo, _ []byte) (func(context.Context) error, error) {
			mu.Lock()
			running[vm.ID] = true
			mu.Unlock()
			return func(context.Context) error {
				mu.Lock()
				delete(running, vm.ID)
				mu.Unlock()
				return nil
			}, nil
		})})
	alpha := e.open(t, "alpha", "RegionOne", "RegionTwo")
	beta := e.open(t, "beta")
	type target struct {
		c      *openstack.Cloud
		region string
	}
	targets := []target{{alpha, "RegionOne"}, {alpha, "RegionTwo"}, {beta, "RegionThree"}}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for _, tg := range targets {
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := tg.c.Create(ctx(t), tg.region, cloud.CreateRequest{Name: fmt.Sprintf("w%d", i), Flavor: "m1.tiny",
					Image: "ehos-worker", Metadata: map[string]string{cloud.MetaPool: "p"}})
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	for _, tg := range targets {
		deadline := time.Now().Add(10 * time.Second)
		for {
			vms, err := tg.c.List(ctx(t), tg.region, "p", "")
			if err != nil {
				t.Fatal(err)
			}
			active := 0
			for _, v := range vms {
				if v.Status == cloud.StatusActive {
					active++
				}
			}
			if active == 8 {
				for _, v := range vms {
					wg.Add(1)
					go func() {
						defer wg.Done()
						if err := tg.c.Delete(ctx(t), tg.region, v.ID); err != nil {
							t.Error(err)
						}
					}()
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d of 8 active", tg.region, active)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	wg.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(running)
		mu.Unlock()
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d VMs still running after their servers were deleted", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := len(e.srv.Servers("")); n != 0 {
		t.Errorf("%d servers left", n)
	}
}

func TestOpenAuthErrors(t *testing.T) {
	e := start(t, localcloud.Options{})
	bad := filepath.Join(t.TempDir(), "clouds.yaml")
	yml := strings.Replace(string(e.srv.CloudsYAML()), "alpha-secret", "wrong", 1)
	os.WriteFile(bad, []byte(yml), 0o600)
	_, err := openstack.Open(ctx(t), cloud.Config{Name: "alpha"}, openstack.Options{CloudsFile: bad})
	if !errors.Is(err, cloud.ErrAuth) {
		t.Errorf("wrong password: %v, want ErrAuth", err)
	}
	e.srv.Close()
	_, err = openstack.Open(ctx(t), cloud.Config{Name: "alpha"}, e.opts)
	if !errors.Is(err, cloud.ErrTransient) {
		t.Errorf("Keystone down: %v, want ErrTransient", err)
	}
}

func TestCreateSecurityGroupRuleAndKeyPair(t *testing.T) {
	e := start(t, localcloud.Options{})
	c := e.open(t, "beta")
	const r = "RegionThree"
	if n, err := e.srv.DropSecurityRules(r, "ehos", "udp", 9618); err != nil || n != 1 {
		t.Fatalf("drop: %d %v", n, err)
	}
	allows := func() bool {
		rules, err := c.SecurityGroupRules(ctx(t), r, "ehos")
		if err != nil {
			t.Fatal(err)
		}
		for _, rule := range rules {
			if rule.GroupID == "" {
				t.Errorf("rule without group id: %+v", rule)
			}
			if rule.Allows("udp", 9618) && rule.RemoteGroupID == rule.GroupID {
				return true
			}
		}
		return false
	}
	if allows() {
		t.Fatal("9618/udp still allowed after the drop")
	}
	rules, _ := c.SecurityGroupRules(ctx(t), r, "ehos")
	add := cloud.SecurityRule{Protocol: "udp", PortMin: 9618, PortMax: 9618, RemoteGroupID: rules[0].GroupID}
	if err := c.CreateSecurityGroupRule(ctx(t), r, "ehos", add); err != nil {
		t.Fatal(err)
	}
	if !allows() {
		t.Error("9618/udp not allowed after CreateSecurityGroupRule")
	}
	if err := c.CreateSecurityGroupRule(ctx(t), r, "ehos", add); err != nil {
		t.Errorf("adding the same rule again: %v", err)
	}
	if err := c.CreateSecurityGroupRule(ctx(t), r, "nope", add); !errors.Is(err, cloud.ErrNotFound) {
		t.Errorf("missing group: %v", err)
	}

	if err := c.KeyPairExists(ctx(t), r, "admin"); !errors.Is(err, cloud.ErrNotFound) {
		t.Fatalf("key pair before import: %v", err)
	}
	if err := c.CreateKeyPair(ctx(t), r, "admin", "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFakeKeyForTests admin@host"); err != nil {
		t.Fatal(err)
	}
	if err := c.KeyPairExists(ctx(t), r, "admin"); err != nil {
		t.Errorf("after import: %v", err)
	}
	if err := c.CreateKeyPair(ctx(t), r, "admin", "ssh-ed25519 AAAA x"); err == nil {
		t.Error("importing a duplicate key pair succeeded")
	}
}

// Listing ERROR servers costs one GET per server in its life (for the
// fault real Nova leaves out of servers/detail); listing without ERROR
// servers costs none (TestListOnePagedCall).
func TestErrorFaultCostsOneGetPerServer(t *testing.T) {
	e := start(t, localcloud.Options{})
	c := e.open(t, "alpha")
	req := cloud.CreateRequest{Name: "w", Flavor: "2", Image: "debian-12", Metadata: map[string]string{cloud.MetaPool: "p"}}
	e.srv.SetFaults("RegionOne", localcloud.Faults{BootError: "No valid host was found. "})
	var ids []string
	for range 2 {
		vm, err := c.Create(ctx(t), "RegionOne", req)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, vm.ID)
	}
	for _, id := range ids {
		waitStatus(t, c, "RegionOne", "p", id, cloud.StatusError)
	}
	e.srv.ResetRequestCounts()
	for range 3 {
		vms, err := c.List(ctx(t), "RegionOne", "p", "")
		if err != nil || len(vms) != 2 {
			t.Fatalf("%d VMs, %v", len(vms), err)
		}
		for _, vm := range vms {
			if vm.Fault != "No valid host was found." {
				t.Errorf("%s fault %q", vm.ID, vm.Fault)
			}
		}
	}
	want := map[string]int{"GET /compute/{region}/v2.1/servers/detail": 3}
	if got := e.srv.RequestCounts(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("requests of three Lists once the faults are known: %v, want %v", got, want)
	}
}
