package config

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// Config is ehos.yaml.
type Config struct {
	Pool         Pool              `yaml:"pool"`
	Scaling      Scaling           `yaml:"scaling"`
	Clouds       []cloud.Config    `yaml:"clouds"`
	Templates    Templates         `yaml:"templates"`
	TemplateVars map[string]string `yaml:"template_vars,omitempty"`
	Worker       Worker            `yaml:"worker"`
	Log          Log               `yaml:"log"`
}

// Pool describes the HTCondor pool the workers join.
type Pool struct {
	Name           string `yaml:"name"`            // value of the ehos_pool metadata; tag <pool_name>
	Owner          string `yaml:"owner"`           // value of ehos_owner; default: the pool name, so every provisioner of the pool adopts its VMs (docs/ha.md)
	CentralManager string `yaml:"central_manager"` // address workers use; tag <host_ip>
	CollectorPort  int    `yaml:"collector_port"`  // tag <collector_port>; default 9618
	// HAPeer is the other central manager of an HA pair (docs/ha.md),
	// host or host:port (default port collector_port): workers report to
	// both collectors and register with both brokers, so they stay in the
	// pool whichever of the two leads. Tag <collector_host>.
	HAPeer      string `yaml:"ha_peer,omitempty"`
	UIDDomain   string `yaml:"uid_domain"`   // tag <uid_domain>
	TrustDomain string `yaml:"trust_domain"` // tag <trust_domain>; default central_manager
	// ProvisionerIdentity is the identity the collector stamps
	// (AuthenticatedIdentity) on the provisioner's own ads: its
	// EHOSProvisioner ad, its offline flavor ads and its retire requests.
	// Readers believe those ads only from it; it is never learned from the
	// collector. Default condor@<uid_domain> (root, the shipped install's
	// user, over FS); tag <provisioner_id>.
	ProvisionerIdentity string `yaml:"provisioner_identity"`
	// DemandIdentity is the identity on the demand job's EHOSDemand ads
	// (the user it runs as). Default ehos@<uid_domain>.
	DemandIdentity string `yaml:"demand_identity"`
}

// Scaling holds the knobs of the decision.
type Scaling struct {
	Min                int           `yaml:"min"`         // workers kept even with no demand
	Max                int           `yaml:"max"`         // workers at most, all clouds together
	Spare              int           `yaml:"spare"`       // idle workers kept warm beyond demand
	MaxBooting         int           `yaml:"max_booting"` // VMs booting at once, all clouds
	MaxCreatesPerCycle int           `yaml:"max_creates_per_cycle"`
	Cycle              time.Duration `yaml:"cycle"`              // time between cycles
	IdleBeforeRetire   time.Duration `yaml:"idle_before_retire"` // idle this long → drain
	MinLifetime        time.Duration `yaml:"min_lifetime"`       // never retire younger workers
	BootTimeout        time.Duration `yaml:"boot_timeout"`       // created → joined, else reaped
	DrainTimeout       time.Duration `yaml:"drain_timeout"`      // retiring → gone; reported, never forced while jobs run
	DeleteTimeout      time.Duration `yaml:"delete_timeout"`     // deleting → gone, else retried with backoff
	OrphanGrace        time.Duration `yaml:"orphan_grace"`       // owned VM unknown to us this long → reaped
	// UnmatchedAfter: jobs idle this long beside idle real workers of a
	// flavor are no longer demand for it; 0 switches the rule off.
	UnmatchedAfter time.Duration `yaml:"unmatched_after"`
	// HeadroomWindow: while jobs wait, keep room for one job of the widest
	// seen waiting this long; 0 switches the rule off.
	HeadroomWindow time.Duration `yaml:"headroom_window"`
	BackoffInitial time.Duration `yaml:"backoff_initial"` // first back-off of a failing cloud
	BackoffMax     time.Duration `yaml:"backoff_max"`
	DryRun         bool          `yaml:"dry_run"`
}

// Templates says which cloud-init templates to use. A bare file name is
// looked up in EtcDir first (an admin's edited copy) and then in ShareDir
// (the shipped one).
type Templates struct {
	Worker   string `yaml:"worker"`
	Master   string `yaml:"master"`
	Base     string `yaml:"base"`
	EtcDir   string `yaml:"etc_dir"`
	ShareDir string `yaml:"share_dir"`
}

// Worker configures what each worker gets.
type Worker struct {
	// TokenLifetime is the lifetime of each worker's IDTOKEN (default 7
	// days, or longer when max_lifetime asks for it).
	TokenLifetime time.Duration `yaml:"token_lifetime"`
	// MaxLifetime is the age at which a worker is drained peacefully. 0
	// (the default): token_lifetime minus scaling.drain_timeout and
	// scaling.cycle, so that a worker's jobs end before its token does;
	// never more than that (see WorkerMaxLifetime).
	MaxLifetime time.Duration `yaml:"max_lifetime"`
	TokenKey    string        `yaml:"token_key"` // signing key name in SEC_PASSWORD_DIRECTORY; default POOL
	// TokenIdentity is the identity minted into each worker's token, with
	// {name} standing for the VM's ehos name, so that every worker speaks
	// only for itself: the provisioner believes a slot ad only when the
	// collector stamped it with that VM's identity. The central manager's
	// ALLOW_ADVERTISE_STARTD must match it. Default {name}@<trust_domain>
	// (ehos-<pool>-<hex>@<trust_domain>).
	TokenIdentity string `yaml:"token_identity"`
}

