package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// Issue 25, item 1: a zero or negative --interval is a usage error, not a
// panic in time.NewTicker.
func TestBinStatusIntervalNotPositive(t *testing.T) {
	t.Parallel()
	iv := invocation{dir: t.TempDir()}
	for _, v := range []string{"0", "-1s"} {
		r := iv.run(t, "ehos", "status", "-w", "--interval", v)
		wantCode(t, "status -w --interval "+v, r, 2)
		if !strings.Contains(r.err, "--interval") || r.out != "" {
			t.Errorf("--interval %s: stdout %q stderr %q", v, r.out, r.err)
		}
	}
}

// Item 2: options after arguments, for every command of both binaries.
func TestBinOptionsAfterArguments(t *testing.T) {
	t.Parallel()
	dir, cfg, clouds := offlineSite(t)
	iv := invocation{dir: dir}
	old := filepath.Join(dir, "old.yaml")
	write(t, old, "ehos:\n  project_name: demo\n  image: ehos-image\n  flavor: m1.small\n  network: private\n  nodes_max: 4\n", 0o600)
	r := iv.run(t, "ehos", "config", "migrate", old, "-o", filepath.Join(dir, "new.yaml"))
	wantCode(t, "config migrate OLD -o NEW", r, 0)
	if _, err := os.Stat(filepath.Join(dir, "new.yaml")); err != nil {
		t.Errorf("config migrate OLD -o NEW wrote nothing: %v\n%s", err, r.err)
	}
	// retire NODE --timeout: the option is taken; it fails later, on
	// HTCondor being absent, not on its arguments.
	r = iv.run(t, "ehos", "retire", "n1", "--timeout", "1h", "-c", cfg, "--clouds", clouds)
	if r.code == 2 || strings.Contains(r.err, "argument") {
		t.Errorf("retire n1 --timeout 1h: exit %d\n%s", r.code, r.err)
	}
	// The example of `ehos render --help`.
	r = iv.run(t, "ehos", "render", "worker.yaml", "--set", "instance_name=w1", "--set", "worker_token=TOKEN")
	if strings.Contains(r.err, "arguments") || r.code == 2 {
		t.Errorf("render TEMPLATE --set ...: exit %d\n%s", r.code, r.err)
	}
	// Global options after the subcommand and its argument.
	r = iv.run(t, "ehos", "config", "check", cfg, "--clouds", clouds, "-v")
	if !strings.Contains(r.err, "clouds.yaml in use") {
		t.Errorf("config check FILE --clouds F -v: -v not taken:\n%s", r.err)
	}
	// The provisioner: options in any order, an argument refused as usage.
	r = iv.run(t, "ehos_provisioner", "--once", "--dry-run", "-c", cfg, "-vv", "--clouds", clouds)
	if r.code == 2 {
		t.Errorf("provisioner options: usage error\n%s", r.err)
	}
	r = iv.run(t, "ehos_provisioner", "extra", "--once")
	wantCode(t, "provisioner with an argument", r, 2)
}

