package localcloud

import (
	"fmt"
	"math/rand/v2"
	"time"
)

// Faults make one region misbehave. The zero value behaves well. JSON field
// names are what the admin endpoint and the binary's -faults file take.
type Faults struct {
	// ErrorRate is the fraction (0..1) of Nova/Glance/Neutron requests
	// answered with ErrorStatus (default 500).
	ErrorRate   float64 `json:"error_rate,omitempty"`
	ErrorStatus int     `json:"error_status,omitempty"`
	// FailNext answers the next FailNext requests with FailStatus
	// (default 503); a 429 or 503 carries Retry-After: RetryAfter seconds.
	FailNext   int      `json:"fail_next,omitempty"`
	FailStatus int      `json:"fail_status,omitempty"`
	RetryAfter Duration `json:"retry_after,omitempty"`
	// Latency delays every request of the region.
	Latency Duration `json:"latency,omitempty"`
	// BootDelay overrides the server-wide BUILD → ACTIVE delay.
	BootDelay Duration `json:"boot_delay,omitempty"`
	// StuckBuild leaves new servers in BUILD for ever.
	StuckBuild bool `json:"stuck_build,omitempty"`
	// BootError sends new servers to ERROR with this fault message.
	BootError string `json:"boot_error,omitempty"`
	// QuotaStatus is the status of a quota refusal: 403 (modern Nova,
	// the default) or 413 (older Nova's overLimit).
	QuotaStatus int `json:"quota_status,omitempty"`
	// DeleteStatus answers every server delete with this status and keeps
	// the server, as Nova's 409 "Cannot 'delete' instance while it is in
	// task_state ..." does.
	DeleteStatus int `json:"delete_status,omitempty"`
}

// Duration is a time.Duration that reads and writes JSON as "1.5s".
type Duration time.Duration

func (d Duration) MarshalJSON() ([]byte, error) {
	return []byte(fmt.Sprintf("%q", time.Duration(d).String())), nil
}

func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if len(b) > 0 && b[0] == '"' {
		s = string(b[1 : len(b)-1])
		v, err := time.ParseDuration(s)
		if err != nil {
			return err
		}
		*d = Duration(v)
		return nil
	}
	// a bare number is seconds
	var f float64
	if _, err := fmt.Sscan(string(b), &f); err != nil {
		return fmt.Errorf("duration %s: %w", b, err)
	}
	*d = Duration(f * float64(time.Second))
	return nil
}

type region struct {
	name     string
	cloud    *cloudState
	faults   Faults
	quota    Quota
	servers  map[string]*vm
	flavors  []*flavor
	images   []*image
	networks []*network
	secgrps  []*secGroup
	keypairs map[string]*keypair
	azs      []string
	nextIP   int
}

type flavor struct {
	ID     string
	Name   string
	VCPUs  int
	RAMMB  int
	DiskGB int
}

type image struct {
	ID, Name, Status string
	Created          time.Time
	MinDisk, MinRAM  int
	ServerID         string // for snapshots
}

type network struct {
	ID, Name string
	Subnet   string // the first three octets of its /24
	SubnetID string
}

type secGroup struct {
	ID, Name, Description string
	Rules                 []secRule
}

type secRule struct {
	ID             string `json:"id"`
	Direction      string `json:"direction"`
	EtherType      string `json:"ethertype"`
	Protocol       any    `json:"protocol"` // string or null
	PortRangeMin   any    `json:"port_range_min"`
	PortRangeMax   any    `json:"port_range_max"`
	RemoteIPPrefix any    `json:"remote_ip_prefix"`
	RemoteGroupID  any    `json:"remote_group_id"`
}

type keypair struct {
	Name, PublicKey, Fingerprint string
	Created                      time.Time
}

func newRegion(name string, cs *cloudState, q Quota) *region {
	rg := &region{
		name: name, cloud: cs, quota: q,
		servers:  map[string]*vm{},
		keypairs: map[string]*keypair{},
		azs:      []string{"nova"},
	}
	rg.flavors = []*flavor{
		{ID: "1", Name: "m1.tiny", VCPUs: 1, RAMMB: 512, DiskGB: 1},
		{ID: "2", Name: "m1.small", VCPUs: 1, RAMMB: 2048, DiskGB: 20},
		{ID: "3", Name: "m1.medium", VCPUs: 2, RAMMB: 4096, DiskGB: 40},
		{ID: "4", Name: "m1.large", VCPUs: 4, RAMMB: 8192, DiskGB: 80},
		{ID: "5", Name: "m1.xlarge", VCPUs: 8, RAMMB: 16384, DiskGB: 160},
	}
	now := time.Now().UTC().Truncate(time.Second)
	rg.images = []*image{
		{ID: newID(), Name: "debian-12", Status: "active", Created: now},
		{ID: newID(), Name: "ehos-worker", Status: "active", Created: now},
	}
	rg.networks = []*network{
		{ID: newID(), Name: "private", Subnet: "10.0.0", SubnetID: newID()},
		{ID: newID(), Name: "public", Subnet: "172.24.4", SubnetID: newID()},
	}
	def := &secGroup{ID: newID(), Name: "default", Description: "Default security group"}
	def.Rules = []secRule{
		{ID: newID(), Direction: "egress", EtherType: "IPv4"},
		{ID: newID(), Direction: "ingress", EtherType: "IPv4", RemoteGroupID: def.ID},
	}
	condor := &secGroup{ID: newID(), Name: "ehos", Description: "HTCondor and SSH"}
	condor.Rules = []secRule{
		{ID: newID(), Direction: "egress", EtherType: "IPv4"},
		{ID: newID(), Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22, RemoteIPPrefix: "0.0.0.0/0"},
		{ID: newID(), Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortRangeMin: 9618, PortRangeMax: 9618, RemoteGroupID: condor.ID},
		{ID: newID(), Direction: "ingress", EtherType: "IPv4", Protocol: "udp", PortRangeMin: 9618, PortRangeMax: 9618, RemoteGroupID: condor.ID},
	}
	rg.secgrps = []*secGroup{def, condor}
	seeded := "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGVob3MtbG9jYWwtY2xvdWQtc2VlZGVkLXRlc3Qta2V5 ehos@local"
	fp, err := sshFingerprint(seeded)
	if err != nil {
		panic(err) // a constant
	}
	rg.keypairs["ehos-key"] = &keypair{Name: "ehos-key", PublicKey: seeded, Fingerprint: fp, Created: now}
	return rg
}

