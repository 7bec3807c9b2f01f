package cloud

import (
	"fmt"
	"time"
)

// Metadata keys ehos writes on every server it creates. Ownership is decided
// by these alone, never by a server's name.
const (
	MetaPool  = "ehos_pool"  // the pool (ehos.yaml pool.name) the VM serves
	MetaOwner = "ehos_owner" // the provisioner instance that created it
	MetaName  = "ehos_name"  // the ehos name of the VM, also its startd name
	// MetaTokenID and MetaTokenExpires name the VM's IDTOKEN (its jti and
	// expiry, unix seconds; not the secret), so that it can be revoked
	// when the VM is deleted.
	MetaTokenID      = "ehos_token_id"
	MetaTokenExpires = "ehos_token_expires"
)

// Status is a server's status as the cloud reports it, reduced to the values
// ehos acts on. Anything else maps to StatusOther and is kept verbatim in
// VM.RawStatus.
type Status string

const (
	StatusBuild   Status = "BUILD"
	StatusActive  Status = "ACTIVE"
	StatusError   Status = "ERROR"
	StatusShutoff Status = "SHUTOFF"
	StatusDeleted Status = "DELETED"
	StatusOther   Status = "OTHER"
)

// Location is one cloud entry and one of its regions.
type Location struct {
	Cloud  string `json:"cloud"`
	Region string `json:"region"`
}

func (l Location) String() string { return l.Cloud + "/" + l.Region }

// VM is a server as seen in one list call.
type VM struct {
	ID        string            `json:"id"`
	Name      string            `json:"name"`
	Location  Location          `json:"location"`
	FlavorID  string            `json:"flavor_id"`
	Flavor    string            `json:"flavor"` // flavor name where the cloud says it (microversion >= 2.47), else resolved from FlavorID
	Status    Status            `json:"status"`
	RawStatus string            `json:"raw_status,omitempty"`
	Fault     string            `json:"fault,omitempty"` // the cloud's fault message for ERROR servers
	Addresses []string          `json:"addresses,omitempty"`
	Metadata  map[string]string `json:"metadata,omitempty"`
	Created   time.Time         `json:"created"`
}

// Flavor is a VM size offered by a cloud region.
type Flavor struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	VCPUs  int    `json:"vcpus"`
	RAMMB  int    `json:"ram_mb"`
	DiskGB int    `json:"disk_gb"`
	GPUs   int    `json:"gpus,omitempty"` // from ehos.yaml flavor overrides or extra specs
}

// Image is a bootable image.
type Image struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// Limits are a region's absolute compute limits. A Max below zero means
// unlimited, as Nova reports it.
type Limits struct {
	MaxInstances  int `json:"max_instances"`
	UsedInstances int `json:"used_instances"`
	MaxCores      int `json:"max_cores"`
	UsedCores     int `json:"used_cores"`
	MaxRAMMB      int `json:"max_ram_mb"`
	UsedRAMMB     int `json:"used_ram_mb"`
}

// Headroom is how many more VMs of flavor f the limits allow, and which limit
// binds first ("instances", "cores", "ram"; "" when unlimited).
func (l Limits) Headroom(f Flavor) (n int, binding string) {
	n = -1
	take := func(max, used, per int, name string) {
		if max < 0 || per <= 0 {
			return
		}
		free := max - used
		if free < 0 {
			free = 0
		}
		if k := free / per; n < 0 || k < n {
			n, binding = k, name
		}
	}
	take(l.MaxInstances, l.UsedInstances, 1, "instances")
	take(l.MaxCores, l.UsedCores, f.VCPUs, "cores")
	take(l.MaxRAMMB, l.UsedRAMMB, f.RAMMB, "ram")
	return n, binding
}

// CreateRequest is everything needed to boot one worker.
type CreateRequest struct {
	Name             string
	Flavor           string // name or id
	Image            string // name or id
	Network          string // name or id; "" for the cloud's default, "none" for no network
	KeyPair          string
	SecurityGroups   []string
	AvailabilityZone string
	UserData         []byte // rendered cloud-init, not yet base64-encoded
	Metadata         map[string]string
}

func (r CreateRequest) String() string {
	// Never print UserData: it carries the worker's token.
	return fmt.Sprintf("server %q flavor %q image %q", r.Name, r.Flavor, r.Image)
}

// Network is a network a server can be attached to.
type Network struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// SecurityRule is one rule of a security group, as `ehos clouds check`
// needs it to verify that workers can reach the collector.
type SecurityRule struct {
	Group          string `json:"group"`              // the security group's name
	GroupID        string `json:"group_id,omitempty"` // and its id (a rule "from the group itself" names it)
	Direction      string `json:"direction"`          // ingress or egress
	EtherType      string `json:"ethertype"`          // IPv4 or IPv6
	Protocol       string `json:"protocol"`           // tcp, udp, icmp; "" for any
	PortMin        int    `json:"port_min"`           // 0 with PortMax 0: any port
	PortMax        int    `json:"port_max"`
	RemoteIPPrefix string `json:"remote_ip_prefix,omitempty"`
	RemoteGroupID  string `json:"remote_group_id,omitempty"`
}

// Allows reports whether the rule lets ingress traffic of proto reach
// port (protocol "" and ports 0/0 mean any).
func (r SecurityRule) Allows(proto string, port int) bool {
	if r.Direction != "ingress" {
		return false
	}
	if r.Protocol != "" && r.Protocol != "any" && r.Protocol != proto {
		return false
	}
	if r.PortMin == 0 && r.PortMax == 0 {
		return true
	}
	return port >= r.PortMin && port <= r.PortMax
}
