package cloud

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
	Image   string `yaml:"image,omitempty"`
	Network string `yaml:"network,omitempty"`
	KeyPair string `yaml:"key_pair,omitempty"`
}

// IsEnabled reports whether the entry is switched on (the default).
func (c Config) IsEnabled() bool { return c.Enabled == nil || *c.Enabled }

// InRegion returns the entry's image, network and key pair for one region,
// with that region's overrides applied.
func (c Config) InRegion(region string) RegionConfig {
	v := RegionConfig{Image: c.Image, Network: c.Network, KeyPair: c.KeyPair}
	if o, ok := c.RegionOverrides[region]; ok {
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
	return v
}
