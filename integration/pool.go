package integration

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/netns"
	"github.com/ehos-project/ehos/lib/condor"
)

// Domain is the UID_DOMAIN and TRUST_DOMAIN of test pools: the tools and
// daemons (all uid ehos) are ehos@Domain over FS; workers are condor@Domain
// through their tokens.
const Domain = "ehos.test"

// WorkerIdentity is the identity minted into workers' tokens.
const WorkerIdentity = "condor@" + Domain

// VMIdentity is the worker.token_identity of stacks: each VM its own
// identity, ehos-demo-<hex>@Domain.
const VMIdentity = "{name}@" + Domain

// WorkerAuthz is the narrow scope of a worker's token.
var WorkerAuthz = []string{"ADVERTISE_STARTD", "ADVERTISE_MASTER", "READ"}

// PoolOptions tunes StartPool.
type PoolOptions struct {
	// ExtraConfig is appended to the central manager's configuration.
	ExtraConfig string
	// ReadyTimeout bounds the wait for collector, negotiator and schedd
	// (default 90 s).
	ReadyTimeout time.Duration
	// Port is the collector's port on loopback; 0 picks a free one. A
	// caller that must write the port into files the daemons read at their
	// first start (the stack's ehos.yaml) picks it first.
	Port int
	// Host puts the central manager on a test host of its own
	// (integration/netns) instead of 127.0.0.1: CONDOR_HOST is the host's
	// address, every daemon is behind the shared port 9618, and the test's
	// tools run on that host too. Nil: loopback.
	Host *netns.Host
}

// Pool is a personal HTCondor pool on 127.0.0.1 (or on its own test host,
// PoolOptions.Host): one condor_master with collector, negotiator and schedd.
type Pool struct {
	Dir           string // the central manager's LOCAL_DIR (log/, spool/, ...)
	CollectorAddr string // 127.0.0.1:PORT, or HOST:9618 on its own host
	ConfigFile    string // CONDOR_CONFIG of the central manager and of tools
	Install       *Install
	Master        *Process
	Host          *netns.Host // the central manager's own host; nil on loopback
}

// Worker is an execute node: its own condor_master and startd.
type Worker struct {
	Name       string // MASTER_NAME and STARTD_NAME
	Dir        string
	ConfigFile string
	Master     *Process
}

// StartPool starts a pool, waits until collector, negotiator and schedd
// answer, and stops it in t.Cleanup. On failure the logs are kept (until the
// next run) and their tails logged.
func StartPool(t testing.TB, o PoolOptions) *Pool {
	t.Helper()
	inst := RequireCondor(t)
	dir := makeDir(t, "pool")
	p := &Pool{
		Dir:        dir,
		ConfigFile: filepath.Join(dir, "condor_config"),
		Install:    inst,
		Host:       o.Host,
	}
	if o.Host != nil {
		p.CollectorAddr = fmt.Sprintf("%s:%d", o.Host.Addr, netns.HTCondorPort)
	} else {
		port := o.Port
		if port == 0 {
			port = freePort(t)
		}
		p.CollectorAddr = fmt.Sprintf("127.0.0.1:%d", port)
	}
	makeLocalDir(t, dir)
	centralManagerConfig(dir, p.CollectorAddr, o.Host, o.ExtraConfig).write(t, p.ConfigFile)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	// The pool signing key (POOL), and a token for the tools (ehos@Domain) so
	// they can advertise where the collector demands IDTOKENS.
	secret := make([]byte, 32)
	rand.Read(secret)
	if _, err := p.Client().Run(ctx, "condor_store_cred", "add", "-c", "-p", hex.EncodeToString(secret), "-f", filepath.Join(dir, "passwords.d", "POOL")); err != nil {
		t.Fatalf("store pool signing key: %v", err)
	}
	tok := p.MintToken(t, "ehos@"+Domain, nil, 0)
	writeOwned(t, filepath.Join(dir, "tokens.d", "tools"), []byte(tok+"\n"), 0o600)

	m, err := StartMasterIn(ctx, inst, p.ConfigFile, p.netNS())
	if err != nil {
		t.Fatal(err)
	}
	p.Master = m
	t.Cleanup(func() { stopAndClean(t, m, dir) })

	timeout := o.ReadyTimeout
	if timeout == 0 {
		timeout = 90 * time.Second
	}
	start := time.Now()
	p.waitFor(t, timeout, "collector, negotiator and schedd", func(ctx context.Context) (bool, error) {
		ads, err := p.Client().Status(ctx, condor.StatusQuery{Kind: "-any", Attrs: []string{"MyType", "Name"}})
		if err != nil {
			return false, err
		}
		seen := map[string]bool{}
		for _, a := range ads {
			seen[a.GetString("MyType")] = true
		}
		return seen["Collector"] && seen["Negotiator"] && seen["Scheduler"], nil
	})
	t.Logf("pool up at %s in %v (dir %s)", p.CollectorAddr, time.Since(start).Round(time.Millisecond), dir)
	return p
}

