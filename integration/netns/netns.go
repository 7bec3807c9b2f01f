// Package netns builds a small private network of test hosts on one machine
// out of Linux network namespaces, so that a central manager and its workers
// talk across a real network (their own addresses, a real firewall) instead
// of sharing 127.0.0.1.
//
// One Network is one bridge namespace holding a Linux bridge; each Host is a
// namespace of its own with one veth pair into the bridge, its eth0 addressed
// from the subnet (EHOS_NETNS_SUBNET, default 10.213.47.0/24; hosts from .2).
// Nothing touches the machine's own namespace: no interface, no route, no
// default route out of any host. Networks never see each other, so runs side
// by side may use the same subnet.
//
// Namespaces are named ehosnt-<pidns>.<pid>.<start>.<seq>-<host>, naming the
// test process that made them; New first removes the namespaces of processes
// that are gone (a test killed mid-run), killing whatever still runs inside.
//
// Everything needs root, ip (iproute2) and, for firewalls, nft (nftables):
// Available says what is missing.
package netns

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Prefix starts the name of every namespace this package makes.
const Prefix = "ehosnt-"

// DefaultSubnet is the hosts' subnet unless EHOS_NETNS_SUBNET says otherwise.
const DefaultSubnet = "10.213.47.0/24"

// runDir is where `ip netns` keeps its named namespaces.
var runDir = "/run/netns"

// Available reports what is missing to build networks here (nil: nothing).
func Available() error {
	var miss []string
	if os.Geteuid() != 0 {
		miss = append(miss, "root")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		miss = append(miss, "ip (apt-get install iproute2)")
	}
	if _, err := exec.LookPath("nft"); err != nil {
		miss = append(miss, "nft (apt-get install nftables)")
	}
	if len(miss) > 0 {
		return fmt.Errorf("network namespaces need %s", strings.Join(miss, ", "))
	}
	return nil
}

// Network is a bridge namespace and the hosts plugged into it.
type Network struct {
	prefix string // ehosnt-<pidns>.<pid>.<start>.<seq>
	bridge string // the bridge namespace
	subnet *net.IPNet
	mu     sync.Mutex
	next   int // offset of the next host's address in the subnet
	hosts  []*Host
	closed bool
	// gateway, when set, routes gatewayDst for hosts added from then on
	// (route.go).
	gateway, gatewayDst string
}

// Host is one test host: a network namespace with eth0 on the network.
type Host struct {
	Name string // as given to AddHost
	NS   string // the namespace (for ip netns exec NS, EHOS_NETNS=NS)
	Addr string // eth0's address, e.g. 10.213.47.2
	net  *Network
	veth string // its peer in the bridge namespace
	legs []Leg  // further interfaces (Attach), guarded by net.mu
}

var seq struct {
	sync.Mutex
	n int
}

// New reaps what killed runs left, then makes an empty network on subnet
// ("" reads EHOS_NETNS_SUBNET, then DefaultSubnet).
func New(subnet string) (*Network, error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if subnet == "" {
		subnet = os.Getenv("EHOS_NETNS_SUBNET")
	}
	if subnet == "" {
		subnet = DefaultSubnet
	}
	ipn, err := ParseSubnet(subnet)
	if err != nil {
		return nil, err
	}
	Reap()
	stamp, err := ownerStamp(os.Getpid())
	if err != nil {
		return nil, fmt.Errorf("new network: %w", err)
	}
	seq.Lock()
	seq.n++
	n := seq.n
	seq.Unlock()
	nw := &Network{prefix: fmt.Sprintf("%s%s.%d", Prefix, stamp, n), subnet: ipn, next: 2}
	nw.bridge = nw.prefix + "-br"
	if err := run("ip", "netns", "add", nw.bridge); err != nil {
		return nil, fmt.Errorf("new network: %w", err)
	}
	if err := run("ip", "-n", nw.bridge, "link", "add", "br0", "type", "bridge"); err != nil {
		nw.Close()
		return nil, fmt.Errorf("new network: %w", err)
	}
	if err := run("ip", "-n", nw.bridge, "link", "set", "br0", "up"); err != nil {
		nw.Close()
		return nil, fmt.Errorf("new network: %w", err)
	}
	return nw, nil
}

