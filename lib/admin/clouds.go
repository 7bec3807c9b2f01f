package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/openstack"
)

// Port is what a node must accept.
type Port struct {
	Proto string
	Port  int
	Nodes bool // from the other nodes (the group itself or a CIDR); else from admins (any source)
}

func (p Port) String() string { return fmt.Sprintf("%d/%s", p.Port, p.Proto) }

// regionView is what is configured for one region (overrides applied).
type regionView struct {
	image, network, keyPair string
}

func view(c cloud.Config, region string) regionView {
	r := c.InRegion(region)
	return regionView{image: r.Image, network: r.Network, keyPair: r.KeyPair}
}

// securityGroups are the groups a worker gets ("default" when none is named).
func securityGroups(c cloud.Config) []string {
	if len(c.SecurityGroups) == 0 {
		return []string{"default"}
	}
	return c.SecurityGroups
}

// CheckClouds opens every enabled cloud and checks each region for the
// network n, and the central manager's security group if n names it.
func CheckClouds(ctx context.Context, cfgs []cloud.Config, n Net, opts openstack.Options) Findings {
	// Each cloud at once: one that does not answer must not hold up the
	// others' results until its timeout, one after another.
	per := make([]Findings, len(cfgs))
	var wg sync.WaitGroup
	for i, cfg := range cfgs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			per[i] = checkCloud(ctx, cfg, n, opts)
		}()
	}
	wg.Wait()
	var fs Findings
	for _, f := range per {
		fs = append(fs, f...)
	}
	if n.MasterGroup != "" && n.Master != nil {
		fs = append(fs, checkMasterGroup(ctx, cfgs, n, opts)...)
	}
	return fs
}

// checkMasterGroup reads the central manager's security group and checks
// it against the workers' topologies.
func checkMasterGroup(ctx context.Context, cfgs []cloud.Config, n Net, opts openstack.Options) Findings {
	var fs Findings
	var behind []string
	for _, cfg := range cfgs {
		if !cfg.IsEnabled() {
			continue
		}
		for _, r := range cfg.Regions {
			if !TopologyOf(n, cfg, r).Direct() {
				behind = append(behind, cfg.Name+"/"+r)
			}
		}
	}
	c, err := openstack.Open(ctx, *n.Master, opts)
	if err != nil {
		fs.fail(n.Master.Name+" (central manager)", authFix(err), "authentication: %v", err)
		return fs
	}
	region := n.MasterRegion
	if region == "" && len(c.Regions()) > 0 {
		region = c.Regions()[0]
	}
	where := n.Master.Name + "/" + region + " (central manager)"
	rules, err := c.SecurityGroupRules(ctx, region, n.MasterGroup)
	if err != nil {
		fs.fail(where, "fix --master-group (openstack security group list)", "security group %q: %v", n.MasterGroup, err)
		return fs
	}
	return masterGroupFindings(where, n.MasterGroup, rules, behind)
}

func checkCloud(ctx context.Context, cfg cloud.Config, n Net, opts openstack.Options) Findings {
	var fs Findings
	if !cfg.IsEnabled() {
		fs.add(Skip, cfg.Name, "disabled in ehos.yaml", "")
		return fs
	}
	c, err := openstack.Open(ctx, cfg, opts)
	if err != nil {
		fs.fail(cfg.Name, authFix(err), "authentication: %v", err)
		return fs
	}
	fs.ok(cfg.Name, "authenticated; regions %s", strings.Join(c.Regions(), ", "))
	for _, r := range c.Regions() {
		fs = append(fs, CheckRegion(ctx, c, cfg, r, TopologyOf(n, cfg, r))...)
	}
	return fs
}

func authFix(err error) string {
	switch {
	case errors.Is(err, cloud.ErrAuth):
		return "check the credentials of the entry in clouds.yaml (openstack --os-cloud NAME token issue)"
	case errors.Is(err, cloud.ErrTransient):
		return "the endpoint did not answer: check auth_url and the network, then retry"
	case strings.Contains(err.Error(), "region"):
		return "fix clouds[].regions in ehos.yaml to regions of the catalog"
	}
	return "check the clouds.yaml entry"
}

