package localcloud

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"gopkg.in/yaml.v3"
)

// CloudSpec is one Keystone project with its user and the regions its
// catalog lists. Regions must be unique across clouds.
type CloudSpec struct {
	Name                     string   // the clouds.yaml entry name, also project and user name
	Password                 string   // password of user Name
	AppCredID, AppCredSecret string   // an application credential of that user ("" = none)
	Regions                  []string // the first one is the entry's region_name
	// UseAppCred makes WriteCloudsYAML use the application credential.
	UseAppCred bool
}

// Options configure a Server. Zero values give a useful default.
type Options struct {
	Addr      string                           // listen address; default 127.0.0.1:0. Must be a loopback address.
	Clouds    []CloudSpec                      // default DefaultClouds()
	TokenTTL  time.Duration                    // default 1h
	BootDelay time.Duration                    // BUILD → ACTIVE; default 200ms; per region override in Faults
	PageSize  int                              // Nova's osapi_max_limit; default 1000
	Quota     Quota                            // default per region quota; zero value: DefaultQuota
	Runner    VMRunner                         // nil: servers only pretend to run
	Logf      func(format string, args ...any) // nil: silent
	// Listen opens the listener on Addr; nil is net.Listen. A test host's
	// Listen (integration/netns) serves the API on that host's own loopback,
	// for a provisioner running there.
	Listen func(network, address string) (net.Listener, error)
}

// Quota is a region's absolute compute limits; -1 means unlimited.
type Quota struct {
	Instances int `json:"instances"`
	Cores     int `json:"cores"`
	RAMMB     int `json:"ram_mb"`
}

// DefaultQuota is what each region allows unless told otherwise.
var DefaultQuota = Quota{Instances: 20, Cores: 40, RAMMB: 81920}

// DefaultClouds are two clouds with three regions between them: "alpha"
// (password auth, RegionOne and RegionTwo) and "beta" (application
// credential, RegionThree).
func DefaultClouds() []CloudSpec {
	return []CloudSpec{
		{Name: "alpha", Password: "alpha-secret", AppCredID: "alpha-appcred", AppCredSecret: "alpha-appcred-secret", Regions: []string{"RegionOne", "RegionTwo"}},
		{Name: "beta", Password: "beta-secret", AppCredID: "beta-appcred", AppCredSecret: "beta-appcred-secret", Regions: []string{"RegionThree"}, UseAppCred: true},
	}
}

// Server is a running local OpenStack API.
type Server struct {
	opts     Options
	ln       net.Listener
	http     *http.Server
	url      string
	mu       sync.Mutex
	clouds   map[string]*cloudState // by name
	regions  map[string]*region     // by name
	tokens   map[string]*token
	authFail bool
	requests map[string]int // by route pattern
	seq      int
	wg       sync.WaitGroup // runner goroutines
	closed   bool
	baseCtx  context.Context
	cancel   context.CancelFunc
}

type cloudState struct {
	spec      CloudSpec
	projectID string
	userID    string
}

type token struct {
	id      string
	cloud   *cloudState
	expires time.Time
	methods []string
}

// Start listens and serves until Close. It returns once the listener is up.
func Start(opts Options) (*Server, error) {
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen address %q: %w", opts.Addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("listen address %q: only loopback addresses are allowed", opts.Addr)
	}
	if len(opts.Clouds) == 0 {
		opts.Clouds = DefaultClouds()
	}
	if opts.TokenTTL == 0 {
		opts.TokenTTL = time.Hour
	}
	if opts.BootDelay == 0 {
		opts.BootDelay = 200 * time.Millisecond
	}
	if opts.PageSize <= 0 {
		opts.PageSize = 1000
	}
	if opts.Quota == (Quota{}) {
		opts.Quota = DefaultQuota
	}
	s := &Server{
		opts:     opts,
		clouds:   map[string]*cloudState{},
		regions:  map[string]*region{},
		tokens:   map[string]*token{},
		requests: map[string]int{},
	}
	s.baseCtx, s.cancel = context.WithCancel(context.Background())
	for _, c := range opts.Clouds {
		if c.Name == "" || len(c.Regions) == 0 {
			return nil, fmt.Errorf("cloud %q: needs a name and at least one region", c.Name)
		}
		if _, dup := s.clouds[c.Name]; dup {
			return nil, fmt.Errorf("cloud %q defined twice", c.Name)
		}
		cs := &cloudState{spec: c, projectID: newID(), userID: newID()}
		s.clouds[c.Name] = cs
		for _, r := range c.Regions {
			if _, dup := s.regions[r]; dup {
				return nil, fmt.Errorf("region %q used by two clouds", r)
			}
			s.regions[r] = newRegion(r, cs, opts.Quota)
		}
	}
	listen := opts.Listen
	if listen == nil {
		listen = net.Listen
	}
	ln, err := listen("tcp", opts.Addr)
	if err != nil {
		return nil, err
	}
	s.ln = ln
	s.url = "http://" + ln.Addr().String()
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 10 * time.Second}
	go s.http.Serve(ln)
	return s, nil
}