// injected returns the status a request must fail with (0: none) and the
// Retry-After to send. Called with s.mu held.
func (rg *region) injected() (status int, retryAfter time.Duration) {
	f := &rg.faults
	if f.FailNext > 0 {
		f.FailNext--
		status = f.FailStatus
		if status == 0 {
			status = 503
		}
	} else if f.ErrorRate > 0 && rand.Float64() < f.ErrorRate {
		status = f.ErrorStatus
		if status == 0 {
			status = 500
		}
	}
	if status == 429 || status == 503 {
		retryAfter = time.Duration(f.RetryAfter)
	}
	return status, retryAfter
}

func (rg *region) flavorByRef(ref string) *flavor {
	for _, f := range rg.flavors {
		if f.ID == ref {
			return f
		}
	}
	for _, f := range rg.flavors {
		if f.Name == ref {
			return f
		}
	}
	return nil
}

func (rg *region) usage() (instances, cores, ram int) {
	for _, v := range rg.servers {
		instances++
		cores += v.flavor.VCPUs
		ram += v.flavor.RAMMB
	}
	return
}

// SetFaults replaces a region's faults.
func (s *Server) SetFaults(regionName string, f Faults) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := s.regions[regionName]
	if !ok {
		return fmt.Errorf("no region %q", regionName)
	}
	rg.faults = f
	return nil
}

// GetFaults returns a region's current faults (FailNext counts down).
func (s *Server) GetFaults(regionName string) (Faults, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := s.regions[regionName]
	if !ok {
		return Faults{}, fmt.Errorf("no region %q", regionName)
	}
	return rg.faults, nil
}

// SetQuota replaces a region's compute quota.
func (s *Server) SetQuota(regionName string, q Quota) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := s.regions[regionName]
	if !ok {
		return fmt.Errorf("no region %q", regionName)
	}
	rg.quota = q
	return nil
}

// ExpireTokens makes every token issued so far invalid, as if they had
// reached their expiry: the next request with one gets 401.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, t := range s.tokens {
		t.expires = past
	}
}

// FailAuth makes Keystone refuse (401) every authentication while on.
func (s *Server) FailAuth(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.authFail = on
}

// ServerInfo is a server as the test or admin endpoint sees it.
type ServerInfo struct {
	ID       string            `json:"id"`
	Name     string            `json:"name"`
	Region   string            `json:"region"`
	Status   string            `json:"status"`
	Flavor   string            `json:"flavor"`
	Metadata map[string]string `json:"metadata"`
	Running  bool              `json:"running"` // a VMRunner started it and it has not been stopped
}

// Servers lists the servers of a region ("" for all), oldest first.
func (s *Server) Servers(regionName string) []ServerInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	var vms []*vm
	for _, rg := range s.regions {
		if regionName != "" && rg.name != regionName {
			continue
		}
		for _, v := range rg.servers {
			vms = append(vms, v)
		}
	}
	sortVMs(vms, false)
	out := make([]ServerInfo, 0, len(vms))
	for _, v := range vms {
		out = append(out, ServerInfo{ID: v.id, Name: v.name, Region: v.region.name, Status: v.status,
			Flavor: v.flavor.Name, Metadata: v.metadata, Running: v.stop != nil})
	}
	return out
}

// AddServers creates n servers directly (no API call, already ACTIVE, not
// run), for tests that need many. Metadata is copied to each.
func (s *Server) AddServers(regionName, namePrefix string, n int, metadata map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := s.regions[regionName]
	if !ok {
		return fmt.Errorf("no region %q", regionName)
	}
	for i := 0; i < n; i++ {
		md := map[string]string{}
		for k, v := range metadata {
			md[k] = v
		}
		v := s.newVM(rg, fmt.Sprintf("%s-%d", namePrefix, i), rg.flavors[0], rg.images[0], md)
		v.status, v.vmState, v.taskState, v.powerState = "ACTIVE", "active", "", 1
		v.launched = time.Now().UTC()
	}
	return nil
}

// DropSecurityRules removes the ingress rules of security group group in
// region that cover protocol and port (tests of a group missing a rule).
// It returns how many it removed.
func (s *Server) DropSecurityRules(regionName, group, protocol string, port int) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rg, ok := s.regions[regionName]
	if !ok {
		return 0, fmt.Errorf("no region %q", regionName)
	}
	for _, g := range rg.secgrps {
		if g.Name != group && g.ID != group {
			continue
		}
		n := 0
		kept := g.Rules[:0]
		for _, r := range g.Rules {
			min, _ := r.PortRangeMin.(int)
			max, _ := r.PortRangeMax.(int)
			if r.Direction == "ingress" && r.Protocol == protocol && min <= port && port <= max {
				n++
				continue
			}
			kept = append(kept, r)
		}
		g.Rules = kept
		return n, nil
	}
	return 0, fmt.Errorf("no security group %q in region %q", group, regionName)
}
