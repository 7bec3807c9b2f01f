package provision

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// holds is the demand prepare held back (discountStarted): the groups,
// and a note for each group it held or cut.
type holds struct {
	groups []scale.Demand
	notes  []string
}

// prepare turns what the cycle observed and what the provisioner
// remembers into the decision's input, and the demand it held back. It
// changes nothing.
func (p *Provisioner) prepare(now time.Time, snap snapshot, workers map[string]*Worker) (in scale.Input, held holds) {
	in = scale.Input{Now: now, Knobs: p.opt.Knobs}
	for _, cs := range p.opt.Clouds {
		if cs.Config.IsEnabled() {
			in.Clouds = append(in.Clouds, scale.Cloud{Name: cs.Config.Name, MaxVMs: cs.Config.MaxVMs, Weight: cs.Config.Weight})
		}
	}
	for i, r := range p.regions {
		sr := scale.Region{Loc: r.loc, Offers: r.offers(), BackoffUntil: r.backoff.until, BackoffReason: r.backoff.reason}
		if s := snap.regions[i]; s.listOK {
			sr.Limits = r.limits(s)
		}
		in.Regions = append(in.Regions, sr)
	}
	in.Nodes = p.nodes(workers, snap.workersErr == nil)
	if snap.demandErr == nil {
		in.Demand, held.groups, held.notes = discountStarted(p.withMarks(snap.demand), workers)
	}
	if len(p.widest) > 0 {
		in.Widest = &p.withMarks([]scale.Demand{p.widest[0].d})[0]
	}
	in.LastArrival = p.lastStart
	if p.lastDemand.After(in.LastArrival) {
		in.LastArrival = p.lastDemand
	}
	return in, held
}

// nodes are the tracked VMs as the decision sees them, by name, with their
// believed workers' figures.
func (p *Provisioner) nodes(workers map[string]*Worker, workersOK bool) []scale.Node {
	tracks := p.sortedTracks()
	out := make([]scale.Node, 0, len(tracks))
	for _, t := range tracks {
		n := t.name
		node := scale.Node{
			ID: t.id, Name: t.name, Offer: t.offer, State: t.state, StateSince: t.since,
			Created: t.created, Fault: t.fault, Attempts: t.deleteTries, TokenExpires: t.tokenExpires,
		}
		w := workers[n]
		if w == nil && t.joined && workersOK {
			node.AdVanished = true
			node.RetireAsked = !t.drainSent.IsZero()
		}
		if w != nil && (t.state == scale.Idle || t.state == scale.Busy || t.state == scale.Retiring) {
			node.Free = w.Free
			node.Running = w.Claimed
			node.IdleSince = w.IdleSince
			if t.state == scale.Idle && node.IdleSince.IsZero() {
				node.IdleSince = t.since
			}
		}
		out = append(out, node)
	}
	return out
}

// sortedTracks are the tracks by name. They are sorted again only when the
// set of tracks changed: the order kept is still right when there are as
// many tracks as kept and each kept one is still its name's track.
func (p *Provisioner) sortedTracks() []*track {
	if len(p.order) == len(p.tracks) && !slices.ContainsFunc(p.order, func(t *track) bool { return p.tracks[t.name] != t }) {
		return p.order
	}
	p.order = p.order[:0]
	for _, t := range p.tracks {
		p.order = append(p.order, t)
	}
	slices.SortFunc(p.order, func(a, b *track) int { return strings.Compare(a.name, b.name) })
	return p.order
}

// reprepare is in with the regions' back-offs as they are now and the VMs
// requested since counted as booting: the input of a decision taken again
// within the cycle.
func (p *Provisioner) reprepare(in scale.Input, now time.Time) scale.Input {
	in2 := in
	in2.Regions = append([]scale.Region(nil), in.Regions...)
	for i := range in2.Regions {
		if r := p.regionOf(in2.Regions[i].Loc); r != nil {
			in2.Regions[i].BackoffUntil, in2.Regions[i].BackoffReason = r.backoff.until, r.backoff.reason
		}
	}
	have := make(map[string]bool, len(in.Nodes))
	for _, n := range in.Nodes {
		have[n.Name] = true
	}
	in2.Nodes = append([]scale.Node(nil), in.Nodes...)
	for _, t := range p.tracks {
		if t.state == scale.Requested && !have[t.name] {
			in2.Nodes = append(in2.Nodes, scale.Node{ID: t.id, Name: t.name, Offer: t.offer, State: t.state, StateSince: now, Created: now})
		}
	}
	return in2
}

// WorkerSize is what a worker of flavor f offers to jobs. The worker template
// pins the startd to exactly these figures (NUM_CPUS, MEMORY), and the offline
// flavor ads carry the same, so a job the negotiator matched to the flavor
// also fits the real worker. Memory keeps an eighth (at most 1 GB) for the
// operating system; disk counts 80% of the root disk, or 10 GB for flavors
// that boot from volume (disk 0).
func WorkerSize(f cloud.Flavor) scale.Resources {
	reserve := f.RAMMB / 8
	if reserve > 1024 {
		reserve = 1024
	}
	disk := f.DiskGB * 1024 * 8 / 10
	if f.DiskGB == 0 {
		disk = 10 * 1024
	}
	return scale.Resources{Cpus: f.VCPUs, MemoryMB: f.RAMMB - reserve, DiskMB: disk, GPUs: f.GPUs}
}

// FlavorCost is the relative cost of a flavor: the configured one, or
// vcpus + ram_gb/4.
func FlavorCost(f cloud.Flavor, extra cloud.FlavorExtra) float64 {
	if extra.Cost > 0 {
		return extra.Cost
	}
	return float64(f.VCPUs) + float64(f.RAMMB)/4096
}