// Item 3: the file named is the file used, by every binary, found in one
// documented order, with the knobs applied the same way.
func TestBinConfigLookup(t *testing.T) {
	t.Parallel()
	dir, cfg, clouds := offlineSite(t)
	typo := filepath.Join(dir, "typo.yaml")
	write(t, typo, "pool:\n  name: demo\n  central_manager: 127.0.0.1\nscaling:\n  maxx: 3\n", 0o600)

	// A positional FILE wins over $EHOS_CONFIG.
	iv := invocation{dir: dir, env: []string{"EHOS_CONFIG=" + cfg}}
	r := iv.run(t, "ehos", "config", "check", typo, "--clouds", clouds)
	wantCode(t, "EHOS_CONFIG=ok config check typo", r, 1)
	if !strings.Contains(r.out, "typo.yaml") || !strings.Contains(r.out, "maxx") {
		t.Errorf("config check typo.yaml did not check typo.yaml:\n%s", r.out)
	}

	// clouds check NAME checks only that cloud.
	r = invocation{dir: dir}.run(t, "ehos", "clouds", "check", "site-a", "-c", cfg, "--clouds", clouds)
	if !strings.Contains(r.out, "site-a") || strings.Contains(r.out, "site-b") {
		t.Errorf("clouds check site-a:\n%s", r.out)
	}
	r = invocation{dir: dir}.run(t, "ehos", "clouds", "check", "site-c", "-c", cfg, "--clouds", clouds)
	wantCode(t, "clouds check of a cloud ehos.yaml lacks", r, 2)

	// -c before or after simulate: the file is read (this one is broken,
	// so simulate must name it instead of using the demo config).
	trace, _ := filepath.Abs("../../lib/sim/testdata/bursty.csv")
	for _, args := range [][]string{{"-c", typo, "simulate", "--trace", trace}, {"simulate", "--trace", trace, "-c", typo}} {
		r = invocation{dir: dir}.run(t, "ehos", args...)
		if r.code == 0 || !strings.Contains(r.err, "typo.yaml") {
			t.Errorf("%v: exit %d, did not read typo.yaml:\n%s", args, r.code, r.err)
		}
	}

	// The EHOS_CONFIG knob finds ehos.yaml for ehos and the provisioner
	// alike, and both lay EHOS_MAX_NODES over it; -v names the file.
	knobbed := filepath.Join(t.TempDir(), "knobbed.yaml")
	write(t, knobbed, "pool:\n  name: knobpool\n  central_manager: 127.0.0.1\nscaling:\n  max: 3\nclouds:\n  - name: site-a\n    image: i\n    flavors: [m1.small]\n    network: n\n", 0o600)
	condor := fakeKnobs(t, map[string]string{"EHOS_CONFIG": knobbed, "EHOS_MAX_NODES": "7"})
	r = invocation{dir: dir}.run(t, "ehos", "-v", "--condor-bin", condor, "--clouds", clouds, "config", "check")
	if !strings.Contains(r.err, knobbed) || !strings.Contains(r.err, "EHOS_CONFIG knob") || !strings.Contains(r.out, "knobpool") {
		t.Errorf("ehos config check did not follow the EHOS_CONFIG knob:\nstdout:\n%s\nstderr:\n%s", r.out, r.err)
	}
	r = invocation{dir: dir, path: condor}.run(t, "ehos_provisioner", "--once", "--dry-run", "-v", "--clouds", clouds, "--log-format", "console")
	if !strings.Contains(r.err, knobbed) || !strings.Contains(r.err, "EHOS_CONFIG knob") {
		t.Errorf("provisioner did not follow the EHOS_CONFIG knob:\n%s", r.err)
	}
}

