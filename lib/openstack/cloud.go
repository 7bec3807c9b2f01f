package openstack

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/gophercloud/gophercloud/v2"
	gcos "github.com/gophercloud/gophercloud/v2/openstack"
	tokens3 "github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/utils/v2/openstack/clientconfig"
	"gopkg.in/yaml.v3"
)

// EnvVars is the cloud name that means "the OS_* environment variables"
// rather than a clouds.yaml entry.
const EnvVars = "envvars"

// ComputeMicroversion is the Nova microversion ehos speaks: 2.47 embeds the
// flavor (with its name) in server details, and networks "none"/"auto"
// (2.37) are available. Zed's Nova supports up to 2.93.
const ComputeMicroversion = "2.47"

// Options tune how clouds are opened. The zero value finds clouds.yaml
// the usual way.
type Options struct {
	// CloudsFile is a clouds.yaml to read instead of searching
	// OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/clouds.yaml
	// and /etc/openstack/clouds.yaml.
	CloudsFile string
	// Timeout bounds each HTTP request; default 60s.
	Timeout time.Duration
	// HTTPClient replaces the default client (its Timeout is left alone).
	HTTPClient *http.Client
	// ComputeMicroversion overrides ComputeMicroversion for clouds older
	// than Pike. Below 2.47 flavor names come from one cached flavor
	// listing; below 2.37 Network "" and "auto" omit networks and "none"
	// is refused.
	ComputeMicroversion string
	// OnReauth, if set, is called after each re-authentication gophercloud
	// makes when a call meets an expired token (HTTP 401), with the cloud's
	// name and the outcome (nil: a new token). It must not block; it is for
	// logging that renewal happened.
	OnReauth func(cloud string, err error)
}

// Entry is what a clouds.yaml entry (or the environment) says, without
// contacting the cloud.
type Entry struct {
	Name       string   // the entry's name, or EnvVars
	AuthURL    string   // Keystone endpoint
	AuthType   string   // password, v3applicationcredential, token, ...
	RegionName string   // the entry's region_name (OS_REGION_NAME for envvars)
	Regions    []string // the entry's regions list, if any
	Interface  string   // endpoint interface: public (default), internal, admin
}

// LookupEntry reads the clouds.yaml entry name (or the environment for
// EnvVars) without any network traffic. A missing entry is an error naming it.
func LookupEntry(name string, opts Options) (Entry, error) {
	e, _, err := lookup(name, opts)
	return e, err
}

func lookup(name string, opts Options) (Entry, *clientconfig.Cloud, error) {
	if name == EnvVars {
		return Entry{Name: name, AuthURL: os.Getenv("OS_AUTH_URL"), AuthType: os.Getenv("OS_AUTH_TYPE"),
			RegionName: os.Getenv("OS_REGION_NAME"), Interface: os.Getenv("OS_INTERFACE")}, &clientconfig.Cloud{}, nil
	}
	c, err := clientconfig.GetCloudFromYAML(clientOpts(name, opts))
	if err != nil {
		return Entry{}, nil, fmt.Errorf("cloud %q: %w", name, err)
	}
	if c == nil { // no name and not exactly one entry
		return Entry{}, nil, fmt.Errorf("cloud %q: not found in clouds.yaml", name)
	}
	e := Entry{Name: name, AuthType: string(c.AuthType), RegionName: c.RegionName, Interface: c.EndpointType}
	if e.Interface == "" {
		e.Interface = c.Interface
	}
	if e.Interface == "" {
		e.Interface = os.Getenv("OS_INTERFACE")
	}
	if c.AuthInfo != nil {
		e.AuthURL = c.AuthInfo.AuthURL
	}
	for _, r := range c.Regions {
		e.Regions = append(e.Regions, r.Name)
	}
	return e, c, nil
}

// CloudsFile reads clouds.yaml from one given path (clientconfig's
// YAMLOpts), instead of clientconfig's search of the usual places.
type CloudsFile struct{ Path string }

// LoadCloudsYAML reads the file; one without a clouds: entry is an error
// naming it.
func (f CloudsFile) LoadCloudsYAML() (map[string]clientconfig.Cloud, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, err
	}
	var c clientconfig.Clouds
	if err := yaml.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	if c.Clouds == nil {
		return nil, errors.New(f.Path + ": no clouds")
	}
	return c.Clouds, nil
}

// LoadSecureCloudsYAML: no secure.yaml beside the one file.
func (CloudsFile) LoadSecureCloudsYAML() (map[string]clientconfig.Cloud, error) { return nil, nil }

// LoadPublicCloudsYAML: no clouds-public.yaml beside the one file.
func (CloudsFile) LoadPublicCloudsYAML() (map[string]clientconfig.Cloud, error) { return nil, nil }

