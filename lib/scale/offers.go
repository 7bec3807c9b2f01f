package scale

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
)

// catalog is what can be booted where, read once from the Input: offers,
// regions and clouds in key order, so nothing derived from them depends on
// the order of the Input's lists. No step changes it.
type catalog struct {
	offers    []offer
	offerIdx  map[OfferKey]int
	regions   []region
	regionIdx map[cloud.Location]int
	clouds    []cloudInfo
	cloudIdx  map[string]int
	byPref    []int // offer indices, cheapest first (min)
	bySize    []int // offer indices, largest first, GPU flavors last (spare)
}

type offer struct {
	Offer
	region int // index into catalog.regions; -1 for a phantom
	// phantom: the offer of existing nodes that no region offers this
	// cycle. Its nodes' capacity is usable by demand that lists it; nothing
	// new is created from it.
	phantom bool
	cloud   int // index into catalog.clouds
	vcpus   int // counted against the cores quota
	ramMB   int // counted against the ram quota
	weight  int
}

type region struct {
	loc     cloud.Location
	limits  *cloud.Limits
	backoff bool
	until   time.Time
	why     string
}

type cloudInfo struct {
	name   string
	maxVMs int
}

// newCatalog reads the offers of every region, and of the nodes whose
// offer no region lists (phantoms).
func newCatalog(in Input) *catalog {
	c := &catalog{offerIdx: map[OfferKey]int{}, regionIdx: map[cloud.Location]int{}, cloudIdx: map[string]int{}}
	clouds := slices.Clone(in.Clouds)
	slices.SortStableFunc(clouds, func(a, b Cloud) int { return strings.Compare(a.Name, b.Name) })
	regs := slices.Clone(in.Regions)
	slices.SortStableFunc(regs, func(a, b Region) int { return cmpLoc(a.Loc, b.Loc) })
	for _, r := range regs {
		if len(c.regions) > 0 && c.regions[len(c.regions)-1].loc == r.Loc {
			continue // a region listed twice: the first wins
		}
		c.addRegion(r, in.Now, clouds)
	}
	for _, n := range in.Nodes {
		ci := c.cloudOf(n.Offer.Loc.Cloud, clouds)
		if _, ok := c.offerIdx[n.Offer]; !ok {
			c.offers = append(c.offers, offer{Offer: Offer{OfferKey: n.Offer}, region: -1, cloud: ci, phantom: true})
			c.offerIdx[n.Offer] = len(c.offers) - 1
		}
	}
	c.order()
	return c
}

func (c *catalog) addRegion(r Region, now time.Time, clouds []Cloud) {
	rs := region{loc: r.Loc, until: r.BackoffUntil, why: r.BackoffReason, backoff: r.BackoffUntil.After(now)}
	if r.Limits != nil {
		l := *r.Limits
		rs.limits = &l
	}
	c.regions = append(c.regions, rs)
	ri := len(c.regions) - 1
	c.regionIdx[r.Loc] = ri
	ci := c.cloudOf(r.Loc.Cloud, clouds)
	w := 0
	if i, ok := slices.BinarySearchFunc(clouds, r.Loc.Cloud, func(cc Cloud, name string) int { return strings.Compare(cc.Name, name) }); ok {
		w = clouds[i].Weight
	}
	for _, o := range r.Offers {
		o.Loc = r.Loc // an offer belongs to the region that lists it
		if _, dup := c.offerIdx[o.OfferKey]; dup {
			continue
		}
		of := offer{Offer: o, region: ri, cloud: ci, vcpus: o.VCPUs, ramMB: o.RAMMB, weight: w}
		if of.vcpus <= 0 {
			of.vcpus = o.Size.Cpus
		}
		if of.ramMB <= 0 {
			of.ramMB = o.Size.MemoryMB
		}
		c.offers = append(c.offers, of)
		c.offerIdx[o.OfferKey] = len(c.offers) - 1
	}
}

// cloudOf is the index of the cloud named, added on first sight with its
// max_vms from clouds (sorted by name; the first of a name wins).
func (c *catalog) cloudOf(name string, clouds []Cloud) int {
	if i, ok := c.cloudIdx[name]; ok {
		return i
	}
	ci := cloudInfo{name: name}
	if i, ok := slices.BinarySearchFunc(clouds, name, func(cc Cloud, name string) int { return strings.Compare(cc.Name, name) }); ok {
		ci.maxVMs = max(clouds[i].MaxVMs, 0)
	}
	c.clouds = append(c.clouds, ci)
	c.cloudIdx[name] = len(c.clouds) - 1
	return len(c.clouds) - 1
}

// order puts the offers in key order and ranks them for min (cheapest) and
// spare (largest).
func (c *catalog) order() {
	slices.SortFunc(c.offers, func(a, b offer) int { return cmpKey(a.OfferKey, b.OfferKey) })
	for i, o := range c.offers {
		c.offerIdx[o.OfferKey] = i
		if !o.phantom {
			c.byPref = append(c.byPref, i)
		}
	}
	slices.SortStableFunc(c.byPref, func(a, b int) int {
		oa, ob := &c.offers[a], &c.offers[b]
		return cmp.Or(cmp.Compare(oa.Cost, ob.Cost), cmp.Compare(ob.weight, oa.weight), cmpKey(oa.OfferKey, ob.OfferKey))
	})
	c.bySize = slices.Clone(c.byPref)
	slices.SortStableFunc(c.bySize, func(a, b int) int {
		sa, sb := c.offers[a].Size, c.offers[b].Size
		return cmp.Or(cmp.Compare(min(sa.GPUs, 1), min(sb.GPUs, 1)), cmp.Compare(sb.Cpus, sa.Cpus), cmp.Compare(sb.MemoryMB, sa.MemoryMB))
	})
}

// offerOf is the index of a node's offer; -1 when none is known.
func (c *catalog) offerOf(k OfferKey) int {
	if oi, ok := c.offerIdx[k]; ok {
		return oi
	}
	return -1
}

func cmpLoc(a, b cloud.Location) int {
	return cmp.Or(strings.Compare(a.Cloud, b.Cloud), strings.Compare(a.Region, b.Region))
}

func cmpKey(a, b OfferKey) int {
	return cmp.Or(cmpLoc(a.Loc, b.Loc), strings.Compare(a.Flavor, b.Flavor))
}