// ParseSubnet reads an IPv4 subnet in CIDR form that leaves room for hosts
// (at most /29).
func ParseSubnet(s string) (*net.IPNet, error) {
	ip, ipn, err := net.ParseCIDR(strings.TrimSpace(s))
	if err != nil {
		return nil, fmt.Errorf("EHOS_NETNS_SUBNET %q: not a subnet like %s: %v", s, DefaultSubnet, err)
	}
	if ip.To4() == nil {
		return nil, fmt.Errorf("EHOS_NETNS_SUBNET %q: only IPv4 subnets are supported", s)
	}
	if !ip.Equal(ipn.IP) {
		return nil, fmt.Errorf("EHOS_NETNS_SUBNET %q: host bits set (the subnet is %s)", s, ipn)
	}
	if ones, _ := ipn.Mask.Size(); ones > 29 {
		return nil, fmt.Errorf("EHOS_NETNS_SUBNET %q: too small for test hosts (at most /29)", s)
	}
	return ipn, nil
}

// hostAddr is the i-th address of the subnet, or nil past its last host.
func hostAddr(ipn *net.IPNet, i int) net.IP {
	base := ipn.IP.To4()
	ones, bits := ipn.Mask.Size()
	size := 1 << (bits - ones)
	if i <= 0 || i >= size-1 {
		return nil
	}
	v := uint32(base[0])<<24 | uint32(base[1])<<16 | uint32(base[2])<<8 | uint32(base[3])
	v += uint32(i)
	return net.IPv4(byte(v>>24), byte(v>>16), byte(v>>8), byte(v)).To4()
}

// Subnet is the network's subnet.
func (n *Network) Subnet() string { return n.subnet.String() }

// AddHost makes a host called name (letters, digits, '.', '_', '-') with the
// next free address.
func (n *Network) AddHost(name string) (*Host, error) {
	if name == "" || strings.IndexFunc(name, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-')
	}) >= 0 {
		return nil, fmt.Errorf("add host %q: a host name is letters, digits, '.', '_' and '-'", name)
	}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return nil, fmt.Errorf("add host %q: the network is closed", name)
	}
	for _, h := range n.hosts {
		if h.Name == name {
			n.mu.Unlock()
			return nil, fmt.Errorf("add host %q: already on the network", name)
		}
	}
	i := n.next
	ip := hostAddr(n.subnet, i)
	if ip == nil {
		n.mu.Unlock()
		return nil, fmt.Errorf("add host %q: subnet %s is full", name, n.subnet)
	}
	n.next++
	h := &Host{Name: name, NS: n.prefix + "-" + name, Addr: ip.String(), net: n, veth: fmt.Sprintf("vh%d", i)}
	n.hosts = append(n.hosts, h)
	gw, gwDst := n.gateway, n.gatewayDst
	n.mu.Unlock()

	ones, _ := n.subnet.Mask.Size()
	steps := [][]string{
		{"ip", "netns", "add", h.NS},
		// Both ends are made inside their namespaces: nothing ever appears
		// in the machine's own.
		{"ip", "-n", n.bridge, "link", "add", h.veth, "type", "veth", "peer", "name", "eth0", "netns", h.NS},
		{"ip", "-n", n.bridge, "link", "set", h.veth, "master", "br0"},
		{"ip", "-n", n.bridge, "link", "set", h.veth, "up"},
		{"ip", "-n", h.NS, "link", "set", "lo", "up"},
		{"ip", "-n", h.NS, "addr", "add", fmt.Sprintf("%s/%d", h.Addr, ones), "dev", "eth0"},
		{"ip", "-n", h.NS, "link", "set", "eth0", "up"},
	}
	if gw != "" {
		steps = append(steps, []string{"ip", "-n", h.NS, "route", "add", gwDst, "via", gw})
	}
	for _, s := range steps {
		if err := run(s[0], s[1:]...); err != nil {
			h.Remove()
			return nil, fmt.Errorf("add host %q: %w", name, err)
		}
	}
	return h, nil
}

// Hosts lists the hosts still on the network.
func (n *Network) Hosts() []*Host {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]*Host(nil), n.hosts...)
}

// Close removes every host (killing what still runs in it) and the bridge.
func (n *Network) Close() error {
	n.mu.Lock()
	n.closed = true
	hosts := append([]*Host(nil), n.hosts...)
	n.mu.Unlock()
	var errs []error
	for _, h := range hosts {
		errs = append(errs, h.Remove())
	}
	errs = append(errs, removeNS(n.bridge))
	return errors.Join(errs...)
}

// Remove kills every process in the host and deletes it (its veth goes with
// it). Removing a removed host is a no-op.
func (h *Host) Remove() error {
	h.net.mu.Lock()
	for i, o := range h.net.hosts {
		if o == h {
			h.net.hosts = append(h.net.hosts[:i], h.net.hosts[i+1:]...)
			break
		}
	}
	h.net.mu.Unlock()
	return removeNS(h.NS)
}

