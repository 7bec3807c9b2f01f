package openstack

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/availabilityzones"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/limits"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

func notFound(op string, loc cloud.Location, format string, args ...any) error {
	return &cloud.APIError{Class: cloud.ErrNotFound, Op: op, Location: loc, Message: fmt.Sprintf(format, args...)}
}

// Flavors lists the region's flavors (cached for ten minutes).
func (c *Cloud) Flavors(ctx context.Context, region string) ([]cloud.Flavor, error) {
	rc, err := c.region(region)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if rc.flavors != nil && time.Since(rc.flavorsAt) < flavorCacheTTL {
		fl := rc.flavors
		c.mu.Unlock()
		return fl, nil
	}
	c.mu.Unlock()
	pages, err := flavors.ListDetail(rc.compute, flavors.ListOpts{}).AllPages(ctx)
	if err != nil {
		return nil, classify("list flavors", c.loc(region), err)
	}
	list, err := flavors.ExtractFlavors(pages)
	if err != nil {
		return nil, classify("list flavors", c.loc(region), err)
	}
	out := make([]cloud.Flavor, 0, len(list))
	for _, f := range list {
		out = append(out, cloud.Flavor{ID: f.ID, Name: f.Name, VCPUs: f.VCPUs, RAMMB: f.RAM, DiskGB: f.Disk})
	}
	c.mu.Lock()
	rc.flavors, rc.flavorsAt = out, time.Now()
	c.mu.Unlock()
	return out, nil
}

// ResolveFlavor finds a flavor by id, else by name.
func (c *Cloud) ResolveFlavor(ctx context.Context, region, nameOrID string) (cloud.Flavor, error) {
	list, err := c.Flavors(ctx, region)
	if err != nil {
		return cloud.Flavor{}, err
	}
	for _, f := range list {
		if f.ID == nameOrID {
			return f, nil
		}
	}
	for _, f := range list {
		if f.Name == nameOrID {
			return f, nil
		}
	}
	return cloud.Flavor{}, notFound("resolve flavor", c.loc(region), "no flavor named or with id %q", nameOrID)
}

// ResolveImage finds an image by id, else by name. Several images with one
// name are an error (fatal), since ehos would pick one at random. Answers
// are cached for a minute.
func (c *Cloud) ResolveImage(ctx context.Context, region, nameOrID string) (cloud.Image, error) {
	key := "image/" + region + "/" + nameOrID
	if v, ok := c.cacheGet(key); ok {
		return v.(cloud.Image), nil
	}
	img, err := c.resolveImage(ctx, region, nameOrID)
	if err == nil {
		c.cachePut(key, img)
	}
	return img, err
}

func (c *Cloud) resolveImage(ctx context.Context, region, nameOrID string) (cloud.Image, error) {
	const op = "resolve image"
	ic, err := c.imageClient(ctx, region)
	if err != nil {
		return cloud.Image{}, err
	}
	if uuidRE.MatchString(nameOrID) {
		img, err := images.Get(ctx, ic, nameOrID).Extract()
		if err == nil {
			return cloud.Image{ID: img.ID, Name: img.Name, Status: string(img.Status)}, nil
		}
		if !gophercloud.ResponseCodeIs(err, 404) {
			return cloud.Image{}, classify(op, c.loc(region), err)
		}
	}
	pages, err := images.List(ic, images.ListOpts{Name: nameOrID}).AllPages(ctx)
	if err != nil {
		return cloud.Image{}, classify(op, c.loc(region), err)
	}
	list, err := images.ExtractImages(pages)
	if err != nil {
		return cloud.Image{}, classify(op, c.loc(region), err)
	}
	switch len(list) {
	case 0:
		return cloud.Image{}, notFound(op, c.loc(region), "no image named or with id %q", nameOrID)
	case 1:
		return cloud.Image{ID: list[0].ID, Name: list[0].Name, Status: string(list[0].Status)}, nil
	}
	return cloud.Image{}, &cloud.APIError{Class: cloud.ErrFatal, Op: op, Location: c.loc(region),
		Message: fmt.Sprintf("%d images are named %q: give the id", len(list), nameOrID)}
}

