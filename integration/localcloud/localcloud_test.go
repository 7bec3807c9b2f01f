package localcloud

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestStartsFast(t *testing.T) {
	// Runs alone (no t.Parallel): it measures the start-up time.
	t0 := time.Now()
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	resp, err := http.Get(s.AuthURL())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(t0); d > time.Second {
		t.Errorf("start to first answer took %v, want well under 1s", d)
	} else {
		t.Logf("start to first answer: %v", d)
	}
	if got := s.Regions(); fmt.Sprint(got) != "[RegionOne RegionThree RegionTwo]" {
		t.Errorf("regions %v", got)
	}
}

func TestRefusesNonLoopback(t *testing.T) {
	t.Parallel()
	for _, addr := range []string{"0.0.0.0:0", ":0", "10.1.2.3:5000"} {
		if s, err := Start(Options{Addr: addr}); err == nil {
			s.Close()
			t.Errorf("listened on %s", addr)
		}
	}
}

func TestNovaErrorShapes(t *testing.T) {
	t.Parallel()
	s, err := Start(Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	// Unauthenticated: keystonemiddleware's shape.
	resp, err := http.Get(s.URL() + "/compute/RegionOne/v2.1/servers/detail")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || !strings.Contains(string(b), `"error"`) {
		t.Errorf("no token: %d %s", resp.StatusCode, b)
	}
	// Nova's {"itemNotFound": {"message", "code"}}.
	tok := getToken(t, s)
	req, _ := http.NewRequest("GET", s.URL()+"/compute/RegionOne/v2.1/servers/nope", nil)
	req.Header.Set("X-Auth-Token", tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var body map[string]struct {
		Message string `json:"message"`
		Code    int    `json:"code"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if body["itemNotFound"].Code != 404 || body["itemNotFound"].Message != "Instance nope could not be found." {
		t.Errorf("404 body %+v", body)
	}
	// A token of alpha is refused in beta's region.
	req, _ = http.NewRequest("GET", s.URL()+"/compute/RegionThree/v2.1/flavors", nil)
	req.Header.Set("X-Auth-Token", tok)
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("alpha's token in RegionThree: %d", resp.StatusCode)
	}
}

func getToken(t *testing.T, s *Server) string {
	t.Helper()
	body := `{"auth":{"identity":{"methods":["password"],"password":{"user":{"name":"alpha","domain":{"name":"Default"},"password":"alpha-secret"}}}}}`
	resp, err := http.Post(s.AuthURL()+"/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 {
		t.Fatalf("auth: %d", resp.StatusCode)
	}
	return resp.Header.Get("X-Subject-Token")
}

func TestCondorRunnerLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var cfgSeen string
	stopped := make(chan struct{})
	r := &CondorRunner{Dir: dir, UID: -1, KeepRoots: true,
		StartMaster: func(ctx context.Context, cfg string) (Stopper, error) {
			cfgSeen = cfg
			return stopFunc(func(context.Context) error { close(stopped); return nil }), nil
		}}
	conf := "CONDOR_HOST = 127.0.0.1\nSEC_TOKEN_DIRECTORY = /etc/condor/tokens.d\nLOCAL_DIR = /var/lib/condor\n# /etc/condor stays in comments\nFOO = /etc/condorx /opt/etc/condor\n"
	ud := "#cloud-config\nwrite_files:\n" +
		"  - path: /etc/condor/config.d/50-ehos.conf\n    encoding: b64\n    content: " + base64.StdEncoding.EncodeToString([]byte(conf)) + "\n" +
		"  - path: /etc/condor/tokens.d/ehos\n    content: secret-token\n    permissions: '0600'\n"
	var console strings.Builder
	vm := VMInfo{ID: "0123456789abcdef", Name: "ehos-w-1", Cloud: "alpha", Region: "RegionOne", Flavor: "m1.small",
		Metadata: map[string]string{"ehos_name": "w1", "ehos_pool": "p"}, Console: &console}
	stop, err := r.Start(context.Background(), vm, []byte(ud))
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(dir, "w1-01234567")
	if cfgSeen != filepath.Join(root, "etc/condor/condor_config") {
		t.Errorf("master config %s", cfgSeen)
	}
	main, _ := os.ReadFile(cfgSeen)
	for _, want := range []string{
		"include : " + root + "/etc/condor/config.d/50-ehos.conf",
		"LOCAL_DIR = " + root + "/var",
		"LOG = " + root + "/var/log/condor",
		"STARTD_NAME = w1",
		"SEC_USE_FAMILY_SESSION = False",
	} {
		if !strings.Contains(string(main), want) {
			t.Errorf("condor_config lacks %q:\n%s", want, main)
		}
	}
	got, _ := os.ReadFile(filepath.Join(root, "etc/condor/config.d/50-ehos.conf"))
	wantConf := "CONDOR_HOST = 127.0.0.1\nSEC_TOKEN_DIRECTORY = " + root + "/etc/condor/tokens.d\nLOCAL_DIR = " + root + "/var/lib/condor\n# /etc/condor stays in comments\nFOO = /etc/condorx /opt/etc/condor\n"
	if string(got) != wantConf {
		t.Errorf("rewritten config:\n%s\nwant:\n%s", got, wantConf)
	}
	if st, err := os.Stat(filepath.Join(root, "etc/condor/tokens.d/ehos")); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("token file: %v %v", st, err)
	}
	var inst map[string]map[string]any
	b, _ := os.ReadFile(filepath.Join(root, "run/cloud-init/instance-data.json"))
	json.Unmarshal(b, &inst)
	if inst["v1"]["instance_id"] != vm.ID || inst["v1"]["region"] != "RegionOne" {
		t.Errorf("instance data %s", b)
	}
	if err := stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	<-stopped
	if _, err := r.Start(context.Background(), vm, []byte("#!/bin/sh\n")); err == nil {
		t.Error("shell user-data accepted")
	}
}

type stopFunc func(context.Context) error

func (f stopFunc) Stop(ctx context.Context) error { return f(ctx) }

// The worker template as lib/tmpl renders it (testdata copied from
// lib/tmpl/testdata/worker.golden) lands in the VM root with its paths
// moved there and the flavor's size advertised.
func TestCondorRunnerWorkerTemplate(t *testing.T) {
	t.Parallel()
	ud, err := os.ReadFile("testdata/worker-rendered.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r := &CondorRunner{Dir: dir, UID: -1, KeepRoots: true,
		PathMap: map[string]string{"/usr/local/libexec/ehos": "/opt/ehos/bin"},
		StartMaster: func(ctx context.Context, cfg string) (Stopper, error) {
			return stopFunc(func(context.Context) error { return nil }), nil
		}}
	vm := VMInfo{ID: "0123456789abcdef", Name: "ehos-bgo-pool-0001", Cloud: "alpha", Region: "RegionOne",
		Flavor: "m1.large", VCPUs: 4, RAMMB: 8192, DiskGB: 80,
		Metadata: map[string]string{"ehos_name": "ehos-bgo-pool-0001"}, Console: io.Discard}
	stop, err := r.Start(context.Background(), vm, ud)
	if err != nil {
		t.Fatal(err)
	}
	defer stop(context.Background())
	root := filepath.Join(dir, "ehos-bgo-pool-0001-01234567")
	conf, _ := os.ReadFile(filepath.Join(root, "etc/condor/config.d/50-ehos-worker.conf"))
	for _, want := range []string{
		"SEC_TOKEN_DIRECTORY = " + root + "/etc/condor/tokens.d",
		"EHOS_IDENTITY_FILE = " + root + "/etc/ehos/identity",
		"EHOS_LIBEXEC = /opt/ehos/bin",
		"MASTER_NAME = $(EHOS_INSTANCE_NAME)",
	} {
		if !strings.Contains(string(conf), want) {
			t.Errorf("50-ehos-worker.conf lacks %q", want)
		}
	}
	main, _ := os.ReadFile(filepath.Join(root, "etc/condor/condor_config"))
	for _, want := range []string{"NUM_CPUS = 4\n", "MEMORY = 8192\n",
		"include : " + root + "/etc/condor/config.d/40-ehos-worker-vm.conf\ninclude : " + root + "/etc/condor/config.d/50-ehos-worker.conf\n"} {
		if !strings.Contains(string(main), want) {
			t.Errorf("condor_config lacks %q:\n%s", want, main)
		}
	}
	for _, f := range []string{"etc/condor/tokens.d/ehos-worker", "etc/ehos/identity"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Error(err)
		}
	}
}
