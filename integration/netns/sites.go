package netns

import (
	"errors"
	"fmt"
)

// Sites is the commonest cloud layout, built from routed networks: the
// central manager's own private network behind a router that answers a
// floating address for it on an outside (transit) network, and one private
// network per region behind a router of its own that masquerades its hosts'
// traffic onto the outside network. A region's hosts reach the central
// manager only at the floating address; nothing outside a region reaches a
// host in it (there is no route to its subnet, and its router only
// masquerades outgoing traffic).
//
//	cm network (n)        outside (n+1)              region i (n+2+i)
//	  cm host ── rt-cm ── [floating → cm] ── rt-<r> ── workers (masqueraded)
//
// Subnets are n's and the next ones of its size (NthSubnet).
type Sites struct {
	CM       *Network            // the central manager's network (the caller's)
	Outside  *Network            // the network the floating address is on
	Regions  map[string]*Network // each region's private network
	Routers  map[string]*Host    // each region's router
	CMRouter *Host
	Floating string // the central manager's floating address on Outside
	made     []*Network
}

// NewSites builds the outside network and one network per region around
// cm, the central manager's network (which it does not close), and makes
// the floating address lead to cmHost, which routes the outside network
// through its router. Close removes what it made.
func NewSites(cm *Network, cmHost *Host, regions ...string) (*Sites, error) {
	s := &Sites{CM: cm, Regions: map[string]*Network{}, Routers: map[string]*Host{}}
	fail := func(err error) (*Sites, error) {
		return nil, errors.Join(fmt.Errorf("sites: %w", err), s.Close())
	}
	sub := func(i int) (*Network, error) {
		sn, err := NthSubnet(cm.Subnet(), i)
		if err != nil {
			return nil, err
		}
		n, err := New(sn)
		if err == nil {
			s.made = append(s.made, n)
		}
		return n, err
	}
	var err error
	if s.Outside, err = sub(1); err != nil {
		return fail(err)
	}
	if s.CMRouter, err = cm.AddHost("rt-cm"); err != nil {
		return fail(err)
	}
	if _, err = s.CMRouter.Attach(s.Outside); err != nil {
		return fail(err)
	}
	if s.Floating, err = s.Outside.FreeAddr(); err != nil {
		return fail(err)
	}
	if err := s.CMRouter.SetNAT(NAT{Floating: []Floating{{Public: s.Floating, On: s.Outside, Private: cmHost.Addr, Inner: cm}}}); err != nil {
		return fail(err)
	}
	if err := cmHost.Route(s.Outside.Subnet(), s.CMRouter.Addr); err != nil {
		return fail(err)
	}
	// Hosts added to its network later (VMs beside the central manager)
	// reach the outside, and the floating address (hairpin), through it.
	cm.SetGateway(s.CMRouter.Addr, s.Outside.Subnet())
	for i, r := range regions {
		n, err := sub(2 + i)
		if err != nil {
			return fail(err)
		}
		rt, err := n.AddHost("rt-" + r)
		if err != nil {
			return fail(err)
		}
		if _, err := rt.Attach(s.Outside); err != nil {
			return fail(err)
		}
		if err := rt.SetNAT(NAT{Masquerade: []string{n.Subnet()}}); err != nil {
			return fail(err)
		}
		n.SetGateway(rt.Addr, s.Outside.Subnet())
		s.Regions[r], s.Routers[r] = n, rt
	}
	return s, nil
}

// Close removes the networks NewSites made, and its router on the central
// manager's network.
func (s *Sites) Close() error {
	var errs []error
	if s.CMRouter != nil {
		errs = append(errs, s.CMRouter.Remove())
	}
	for _, n := range s.made {
		errs = append(errs, n.Close())
	}
	return errors.Join(errs...)
}