// WaitImage polls an image every poll until it is active, failed (killed,
// deleted: fatal) or ctx ends.
func (c *Cloud) WaitImage(ctx context.Context, region, id string, poll time.Duration) (cloud.Image, error) {
	ic, err := c.imageClient(ctx, region)
	if err != nil {
		return cloud.Image{}, err
	}
	for {
		img, err := images.Get(ctx, ic, id).Extract()
		if err != nil {
			return cloud.Image{}, classify("wait for image "+id, c.loc(region), err)
		}
		ci := cloud.Image{ID: img.ID, Name: img.Name, Status: string(img.Status)}
		switch img.Status {
		case images.ImageStatusActive:
			return ci, nil
		case images.ImageStatusKilled, images.ImageStatusDeleted, images.ImageStatusPendingDelete, images.ImageStatusDeactivated:
			return ci, &cloud.APIError{Class: cloud.ErrFatal, Op: "wait for image " + id, Location: c.loc(region), Message: "image is " + string(img.Status)}
		}
		select {
		case <-ctx.Done():
			return ci, classify("wait for image "+id, c.loc(region), ctx.Err())
		case <-time.After(poll):
		}
	}
}

// Limits reads Nova's absolute limits of the region.
func (c *Cloud) Limits(ctx context.Context, region string) (cloud.Limits, error) {
	rc, err := c.region(region)
	if err != nil {
		return cloud.Limits{}, err
	}
	l, err := limits.Get(ctx, rc.compute, nil).Extract()
	if err != nil {
		return cloud.Limits{}, classify("read limits", c.loc(region), err)
	}
	a := l.Absolute
	return cloud.Limits{
		MaxInstances: a.MaxTotalInstances, UsedInstances: a.TotalInstancesUsed,
		MaxCores: a.MaxTotalCores, UsedCores: a.TotalCoresUsed,
		MaxRAMMB: a.MaxTotalRAMSize, UsedRAMMB: a.TotalRAMUsed,
	}, nil
}

// ResolveNetwork finds a network by id, else by name. Answers are cached
// for a minute.
func (c *Cloud) ResolveNetwork(ctx context.Context, region, nameOrID string) (cloud.Network, error) {
	key := "network/" + region + "/" + nameOrID
	if v, ok := c.cacheGet(key); ok {
		return v.(cloud.Network), nil
	}
	n, err := c.resolveNetwork(ctx, region, nameOrID)
	if err == nil {
		c.cachePut(key, n)
	}
	return n, err
}

func (c *Cloud) resolveNetwork(ctx context.Context, region, nameOrID string) (cloud.Network, error) {
	const op = "resolve network"
	nc, err := c.networkClient(ctx, region)
	if err != nil {
		return cloud.Network{}, err
	}
	for _, o := range []networks.ListOpts{{ID: nameOrID}, {Name: nameOrID}} {
		pages, err := networks.List(nc, o).AllPages(ctx)
		if err != nil {
			return cloud.Network{}, classify(op, c.loc(region), err)
		}
		list, err := networks.ExtractNetworks(pages)
		if err != nil {
			return cloud.Network{}, classify(op, c.loc(region), err)
		}
		switch len(list) {
		case 0:
			continue
		case 1:
			return cloud.Network{ID: list[0].ID, Name: list[0].Name, Status: list[0].Status}, nil
		default:
			return cloud.Network{}, &cloud.APIError{Class: cloud.ErrFatal, Op: op, Location: c.loc(region),
				Message: fmt.Sprintf("%d networks are named %q: give the id", len(list), nameOrID)}
		}
	}
	return cloud.Network{}, notFound(op, c.loc(region), "no network named or with id %q", nameOrID)
}

// KeyPairExists checks that the key pair exists for the cloud's user:
// nil if it does, a cloud.ErrNotFound error if not.
func (c *Cloud) KeyPairExists(ctx context.Context, region, name string) error {
	rc, err := c.region(region)
	if err != nil {
		return err
	}
	_, err = keypairs.Get(ctx, rc.compute, name, nil).Extract()
	return classify(fmt.Sprintf("find key pair %q", name), c.loc(region), err)
}

// SecurityGroupRules returns the rules of the security group named (or
// with id) nameOrID.
func (c *Cloud) SecurityGroupRules(ctx context.Context, region, nameOrID string) ([]cloud.SecurityRule, error) {
	op := fmt.Sprintf("read security group %q", nameOrID)
	nc, err := c.networkClient(ctx, region)
	if err != nil {
		return nil, err
	}
	var found []groups.SecGroup
	for _, o := range []groups.ListOpts{{ID: nameOrID}, {Name: nameOrID}} {
		pages, err := groups.List(nc, o).AllPages(ctx)
		if err != nil {
			return nil, classify(op, c.loc(region), err)
		}
		if found, err = groups.ExtractGroups(pages); err != nil {
			return nil, classify(op, c.loc(region), err)
		}
		if len(found) > 0 {
			break
		}
	}
	switch {
	case len(found) == 0:
		return nil, notFound(op, c.loc(region), "no security group named or with id %q", nameOrID)
	case len(found) > 1:
		return nil, &cloud.APIError{Class: cloud.ErrFatal, Op: op, Location: c.loc(region),
			Message: fmt.Sprintf("%d security groups are named %q: give the id", len(found), nameOrID)}
	}
	g := found[0]
	list := g.Rules
	if len(list) == 0 { // some clouds leave rules out of the group listing
		pages, err := rules.List(nc, rules.ListOpts{SecGroupID: g.ID}).AllPages(ctx)
		if err != nil {
			return nil, classify(op, c.loc(region), err)
		}
		if list, err = rules.ExtractRules(pages); err != nil {
			return nil, classify(op, c.loc(region), err)
		}
	}
	out := make([]cloud.SecurityRule, 0, len(list))
	for _, r := range list {
		out = append(out, cloud.SecurityRule{Group: g.Name, GroupID: g.ID, Direction: r.Direction, EtherType: r.EtherType,
			Protocol: r.Protocol, PortMin: r.PortRangeMin, PortMax: r.PortRangeMax,
			RemoteIPPrefix: r.RemoteIPPrefix, RemoteGroupID: r.RemoteGroupID})
	}
	return out, nil
}

