package cloud

import "strings"

// Config is one entry of ehos.yaml's `clouds:` list. Name refers to an entry
// of a standard clouds.yaml (found through OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
// ~/.config/openstack/, /etc/openstack/); the special name "envvars" uses the
// OS_* environment variables instead.
type Config struct {
	Name             string                  `yaml:"name"`
	Enabled          *bool                   `yaml:"enabled,omitempty"` // default true
	Regions          []string                `yaml:"regions,omitempty"` // default: the clouds.yaml entry's region_name
	Image            string                  `yaml:"image"`
	Flavors          []string                `yaml:"flavors"`
	FlavorOverrides  map[string]FlavorExtra  `yaml:"flavor_overrides,omitempty"`
	Network          string                  `yaml:"network,omitempty"`
	KeyPair          string                  `yaml:"key_pair,omitempty"`
	SecurityGroups   []string                `yaml:"security_groups,omitempty"`
	AvailabilityZone string                  `yaml:"availability_zone,omitempty"`
	MaxVMs           int                     `yaml:"max_vms,omitempty"` // 0: no per-cloud limit beyond quota
	Weight           int                     `yaml:"weight,omitempty"`  // higher is preferred; default 1
	RegionOverrides  map[string]RegionConfig `yaml:"region_overrides,omitempty"`
	// CentralManager is the address this cloud's workers reach the
	// central manager at (a floating IP or DNS name from a remote cloud,
	// the private address on its own network); default pool.central_manager.
	CentralManager string `yaml:"central_manager,omitempty"`
	// HAPeer is the address this cloud's workers reach the other central
	// manager of an HA pair at; default pool.ha_peer. Required where
	// CentralManager is set and the pool has an HA peer.
	HAPeer string `yaml:"ha_peer,omitempty"`
	// PrivateNetwork is HTCondor's PRIVATE_NETWORK_NAME of the cloud's
	// workers: daemons with the same name connect directly, the others
	// through the broker. Default <cloud>.<region>[.<network>]; set it to
	// the central manager's own to have its network's workers claimed
	// directly.
	PrivateNetwork string `yaml:"private_network,omitempty"`
}

// FlavorExtra adds what the cloud's flavor does not say: GPUs and a cost used
// to choose the cheapest fit (default: vcpus + ram_gb/4).
type FlavorExtra struct {
	GPUs int     `yaml:"gpus,omitempty"`
	Cost float64 `yaml:"cost,omitempty"`
}

// RegionConfig overrides a cloud's image, network or key pair in one region,
// since images and networks usually have different ids per region.
type RegionConfig struct {
	Image          string `yaml:"image,omitempty"`
	Network        string `yaml:"network,omitempty"`
	KeyPair        string `yaml:"key_pair,omitempty"`
	CentralManager string `yaml:"central_manager,omitempty"`
	HAPeer         string `yaml:"ha_peer,omitempty"`
	PrivateNetwork string `yaml:"private_network,omitempty"`
}

// IsEnabled reports whether the entry is switched on (the default).
func (c Config) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// InRegion returns the entry's image, network, key pair, central manager
// address and private network name for one region, with that region's
// overrides applied. CentralManager stays empty unless set (the pool's
// applies); PrivateNetwork defaults to DefaultPrivateNetwork.
func (c Config) InRegion(region string) RegionConfig {
	v := RegionConfig{Image: c.Image, Network: c.Network, KeyPair: c.KeyPair, CentralManager: c.CentralManager, HAPeer: c.HAPeer, PrivateNetwork: c.PrivateNetwork}
	if o, ok := c.RegionOverrides[region]; ok {
		if o.CentralManager != "" {
			v.CentralManager = o.CentralManager
		}
		if o.HAPeer != "" {
			v.HAPeer = o.HAPeer
		}
		if o.PrivateNetwork != "" {
			v.PrivateNetwork = o.PrivateNetwork
		}
		if o.Image != "" {
			v.Image = o.Image
		}
		if o.Network != "" {
			v.Network = o.Network
		}
		if o.KeyPair != "" {
			v.KeyPair = o.KeyPair
		}
	}
	if v.PrivateNetwork == "" {
		v.PrivateNetwork = DefaultPrivateNetwork(c.Name, region, v.Network)
	}
	return v
}

// DefaultPrivateNetwork names a tenant network for HTCondor's
// PRIVATE_NETWORK_NAME: <cloud>.<region>[.<network>], every character
// outside letters, digits, '.', '_' and '-' made '_'. Networks are per
// region, so the same network name in two regions is two networks.
func DefaultPrivateNetwork(cloud, region, network string) string {
	parts := []string{cloud, region}
	if network != "" {
		parts = append(parts, network)
	}
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-' {
			return r
		}
		return '_'
	}, strings.Join(parts, "."))
}
