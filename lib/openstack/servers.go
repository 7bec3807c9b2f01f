package openstack

import (
	"context"
	"encoding/base64"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
)

// List returns the servers of region whose metadata says ehos_pool=pool
// and, if owner is not "", ehos_owner=owner. It makes one paged
// servers/detail listing (plus, only when the cloud does not embed flavor
// names, one cached flavor listing), never one call per server, except
// for the fault of an ERROR server (see fillFaults). A failed listing is an
// error, never an empty list.
func (c *Cloud) List(ctx context.Context, region, pool, owner string) ([]cloud.VM, error) {
	const op = "list servers"
	if pool == "" {
		return nil, &cloud.APIError{Class: cloud.ErrFatal, Op: op, Location: c.loc(region), Message: "empty pool name: would match servers of nobody"}
	}
	rc, err := c.region(region)
	if err != nil {
		return nil, err
	}
	pages, err := servers.List(rc.compute, servers.ListOpts{}).AllPages(ctx)
	if err != nil {
		return nil, classify(op, c.loc(region), err)
	}
	all, err := servers.ExtractServers(pages)
	if err != nil {
		return nil, classify(op, c.loc(region), err)
	}
	var mine []*servers.Server
	for i := range all {
		s := &all[i]
		if s.Metadata[cloud.MetaPool] == pool && (owner == "" || s.Metadata[cloud.MetaOwner] == owner) {
			mine = append(mine, s)
		}
	}
	c.fillFaults(ctx, rc, mine, all)
	var out []cloud.VM
	var needFlavors bool
	for _, s := range mine {
		vm := c.toVM(region, s)
		needFlavors = needFlavors || (vm.Flavor == "" && vm.FlavorID != "")
		out = append(out, vm)
	}
	if needFlavors {
		// Older microversions name flavors only by id.
		if fl, err := c.Flavors(ctx, region); err == nil {
			byID := map[string]string{}
			for _, f := range fl {
				byID[f.ID] = f.Name
			}
			for i := range out {
				if out[i].Flavor == "" {
					out[i].Flavor = byID[out[i].FlavorID]
				}
			}
		}
	}
	return out, nil
}

// faultTries bounds the GETs for one ERROR server's fault. Nova records
// the fault just after it sets ERROR, so a GET in between finds none: one
// more try on a later listing, then never again.
const faultTries = 2

// fillFaults sets the fault of every ERROR server in mine that the
// listing left without one; all is the region's complete listing. Real Nova's
// servers/detail fills faults from the API's own cell database only, so a
// server that failed scheduling (NoValidHost: buried in cell0) is listed
// ERROR with no fault, while GET servers/{id} shows it (captured in
// integration/realos/testdata/nova-server-error-*.json). Each such server
// costs at most faultTries GETs in its life, remembered until it leaves
// the listing; a listing without ERROR servers costs nothing more. A
// failed GET leaves the fault empty and never fails the listing.
func (c *Cloud) fillFaults(ctx context.Context, rc *regionClients, mine []*servers.Server, all []servers.Server) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range mine {
		if toStatus(s.Status) != cloud.StatusError || s.Fault.Message != "" {
			continue
		}
		if rc.faults == nil {
			rc.faults = map[string]*faultMemo{}
		}
		m := rc.faults[s.ID]
		if m == nil {
			m = &faultMemo{}
			rc.faults[s.ID] = m
		}
		if m.msg == "" && m.tries < faultTries {
			m.tries++
			c.mu.Unlock()
			got, err := servers.Get(ctx, rc.compute, s.ID).Extract()
			c.mu.Lock()
			if err == nil {
				m.msg = got.Fault.Message
			}
		}
		s.Fault.Message = m.msg
	}
	if len(rc.faults) == 0 {
		return // nothing remembered: no need to index the listing
	}
	seen := make(map[string]bool, len(all))
	for i := range all {
		seen[all[i].ID] = true
	}
	for id := range rc.faults {
		if !seen[id] {
			delete(rc.faults, id)
		}
	}
}

func (c *Cloud) toVM(region string, s *servers.Server) cloud.VM {
	vm := cloud.VM{
		ID: s.ID, Name: s.Name, Location: c.loc(region),
		Status: toStatus(s.Status), Metadata: s.Metadata, Created: s.Created,
		Fault: strings.TrimSpace(s.Fault.Message),
	}
	if vm.Status == cloud.StatusOther {
		vm.RawStatus = s.Status
	}
	if id, ok := s.Flavor["id"].(string); ok {
		vm.FlavorID = id
	}
	if n, ok := s.Flavor["original_name"].(string); ok {
		vm.Flavor = n
	}
	var nets []string
	for n := range s.Addresses {
		nets = append(nets, n)
	}
	sort.Strings(nets)
	for _, n := range nets {
		list, _ := s.Addresses[n].([]any)
		for _, a := range list {
			if m, ok := a.(map[string]any); ok {
				if ip, ok := m["addr"].(string); ok {
					vm.Addresses = append(vm.Addresses, ip)
				}
			}
		}
	}
	return vm
}