func clientOpts(name string, opts Options) *clientconfig.ClientOpts {
	co := &clientconfig.ClientOpts{}
	if name != EnvVars {
		co.Cloud = name
	}
	if opts.CloudsFile != "" {
		co.YAMLOpts = CloudsFile{opts.CloudsFile}
	}
	return co
}

// Cloud is one authenticated clouds.yaml entry with service clients for
// each of its regions. It is safe for concurrent use.
type Cloud struct {
	name         string
	provider     *gophercloud.ProviderClient
	regions      []string // the regions ehos uses, checked against the catalog
	catalog      []string // every region with a compute endpoint
	iface        gophercloud.Availability
	microversion string

	mu      sync.Mutex
	clients map[string]*regionClients
	cache   map[string]cached // resolved images and networks, by kind/region/name
}

// cached is a resolved name. Creates resolve their image and network each
// time; caching them for a minute keeps a burst of creates to one call each.
type cached struct {
	v  any
	at time.Time
}

const resolveCacheTTL = time.Minute

func (c *Cloud) cacheGet(key string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.cache[key]
	if !ok || time.Since(e.at) > resolveCacheTTL {
		return nil, false
	}
	return e.v, true
}

func (c *Cloud) cachePut(key string, v any) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cache[key] = cached{v: v, at: time.Now()}
}

type regionClients struct {
	compute, image, network *gophercloud.ServiceClient
	flavors                 []cloud.Flavor
	flavorsAt               time.Time
	faults                  map[string]*faultMemo // ERROR servers' faults, by server id
}

// faultMemo is what GET servers/{id} told about an ERROR server's fault.
type faultMemo struct {
	msg   string
	tries int
}

const flavorCacheTTL = 10 * time.Minute

// Open authenticates to the clouds.yaml entry cfg.Name (or the OS_*
// environment for "envvars") and checks cfg.Regions (default: the entry's
// region_name) against the Keystone catalog. Errors name the cloud and the
// missing region. Authentication errors are classified (*cloud.APIError).
func Open(ctx context.Context, cfg cloud.Config, opts Options) (*Cloud, error) {
	entry, yc, err := lookup(cfg.Name, opts)
	if err != nil {
		return nil, err
	}
	co := clientOpts(cfg.Name, opts)
	ao, err := clientconfig.AuthOptions(co)
	if err != nil {
		return nil, fmt.Errorf("cloud %q: %w", cfg.Name, err)
	}
	// A token can be re-used but not renewed; anything else is kept so
	// that gophercloud re-authenticates once on a 401.
	ao.AllowReauth = ao.TokenID == ""
	pc, err := gcos.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("cloud %q: auth_url %q: %w", cfg.Name, ao.IdentityEndpoint, err)
	}
	if opts.HTTPClient != nil {
		pc.HTTPClient = *opts.HTTPClient
	} else {
		t := opts.Timeout
		if t == 0 {
			t = 60 * time.Second
		}
		// cacert, cert/key and verify from the entry (or OS_CACERT, ...).
		tlsConfig, err := clientconfig.PrepareTLSConfig("OS_", yc)
		if err != nil {
			return nil, fmt.Errorf("cloud %q: TLS settings: %w", cfg.Name, err)
		}
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = tlsConfig
		pc.HTTPClient = http.Client{Timeout: t, Transport: tr}
	}
	loc := cloud.Location{Cloud: cfg.Name, Region: "keystone"}
	if err := gcos.Authenticate(ctx, pc, *ao); err != nil {
		return nil, classify("authenticate", loc, err)
	}
	if re := pc.ReauthFunc; re != nil && opts.OnReauth != nil {
		pc.ReauthFunc = func(ctx context.Context) error {
			err := re(ctx)
			opts.OnReauth(cfg.Name, err)
			return err
		}
	}
	mv := opts.ComputeMicroversion
	if mv == "" {
		mv = ComputeMicroversion
	}
	c := &Cloud{name: cfg.Name, provider: pc, clients: map[string]*regionClients{}, microversion: mv,
		iface: clientconfig.GetEndpointType(entry.Interface), cache: map[string]cached{}}
	c.catalog, err = catalogRegions(pc)
	if err != nil {
		return nil, classify("read service catalog", loc, err)
	}
	want := cfg.Regions
	if len(want) == 0 {
		if entry.RegionName == "" {
			if len(c.catalog) != 1 {
				return nil, fmt.Errorf("cloud %q: no regions configured and no region_name in its clouds.yaml entry (the catalog has %s)", cfg.Name, strings.Join(c.catalog, ", "))
			}
			want = c.catalog
		} else {
			want = []string{entry.RegionName}
		}
	}
	var missing []string
	for _, r := range want {
		if !slices.Contains(c.catalog, r) {
			missing = append(missing, fmt.Sprintf("%q", r))
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("cloud %q: region %s not in its catalog (it has %s)", cfg.Name, strings.Join(missing, ", "), strings.Join(c.catalog, ", "))
	}
	c.regions = want
	return c, nil
}