// Command is name with args run inside the host (ip netns exec).
func (h *Host) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
}

// Do runs fn on an OS thread switched into the host's namespace: sockets fn
// opens (net.Listen, net.Dial) belong to the host and stay there.
func (h *Host) Do(fn func() error) error {
	return Do(h.NS, fn)
}

// Listen opens a listener inside the host.
func (h *Host) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := h.Do(func() (err error) {
		l, err = net.Listen(network, addr)
		return err
	})
	return l, err
}

// DialTimeout dials from inside the host.
func (h *Host) DialTimeout(network, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() (err error) {
		c, err = net.DialTimeout(network, addr, timeout)
		return err
	})
	return c, err
}

// Do runs fn with the calling goroutine locked to an OS thread that is
// switched into the named namespace and back. If switching back fails the
// thread is never unlocked, so Go retires it with the goroutine.
func Do(ns string, fn func() error) error {
	target, err := os.Open(filepath.Join(runDir, ns))
	if err != nil {
		return fmt.Errorf("enter network namespace: %w", err)
	}
	defer target.Close()
	runtime.LockOSThread()
	self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", syscall.Gettid()))
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace: %w", err)
	}
	defer self.Close()
	if err := setns(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("enter network namespace %s: %w", ns, err)
	}
	ferr := fn()
	if err := setns(self); err != nil {
		return errors.Join(ferr, fmt.Errorf("leave network namespace %s: %w", ns, err))
	}
	runtime.UnlockOSThread()
	return ferr
}

func setns(f *os.File) error {
	return unix.Setns(int(f.Fd()), unix.CLONE_NEWNET)
}

// Reap removes the namespaces whose making test process is gone, killing
// what runs in them, and returns their names. A namespace made in another
// pid namespace cannot be judged by its pid: it is left alone unless it is
// older than six hours.
func Reap() []string {
	ents, err := os.ReadDir(runDir)
	if err != nil {
		return nil
	}
	mine := pidNS()
	var gone []string
	for _, e := range ents {
		name := e.Name()
		owner, ok := ownerOf(name)
		if !ok {
			continue
		}
		f := strings.Split(owner, ".") // pidns, pid, start
		if f[0] != mine {
			if st, err := e.Info(); err != nil || time.Since(st.ModTime()) < 6*time.Hour {
				continue
			}
		} else if pid, _ := strconv.Atoi(f[1]); pid > 0 {
			if s, err := ownerStamp(pid); err == nil && s == owner {
				continue // its run is alive
			}
		}
		if removeNS(name) == nil {
			gone = append(gone, name)
		}
	}
	return gone
}

// ownerOf reads "pidns.pid.start" out of a namespace name of this package.
func ownerOf(name string) (string, bool) {
	rest, ok := strings.CutPrefix(name, Prefix)
	if !ok {
		return "", false
	}
	id, _, ok := strings.Cut(rest, "-")
	if !ok {
		return "", false
	}
	f := strings.Split(id, ".")
	if len(f) != 4 {
		return "", false
	}
	for _, x := range f {
		if _, err := strconv.ParseUint(x, 10, 64); err != nil {
			return "", false
		}
	}
	return strings.Join(f[:3], "."), true
}

// ownerStamp is "pidns.pid.start" for a live process (start: field 22 of
// /proc/PID/stat, in clock ticks since boot).
func ownerStamp(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", fmt.Errorf("/proc/%d/stat: too short", pid)
	}
	return fmt.Sprintf("%s.%d.%s", pidNS(), pid, f[19]), nil
}

// pidNS is the inode number of this process's pid namespace.
func pidNS() string {
	l, _ := os.Readlink("/proc/self/ns/pid") // pid:[4026531836]
	l = strings.TrimSuffix(strings.TrimPrefix(l, "pid:["), "]")
	if _, err := strconv.ParseUint(l, 10, 64); err != nil {
		return "0"
	}
	return l
}

// removeNS kills every process in the namespace, then deletes it.
func removeNS(ns string) error {
	if _, err := os.Stat(filepath.Join(runDir, ns)); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	for try := 0; try < 50; try++ {
		out, err := exec.Command("ip", "netns", "pids", ns).Output()
		if err != nil {
			break
		}
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			break
		}
		for _, p := range pids {
			if pid, err := strconv.Atoi(p); err == nil && pid > 1 && pid != os.Getpid() {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err := run("ip", "netns", "delete", ns); err != nil {
		return fmt.Errorf("remove network namespace: %w", err)
	}
	return nil
}

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
