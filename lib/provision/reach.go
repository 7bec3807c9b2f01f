package provision

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// Reacher is an optional Pool ability: open a connection to a worker's
// startd from the central manager, as the schedd claiming it would (through
// its broker when it registered with one). A worker that joins the
// collector opens that connection itself; whether the pool can open one
// back is another matter (no broker, a firewall, a wrong private_network),
// and without it no job ever starts there.
type Reacher interface {
	// Reach returns nil when a connection was made, an error wrapping
	// ErrUnreachable when none could be, any other error when it could
	// not tell.
	Reach(ctx context.Context, w Worker) error
}

// ErrUnreachable is what a Reacher's error wraps when it made no
// connection.
var ErrUnreachable = errors.New("no connection to the worker")

// Unreachable is a joined worker the central manager could not connect to.
type Unreachable struct {
	Node     string         `json:"node"`
	Location cloud.Location `json:"location"`
	Address  string         `json:"address"` // its startd's MyAddress
	Since    time.Time      `json:"since"`   // its first failed probe
	Error    string         `json:"error"`
	Hint     string         `json:"hint"`
}

func (u Unreachable) String() string {
	return fmt.Sprintf("worker %s (%s) at %s cannot be reached from the central manager since %s: %s; %s",
		u.Node, u.Location, u.Address, u.Since.UTC().Format(time.RFC3339), u.Error, u.Hint)
}

// The probe's timing. A worker is probed once it sat unclaimed beside a
// waiting job it holds for probeAfter (a healthy pool claims it sooner, and
// then costs no probe); it is called unreachable once two probes in a row
// failed to connect and, for a brokered worker, its probes failed for
// reachConfirm without a break: a brokered worker is unreachable for up to a
// minute after the collector restarts, until it registers again (measured:
// 50-60 s, 23.9), while a worker with no broker that cannot be reached
// stays so until someone changes its network. A worker that answered is
// probed again after reprobeAfter while it still sits there.
const (
	probeAfter   = 15 * time.Second
	reachConfirm = 90 * time.Second
	reprobeAfter = 5 * time.Minute
	probeTimeout = 20 * time.Second
	// probeMax bounds a cycle's probes, which run at once: a probe that
	// finds no connection takes 10 s, and a cloud whose workers all fail
	// must not hold the cycle up for minutes. The rest wait their turn.
	probeMax = 8
)

// reachObs is one joined worker as a cycle saw it.
type reachObs struct {
	name    string
	loc     cloud.Location
	addr    string
	waiting bool // unclaimed, healthy, not draining, with room for a waiting job
	claimed bool // runs a job: reached
}

// reachRec is what is remembered about one worker between cycles.
type reachRec struct {
	loc     cloud.Location
	addr    string
	suspect time.Time // since when it sits waiting
	probed  time.Time // its last probe
	failed  time.Time // first failure of an unbroken run; zero: the last probe connected
	fails   int
	err     string
	marked  bool // unreachable
}

// reachObserve turns the cycle's nodes, workers and demand into
// observations: only joined nodes whose startd is seen. A worker waits
// when some idle job would fit it, whatever flavors the negotiator matched
// the job to: it matches it to the real worker's slot instead once that is
// there, and then the demand names no flavor any more.
func reachObserve(nodes []scale.Node, workers []Worker, demand []scale.Demand) []reachObs {
	byName := map[string]Worker{}
	for _, w := range workers {
		byName[w.Name] = w
	}
	var out []reachObs
	for _, n := range nodes {
		w, ok := byName[n.Name]
		if !ok || (n.State != scale.Idle && n.State != scale.Busy) {
			continue
		}
		o := reachObs{name: n.Name, loc: n.Offer.Loc, addr: w.Address, claimed: w.Claimed > 0}
		if !o.claimed && w.Healthy && !w.Draining && w.Address != "" {
			for _, d := range demand {
				if d.Idle > 0 && w.Free.Holds(d.Need) {
					o.waiting = true
					break
				}
			}
		}
		out = append(out, o)
	}
	return out
}