// Log configures logging.
type Log struct {
	Format string `yaml:"format"` // json or console
	Level  string `yaml:"level"`  // debug, info, warn, error
	File   string `yaml:"file"`   // default: $(LOG)/EHOSProvisionerLog under condor_master, stderr by hand
}

// DefaultUser is the user the shipped install runs the demand job as
// (ALLOW_DAEMON names it on the central manager).
const DefaultUser = "ehos"

// DefaultProvisionerUser is the user the collector takes the shipped
// install's provisioner for: it runs as root (under condor_master or the
// systemd unit), which HTCondor's FS maps to condor@UID_DOMAIN (measured
// on an installed central manager, HTCondor 23.9).
const DefaultProvisionerUser = "condor"

// Provisioner is pool.provisioner_identity, or its default for a config
// not passed through defaults yet: condor@<uid_domain> (else the central
// manager).
func (p Pool) Provisioner() string {
	switch {
	case p.ProvisionerIdentity != "":
		return p.ProvisionerIdentity
	case p.UIDDomain != "":
		return DefaultProvisionerUser + "@" + p.UIDDomain
	}
	return DefaultProvisionerUser + "@" + p.CentralManager
}

// IdentityName is what TokenIdentity holds in place of the VM's name.
const IdentityName = "{name}"

// IsIdentity says whether id has the form of a worker's identity: the
// TokenIdentity with an ehos VM name (ehos-...) in place of {name}, which
// is what the central manager's rules take for a worker
// (condor-config/50-ehos-central-manager.conf, EHOS_FROM_WORKER).
func (w Worker) IsIdentity(id string) bool {
	pre, post, ok := strings.Cut(w.TokenIdentity, IdentityName)
	if !ok || len(id) < len(pre)+len(post) || !strings.HasPrefix(id, pre) || !strings.HasSuffix(id, post) {
		return false
	}
	return strings.HasPrefix(id[len(pre):len(id)-len(post)], "ehos-")
}

// IdentityOf is the identity of the worker named vmName: the one its token
// carries and the collector stamps on its ads (AuthenticatedIdentity).
func (w Worker) IdentityOf(vmName string) string {
	return strings.Replace(w.TokenIdentity, IdentityName, vmName, 1)
}

// Site is what the workers of one cloud and region are told about the
// network: the central manager's address for them (empty: pool.central_manager)
// and their private network's name. A cloud not in the configuration gets
// the defaults.
func (c *Config) Site(cloudName, region string) cloud.RegionConfig {
	for _, cl := range c.Clouds {
		if cl.Name == cloudName {
			return cl.InRegion(region)
		}
	}
	return cloud.Config{Name: cloudName}.InRegion(region)
}

// SplitPeer reads pool.ha_peer (or a cloud's): a host name or address,
// with an optional :port (an IPv6 address with a port in brackets). port
// is 0 when none is given.
func SplitPeer(s string) (host string, port int, err error) {
	host = s
	if strings.Contains(s, "/") {
		return "", 0, fmt.Errorf("is not a host name or address, with an optional :port (no scheme)")
	}
	if h, p, e := net.SplitHostPort(s); e == nil {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > 65535 {
			return "", 0, fmt.Errorf("port %q must be 1-65535", p)
		}
		host, port = h, n
	}
	if !hostRE.MatchString(host) {
		return "", 0, fmt.Errorf("is not a host name or address, with an optional :port")
	}
	return host, port, nil
}

// CentralManagers are the addresses one cloud region's workers are told
// for the central manager (tag <host_ip>) and for the other one of an HA
// pair (empty without one): the cloud's or region's where set, else the
// pool's.
func (c *Config) CentralManagers(cloudName, region string) (cm, peer string) {
	return c.Pool.CentralManagersAt(c.Site(cloudName, region))
}

// CentralManagersAt is CentralManagers for a site already resolved
// (cloud.Config.InRegion): for callers that hold a cloud's entry rather
// than the whole config (ehos clouds check, doctor).
func (p Pool) CentralManagersAt(site cloud.RegionConfig) (cm, peer string) {
	cm, peer = p.CentralManager, p.HAPeer
	if site.CentralManager != "" {
		cm = site.CentralManager
	}
	if site.HAPeer != "" {
		peer = site.HAPeer
	}
	return cm, peer
}

// CollectorHost is HTCondor's COLLECTOR_HOST for the workers of one cloud
// region: the central manager they are told, and with an HA pair the
// other one too, each with its port (tag <collector_host>).
func (c *Config) CollectorHost(cloudName, region string) string {
	cm, peer := c.CentralManagers(cloudName, region)
	out := hostPort(cm, c.Pool.Port())
	if peer != "" {
		h, p, err := SplitPeer(peer)
		if err != nil {
			return out // Validate names it
		}
		if p == 0 {
			p = c.Pool.Port()
		}
		out += ", " + hostPort(h, p)
	}
	return out
}

func hostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}

// DefaultCollectorPort is HTCondor's collector port, pool.collector_port's
// default.
const DefaultCollectorPort = 9618

// Port is the collector's port: pool.collector_port, else the default
// (a Pool not filled by the defaults, such as a test's, has none).
func (p Pool) Port() int {
	if p.CollectorPort == 0 {
		return DefaultCollectorPort
	}
	return p.CollectorPort
}