// AvailabilityZones lists the region's available compute zones.
func (c *Cloud) AvailabilityZones(ctx context.Context, region string) ([]string, error) {
	rc, err := c.region(region)
	if err != nil {
		return nil, err
	}
	pages, err := availabilityzones.List(rc.compute).AllPages(ctx)
	if err != nil {
		return nil, classify("list availability zones", c.loc(region), err)
	}
	list, err := availabilityzones.ExtractAvailabilityZones(pages)
	if err != nil {
		return nil, classify("list availability zones", c.loc(region), err)
	}
	var out []string
	for _, z := range list {
		if z.ZoneState.Available {
			out = append(out, z.ZoneName)
		}
	}
	return out, nil
}

// CreateSecurityGroupRule adds rule to the security group named (or with id)
// group. rule.Direction defaults to ingress, EtherType to IPv4; Protocol ""
// and ports 0/0 mean any. A rule that already exists is not an error.
func (c *Cloud) CreateSecurityGroupRule(ctx context.Context, region, group string, rule cloud.SecurityRule) error {
	op := fmt.Sprintf("add a rule to security group %q", group)
	have, err := c.SecurityGroupRules(ctx, region, group)
	if err != nil {
		return err
	}
	gid := ""
	for _, r := range have {
		gid = r.GroupID
	}
	if gid == "" { // a group without rules: find its id
		if gid, err = c.securityGroupID(ctx, region, group); err != nil {
			return err
		}
	}
	nc, err := c.networkClient(ctx, region)
	if err != nil {
		return err
	}
	o := rules.CreateOpts{SecGroupID: gid, Direction: rules.RuleDirection(orDefault(rule.Direction, "ingress")),
		EtherType: rules.RuleEtherType(orDefault(rule.EtherType, "IPv4")), Protocol: rules.RuleProtocol(rule.Protocol),
		PortRangeMin: rule.PortMin, PortRangeMax: rule.PortMax, RemoteIPPrefix: rule.RemoteIPPrefix, RemoteGroupID: rule.RemoteGroupID}
	_, err = rules.Create(ctx, nc, o).Extract()
	if gophercloud.ResponseCodeIs(err, 409) {
		return nil
	}
	return classify(op, c.loc(region), err)
}

func (c *Cloud) securityGroupID(ctx context.Context, region, nameOrID string) (string, error) {
	op := fmt.Sprintf("find security group %q", nameOrID)
	nc, err := c.networkClient(ctx, region)
	if err != nil {
		return "", err
	}
	for _, o := range []groups.ListOpts{{ID: nameOrID}, {Name: nameOrID}} {
		pages, err := groups.List(nc, o).AllPages(ctx)
		if err != nil {
			return "", classify(op, c.loc(region), err)
		}
		found, err := groups.ExtractGroups(pages)
		if err != nil {
			return "", classify(op, c.loc(region), err)
		}
		if len(found) == 1 {
			return found[0].ID, nil
		}
		if len(found) > 1 {
			return "", &cloud.APIError{Class: cloud.ErrFatal, Op: op, Location: c.loc(region),
				Message: fmt.Sprintf("%d security groups are named %q: give the id", len(found), nameOrID)}
		}
	}
	return "", notFound(op, c.loc(region), "no security group named or with id %q", nameOrID)
}

// CreateKeyPair imports publicKey as key pair name (Nova os-keypairs).
func (c *Cloud) CreateKeyPair(ctx context.Context, region, name, publicKey string) error {
	rc, err := c.region(region)
	if err != nil {
		return err
	}
	_, err = keypairs.Create(ctx, rc.compute, keypairs.CreateOpts{Name: name, PublicKey: publicKey}).Extract()
	return classify(fmt.Sprintf("import key pair %q", name), c.loc(region), err)
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