func toStatus(s string) cloud.Status {
	switch st := cloud.Status(strings.ToUpper(s)); st {
	case cloud.StatusBuild, cloud.StatusActive, cloud.StatusError, cloud.StatusShutoff, cloud.StatusDeleted:
		return st
	}
	return cloud.StatusOther
}

// Create boots a server. Flavor and image are resolved by name or id;
// Network is a network name or id, "" for the cloud's automatic choice or
// "none". The returned VM is in BUILD and carries the request's metadata.
func (c *Cloud) Create(ctx context.Context, region string, r cloud.CreateRequest) (cloud.VM, error) {
	const op = "create server"
	loc := c.loc(region)
	rc, err := c.region(region)
	if err != nil {
		return cloud.VM{}, err
	}
	fl, err := c.ResolveFlavor(ctx, region, r.Flavor)
	if err != nil {
		return cloud.VM{}, err
	}
	img, err := c.ResolveImage(ctx, region, r.Image)
	if err != nil {
		return cloud.VM{}, err
	}
	var nets any
	switch r.Network {
	case "", "auto":
		if c.atLeast(37) {
			nets = "auto"
		}
	case "none":
		if !c.atLeast(37) {
			return cloud.VM{}, &cloud.APIError{Class: cloud.ErrFatal, Op: op, Location: loc,
				Message: `network "none" needs compute microversion 2.37 or later`}
		}
		nets = "none"
	default:
		n, err := c.ResolveNetwork(ctx, region, r.Network)
		if err != nil {
			return cloud.VM{}, err
		}
		nets = []servers.Network{{UUID: n.ID}}
	}
	opts := servers.CreateOpts{
		Name: r.Name, FlavorRef: fl.ID, ImageRef: img.ID,
		SecurityGroups: r.SecurityGroups, AvailabilityZone: r.AvailabilityZone,
		Networks: nets, Metadata: r.Metadata,
	}
	if len(r.UserData) > 0 {
		// Encode here: gophercloud sends data that already decodes as
		// base64 verbatim, which would mangle such user-data.
		opts.UserData = []byte(base64.StdEncoding.EncodeToString(r.UserData))
	}
	var b servers.CreateOptsBuilder = opts
	if r.KeyPair != "" {
		b = keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: r.KeyPair}
	}
	s, err := servers.Create(ctx, rc.compute, b, nil).Extract()
	if err != nil {
		return cloud.VM{}, classify(op, loc, err)
	}
	md := map[string]string{}
	for k, v := range r.Metadata {
		md[k] = v
	}
	return cloud.VM{
		ID: s.ID, Name: r.Name, Location: loc, FlavorID: fl.ID, Flavor: fl.Name,
		Status: cloud.StatusBuild, Metadata: md, Created: time.Now().UTC(),
	}, nil
}

// Delete deletes a server; a server that is already gone is success.
func (c *Cloud) Delete(ctx context.Context, region, id string) error {
	rc, err := c.region(region)
	if err != nil {
		return err
	}
	err = servers.Delete(ctx, rc.compute, id).ExtractErr()
	if err != nil && gophercloud.ResponseCodeIs(err, 404) {
		return nil
	}
	return classify("delete server "+id, c.loc(region), err)
}

// ConsoleLog returns the last lines of a server's console (all if lines
// <= 0).
func (c *Cloud) ConsoleLog(ctx context.Context, region, id string, lines int) (string, error) {
	rc, err := c.region(region)
	if err != nil {
		return "", err
	}
	out, err := servers.ShowConsoleOutput(ctx, rc.compute, id, servers.ShowConsoleOutputOpts{Length: max(lines, 0)}).Extract()
	return out, classify("read console of server "+id, c.loc(region), err)
}

// Stop powers a server off (for image builds: snapshot a stopped server).
func (c *Cloud) Stop(ctx context.Context, region, id string) error {
	rc, err := c.region(region)
	if err != nil {
		return err
	}
	return classify("stop server "+id, c.loc(region), servers.Stop(ctx, rc.compute, id).ExtractErr())
}

// Get returns one server. It is for single-VM tools (image build), not for
// the provisioner's cycle, which uses List.
func (c *Cloud) Get(ctx context.Context, region, id string) (cloud.VM, error) {
	rc, err := c.region(region)
	if err != nil {
		return cloud.VM{}, err
	}
	s, err := servers.Get(ctx, rc.compute, id).Extract()
	if err != nil {
		return cloud.VM{}, classify("get server "+id, c.loc(region), err)
	}
	return c.toVM(region, s), nil
}

// CreateImage snapshots a server into a new image and returns its id; the
// image is usable once WaitImage says it is active.
func (c *Cloud) CreateImage(ctx context.Context, region, serverID, name string, metadata map[string]string) (string, error) {
	rc, err := c.region(region)
	if err != nil {
		return "", err
	}
	id, err := servers.CreateImage(ctx, rc.compute, serverID, servers.CreateImageOpts{Name: name, Metadata: metadata}).ExtractImageID()
	if err != nil {
		return "", classify(fmt.Sprintf("snapshot server %s to image %q", serverID, name), c.loc(region), err)
	}
	return id, nil
}
