package openstack

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/gophercloud/gophercloud/v2"
)

// Real Nova's answers for a server that failed scheduling, captured by
// integration/realos (TestErrorServerFaultReachesEhos): servers/detail
// lists it ERROR without a fault, GET servers/{id} has the fault. The
// fault text must reach the VM, with one GET in the server's life.
func TestListFetchesFaultRealNovaOmitsFromDetail(t *testing.T) {
	const id = "577b1a32-f9fb-4c4e-80dc-e2611da72eba"
	body := func(name string) []byte {
		b, err := os.ReadFile("../../integration/realos/testdata/" + name)
		if err != nil {
			t.Fatal(err)
		}
		// The captured files have per-run values replaced; put real ones back.
		s := strings.ReplaceAll(string(b), `"UUID"`, `"`+id+`"`)
		s = strings.ReplaceAll(s, `"TIME"`, `"2026-11-24T19:22:38Z"`)
		s = strings.ReplaceAll(s, `"HEX"`, `"9055c48764cc49c0aa5c3b83ca713d3c"`)
		return []byte(strings.ReplaceAll(s, `"ehos_pool": "realos-fault"`, `"ehos_pool": "p"`))
	}
	detail, get := body("nova-servers-detail-error-2.47.json"), body("nova-server-error-get-2.47.json")
	if strings.Contains(string(detail), `"fault"`) {
		t.Fatal("captured servers/detail has a fault: recapture or revisit fillFaults")
	}
	calls := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls[r.Method+" "+r.URL.Path]++
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/servers/detail":
			w.Write(detail)
		case "/servers/" + id:
			w.Write(get)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	pc := &gophercloud.ProviderClient{HTTPClient: *srv.Client()}
	pc.SetToken("t")
	c := &Cloud{name: "real", catalog: []string{"R"}, microversion: ComputeMicroversion, cache: map[string]cached{},
		clients: map[string]*regionClients{"R": {compute: &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: srv.URL + "/", Microversion: ComputeMicroversion}}}}
	for range 3 {
		vms, err := c.List(context.Background(), "R", "p", "")
		if err != nil || len(vms) != 1 {
			t.Fatalf("List: %d VMs, %v", len(vms), err)
		}
		if vms[0].Status != cloud.StatusError || vms[0].Fault != "No valid host was found." || vms[0].Flavor != "m1.large" {
			t.Errorf("VM status %s fault %q flavor %q, want ERROR, Nova's NoValidHost text, m1.large", vms[0].Status, vms[0].Fault, vms[0].Flavor)
		}
	}
	want := map[string]int{"GET /servers/detail": 3, "GET /servers/" + id: 1}
	if len(calls) != 2 || calls["GET /servers/detail"] != 3 || calls["GET /servers/"+id] != 1 {
		t.Errorf("requests of three Lists %v, want %v", calls, want)
	}
}
