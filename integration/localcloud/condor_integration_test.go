//go:build integration

package localcloud

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const trixie = "/var/lib/ehos/trixie"

// TestRealVM boots a server whose cloud-init carries a worker config and
// checks that a real condor_master and startd run from the per-VM root, and
// that deleting the server stops them. It needs no pool: the startd runs
// whether or not its collector answers.
func TestRealVM(t *testing.T) {
	if _, err := os.Stat(trixie + "/usr/sbin/condor_master"); err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and HTCondor in " + trixie + " (scripts/install-condor.sh)")
	}
	dir, err := os.MkdirTemp(trixie+"/var/tmp", "localcloud-test-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	r, err := NewChrootRunner(dir, trixie, 4242)
	if err != nil {
		t.Fatal(err)
	}
	r.KeepRoots = os.Getenv("KEEP") != ""
	s, err := Start(Options{BootDelay: 10 * time.Millisecond, Runner: r})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	tok := getToken(t, s)
	conf := "CONDOR_HOST = 127.0.0.1:1\nDAEMON_LIST = MASTER, STARTD\nUPDATE_INTERVAL = 5\n"
	ud := "#cloud-config\nwrite_files:\n  - path: /etc/condor/config.d/50-ehos.conf\n    encoding: b64\n    content: " +
		base64.StdEncoding.EncodeToString([]byte(conf)) + "\n"
	body, _ := json.Marshal(map[string]any{"server": map[string]any{
		"name": "real-1", "imageRef": imageID(t, s), "flavorRef": "2", "networks": "none",
		"user_data": base64.StdEncoding.EncodeToString([]byte(ud)),
		"metadata":  map[string]string{"ehos_name": "real1", "ehos_pool": "p"},
	}})
	req, _ := http.NewRequest("POST", s.URL()+"/compute/RegionOne/v2.1/servers", strings.NewReader(string(body)))
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("X-OpenStack-Nova-API-Version", "2.47")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 202 {
		t.Fatalf("create: %v %v", resp, err)
	}
	var created struct{ Server struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&created)
	resp.Body.Close()
	id := created.Server.ID
	created0 := time.Now()
	root := filepath.Join(dir, "real1-"+id[:8])
	startdLog := filepath.Join(root, "var/log/condor/StartLog")
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(startdLog); err == nil && len(b) > 0 {
			break
		}
		if time.Now().After(deadline) {
			ml, _ := os.ReadFile(filepath.Join(root, "var/log/condor/MasterLog"))
			t.Fatalf("no StartLog after 30s; MasterLog:\n%s\nservers %+v", ml, s.Servers(""))
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("StartLog written %v after create", time.Since(created0))
	// HTCondor reads the generated config as intended.
	cfg := strings.TrimPrefix(filepath.Join(root, "etc/condor/condor_config"), trixie)
	out, err := exec.Command("unshare", "--mount", "--propagation", "private", "--", "sh", "-ec",
		`mount -t proc proc "$1/proc"; CONDOR_CONFIG="$2" exec chroot --userspec=4242:4242 "$1" condor_config_val STARTD_NAME NUM_CPUS MEMORY LOG NETWORK_INTERFACE`,
		"sh", trixie, cfg).CombinedOutput()
	want := "real1\n1\n2048\n" + strings.TrimPrefix(root, trixie) + "/var/log/condor\n127.0.0.1\n"
	if err != nil || string(out) != want {
		t.Errorf("condor_config_val: %v\n%s\nwant\n%s", err, out, want)
	}
	if !s.Servers("RegionOne")[0].Running {
		t.Error("server not marked running")
	}
	req, _ = http.NewRequest("DELETE", s.URL()+"/compute/RegionOne/v2.1/servers/"+id, nil)
	req.Header.Set("X-Auth-Token", tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("delete: %v %v", resp, err)
	}
	resp.Body.Close()
	deleted0 := time.Now()
	deadline = time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(root); os.IsNotExist(err) {
			t.Logf("stopped %v after delete", time.Since(deleted0))
			break // stop ran: the master is gone and its root removed
		}
		if time.Now().After(deadline) {
			t.Fatal("VM root still there 30s after delete")
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func imageID(t *testing.T, s *Server) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.regions["RegionOne"].images[0].ID
}

var _ = context.Background
