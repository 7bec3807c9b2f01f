package localcloud

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// noRedirect is a client that shows redirects instead of following them,
// as keystoneauth's discovery meets them.
var noRedirect = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

func getJSON(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := noRedirect.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %d %q is not JSON", url, resp.StatusCode, b)
	}
	return resp.StatusCode, m
}

// Every catalog URL answers discovery itself, without a token and without
// a redirect, and the compute one carries the microversion range.
func TestVersionDiscoveryAtCatalogURLs(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct{ path, want string }{
		{"/v3", `"id":"v3.14"`},
		{"/compute/RegionTwo/v2.1", `"version":"2.96"`},
		{"/compute/RegionTwo/v2.1/", `"min_version":"2.1"`},
		{"/compute/RegionTwo", `"href":"` + s.URL() + `/compute/RegionTwo/v2.1/"`},
		{"/image/RegionTwo", `"href":"` + s.URL() + `/image/RegionTwo/v2/"`},
		{"/image/RegionTwo/", `"id":"v2.16"`},
		{"/network/RegionTwo", `"href":"` + s.URL() + `/network/RegionTwo/v2.0/"`},
	} {
		code, m := getJSON(t, s.URL()+c.path)
		b, _ := json.Marshal(m)
		if code >= 301 && code != 300 || !strings.Contains(string(b), c.want) {
			t.Errorf("GET %s: %d %s, want a version document with %s", c.path, code, b, c.want)
		}
	}
	if code, m := getJSON(t, s.URL()+"/image/NoSuchRegion"); code != 404 || m["message"] == nil {
		t.Errorf("unknown region: %d %v", code, m)
	}
}

// What no route matches is still a fault in the service's own JSON shape.
func TestUnknownRoutesAreJSONFaults(t *testing.T) {
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for _, c := range []struct {
		method, path string
		code         int
		key          string
	}{
		{"GET", "/compute/RegionOne/v2.1/os-no-such-thing", 404, "itemNotFound"},
		{"PATCH", "/compute/RegionOne/v2.1/flavors", 405, "badMethod"},
		{"GET", "/image/RegionOne/v2/no-such", 404, "message"},
		{"GET", "/network/RegionOne/v2.0/routers", 404, "NeutronError"},
		{"GET", "/nowhere", 404, "error"},
	} {
		req, _ := http.NewRequest(c.method, s.URL()+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		var m map[string]any
		if resp.StatusCode != c.code || json.Unmarshal(b, &m) != nil || m[c.key] == nil || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s: %d %s %q, want %d with %q", c.method, c.path, resp.StatusCode, resp.Header.Get("Content-Type"), b, c.code, c.key)
		}
	}
}