// centralManagerConfig is a test pool's central manager (on host, nil:
// loopback) with extra after its own lines.
func centralManagerConfig(dir, collector string, host *netns.Host, extra string) *condorConfig {
	c := baseConfig(dir, collector)
	if host != nil {
		c.add(ownHostConfig(host.Addr, host.Addr))
	}
	return c.add(centralManagerRole, extra)
}

// makeLocalDir makes a daemon's LOCAL_DIR subdirectories in dir.
func makeLocalDir(t testing.TB, dir string) {
	t.Helper()
	for _, sub := range []string{"log", "spool", "execute", "lock", "run", "cred_dir", "passwords.d", "tokens.d"} {
		mkdirOwned(t, filepath.Join(dir, sub), 0o700)
	}
}

// netNS is the central manager's network namespace, "" on loopback.
func (p *Pool) netNS() string {
	if p.Host == nil {
		return ""
	}
	return p.Host.NS
}

// Client returns a lib/condor client whose tools talk to this pool (from the
// central manager's host when it has its own).
func (p *Pool) Client() *condor.Client {
	env := []string{"CONDOR_CONFIG=" + p.ConfigFile, "EHOS_CONDOR_ROOT=" + p.Install.Root}
	if p.Host != nil {
		env = append(env, "EHOS_NETNS="+p.Host.NS)
	}
	return &condor.Client{
		Env:     env,
		BinDir:  p.Install.BinDir,
		Timeout: 30 * time.Second,
	}
}

// MintToken mints an IDTOKEN signed with the pool key. authz nil is an
// unrestricted token; lifetime 0 never expires.
func (p *Pool) MintToken(t testing.TB, identity string, authz []string, lifetime time.Duration) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tok, err := p.Client().TokenCreate(ctx, condor.TokenRequest{Identity: identity, Key: "POOL", Authz: authz, Lifetime: lifetime})
	if err != nil {
		t.Fatalf("mint token for %s: %v", identity, err)
	}
	return tok
}

// WorkerOptions tunes StartWorkerWith.
type WorkerOptions struct {
	ExtraConfig string
	// Token is written to the worker's token directory; "" mints a fresh
	// worker token (WorkerIdentity, WorkerAuthz, 1 h).
	Token string
	// NoWait returns without waiting for the startd ad (for tests of refusal).
	NoWait bool
	// Host puts the worker on a test host of its own (integration/netns),
	// reaching the central manager over the network at CONDOR_HOST; the
	// pool must have its own host too. Nil: loopback.
	Host *netns.Host
}

// StartWorker starts an execute node named name (its own condor_master and
// startd, own LOCAL_DIR) that joins the pool with a freshly minted, narrowly
// scoped token, waits until its startd ad is in the collector, and stops it in
// t.Cleanup. extraConfig is appended to its configuration.
func (p *Pool) StartWorker(t testing.TB, name string, extraConfig string) *Worker {
	t.Helper()
	return p.StartWorkerWith(t, name, WorkerOptions{ExtraConfig: extraConfig})
}