// URL is the server's base URL, e.g. http://127.0.0.1:34567.
func (s *Server) URL() string { return s.url }

// AuthURL is the Keystone v3 endpoint to put in clouds.yaml.
func (s *Server) AuthURL() string { return s.url + "/v3" }

// Close stops serving and stops every running VM.
func (s *Server) Close() error {
	s.mu.Lock()
	s.closed = true
	var stops []func(context.Context) error
	for _, rg := range s.regions {
		for _, vm := range rg.servers {
			if vm.timer != nil {
				vm.timer.Stop()
			}
			if vm.stop != nil {
				stops = append(stops, vm.stop)
				vm.stop = nil
			}
		}
	}
	s.mu.Unlock()
	// Requests are short; but Shutdown waits 5s for connections a client
	// opened and never used, so give it a moment and then close hard.
	sctx, scancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	err := s.http.Shutdown(sctx)
	scancel()
	if errors.Is(err, context.DeadlineExceeded) {
		err = s.http.Close()
	}
	s.cancel()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var errs []error
	for _, stop := range stops {
		errs = append(errs, stop(ctx))
	}
	s.wg.Wait()
	return errors.Join(append(errs, err)...)
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf(format, args...)
	}
}

// Regions lists the region names, sorted.
func (s *Server) Regions() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for r := range s.regions {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// CloudsYAML returns a clouds.yaml naming every cloud of this server.
func (s *Server) CloudsYAML() []byte {
	type auth struct {
		AuthURL           string `yaml:"auth_url"`
		Username          string `yaml:"username,omitempty"`
		Password          string `yaml:"password,omitempty"`
		ProjectName       string `yaml:"project_name,omitempty"`
		UserDomainName    string `yaml:"user_domain_name,omitempty"`
		ProjectDomainName string `yaml:"project_domain_name,omitempty"`
		AppCredID         string `yaml:"application_credential_id,omitempty"`
		AppCredSecret     string `yaml:"application_credential_secret,omitempty"`
	}
	type entry struct {
		AuthType           string   `yaml:"auth_type,omitempty"`
		Auth               auth     `yaml:"auth"`
		RegionName         string   `yaml:"region_name"`
		Regions            []string `yaml:"regions"`
		Interface          string   `yaml:"interface"`
		IdentityAPIVersion string   `yaml:"identity_api_version"`
		// FloatingIPSource "None" tells openstacksdk that the cloud has no
		// floating IPs (the local Neutron serves none), so its
		// create_server does not try to add one.
		FloatingIPSource string `yaml:"floating_ip_source"`
	}
	out := struct {
		Clouds map[string]entry `yaml:"clouds"`
	}{Clouds: map[string]entry{}}
	for _, c := range s.opts.Clouds {
		e := entry{RegionName: c.Regions[0], Regions: c.Regions, Interface: "public", IdentityAPIVersion: "3", FloatingIPSource: "None"}
		e.Auth.AuthURL = s.AuthURL()
		if c.UseAppCred && c.AppCredID != "" {
			e.AuthType = "v3applicationcredential"
			e.Auth.AppCredID, e.Auth.AppCredSecret = c.AppCredID, c.AppCredSecret
		} else {
			e.AuthType = "password"
			e.Auth.Username, e.Auth.Password = c.Name, c.Password
			e.Auth.ProjectName = c.Name
			e.Auth.UserDomainName, e.Auth.ProjectDomainName = "Default", "Default"
		}
		out.Clouds[c.Name] = e
	}
	b, err := yaml.Marshal(out)
	if err != nil {
		panic(err) // plain structs always marshal
	}
	return b
}

// WriteCloudsYAML writes CloudsYAML to path with mode 0600 (it holds
// passwords).
func (s *Server) WriteCloudsYAML(path string) error {
	return os.WriteFile(path, s.CloudsYAML(), 0o600)
}

func newID() string {
	var b [16]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	h := hex.EncodeToString(b[:])
	return strings.Join([]string{h[0:8], h[8:12], h[12:16], h[16:20], h[20:32]}, "-")
}

func newToken() string {
	var b [24]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		panic(err)
	}
	return "gAAAA" + hex.EncodeToString(b[:])
}