// Fingerprints are ssh-keygen -l -E md5's, computed from the key.
func TestKeypairFingerprint(t *testing.T) {
	for _, c := range []struct{ key, want string }{
		{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVob3MtbG9jYWwtY2xvdWQtc2VlZGVkLXRlc3Qta2V5 ehos@local", "37:02:d1:bf:1e:2a:a6:45:3a:32:a8:08:9c:9d:10:88"},
		{"ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBIt0SRHGDwMEikyiUWKT8+WVy9mMHvJOJwPLZsTFaKB t\n", "51:2c:b8:64:a6:30:f1:0d:f4:88:11:ad:02:a0:0d:d0"},
	} {
		if got, err := sshFingerprint(c.key); err != nil || got != c.want {
			t.Errorf("%q: %q %v, want %s", c.key, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "ssh-rsa", "ssh-rsa !!!", "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIGVob3MtbG9jYWwtY2xvdWQtc2VlZGVkLXRlc3Qta2V5"} {
		if got, err := sshFingerprint(bad); err == nil {
			t.Errorf("%q: fingerprint %s, want an error", bad, got)
		}
	}
}

// The routes the standard client reads beyond ehos's own, as a member of
// project alpha sees them.
func TestClientRoutes(t *testing.T) {
	s, err := Start(Options{BootDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok := getToken(t, s)
	project := s.clouds["alpha"].projectID
	if err := s.AddServers("RegionOne", "w", 1, nil); err != nil {
		t.Fatal(err)
	}
	c := "/compute/RegionOne/v2.1"
	n := "/network/RegionOne/v2.0"
	for _, tc := range []struct {
		path string
		code int
		want string
	}{
		{c + "/flavors/2/os-extra_specs", 200, `{"extra_specs":{}}`},
		{c + "/flavors/2/os-extra_specs/hw:cpu_policy", 404, `"message":"Flavor 2 has no extra specs with key hw:cpu_policy."`},
		{c + "/flavors/9/os-extra_specs", 404, `"itemNotFound"`},
		{c + "/os-quota-sets/" + project, 200, `"instances":20`},
		{c + "/os-quota-sets/" + project + "/detail", 200, `"instances":{"in_use":1,"limit":20,"reserved":0}`},
		{c + "/os-quota-sets/someone-else", 403, `"message":"Policy doesn't allow os_compute_api:os-quota-sets:show to be performed."`},
		{c + "/os-availability-zone/detail", 403, `"message":"Policy doesn't allow os_compute_api:os-availability-zone:detail to be performed."`},
		{c + "/extensions", 200, `"alias":"os-keypairs"`},
		{n + "/subnets", 200, `"cidr":"10.0.0.0/24"`},
		{n + "/ports?device_id=nobody", 200, `{"ports":[]}`},
		{n + "/quotas/" + project + "/details", 200, `"security_group":{"limit":10,"reserved":0,"used":2}`},
		{n + "/quotas/someone-else", 403, `"NeutronError"`},
		{n + "/availability_zones", 200, `"resource":"network"`},
	} {
		req, _ := http.NewRequest("GET", s.URL()+tc.path, nil)
		req.Header.Set("X-Auth-Token", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(string(b), tc.want) {
			t.Errorf("GET %s: %d %s, want %d with %s", tc.path, resp.StatusCode, b, tc.code, tc.want)
		}
	}
}

// Each Neutron resource the clients read answers a list filtered by its
// fields with just the matching items, a show of one id with that item,
// and a show of an unknown id with Neutron's 404 and message.
func TestNeutronListAndShow(t *testing.T) {
	s, err := Start(Options{BootDelay: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok := getToken(t, s)
	n := s.URL() + "/network/RegionOne/v2.0"
	get := func(url string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest("GET", url, nil)
		req.Header.Set("X-Auth-Token", tok)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var m map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&m); err != nil {
			t.Fatalf("GET %s: %d, not JSON: %v", url, resp.StatusCode, err)
		}
		return resp.StatusCode, m
	}
	// A server booted through the API, for a port.
	_, imgs := get(s.URL() + "/image/RegionOne/v2/images")
	img := imgs["images"].([]any)[0].(map[string]any)["id"].(string)
	req, _ := http.NewRequest("POST", s.URL()+"/compute/RegionOne/v2.1/servers",
		strings.NewReader(`{"server":{"name":"w","flavorRef":"1","imageRef":"`+img+`"}}`))
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Body.Close(); resp.StatusCode != 202 {
		t.Fatalf("create server: %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		path, list, one, filter string // filter: a field every item has, to list by
		missing                 string // the 404 message for id "nope"
	}{
		{"/networks", "networks", "network", "name", "Network nope could not be found."},
		{"/subnets", "subnets", "subnet", "network_id", "Subnet nope could not be found."},
		{"/ports", "ports", "port", "device_id", "Port nope could not be found."},
		{"/security-groups", "security_groups", "security_group", "name", "Security group nope does not exist"},
		{"/security-group-rules", "security_group_rules", "security_group_rule", "security_group_id", "Security group rule nope could not be found."},
	} {
		code, all := get(n + tc.path)
		items, _ := all[tc.list].([]any)
		// A server has its port once it has its address, a moment after
		// the create.
		for deadline := time.Now().Add(5 * time.Second); code == 200 && len(items) == 0 && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
			code, all = get(n + tc.path)
			items, _ = all[tc.list].([]any)
		}
		if code != 200 || len(items) == 0 {
			t.Fatalf("GET %s: %d with %d %s, want 200 and some", tc.path, code, len(items), tc.list)
		}
		last := items[len(items)-1].(map[string]any)
		id, by := last["id"].(string), last[tc.filter].(string)
		code, some := get(n + tc.path + "?" + tc.filter + "=" + by)
		for _, it := range some[tc.list].([]any) {
			if v := it.(map[string]any)[tc.filter]; code != 200 || v != by {
				t.Errorf("GET %s?%s=%s: %d with an item whose %s is %v", tc.path, tc.filter, by, code, tc.filter, v)
			}
		}
		if len(some[tc.list].([]any)) == 0 {
			t.Errorf("GET %s?%s=%s: none, want the item it was taken from", tc.path, tc.filter, by)
		}
		if code, none := get(n + tc.path + "?id=nope"); code != 200 || len(none[tc.list].([]any)) != 0 {
			t.Errorf("GET %s?id=nope: %d with %d %s, want 200 and none", tc.path, code, len(none[tc.list].([]any)), tc.list)
		}
		if code, one := get(n + tc.path + "/" + id); code != 200 || one[tc.one].(map[string]any)["id"] != id {
			t.Errorf("GET %s/%s: %d %v, want 200 and that item", tc.path, id, code, one)
		}
		code, miss := get(n + tc.path + "/nope")
		ne, _ := miss["NeutronError"].(map[string]any)
		if code != 404 || ne == nil || ne["message"] != tc.missing {
			t.Errorf("GET %s/nope: %d %v, want 404 with %q", tc.path, code, miss, tc.missing)
		}
	}
}