// CheckRegion checks image, flavors, network, key pair, security groups
// (for the workers' topology t) and quota in one region of an opened cloud.
func CheckRegion(ctx context.Context, c *openstack.Cloud, cfg cloud.Config, region string, t Topology) Findings {
	var fs Findings
	where := cfg.Name + "/" + region
	v := view(cfg, region)

	if img, err := c.ResolveImage(ctx, region, v.image); err != nil {
		fs.fail(where, fmt.Sprintf("build one with `ehos image build --cloud %s --region %s --source-image STOCK-IMAGE` or set clouds[].image (region_overrides.%s.image)", cfg.Name, region, region), "image %q: %v", v.image, err)
	} else if img.Status != "active" {
		fs.fail(where, "wait for the image or pick another", "image %q (%s) is %s", v.image, img.ID, img.Status)
	} else {
		fs.ok(where, "image %q → %s", v.image, img.ID)
	}

	var biggest, smallest cloud.Flavor
	for _, f := range cfg.Flavors {
		fl, err := c.ResolveFlavor(ctx, region, f)
		if err != nil {
			fs.fail(where, "list flavors with `openstack flavor list` and fix clouds[].flavors", "flavor %q: %v", f, err)
			continue
		}
		fs.ok(where, "flavor %q: %d vcpu, %d MB", f, fl.VCPUs, fl.RAMMB)
		if fl.VCPUs > biggest.VCPUs || (fl.VCPUs == biggest.VCPUs && fl.RAMMB > biggest.RAMMB) {
			biggest = fl
		}
		if smallest.Name == "" || fl.VCPUs < smallest.VCPUs {
			smallest = fl
		}
	}

	if v.network != "" && v.network != "none" {
		if n, err := c.ResolveNetwork(ctx, region, v.network); err != nil {
			fs.fail(where, "fix clouds[].network (openstack network list)", "network %q: %v", v.network, err)
		} else {
			fs.ok(where, "network %q → %s", v.network, n.ID)
		}
	}

	if v.keyPair != "" {
		if err := c.KeyPairExists(ctx, region, v.keyPair); err != nil {
			fix := "check the key pair name"
			if errors.Is(err, cloud.ErrNotFound) {
				fix = fmt.Sprintf("`ehos clouds setup --public-key ~/.ssh/id_rsa.pub` uploads it (or openstack keypair create --public-key FILE %s)", v.keyPair)
			}
			fs.fail(where, fix, "key pair %q: %v", v.keyPair, err)
		} else {
			fs.ok(where, "key pair %q", v.keyPair)
		}
	}

	fs = append(fs, addressFindings(where, t)...)
	fs = append(fs, checkGroups(ctx, c, cfg, region, t)...)

	if lim, err := c.Limits(ctx, region); err != nil {
		fs.fail(where, "retry; ask the cloud's admins if it persists", "quota: %v", err)
	} else if biggest.Name != "" {
		n, binding := lim.Headroom(biggest)
		switch {
		case n < 0:
			fs.ok(where, "quota: unlimited")
		case n == 0:
			fs.fail(where, "free resources or ask for a larger quota", "quota: no room for one more %s (%s used up: %d/%d instances, %d/%d cores, %d/%d MB)", biggest.Name, binding,
				lim.UsedInstances, lim.MaxInstances, lim.UsedCores, lim.MaxCores, lim.UsedRAMMB, lim.MaxRAMMB)
		default:
			fs.ok(where, "quota: room for %d more %s (bound by %s)", n, biggest.Name, binding)
		}
		// Cheapest fit puts a 1-cpu job on the smallest flavor: when the
		// instances quota runs out long before the cores quota, small VMs
		// use up the instances and larger jobs wait (lib/sim, steady trace,
		// 15 instances per region: 233 s mean wait, 28 s with m1.large only).
		if lim.MaxInstances > 0 && biggest.VCPUs > smallest.VCPUs && smallest.VCPUs > 0 &&
			(lim.MaxCores < 0 || 2*lim.MaxInstances*smallest.VCPUs < lim.MaxCores) {
			cores := "unlimited"
			if lim.MaxCores >= 0 {
				cores = fmt.Sprint(lim.MaxCores)
			}
			fs.add(Warn, where, fmt.Sprintf("quota: %d instances of %s (%d vcpu) would use %d of %s cores: small jobs on the cheapest flavor can use up the instances while larger jobs wait",
				lim.MaxInstances, smallest.Name, smallest.VCPUs, lim.MaxInstances*smallest.VCPUs, cores),
				fmt.Sprintf("list only flavors that hold several jobs (e.g. %s) in clouds[].flavors, or give the small ones a higher flavor_overrides cost, or ask for more instances", biggest.Name))
		}
	}
	return fs
}

// groupRules reads the rules of the workers' security groups, and their
// ids.
func groupRules(ctx context.Context, c *openstack.Cloud, cfg cloud.Config, region string) ([]cloud.SecurityRule, map[string]string, error) {
	var all []cloud.SecurityRule
	ids := map[string]string{} // name → id
	for _, g := range securityGroups(cfg) {
		rules, err := c.SecurityGroupRules(ctx, region, g)
		if err != nil {
			return nil, nil, fmt.Errorf("security group %q: %w", g, err)
		}
		for _, r := range rules {
			ids[g] = r.GroupID
		}
		all = append(all, rules...)
	}
	return all, ids, nil
}

// ownIDs is the set of the groups' ids.
func ownIDs(ids map[string]string) map[string]bool {
	own := map[string]bool{}
	for _, id := range ids {
		own[id] = true
	}
	return own
}