// reachPlan updates the records with the cycle's observations and returns
// the workers to probe now (at most probeMax, the longest waiting first),
// and the regions where a worker was seen
// running a job (reached: their unreachable count starts again). A worker
// that no longer waits (claimed, gone, draining, no job left for it) is
// forgotten.
func reachPlan(now time.Time, obs []reachObs, recs map[string]reachRec) (next map[string]reachRec, probe []string, reached map[cloud.Location]bool) {
	next = map[string]reachRec{}
	reached = map[cloud.Location]bool{}
	for _, o := range obs {
		if o.claimed {
			reached[o.loc] = true
		}
		if !o.waiting {
			continue
		}
		r, ok := recs[o.name]
		if !ok {
			r = reachRec{suspect: now}
		}
		if r.addr != o.addr && r.addr != "" {
			r = reachRec{suspect: r.suspect} // a new address (re-registered): judge it afresh
		}
		r.loc, r.addr = o.loc, o.addr
		due := now.Sub(r.suspect) >= probeAfter &&
			(r.probed.IsZero() || (!r.failed.IsZero() && !r.marked) || now.Sub(r.probed) >= reprobeAfter)
		if due {
			probe = append(probe, o.name)
		}
		next[o.name] = r
	}
	// The longest waiting first.
	sort.Slice(probe, func(i, j int) bool {
		a, b := next[probe[i]], next[probe[j]]
		if !a.suspect.Equal(b.suspect) {
			return a.suspect.Before(b.suspect)
		}
		return probe[i] < probe[j]
	})
	if len(probe) > probeMax {
		probe = probe[:probeMax]
	}
	return next, probe, reached
}

// reachFold takes the probes' results into the records and returns the
// workers found unreachable just now. A probe that could not tell changes
// nothing; one that connected clears the worker.
func reachFold(now time.Time, recs map[string]reachRec, results map[string]error) (newly []string) {
	for name, err := range results {
		r, ok := recs[name]
		if !ok {
			continue
		}
		switch {
		case err == nil:
			r.failed, r.fails, r.err, r.marked = time.Time{}, 0, "", false
		case errors.Is(err, ErrUnreachable):
			if r.failed.IsZero() {
				r.failed = now
			}
			r.fails++
			r.err = err.Error()
			if !r.marked && r.fails >= 2 && (!brokered(r.addr) || now.Sub(r.failed) >= reachConfirm) {
				r.marked = true
				newly = append(newly, name)
			}
		default:
			continue // could not tell: not even counted as probed
		}
		r.probed = now
		recs[name] = r
	}
	sort.Strings(newly)
	return newly
}

// brokered says addr is reached through a connection broker.
func brokered(addr string) bool { return strings.Contains(addr, "CCBID=") }

// reachHint says what to look at for a worker at addr that the central
// manager cannot reach.
func reachHint(addr string) string {
	if !brokered(addr) {
		return "it registered with no connection broker and its address is not reachable from the central manager: " +
			"leave CCB_ADDRESS = $(COLLECTOR_HOST) on the workers (ehos's worker config), or give them routable addresses " +
			"and let 9618/TCP in from the central manager in their security group (docs/network.md)"
	}
	return "it is brokered through the collector, yet neither the broker nor a direct connection reached it: " +
		"if its PrivNet is the central manager's PRIVATE_NETWORK_NAME, its cloud's private_network wrongly says it shares " +
		"the central manager's network; else check that 9618/TCP from the workers reaches the central manager's collector " +
		"and that nothing between them drops idle connections (docs/network.md)"
}

// reachState is the provisioner's memory of unreachable workers.
type reachState struct {
	recs    map[string]reachRec
	backoff map[cloud.Location]*backoff
	marked  int // unreachable workers at the last check
}

// maxUnreachable bounds the unreachable workers the report carries: a
// misconfigured cloud makes every worker of it unreachable, and the ad
// must stay small.
const maxUnreachable = 20