// Item 9: exit codes, help on stderr, one name for the clouds.yaml option,
// exposed clouds.yaml refused by the provisioner too, no colour in files.
func TestBinExitCodesAndConsistency(t *testing.T) {
	t.Parallel()
	dir, cfg, clouds := offlineSite(t)
	iv := invocation{dir: dir}
	r := iv.run(t, "ehos", "status", "--jsn")
	wantCode(t, "status --jsn", r, 2)
	if r.out != "" || !strings.Contains(r.err, "--json") {
		t.Errorf("status --jsn: help must go to stderr, not stdout %q; stderr:\n%s", r.out, r.err)
	}
	r = iv.run(t, "ehos", "stauts")
	wantCode(t, "stauts", r, 2)
	if !strings.Contains(r.err, `unknown command "stauts"`) || !strings.Contains(r.err, "status") || r.out != "" {
		t.Errorf("stauts: stdout %q stderr:\n%s", r.out, r.err)
	}
	r = iv.run(t, "ehos", "config", "chek")
	wantCode(t, "config chek", r, 2)
	r = iv.run(t, "ehos", "help", "config")
	wantCode(t, "help config", r, 0)
	if !strings.Contains(r.out, "COMMANDS:") || !strings.Contains(r.out, "migrate  convert") {
		t.Errorf("help config lacks the subcommands:\n%s", r.out)
	}

	// --clouds and its old name --clouds-file, in both binaries.
	for _, flag := range []string{"--clouds", "--clouds-file"} {
		r = iv.run(t, "ehos", "-v", "config", "check", cfg, flag, clouds)
		if !strings.Contains(r.err, clouds) || r.code == 2 {
			t.Errorf("ehos %s: exit %d\n%s", flag, r.code, r.err)
		}
	}
	if err := os.Chmod(clouds, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, flag := range []string{"--clouds", "--clouds-file"} {
		r = iv.run(t, "ehos_provisioner", "--once", "--dry-run", "-c", cfg, flag, clouds, "--log-format", "console", "-v")
		wantCode(t, "provisioner with a 0644 clouds.yaml holding a password", r, 1)
		if !strings.Contains(r.err, "chmod 600 "+clouds) {
			t.Errorf("provisioner %s with a 0644 clouds.yaml:\n%s", flag, r.err)
		}
		if strings.Contains(r.err, "\x1b[") {
			t.Errorf("colour codes in a log that is not a terminal:\n%q", r.err)
		}
	}

	// render logs which template it used at -v, as a proper level.
	r = iv.run(t, "ehos", "-v", "render", "worker.yaml", "--set", "instance_name=w1")
	if strings.Contains(r.err, "???") {
		t.Errorf("render logs without a level:\n%s", r.err)
	}
}

// Item 10: clouds setup opens no SSH without --admin-cidr, says so, and
// with it opens SSH from that CIDR only.
func TestBinCloudsSetupOpensNoSSHByDefault(t *testing.T) {
	t.Parallel()
	s := newSite(t, siteConfig)
	for _, r := range []string{"RegionOne", "RegionTwo"} {
		if _, err := s.srv.DropSecurityRules(r, "ehos", "tcp", 22); err != nil {
			t.Fatal(err)
		}
	}
	iv := invocation{dir: s.dir}
	r := iv.run(t, "ehos", "-c", s.config, "--clouds", s.clouds, "clouds", "setup")
	if strings.Contains(r.out, "22/tcp from") || !strings.Contains(r.out, "no rule added for 22/tcp: give --admin-cidr") {
		t.Errorf("setup without --admin-cidr:\n%s\n%s", r.out, r.err)
	}
	r = iv.run(t, "ehos", "-c", s.config, "--clouds", s.clouds, "clouds", "check")
	if !strings.Contains(r.out, "let no 22/tcp in: admins cannot log in") {
		t.Errorf("SSH was opened without --admin-cidr:\n%s", r.out)
	}
	r = iv.run(t, "ehos", "-c", s.config, "--clouds", s.clouds, "clouds", "setup", "alpha", "--admin-cidr", "192.0.2.0/24")
	wantCode(t, "setup --admin-cidr", r, 0)
	if !strings.Contains(r.out, "added ingress 22/tcp from 192.0.2.0/24") {
		t.Errorf("setup --admin-cidr:\n%s\n%s", r.out, r.err)
	}
}

// Item 5: config check refuses what every render would refuse, and render
// --set refuses the characters docs/templates.md says it does.
func TestBinConfigCheckRefusesWhatRenderRefuses(t *testing.T) {
	t.Parallel()
	dir, _, clouds := offlineSite(t)
	iv := invocation{dir: dir}
	for name, extra := range map[string]string{
		"shadow.yaml": "template_vars:\n  host_ip: 10.0.0.9\n",
		"secret.yaml": "template_vars:\n  db_password: x\n",
		"dollar.yaml": "",
	} {
		cm := "127.0.0.1"
		if name == "dollar.yaml" {
			cm = `"10.0.0.10$(reboot)"`
		}
		f := filepath.Join(dir, name)
		write(t, f, "pool:\n  name: demo\n  central_manager: "+cm+"\nclouds:\n  - name: site-a\n    image: i\n    flavors: [m1.small]\n"+extra, 0o600)
		r := iv.run(t, "ehos", "config", "check", f, "--clouds", clouds)
		wantCode(t, "config check "+name, r, 1)
		if !strings.Contains(r.out, "FAIL") {
			t.Errorf("config check %s passed what render refuses:\n%s", name, r.out)
		}
	}
	for _, v := range []string{`a"b`, "a$b"} {
		r := iv.run(t, "ehos", "render", "worker.yaml", "--set", "site_note="+v)
		wantCode(t, "render --set site_note="+v, r, 1)
		if !strings.Contains(r.err, "cannot carry") {
			t.Errorf("render --set %s:\n%s", v, r.err)
		}
	}
}

// Items 7 and 8: config errors in the user's words, all at once, and a
// size limit.
func TestBinConfigErrorsInTheUsersWords(t *testing.T) {
	t.Parallel()
	dir, _, clouds := offlineSite(t)
	iv := invocation{dir: dir}
	check := func(name, body string) result {
		f := filepath.Join(dir, name)
		write(t, f, body, 0o600)
		r := iv.run(t, "ehos", "config", "check", f, "--clouds", clouds)
		wantCode(t, "config check "+name, r, 1)
		return r
	}
	r := check("original.yaml", "clouds:\n  site-a:\n    auth_url: http://127.0.0.1:1/v3\n    password: x\nehos:\n  flavor: m1.small\n")
	if !strings.Contains(r.out, "ehos config migrate") || strings.Contains(r.out, "!!map") {
		t.Errorf("original EHOS file:\n%s", r.out)
	}
	base := "pool:\n  name: demo\n  central_manager: 127.0.0.1\nclouds:\n  - name: site-a\n    image: i\n    flavors: [m1.small]\n"
	r = check("many.yaml", base+"scaling:\n  cycle: 5\n  maxx: 3\n  max: 20.9\n  spare: 1.5\n")
	for _, w := range []string{"line 9: scaling.cycle: \"5\": a duration needs a unit: 5s", `line 10: scaling.maxx: unknown key: did you mean "max"?`,
		`line 11: scaling.max: "20.9": want a whole number`, `line 12: scaling.spare: "1.5": want a whole number`} {
		if !strings.Contains(r.out, w) {
			t.Errorf("config check lacks %q:\n%s", w, r.out)
		}
	}
	if strings.Contains(r.out, "time.Duration") || !strings.Contains(r.err, "4 problem(s)") {
		t.Errorf("Go's words, or not every problem counted:\n%s\n%s", r.out, r.err)
	}
	r = check("big.yaml", base+"# "+strings.Repeat("x", 2<<20)+"\n")
	if !strings.Contains(r.out, "KB an ehos.yaml may be") {
		t.Errorf("2 MB ehos.yaml:\n%s", r.out)
	}
}

// Item 6: config migrate reads every original layout, refuses the new
// form, and writes clouds.yaml where the lookup finds it.
func TestBinConfigMigrate(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	iv := invocation{dir: dir}
	addr := closedPort(t)
	// The earliest layout: one cloud as cloud:, the daemon's settings in ehos:.
	old := filepath.Join(dir, "old.yaml")
	write(t, old, "cloud:\n  name: site-a\n  auth_url: http://"+addr+"/v3\n  username: u\n  password: hunter2-cloud\n  project_name: p\n  region_name: RegionOne\n"+
		"ehos:\n  project_prefix: demo\n  flavor: m1.small\n  image: ehos-image\n  network: private\n  nodes_max: 7\n  nodes_min: 1\n  sleep: 30\n"+
		"condor:\n  host_ip: 127.0.0.1\n", 0o600)
	etc := filepath.Join(dir, "etc")
	os.Mkdir(etc, 0o755)
	newCfg := filepath.Join(etc, "ehos.yaml")
	// Options first here, so an older build is judged on what it migrates.
	r := iv.run(t, "ehos", "config", "migrate", "-o", newCfg, old)
	wantCode(t, "migrate the earliest layout", r, 0)
	if strings.Contains(r.err, "unknown setting") {
		t.Errorf("migrate dropped settings of the earliest layout:\n%s", r.err)
	}
	got, _ := os.ReadFile(newCfg)
	for _, w := range []string{"max: 7", "min: 1", "cycle: 30s", "name: site-a"} {
		if !strings.Contains(string(got), w) {
			t.Errorf("migrated ehos.yaml lacks %q:\n%s", w, got)
		}
	}
	// From another directory, the result checks clean: clouds.yaml beside
	// ehos.yaml is found.
	r = invocation{dir: t.TempDir()}.run(t, "ehos", "-v", "config", "check", newCfg)
	if strings.Contains(r.out, "FAIL") || !strings.Contains(r.err, filepath.Join(etc, "clouds.yaml")) {
		t.Errorf("config check of the migrated file from elsewhere:\nstdout:\n%s\nstderr:\n%s", r.out, r.err)
	}
	// The new form is refused, and nothing is written.
	r = iv.run(t, "ehos", "config", "migrate", "-o", filepath.Join(dir, "again.yaml"), newCfg)
	wantCode(t, "migrate a new ehos.yaml", r, 1)
	if !strings.Contains(r.err, "already the new ehos.yaml") {
		t.Errorf("migrate of a new ehos.yaml:\n%s", r.err)
	}
	if _, err := os.Stat(filepath.Join(dir, "again.yaml")); err == nil {
		t.Errorf("migrate of a new ehos.yaml wrote a file")
	}
}

// silentKeystone is a 127.0.0.1 listener that accepts connections and never
// answers: a firewalled Keystone as a client sees it.
func silentKeystone(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	return l.Addr().String()
}

// Item 4: no silent waits. --timeout bounds the wait, stderr says what is
// waited for after about 2 s, clouds are checked in parallel, doctor prints
// its findings as they come.
func TestBinNoSilentWaits(t *testing.T) {
	t.Parallel()
	dir, cfg, clouds := offlineSite(t)
	addr := silentKeystone(t)
	data, _ := os.ReadFile(clouds)
	write(t, clouds, regexp.MustCompile(`127\.0\.0\.1:[0-9]+`).ReplaceAllString(string(data), addr), 0o600)
	iv := invocation{dir: dir}

	r := iv.run(t, "ehos", "clouds", "check", "-c", cfg, "--clouds", clouds, "--timeout", "5s")
	wantCode(t, "clouds check against a silent Keystone", r, 1)
	if !strings.Contains(r.err, "waiting for the clouds' APIs (site-a, site-b)") {
		t.Errorf("clouds check said nothing while waiting:\n%s", r.err)
	}
	// In parallel: both clouds waited for their answer, neither was left
	// with no time at all after the other.
	if strings.Count(r.out, "FAIL site-") != 2 {
		t.Errorf("clouds check:\n%s", r.out)
	}

	// A collector that never answers (condor_status hangs).
	hang := t.TempDir()
	write(t, filepath.Join(hang, "condor_status"), "#!/bin/sh\nexec sleep 60\n", 0o755)
	writeConfigVal(t, hang)
	r = iv.run(t, "ehos", "status", "--condor-bin", hang, "--timeout", "5s")
	if r.code == 0 || !strings.Contains(r.err, "waiting for the collector (condor_status)") {
		t.Errorf("status with a hanging collector: exit %d\n%s", r.code, r.err)
	}

	// doctor: the config's findings are out while the clouds are still
	// being waited for.
	cmd := exec.Command(filepath.Join(bins(t), "ehos"), "doctor", "-c", cfg, "--clouds", clouds, "--condor-bin", t.TempDir(), "--timeout", "20s")
	cmd.Dir, cmd.Env = dir, []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(out).ReadString('\n')
	// Still running (not a zombie) when its first line is out.
	stat, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", cmd.Process.Pid))
	exited := !regexp.MustCompile(`^[0-9]+ \(.*\) [RSD] `).Match(stat)
	cmd.Process.Kill()
	cmd.Wait()
	if err != nil || exited || !strings.Contains(first, cfg) {
		t.Errorf("doctor's first finding %q (err %v) not printed while it waited for the clouds", first, err)
	}
}

// Item 11: the habits of condor_* and openstack tools.
func TestBinHabits(t *testing.T) {
	t.Parallel()
	dir, cfg, clouds := offlineSite(t)
	iv := invocation{dir: dir}

	// config show: the effective configuration, each value's source,
	// secrets masked.
	show := filepath.Join(dir, "show.yaml")
	write(t, show, "pool:\n  name: demo\n  central_manager: 127.0.0.1\nclouds:\n  - name: site-a\n    image: i\n    flavors: [m1.small]\ntemplate_vars:\n  registry_password: hunter2\n", 0o600)
	knobs := fakeKnobs(t, map[string]string{"EHOS_MAX_NODES": "7"})
	r := iv.run(t, "ehos", "config", "show", show, "--condor-bin", knobs)
	wantCode(t, "config show", r, 0)
	for _, w := range []string{"max: 7 # knob EHOS_MAX_NODES", "name: demo # show.yaml:2", "cycle: 30s # default", "registry_password: '********'"} {
		if !strings.Contains(r.out, w) {
			t.Errorf("config show lacks %q:\n%s", w, r.out)
		}
	}
	if strings.Contains(r.out, "hunter2") {
		t.Errorf("config show printed a secret:\n%s", r.out)
	}

	// -o json on the checks.
	for _, args := range [][]string{{"config", "check", cfg}, {"clouds", "check", "--timeout", "5s"}, {"doctor", "--timeout", "5s"}} {
		r = iv.run(t, "ehos", append(args, "-c", cfg, "--clouds", clouds, "-o", "json")...)
		var got struct {
			Findings []struct{ Level, Where, What string }
			Failed   int
		}
		if err := json.Unmarshal([]byte(r.out), &got); err != nil || len(got.Findings) == 0 || (got.Failed > 0) != (r.code == 1) {
			t.Errorf("%v -o json: exit %d, %v:\n%s", args, r.code, err, r.out)
		}
	}
	r = iv.run(t, "ehos", "config", "check", cfg, "-o", "yaml")
	wantCode(t, "config check -o yaml", r, 2)

	// -pool HOST reaches every HTCondor tool as condor_status -pool would.
	tools := t.TempDir()
	seen := filepath.Join(tools, "seen")
	write(t, filepath.Join(tools, "condor_status"), "#!/bin/sh\necho \"$_CONDOR_COLLECTOR_HOST\" > "+seen+"\necho '[]'\n", 0o755)
	writeConfigVal(t, tools)
	iv.run(t, "ehos", "status", "-pool", "cm.example.org:9618", "--condor-bin", tools)
	if b, _ := os.ReadFile(seen); strings.TrimSpace(string(b)) != "cm.example.org:9618" {
		t.Errorf("-pool did not reach condor_status: %q", b)
	}

	// Shell completion, run by bash itself.
	r = iv.run(t, "ehos", "completion", "fish")
	wantCode(t, "completion fish", r, 2)
	if _, err := exec.LookPath("bash"); err == nil {
		script := "source <(ehos completion bash)\n" +
			"t() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _ehos; echo \"${COMPREPLY[*]}\"; }\n" +
			"t ehos con\nt ehos config ''\nt ehos status --j\n"
		out, err := exec.Command("bash", "-c", "PATH="+bins(t)+":$PATH\n"+script).CombinedOutput()
		if err != nil || string(out) != "config\ncheck show migrate help h\n--json\n" {
			t.Errorf("bash completion: %v\n%q", err, out)
		}
	}
}

// Item 11: --dry-run on the actions changes nothing.
func TestBinDryRun(t *testing.T) {
	t.Parallel()
	s := newSite(t, siteConfig)
	for _, r := range []string{"RegionOne", "RegionTwo"} {
		if _, err := s.srv.DropSecurityRules(r, "ehos", "tcp", 9618); err != nil {
			t.Fatal(err)
		}
	}
	iv := invocation{dir: s.dir}
	r := iv.run(t, "ehos", "-c", s.config, "--clouds", s.clouds, "clouds", "setup", "--dry-run", "--admin-cidr", "192.0.2.0/24", "--master-network", "alpha.RegionOne.private")
	if !strings.Contains(r.out, "would add ingress 9618/tcp from the group itself") || strings.Contains(r.out, "added ingress") {
		t.Errorf("setup --dry-run:\n%s\n%s", r.out, r.err)
	}
	r = iv.run(t, "ehos", "-c", s.config, "--clouds", s.clouds, "clouds", "check", "--master-network", "alpha.RegionOne.private")
	if !strings.Contains(r.out, "no ingress rule allows 9618/tcp") {
		t.Errorf("setup --dry-run added a rule:\n%s", r.out)
	}
}

func TestBinDrainDryRun(t *testing.T) {
	t.Parallel()
	dir, cfg, _ := offlineSite(t)
	tools := t.TempDir()
	called := filepath.Join(tools, "drained")
	write(t, filepath.Join(tools, "condor_status"), "#!/bin/sh\necho '[{\"EHOSName\":\"ehos-demo-1\",\"Machine\":\"w1\",\"Name\":\"slot1@w1\",\"EHOSPool\":\"demo\",\"SlotID\":1,\"AuthenticatedIdentity\":\"ehos-demo-1@127.0.0.1\"}]'\n", 0o755)
	write(t, filepath.Join(tools, "condor_drain"), "#!/bin/sh\necho \"$@\" > "+called+"\n", 0o755)
	iv := invocation{dir: dir}
	r := iv.run(t, "ehos", "drain", "ehos-demo-1", "--dry-run", "-c", cfg, "--condor-bin", tools)
	wantCode(t, "drain --dry-run", r, 0)
	if _, err := os.Stat(called); err == nil || !strings.Contains(r.out, "would drain ehos-demo-1") {
		t.Errorf("drain --dry-run drained, or did not say what it would do:\n%s\n%s", r.out, r.err)
	}
	r = iv.run(t, "ehos", "drain", "ehos-demo-1", "-c", cfg, "--condor-bin", tools)
	if _, err := os.Stat(called); err != nil {
		t.Errorf("drain did not run condor_drain (so the --dry-run check proves nothing):\n%s\n%s", r.out, r.err)
	}
}

// Item 4, the provisioner by hand: --once gives up after --timeout, and
// -v says what it waits for.
func TestBinProvisionerOnceTimeout(t *testing.T) {
	t.Parallel()
	dir, cfg, clouds := offlineSite(t)
	addr := silentKeystone(t)
	data, _ := os.ReadFile(clouds)
	write(t, clouds, regexp.MustCompile(`127\.0\.0\.1:[0-9]+`).ReplaceAllString(string(data), addr), 0o600)
	r := invocation{dir: dir}.run(t, "ehos_provisioner", "--once", "--dry-run", "-v", "-c", cfg, "--clouds", clouds, "--timeout", "2s", "--log-format", "console")
	wantCode(t, "provisioner --once against a silent Keystone", r, 1)
	if !strings.Contains(r.err, "authenticating to the clouds") || !strings.Contains(r.err, "gave up after --timeout 2s") {
		t.Errorf("provisioner --once --timeout 2s:\n%s", r.err)
	}
}