// StartWorkerWith is StartWorker with options.
func (p *Pool) StartWorkerWith(t testing.TB, name string, o WorkerOptions) *Worker {
	t.Helper()
	dir := makeDir(t, "worker-"+name)
	w := &Worker{Name: name, Dir: dir, ConfigFile: filepath.Join(dir, "condor_config")}
	makeLocalDir(t, dir)
	os.Chmod(filepath.Join(dir, "execute"), 0o755)
	tok := o.Token
	if tok == "" {
		tok = p.MintToken(t, WorkerIdentity, WorkerAuthz, time.Hour)
	}
	writeOwned(t, filepath.Join(dir, "tokens.d", "pool"), []byte(tok+"\n"), 0o600)
	cfg, ns := baseConfig(dir, p.CollectorAddr), ""
	if o.Host != nil {
		if p.Host == nil {
			t.Fatalf("worker %s on its own host: the pool is on loopback", name)
		}
		cfg, ns = cfg.add(ownHostConfig(p.Host.Addr, o.Host.Addr)), o.Host.NS
	}
	cfg.add(workerRole(name), o.ExtraConfig).write(t, w.ConfigFile)

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	m, err := StartMasterIn(ctx, p.Install, w.ConfigFile, ns)
	if err != nil {
		t.Fatal(err)
	}
	w.Master = m
	t.Cleanup(func() { stopAndClean(t, m, dir) })
	if o.NoWait {
		return w
	}
	start := time.Now()
	p.waitFor(t, 60*time.Second, "startd "+name, func(ctx context.Context) (bool, error) {
		ads, err := p.Client().Status(ctx, condor.StatusQuery{Attrs: []string{"Name"}}) // slot ads: what the negotiator matches
		for _, a := range ads {
			if w.OwnsSlot(a.GetString("Name")) {
				return true, nil
			}
		}
		return false, err
	})
	t.Logf("worker %s joined in %v", name, time.Since(start).Round(time.Millisecond))
	return w
}

// OwnsSlot reports whether a startd or slot name (worker1@host,
// slot1@worker1@host, slot1_2@worker1@host) is this worker's.
func (w *Worker) OwnsSlot(name string) bool {
	return strings.HasPrefix(name, w.Name+"@") || strings.Contains(name, "@"+w.Name+"@")
}

// Log returns the text of one of the worker's logs (e.g. "StartLog").
func (w *Worker) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(w.Dir, "log", name))
	return string(b)
}

// Log returns the text of one of the central manager's logs.
func (p *Pool) Log(name string) string {
	b, _ := os.ReadFile(filepath.Join(p.Dir, "log", name))
	return string(b)
}

// WaitFor polls cond every 250 ms until it is true, failing the test after
// timeout with the last error.
func (p *Pool) WaitFor(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	p.waitFor(t, timeout, what, cond)
}

func (p *Pool) waitFor(t testing.TB, timeout time.Duration, what string, cond func(ctx context.Context) (bool, error)) {
	t.Helper()
	poll(t, timeout, 250*time.Millisecond, what, cond, func() string {
		if p.Master != nil && p.Master.Exited() {
			return "the central manager's condor_master exited; " + tail(p.Master.Output, 10)
		}
		return ""
	}, func() string { return logTails(p.Dir) })
}

// poll calls cond every interval until it is true, failing the test when
// dead says why nothing can come any more, or after timeout with the last
// error and what more says.
func poll(t testing.TB, timeout, interval time.Duration, what string, cond func(ctx context.Context) (bool, error), dead, more func() string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		ok, err := cond(ctx)
		cancel()
		if ok {
			return
		}
		last = err
		if why := dead(); why != "" {
			t.Fatalf("waiting for %s: %s", what, why)
		}
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: not ready after %v (last error: %v)\n%s", what, timeout, last, more())
		}
		time.Sleep(interval)
	}
}

func stopAndClean(t testing.TB, m *Process, dir string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := m.Stop(ctx); err != nil {
		t.Errorf("stop %s: %v", dir, err)
	}
	if t.Failed() {
		t.Logf("kept %s for inspection (the next run removes it)\n%s", dir, logTails(dir))
		return
	}
	os.RemoveAll(dir)
}

