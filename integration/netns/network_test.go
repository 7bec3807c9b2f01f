//go:build integration

package netns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func requireNetns(t *testing.T) {
	t.Helper()
	if err := Available(); err != nil {
		if os.Getenv("EHOS_REQUIRE_CONDOR") != "" {
			t.Fatal(err)
		}
		t.Skip(err)
	}
}

func newNetwork(t *testing.T) *Network {
	t.Helper()
	n, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// serve answers "ok" to every TCP connection and echoes UDP datagrams on
// port, inside h, until the test ends.
func serve(t *testing.T, h *Host, port int) {
	t.Helper()
	addr := fmt.Sprintf("%s:%d", h.Addr, port)
	l, err := h.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("ok"))
			c.Close()
		}
	}()
	var pc net.PacketConn
	if err := h.Do(func() (err error) { pc, err = net.ListenPacket("udp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 64)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
}

// reach reports whether from gets an answer over TCP and over UDP from
// to's port.
func reach(t *testing.T, from, to *Host, port int) (tcp, udp bool) {
	t.Helper()
	addr := fmt.Sprintf("%s:%d", to.Addr, port)
	if c, err := from.DialTimeout("tcp", addr, 700*time.Millisecond); err == nil {
		c.SetDeadline(time.Now().Add(time.Second))
		b := make([]byte, 2)
		_, err = c.Read(b)
		tcp = err == nil && string(b) == "ok"
		c.Close()
	}
	c, err := from.DialTimeout("udp", addr, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(700 * time.Millisecond))
	c.Write([]byte("ping"))
	b := make([]byte, 4)
	n, err := c.Read(b)
	udp = err == nil && string(b[:n]) == "ping"
	return tcp, udp
}

func TestHostsTalkAndTheFirewallLetsOnly9618In(t *testing.T) {
	t.Parallel()
	requireNetns(t)
	n := newNetwork(t)
	cm, err := n.AddHost("cm")
	if err != nil {
		t.Fatal(err)
	}
	w, err := n.AddHost("worker1")
	if err != nil {
		t.Fatal(err)
	}
	if cm.Addr == w.Addr || !strings.HasPrefix(cm.Addr, "10.213.47.") && os.Getenv("EHOS_NETNS_SUBNET") == "" {
		t.Fatalf("addresses %s and %s", cm.Addr, w.Addr)
	}
	if _, err := n.AddHost("cm"); err == nil {
		t.Error("a second host called cm was added")
	}
	if _, err := n.AddHost("a b"); err == nil {
		t.Error("a host called \"a b\" was added")
	}
	serve(t, cm, HTCondorPort)
	serve(t, cm, 9619)

	// A probe that should pass is tried again for a few seconds: on a loaded
	// machine a new link's first SYN can wait for ARP past the probe's timeout.
	check := func(what string, port int, wantTCP, wantUDP bool) {
		t.Helper()
		tcp, udp := reach(t, w, cm, port)
		for end := time.Now().Add(5 * time.Second); (tcp != wantTCP || udp != wantUDP) && time.Now().Before(end); {
			tcp, udp = reach(t, w, cm, port)
		}
		if tcp != wantTCP || udp != wantUDP {
			t.Errorf("%s: worker1 → cm:%d tcp %v udp %v, want tcp %v udp %v", what, port, tcp, udp, wantTCP, wantUDP)
		}
	}
	check("no firewall", 9618, true, true)
	check("no firewall", 9619, true, true)

	if err := cm.Firewall(HTCondorGroup...); err != nil {
		t.Fatal(err)
	}
	check("HTCondorGroup", 9618, true, true)
	check("HTCondorGroup", 9619, false, false)
	if n, err := cm.Accepted(Rule{"tcp", HTCondorPort}); err != nil || n != 1 {
		t.Errorf("cm's firewall counted %d connections in on 9618/tcp (%v), want the 1 check made", n, err)
	}
	// What goes out of the firewalled host is not filtered, and its replies
	// come back in: the worker serves, cm dials it.
	serve(t, w, 9619)
	if tcp, udp := reach(t, cm, w, 9619); !tcp || !udp {
		t.Errorf("HTCondorGroup on cm: cm → worker1:9619 tcp %v udp %v, want both", tcp, udp)
	}

	if err := cm.Firewall(Rule{"tcp", 22}); err != nil {
		t.Fatal(err)
	}
	check("only 22/tcp", 9618, false, false)
	if err := cm.Firewall(Rule{"icmp", 1}); err == nil {
		t.Error("a rule for icmp was taken")
	}
	if err := cm.NoFirewall(); err != nil {
		t.Fatal(err)
	}
	check("firewall removed", 9619, true, true)
}

func TestNoRouteOutOfAHost(t *testing.T) {
	t.Parallel()
	requireNetns(t)
	n := newNetwork(t)
	h, err := n.AddHost("lonely")
	if err != nil {
		t.Fatal(err)
	}
	// The machine's own loopback is not the host's.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if c, err := h.DialTimeout("tcp", l.Addr().String(), 500*time.Millisecond); err == nil {
		c.Close()
		t.Errorf("host reached the machine's %s", l.Addr())
	}
	// No default route: an address off the subnet (TEST-NET-1, never
	// routed) is unreachable at once, no packet leaves.
	_, err = h.DialTimeout("tcp", "192.0.2.1:9618", 500*time.Millisecond)
	if !errors.Is(err, syscall.ENETUNREACH) {
		t.Errorf("dial 192.0.2.1 from a host: %v, want network unreachable", err)
	}
	out, err := h.Command(context.Background(), "ip", "route", "show").CombinedOutput()
	if err != nil || strings.Contains(string(out), "default") {
		t.Errorf("routes in the host: %s (%v)", out, err)
	}
}

// TestReapsWhatAKilledRunLeft kills a process that made a network with a
// process running in one of its hosts; the next New removes both.
func TestReapsWhatAKilledRunLeft(t *testing.T) {
	t.Parallel()
	requireNetns(t)
	if os.Getenv("EHOS_NETNS_HELPER") == "1" {
		n, err := New("")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		h, err := n.AddHost("victim")
		if err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		cmd := h.Command(context.Background(), "sleep", "600")
		if err := cmd.Start(); err != nil {
			fmt.Println("error", err)
			os.Exit(1)
		}
		fmt.Println("made", h.NS, cmd.Process.Pid)
		select {}
	}
	cmd := exec.Command(os.Args[0], "-test.run", "^TestReapsWhatAKilledRunLeft$", "-test.count=1")
	cmd.Env = append(os.Environ(), "EHOS_NETNS_HELPER=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper: %v", err)
	}
	var ns string
	var sleepPid int
	if _, err := fmt.Sscanf(line, "made %s %d", &ns, &sleepPid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper said %q", line)
	}
	bridge := strings.TrimSuffix(ns, "-victim") + "-br"
	// Checked while the helper lives (no one reaps a live run's): once it
	// is killed, another test process starting a network may reap first.
	for _, name := range []string{ns, bridge} {
		if _, err := os.Stat(runDir + "/" + name); err != nil {
			cmd.Process.Kill()
			cmd.Wait()
			t.Fatalf("the helper's %s is not there: %v", name, err)
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	n := newNetwork(t) // reaps first
	for _, name := range []string{ns, bridge} {
		if _, err := os.Stat(runDir + "/" + name); err == nil {
			t.Errorf("%s left by a killed run is still there after New", name)
		}
	}
	// The orphaned sleep is gone (a zombie until init reaps it counts as gone).
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", sleepPid))
		if err != nil || strings.Contains(string(b), ") Z ") {
			break
		}
		if time.Now().After(deadline) {
			syscall.Kill(sleepPid, syscall.SIGKILL)
			t.Fatalf("the killed run's process %d in %s still runs", sleepPid, ns)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// Our own live network is never reaped.
	h, err := n.AddHost("alive")
	if err != nil {
		t.Fatal(err)
	}
	Reap()
	if _, err := os.Stat(runDir + "/" + h.NS); err != nil {
		t.Errorf("Reap removed the live run's %s", h.NS)
	}
}

// TestSitesBehindNAT builds the layout of the NAT tests (a central manager
// behind a floating address, two regions behind masquerading routers) and
// checks what crosses it: a region's host reaches the central manager only
// at the floating address, and arrives from its router's outside address;
// the central manager reaches the floating address too (hairpin); nothing
// reaches a region's host from outside it, not even its private address.
func TestSitesBehindNAT(t *testing.T) {
	requireNetns(t)
	cmNet := newNetwork(t)
	cm, err := cmNet.AddHost("cm")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewSites(cmNet, cm, "one", "two")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	w1, err := s.Regions["one"].AddHost("w1")
	if err != nil {
		t.Fatal(err)
	}
	w2, err := s.Regions["two"].AddHost("w2")
	if err != nil {
		t.Fatal(err)
	}
	if err := w1.Firewall(); err != nil { // nothing new comes in
		t.Fatal(err)
	}
	subnets := map[string]bool{}
	for _, n := range []*Network{cmNet, s.Outside, s.Regions["one"], s.Regions["two"]} {
		subnets[n.Subnet()] = true
	}
	if len(subnets) != 4 {
		t.Fatalf("subnets %v, want four different ones", subnets)
	}

	// Who connects to cm, as cm sees it.
	l, err := cm.Listen("tcp", ":9618")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	from := make(chan string, 4)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}
	}()
	dial := func(h *Host, addr string) error {
		c, err := h.DialTimeout("tcp", addr, 700*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err
	}
	fl := net.JoinHostPort(s.Floating, "9618")
	for _, w := range []*Host{w1, w2} {
		if err := dial(w, fl); err != nil {
			t.Errorf("%s → floating %s: %v", w.Name, fl, err)
			continue
		}
		rt, _ := s.Routers[map[*Host]string{w1: "one", w2: "two"}[w]].LegOn(s.Outside)
		if got := <-from; got != rt.Addr {
			t.Errorf("%s arrived at cm from %s, want its router's outside address %s (masqueraded)", w.Name, got, rt.Addr)
		}
		if err := dial(w, net.JoinHostPort(cm.Addr, "9618")); err == nil {
			t.Errorf("%s reached cm's private address %s", w.Name, cm.Addr)
		}
	}
	if err := dial(cm, fl); err != nil {
		t.Errorf("cm → its own floating address (hairpin): %v", err)
	} else if got := <-from; got != s.CMRouter.Addr {
		t.Errorf("hairpin arrived from %s, want the router %s", got, s.CMRouter.Addr)
	}
	// w2 has no firewall and listens: still nobody outside region two
	// reaches it; w1 behind its firewall is not reached from w2 either way.
	lw, err := w2.Listen("tcp", ":9618")
	if err != nil {
		t.Fatal(err)
	}
	defer lw.Close()
	for _, h := range []*Host{cm, w1} {
		if err := dial(h, net.JoinHostPort(w2.Addr, "9618")); err == nil {
			t.Errorf("%s reached w2 at its private address %s", h.Name, w2.Addr)
		}
	}
	rt2, _ := s.Routers["two"].LegOn(s.Outside)
	if err := dial(w1, net.JoinHostPort(rt2.Addr, "9618")); err == nil {
		t.Errorf("w1 reached w2 through its router's outside address %s (no port is forwarded)", rt2.Addr)
	}
}
