package sim

import (
	"context"
	"sort"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// CloudScheduler re-creates the VM scheduling rule of cloudscheduler v2
// (hep-gc/cloudscheduler: cloudscheduler/csmain and the database views it
// reads, view_groups_of_idle_jobs, view_active_resource_shortfall and
// view_idle_vms), as our reading of that code understands it; where the
// reading is uncertain docs/simulate.md says so. Each cycle:
//
//   - The shortfall of the pool is the cores and memory that idle and
//     running jobs request, minus those of every VM starting, booted but
//     not yet registered, idle or running (the flavor's full size).
//   - Idle jobs are grouped by shape (cpus, memory); groups go oldest first.
//     A group's flavor is, in each region (a "cloud" there), the smallest
//     one that holds a job (fewest cores, then memory), regions in order.
//   - For a group, the first region with quota room that passes both
//     throttles boots min(MaxStartPerCloud, VMs its quota allows,
//     ⌈shortfall / the flavor's size⌉) VMs (the larger of the cores and
//     memory quotients), and the shortfall shrinks by what it booted. The
//     throttles: no boot while IdleThrottle or more VMs are idle
//     (max(10, running/10)), nor in a region with NewThrottle or more VMs
//     starting or unregistered.
//   - A registered VM with no job for longer than KeepAlive (at least 120 s)
//     is retired peacefully (here: drained and deleted, since it runs
//     nothing); one that has not registered after ComeAlive is deleted.
type CloudScheduler struct {
	fleet
	offers    map[string]boundOffer // by flavor name
	idleSince map[string]time.Time  // first cycle each VM was seen idle
	CSKnobs
}

// CSKnobs are cloudscheduler v2's defaults (its csv2_configuration table:
// csmain max_start_vm_cloud, new_VMs_throttle, idle_VMs_throttle; SQL
// vm_come_alive; view_idle_vms's floor of 120 s on vm_keep_alive).
type CSKnobs struct {
	MaxStartPerCloud int
	NewThrottle      int
	IdleThrottle     int
	KeepAlive        time.Duration
	ComeAlive        time.Duration
}

// DefaultCloudScheduler is cloudscheduler v2's shipped configuration.
var DefaultCloudScheduler = CSKnobs{MaxStartPerCloud: 5, NewThrottle: 5, IdleThrottle: 10, KeepAlive: 120 * time.Second, ComeAlive: 2400 * time.Second}

func newCloudScheduler(w *World, cfg *config.Config, offers []boundOffer) *CloudScheduler {
	cs := &CloudScheduler{fleet: newFleet(w, cfg, "cs"), offers: map[string]boundOffer{},
		idleSince: map[string]time.Time{}, CSKnobs: DefaultCloudScheduler}
	for _, o := range offers {
		cs.offers[o.Name] = o
	}
	return cs
}

// Name is "cloudscheduler".
func (cs *CloudScheduler) Name() string { return RuleCloudScheduler }

func (cs *CloudScheduler) rest() int          { return 0 }
func (cs *CloudScheduler) flavorName() string { return "" }

// Cycle runs one round of cloudscheduler's rule.
func (cs *CloudScheduler) Cycle(ctx context.Context, now time.Time) error {
	cs.acted = false
	byName, order, err := cs.list(ctx)
	if err != nil {
		return err
	}
	workers, err := cs.w.Pool.Workers(ctx)
	if err != nil {
		return err
	}
	demand, err := cs.w.Pool.Demand(ctx)
	if err != nil {
		return err
	}
	joined := map[string]provision.Worker{}
	for _, wk := range workers {
		if _, ours := byName[wk.Name]; ours {
			joined[wk.Name] = wk
		}
	}

	// Retire idle VMs past keep-alive; delete those that never registered.
	var short scale.Resources // requested minus active, cores and memory
	idle, running := 0, 0
	starting := map[baseRegion]int{}
	for _, name := range order {
		v := byName[name]
		size := cs.offers[v.vm.Flavor].Size
		wk, ok := joined[name]
		switch {
		case !ok && now.Sub(v.vm.Created) >= cs.ComeAlive:
			if err := cs.delete(ctx, v); err != nil {
				return err
			}
			continue
		case !ok:
			starting[v.r]++
		case wk.Draining:
			continue // retiring: neither active nor idle
		case wk.Claimed == 0:
			since, seen := cs.idleSince[name]
			if !seen {
				cs.idleSince[name] = now
				since = now
			}
			if now.Sub(since) > cs.KeepAlive {
				if err := cs.retire(ctx, wk, v); err != nil {
					return err
				}
				delete(cs.idleSince, name)
				continue
			}
			idle++
		default:
			delete(cs.idleSince, name)
			running++
			short.Cpus += size.Cpus - wk.Free.Cpus // running jobs' requests
			short.MemoryMB += size.MemoryMB - wk.Free.MemoryMB
		}
		short.Cpus -= size.Cpus
		short.MemoryMB -= size.MemoryMB
	}
	for _, d := range demand {
		short.Cpus += d.Idle * max(d.Need.Cpus, 1)
		short.MemoryMB += d.Idle * d.Need.MemoryMB
	}
	if short.Cpus <= 0 && short.MemoryMB <= 0 || idle >= max(cs.IdleThrottle, running/10) {
		return nil
	}

	groups := append([]scale.Demand(nil), demand...)
	sort.SliceStable(groups, func(a, b int) bool { return groups[a].Oldest.Before(groups[b].Oldest) })
	for _, g := range groups {
		if g.Idle == 0 || (short.Cpus <= 0 && short.MemoryMB <= 0) {
			continue
		}
		for _, r := range cs.regions {
			fl, ok := cs.smallestFit(ctx, r, g.Need)
			if !ok {
				continue
			}
			lim, err := r.c.Limits(ctx, r.region)
			if err != nil {
				return err
			}
			room, _ := lim.Headroom(fl)
			size := cs.offers[fl.Name].Size
			n := cs.boots(short, size, room, starting[r])
			if n <= 0 {
				continue
			}
			for i := 0; i < n; i++ {
				if cs.create(ctx, fl.Name, &r) == "" {
					break
				}
				starting[r]++
				short.Cpus -= size.Cpus
				short.MemoryMB -= size.MemoryMB
			}
			break // the group is served from its best region this cycle
		}
	}
	return nil
}

// boots is how many VMs of a flavor whose workers offer size one region
// boots for a shortfall short, with room for that many more under its
// quota (below zero: unlimited) and starting VMs booting there now.
func (k CSKnobs) boots(short, size scale.Resources, room, starting int) int {
	if starting >= k.NewThrottle {
		return 0
	}
	n := min(max(ceilDiv(short.Cpus, size.Cpus), ceilDiv(short.MemoryMB, size.MemoryMB)), k.MaxStartPerCloud)
	if room >= 0 {
		n = min(n, room)
	}
	return n
}

// smallestFit is region r's flavor with the fewest cores, then the least
// memory, whose worker holds one job of need.
func (cs *CloudScheduler) smallestFit(ctx context.Context, r baseRegion, need scale.Resources) (cloud.Flavor, bool) {
	fls, err := r.c.Flavors(ctx, r.region)
	if err != nil {
		return cloud.Flavor{}, false
	}
	var best cloud.Flavor
	found := false
	for _, f := range fls {
		o, ok := cs.offers[f.Name]
		if !ok || !holds(o, Shape{Cpus: need.Cpus, MemoryMB: need.MemoryMB}) {
			continue
		}
		if !found || f.VCPUs < best.VCPUs || (f.VCPUs == best.VCPUs && f.RAMMB < best.RAMMB) {
			best, found = f, true
		}
	}
	return best, found
}

func ceilDiv(a, b int) int {
	if a <= 0 || b <= 0 {
		return 0
	}
	return (a + b - 1) / b
}