// checkReach finds the joined workers the central manager cannot connect
// to, reports them, and backs their regions off while they stand there:
// booting more VMs into the same network gives more workers no job can
// reach. It changes in's regions' back-off to match. Without a Reacher it
// does nothing.
func (p *Provisioner) checkReach(ctx context.Context, now time.Time, in *scale.Input, workers []Worker, rep *Report) {
	rc, ok := p.pool.(Reacher)
	if !ok {
		return
	}
	st := &p.reach
	if st.backoff == nil {
		st.backoff = map[cloud.Location]*backoff{}
	}
	var probe []string
	var reached map[cloud.Location]bool
	st.recs, probe, reached = reachPlan(now, reachObserve(in.Nodes, workers, in.Demand), st.recs)
	for loc := range reached {
		delete(st.backoff, loc)
	}
	results := p.probe(ctx, rc, probe, workers)
	for _, name := range reachFold(now, st.recs, results) {
		r := st.recs[name]
		u := r.unreachable(name)
		b := st.backoff[r.loc]
		if b == nil {
			b = &backoff{}
			st.backoff[r.loc] = b
		}
		b.fail(now, fmt.Errorf("worker %s at %s unreachable from the central manager: no VM booted into the same failure", name, r.addr), p.opt.BackoffInitial, p.opt.BackoffMax)
		p.opt.Log.Warn().Str("node", name).Str("cloud", r.loc.Cloud).Str("region", r.loc.Region).Str("address", r.addr).
			Str("error", r.err).Str("hint", u.Hint).Time("backoff_until", b.until).Msg(UnreachableMsg)
	}
	// A region's back-off lasts while an unreachable worker of it stands.
	held := map[cloud.Location]bool{}
	for name, r := range st.recs {
		if r.marked {
			held[r.loc] = true
			rep.Unreachable = append(rep.Unreachable, r.unreachable(name))
		}
	}
	sort.Slice(rep.Unreachable, func(i, j int) bool { return rep.Unreachable[i].Node < rep.Unreachable[j].Node })
	st.marked = len(rep.Unreachable)
	if len(rep.Unreachable) > maxUnreachable {
		rep.Unreachable = rep.Unreachable[:maxUnreachable] // the ad's count says how many
	}
	for i := range in.Regions {
		sr := &in.Regions[i]
		b := st.backoff[sr.Loc]
		if b == nil {
			continue
		}
		if held[sr.Loc] && !b.until.After(now.Add(p.opt.BackoffInitial)) {
			b.until = now.Add(p.opt.BackoffInitial)
		}
		r := p.regionOf(sr.Loc)
		if r == nil || !b.active(now) || !b.until.After(r.backoff.until) {
			continue
		}
		r.backoff.until, r.backoff.reason = b.until, b.reason
		sr.BackoffUntil, sr.BackoffReason = b.until, b.reason
	}
}

func (r reachRec) unreachable(name string) Unreachable {
	return Unreachable{Node: name, Location: r.loc, Address: r.addr, Since: r.failed, Error: r.err, Hint: reachHint(r.addr)}
}

// UnreachableMsg is the log message of a worker found unreachable (the
// integration tests look for it).
const UnreachableMsg = "worker unreachable from the central manager: its region backs off"

// AttrUnreachable is the provisioner ad's count of unreachable workers;
// AttrLastUnreachable describes one of them.
const (
	AttrUnreachable     = "EHOSUnreachableWorkers"
	AttrLastUnreachable = "EHOSLastUnreachable"
)

// reachAd adds the unreachable workers to the provisioner's ad.
func (p *Provisioner) reachAd(ad classad.Ad, rep Report) {
	ad[AttrUnreachable] = classad.Int(int64(p.reach.marked))
	last := ""
	if n := len(rep.Unreachable); n > 0 {
		last = rep.Unreachable[n-1].String()
	}
	ad[AttrLastUnreachable] = classad.String(last)
}

// probe tries the named workers, at most probeMax at once, each within
// probeTimeout: nil for a worker reached.
func (p *Provisioner) probe(ctx context.Context, rc Reacher, probe []string, workers []Worker) map[string]error {
	byName := map[string]Worker{}
	for _, w := range workers {
		byName[w.Name] = w
	}
	results := make(map[string]error, len(probe))
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, probeMax)
	for _, name := range probe {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			pctx, cancel := context.WithTimeout(ctx, probeTimeout)
			defer cancel()
			start := time.Now()
			err := rc.Reach(pctx, byName[name])
			p.opt.Log.Debug().Str("node", name).Str("address", byName[name].Address).Dur("took", time.Since(start)).AnErr("result", err).Msg("probed a waiting worker")
			mu.Lock()
			results[name] = err
			mu.Unlock()
		}()
	}
	wg.Wait()
	return results
}