// OpenAll opens every enabled entry of cfgs. It returns the clouds that
// opened and every failure joined, each naming its cloud.
func OpenAll(ctx context.Context, cfgs []cloud.Config, opts Options) ([]*Cloud, error) {
	var out []*Cloud
	var errs []error
	for _, cfg := range cfgs {
		if !cfg.IsEnabled() {
			continue
		}
		c, err := Open(ctx, cfg, opts)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, c)
	}
	return out, errors.Join(errs...)
}

func catalogRegions(pc *gophercloud.ProviderClient) ([]string, error) {
	res, ok := pc.GetAuthResult().(tokens3.CreateResult)
	if !ok {
		return nil, fmt.Errorf("not a Keystone v3 token (%T)", pc.GetAuthResult())
	}
	cat, err := res.ExtractServiceCatalog()
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range cat.Entries {
		if e.Type != "compute" {
			continue
		}
		for _, ep := range e.Endpoints {
			r := ep.Region
			if r == "" {
				r = ep.RegionID
			}
			seen[r] = true
		}
	}
	var out []string
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out, nil
}

// atLeast reports whether the compute microversion is at least 2.minor.
func (c *Cloud) atLeast(minor int) bool {
	var maj, min int
	fmt.Sscanf(c.microversion, "%d.%d", &maj, &min)
	return maj > 2 || (maj == 2 && min >= minor)
}

// Name is the cloud's name as in ehos.yaml (the clouds.yaml entry).
func (c *Cloud) Name() string { return c.name }

// Regions are the regions ehos uses in this cloud.
func (c *Cloud) Regions() []string { return slices.Clone(c.regions) }

// CatalogRegions are all regions with a compute endpoint.
func (c *Cloud) CatalogRegions() []string { return slices.Clone(c.catalog) }

func (c *Cloud) loc(region string) cloud.Location {
	return cloud.Location{Cloud: c.name, Region: region}
}

// region returns (creating once) the service clients of a region.
func (c *Cloud) region(region string) (*regionClients, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if rc, ok := c.clients[region]; ok {
		return rc, nil
	}
	if !slices.Contains(c.catalog, region) {
		return nil, &cloud.APIError{Class: cloud.ErrNotFound, Op: "find region", Location: c.loc(region),
			Message: fmt.Sprintf("region %q is not in the catalog of cloud %q", region, c.name)}
	}
	eo := gophercloud.EndpointOpts{Region: region, Availability: c.iface}
	compute, err := gcos.NewComputeV2(c.provider, eo)
	if err != nil {
		return nil, classify("find compute endpoint", c.loc(region), err)
	}
	compute.Microversion = c.microversion
	rc := &regionClients{compute: compute}
	c.clients[region] = rc
	return rc, nil
}

// imageClient and networkClient are made on first use: gophercloud asks an
// unversioned endpoint for its versions, a request that can fail.
func (c *Cloud) imageClient(ctx context.Context, region string) (*gophercloud.ServiceClient, error) {
	return c.lazyClient(ctx, region, "image", func(rc *regionClients) **gophercloud.ServiceClient { return &rc.image }, gcos.NewImageV2)
}

func (c *Cloud) networkClient(ctx context.Context, region string) (*gophercloud.ServiceClient, error) {
	return c.lazyClient(ctx, region, "network", func(rc *regionClients) **gophercloud.ServiceClient { return &rc.network }, gcos.NewNetworkV2)
}

func (c *Cloud) lazyClient(ctx context.Context, region, service string, field func(*regionClients) **gophercloud.ServiceClient,
	mk func(*gophercloud.ProviderClient, gophercloud.EndpointOpts) (*gophercloud.ServiceClient, error)) (*gophercloud.ServiceClient, error) {
	rc, err := c.region(region)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	sc := *field(rc)
	c.mu.Unlock()
	if sc != nil {
		return sc, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, classify("find "+service+" endpoint", c.loc(region), err)
	}
	sc, err = mk(c.provider, gophercloud.EndpointOpts{Region: region, Availability: c.iface})
	if err != nil {
		return nil, classify("find "+service+" endpoint", c.loc(region), err)
	}
	c.mu.Lock()
	*field(rc) = sc
	c.mu.Unlock()
	return sc, nil
}