func makeDir(t testing.TB, what string) string {
	t.Helper()
	dir, err := os.MkdirTemp("", dirPrefix+strings.ReplaceAll(what, "/", "_")+"-")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner"), []byte(ownerStamp(os.Getpid())+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "owner-pidns"), []byte(pidNS()+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, PoolUID, PoolUID); err != nil {
		t.Fatal(err)
	}
	return dir
}

func mkdirOwned(t testing.TB, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(dir, PoolUID, PoolUID); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, mode)
}

func writeOwned(t testing.TB, path string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.WriteFile(path, data, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(path, PoolUID, PoolUID); err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, mode)
}

func freePort(t testing.TB) int {
	t.Helper()
	ports.Lock()
	defer ports.Unlock()
	if ports.given == nil {
		ports.given = map[int]bool{}
	}
	// A port handed out stays ours for the test binary's life: the kernel
	// may hand a port just closed to the next bind(0), and a daemon given
	// it minutes later (a central manager of a pair starts after the
	// other leads) then finds it taken by another test's daemon.
	// Below the kernel's ephemeral range where it leaves room (Linux's
	// default starts at 32768), so no daemon's or connection's own port
	// can take it; on a machine whose range covers nearly every port, the
	// kernel's choice.
	low := ephemeralLow()
	for range 100 {
		want := 0
		if low >= minPort+1000 {
			want = minPort + mrand.IntN(low-minPort)
		}
		l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", want))
		if err != nil {
			continue // taken
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !ports.given[port] {
			ports.given[port] = true
			return port
		}
	}
	t.Fatal("no free port on 127.0.0.1 not already handed out")
	return 0
}

// minPort is the lowest port freePort picks itself.
const minPort = 10000

// ephemeralLow is the first port of the kernel's ephemeral range (0 when
// it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 0
	}
	var low int
	fmt.Sscan(string(b), &low)
	return low
}

// ports are the ports freePort has handed out.
var ports struct {
	sync.Mutex
	given map[int]bool
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "--- " + path + "\n" + strings.Join(lines, "\n")
}

func logTails(dir string) string {
	return tails(filepath.Join(dir, "condor_master.out"), filepath.Join(dir, "log"))
}

// tails is the end of a master's output file and of its daemons' logs in logDir.
func tails(masterOut, logDir string) string {
	var b strings.Builder
	files := []string{masterOut}
	for _, f := range []string{"MasterLog", "CollectorLog", "NegotiatorLog", "SchedLog", "StartLog"} {
		files = append(files, filepath.Join(logDir, f))
	}
	for _, f := range files {
		if s := tail(f, 15); s != "" {
			b.WriteString(s)
			b.WriteString("\n")
		}
	}
	return b.String()
}

// JobDir makes a directory under the pool's dir, owned by the pool user, for
// a test's submit files, job output and logs (jobs and the schedd run as
// ehos and need to write there).
func (p *Pool) JobDir(t testing.TB, name string) string {
	t.Helper()
	dir := filepath.Join(p.Dir, "jobs", name)
	mkdirOwned(t, filepath.Dir(dir), 0o755)
	mkdirOwned(t, dir, 0o755)
	return dir
}

// MkdirOwned makes dir (and its parents) owned by the pool user with mode:
// what a condor_master started with StartMaster needs for its LOCAL_DIR and
// the directories in it.
func MkdirOwned(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	if err := os.Chown(dir, PoolUID, PoolUID); err != nil {
		return err
	}
	return os.Chmod(dir, mode)
}

// WriteOwned writes a file owned by the pool user (a config, a token: 0600).
func WriteOwned(path string, data []byte, mode os.FileMode) error {
	if err := os.WriteFile(path, data, mode); err != nil {
		return err
	}
	if err := os.Chown(path, PoolUID, PoolUID); err != nil {
		return err
	}
	return os.Chmod(path, mode)
}