func checkGroups(ctx context.Context, c *openstack.Cloud, cfg cloud.Config, region string, t Topology) Findings {
	where := cfg.Name + "/" + region
	rules, ids, err := groupRules(ctx, c, cfg, region)
	if err != nil {
		var fs Findings
		fs.fail(where, "create the group or fix clouds[].security_groups", "%v", err)
		return fs
	}
	return workerGroupFindings(where, securityGroups(cfg), ownIDs(ids), t, rules)
}

// Setup is what `ehos clouds setup` may create.
type Setup struct {
	PublicKey string // key pair to upload where clouds[].key_pair is missing; "" = do not
	AdminCIDR string // source of the SSH rule; "" = add no SSH rule
	DryRun    bool   // say what would be created, create nothing
}

// create runs f unless this is a dry run.
func (s Setup) create(f func() error) error {
	if s.DryRun {
		return nil
	}
	return f()
}

// SetupClouds creates the missing security group rules for each region's
// topology (in the first group of each cloud: 9618/tcp from the group
// itself only where the workers are claimed directly, none where they are
// brokered; 22 from AdminCIDR, none without it: SSH open to the world is
// no default) and uploads the key pair. It reports what it did and what it
// could not.
func SetupClouds(ctx context.Context, cfgs []cloud.Config, n Net, opts openstack.Options, s Setup) Findings {
	var fs Findings
	cidr := s.AdminCIDR
	for _, cfg := range cfgs {
		if !cfg.IsEnabled() {
			continue
		}
		c, err := openstack.Open(ctx, cfg, opts)
		if err != nil {
			fs.fail(cfg.Name, authFix(err), "authentication: %v", err)
			continue
		}
		for _, region := range c.Regions() {
			where := cfg.Name + "/" + region
			t := TopologyOf(n, cfg, region)
			fs.ok(where, "topology %s", t)
			rules, ids, err := groupRules(ctx, c, cfg, region)
			if err != nil {
				fs.fail(where, "create the group first (openstack security group create NAME) or fix clouds[].security_groups", "%v", err)
			}
			var missing []Port
			for _, p := range append(neededPorts(t), sshPort) {
				if err == nil && !allowed(p, ownIDs(ids), rules) {
					missing = append(missing, p)
				}
			}
			group := securityGroups(cfg)[0]
			for _, p := range missing {
				r := cloud.SecurityRule{Direction: "ingress", EtherType: "IPv4", Protocol: p.Proto, PortMin: p.Port, PortMax: p.Port}
				switch {
				case p.Nodes && ids[group] != "":
					r.RemoteGroupID = ids[group]
				case p.Nodes:
					fs.fail(where, "create the group first (openstack security group create NAME)", "security group %q has no id: %s not added", group, p)
					continue
				case cidr == "":
					fs.add(Warn, where, fmt.Sprintf("no rule added for %s: give --admin-cidr CIDR (your admins' network) to let SSH in", p), "ehos clouds setup --admin-cidr CIDR")
					continue
				default:
					r.RemoteIPPrefix = cidr
				}
				src := r.RemoteIPPrefix
				if src == "" {
					src = "the group itself"
				}
				switch err := s.create(func() error { return c.CreateSecurityGroupRule(ctx, region, group, r) }); {
				case err != nil:
					fs.fail(where, "add it by hand (openstack security group rule create)", "add %s to %q: %v", p, group, err)
				case s.DryRun:
					fs.ok(where, "would add ingress %s from %s to security group %q (--dry-run)", p, src, group)
				default:
					fs.ok(where, "added ingress %s from %s to security group %q", p, src, group)
				}
			}
			if err == nil && len(missing) == 0 {
				fs.ok(where, "security groups already allow what this topology needs")
			}
			kp := view(cfg, region).keyPair
			if kp == "" {
				continue
			}
			kerr := c.KeyPairExists(ctx, region, kp)
			switch {
			case kerr == nil:
				fs.ok(where, "key pair %q exists", kp)
			case !errors.Is(kerr, cloud.ErrNotFound):
				fs.fail(where, "retry", "key pair %q: %v", kp, kerr)
			case s.PublicKey == "":
				fs.fail(where, "give --public-key FILE", "key pair %q missing and no public key given", kp)
			default:
				switch err := s.create(func() error { return c.CreateKeyPair(ctx, region, kp, s.PublicKey) }); {
				case err != nil:
					fs.fail(where, "upload it by hand (openstack keypair create --public-key FILE NAME)", "upload key pair %q: %v", kp, err)
				case s.DryRun:
					fs.ok(where, "would upload key pair %q (--dry-run)", kp)
				default:
					fs.ok(where, "uploaded key pair %q", kp)
				}
			}
		}
	}
	return fs
}

// OverridesFor returns the cloud's image, network and key pair in region,
// region_overrides applied.
func OverridesFor(c cloud.Config, region string) cloud.RegionConfig {
	v := view(c, region)
	return cloud.RegionConfig{Image: v.image, Network: v.network, KeyPair: v.keyPair}
}