// offers lists the region's flavors that ehos.yaml allows, as scale offers.
func (r *region) offers() []scale.Offer {
	var out []scale.Offer
	for _, want := range r.spec.Config.Flavors {
		f, ok := r.configured(want)
		if !ok {
			continue
		}
		out = append(out, scale.Offer{
			OfferKey: scale.OfferKey{Loc: r.loc, Flavor: f.Name},
			Size:     WorkerSize(f),
			Cost:     FlavorCost(f, r.spec.Config.FlavorOverrides[want]),
			VCPUs:    f.VCPUs,
			RAMMB:    f.RAMMB,
		})
	}
	return out
}

// configured is the flavor named as ehos.yaml names it, with its GPUs as
// ehos.yaml overrides them (Nova does not always say).
func (r *region) configured(name string) (cloud.Flavor, bool) {
	f, ok := r.flavor(name)
	if extra := r.spec.Config.FlavorOverrides[name]; ok && extra.GPUs > 0 {
		f.GPUs = extra.GPUs
	}
	return f, ok
}

// flavor finds a flavor by name or id.
func (r *region) flavor(nameOrID string) (cloud.Flavor, bool) {
	for _, f := range r.flavors {
		if f.Name == nameOrID || f.ID == nameOrID {
			return f, true
		}
	}
	return cloud.Flavor{}, false
}

// limits are the region's limits as this cycle read them, with the usage
// raised to what its listed servers use (floorUsage); nil when not read.
func (r *region) limits(s regionSeen) *cloud.Limits {
	if s.limits == nil {
		return nil
	}
	l := *s.limits
	if s.listOK {
		floorUsage(&l, r.vms, r.flavor)
	}
	return &l
}

// floorUsage raises the limits' usage to at least what the pool's own
// listed servers use. Real Nova counts an instance only once it is
// scheduled to a cell: a server created a moment ago (BUILD, still a build
// request) is listed but not yet in /limits, so trusting /limits alone
// planned past the quota and Nova buried the extra servers in ERROR
// ("Quota exceeded for instances", seen against real Nova).
func floorUsage(l *cloud.Limits, vms []cloud.VM, flavor func(nameOrID string) (cloud.Flavor, bool)) {
	type size struct {
		key        string
		cores, ram int
	}
	var sizes []size // each flavor looked up once, not once a server
	var n, cores, ram int
	for _, vm := range vms {
		if vm.Status == cloud.StatusDeleted {
			continue
		}
		n++
		key := vm.Flavor
		if key == "" {
			key = vm.FlavorID
		}
		i := slices.IndexFunc(sizes, func(s size) bool { return s.key == key })
		if i < 0 {
			s := size{key: key}
			if f, ok := flavor(key); ok {
				s.cores, s.ram = f.VCPUs, f.RAMMB
			}
			i, sizes = len(sizes), append(sizes, s)
		}
		cores += sizes[i].cores
		ram += sizes[i].ram
	}
	l.UsedInstances = max(l.UsedInstances, n)
	l.UsedCores = max(l.UsedCores, cores)
	l.UsedRAMMB = max(l.UsedRAMMB, ram)
}

// clockSlack is how far a worker's clock may be behind the reporter's: a
// job whose slot says it started up to this long before a count is still
// taken for one the count may have seen idle.
const clockSlack = 2 * time.Second

// discountStarted takes from each group's idle count the jobs that may
// have started since the reporter counted it: every job a worker of the
// pool took after the count (its slot's EnteredCurrentActivity, less
// clockSlack). Which group a start belongs to is not known, so each group
// loses them all: what is left is at most the jobs of the group still
// waiting, never one already on a worker. A group left with none is held
// until a count taken after the starts. The times are the startds' own, so
// a provisioner that has just started knows them as well as one that saw
// the jobs start.
func discountStarted(ds []scale.Demand, workers map[string]*Worker) (keep, held []scale.Demand, notes []string) {
	if !slices.ContainsFunc(ds, func(d scale.Demand) bool { return !d.Reported.IsZero() }) {
		return ds, nil, nil // no count says when it was taken (the simulator's): nothing to discount
	}
	var starts []time.Time
	for _, w := range workers {
		starts = append(starts, w.Started...)
	}
	slices.SortFunc(starts, time.Time.Compare)
	keep = make([]scale.Demand, 0, len(ds))
	for _, d := range ds {
		if d.Reported.IsZero() {
			keep = append(keep, d)
			continue
		}
		i, _ := slices.BinarySearchFunc(starts, d.Reported.Add(-clockSlack), time.Time.Compare)
		n := len(starts) - i
		if n == 0 {
			keep = append(keep, d)
			continue
		}
		counted := fmt.Sprintf("%d idle jobs of %s counted at %s; %d jobs started since",
			d.Idle, d.Key, d.Reported.UTC().Format(time.TimeOnly), n)
		if n >= d.Idle {
			notes = append(notes, counted+": held, waiting for a fresh count")
			held = append(held, d)
			continue
		}
		notes = append(notes, fmt.Sprintf("%s: %d counted", counted, d.Idle-n))
		d.Idle -= n
		keep = append(keep, d)
	}
	return keep, held, notes
}

// servable says d has idle jobs some configured flavor holds.
func servable(d scale.Demand) bool { return d.Idle > 0 && len(d.Eligible) > 0 }

func allOffers(regions []scale.Region) []scale.Offer {
	var out []scale.Offer
	for _, r := range regions {
		out = append(out, r.Offers...)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}
