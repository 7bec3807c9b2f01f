package provision

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// LeaseCycles is how many cycles a lease lasts without renewal: a holder
// that goes silent is replaced within LeaseCycles+1 cycles (docs/ha.md).
const LeaseCycles = 3

// Lease says which provisioner of a pool acts: its holder renews it every
// cycle; the others decide and publish, but touch nothing, until it
// expires.
type Lease struct {
	Pool   string
	Holder string // the provisioner instance: host/pid
	// Generation grows by one each time the lease changes hands, so a
	// holder that was replaced and came back can tell.
	Generation int64
	Expires    time.Time
}

// Leaser is an optional Pool ability: the pool's leases, kept where every
// provisioner of the pool sees them (the collector). A Pool without it
// acts alone.
type Leaser interface {
	// Leases returns the pool's lease ads, expired ones too.
	Leases(ctx context.Context) ([]Lease, error)
	// PutLease writes l (one ad per holder), to live until l.Expires.
	PutLease(ctx context.Context, l Lease) error
}

// leaseWinner is the live lease that decides who acts: the highest
// generation, then the smallest holder, so that two provisioners that
// claimed at once agree on the winner from the same ads. ok is false when
// no lease is live.
func leaseWinner(ls []Lease, now time.Time) (Lease, bool) {
	var live []Lease
	for _, l := range ls {
		if l.Expires.After(now) {
			live = append(live, l)
		}
	}
	if len(live) == 0 {
		return Lease{}, false
	}
	sort.Slice(live, func(i, j int) bool {
		if live[i].Generation != live[j].Generation {
			return live[i].Generation > live[j].Generation
		}
		return live[i].Holder < live[j].Holder
	})
	return live[0], true
}

// nextLease decides, from the pool's leases, whether me acts this cycle:
// act with the lease to write (renewed, or claimed with the next
// generation), or stand by with the reason.
func nextLease(ls []Lease, pool, me string, now time.Time, ttl time.Duration) (l Lease, act bool, why string) {
	w, ok := leaseWinner(ls, now)
	switch {
	case ok && w.Holder != me:
		return w, false, fmt.Sprintf("standby: provisioner %s holds the lease of pool %s (generation %d, until %s)",
			w.Holder, pool, w.Generation, w.Expires.UTC().Format(time.TimeOnly))
	case ok:
		return Lease{Pool: pool, Holder: me, Generation: w.Generation, Expires: now.Add(ttl)}, true, ""
	}
	var gen int64
	for _, old := range ls {
		gen = max(gen, old.Generation)
	}
	return Lease{Pool: pool, Holder: me, Generation: gen + 1, Expires: now.Add(ttl)}, true, ""
}

// holdLease makes sure this provisioner is the one of its pool that acts,
// renewing or claiming the lease. It returns "" when it may act, else why
// not. A pool without leases is acted on alone.
func (p *Provisioner) holdLease(ctx context.Context, now time.Time) string {
	lr, ok := p.pool.(Leaser)
	if !ok {
		return ""
	}
	ls, err := lr.Leases(ctx)
	if err != nil {
		return "standby: the pool's lease could not be read (" + err.Error() + "): nothing is touched until it can"
	}
	ls = slices.DeleteFunc(ls, func(l Lease) bool { return l.Holder != p.opt.Instance && goneHere(l.Holder) })
	ttl := LeaseCycles * p.opt.Cycle
	if ttl <= 0 {
		ttl = LeaseCycles * 30 * time.Second
	}
	l, act, why := nextLease(ls, p.opt.Pool, p.opt.Instance, now, ttl)
	if !act {
		return why
	}
	if err := lr.PutLease(ctx, l); err != nil {
		return "standby: the pool's lease could not be renewed (" + err.Error() + "): nothing is touched until it can"
	}
	if l.Generation != p.lease.Generation || p.lease.Holder != l.Holder {
		p.opt.Log.Info().Int64("generation", l.Generation).Str("holder", l.Holder).Msg("holding the pool's lease: acting")
	}
	p.lease = l
	return ""
}

// defaultInstance names this process: host/pid, and its pid namespace
// when it is not the host's (condor_master in a container, or the test
// harness): host/pid/pid:[inode].
func defaultInstance() string {
	host, _ := os.Hostname()
	id := host + "/" + strconv.Itoa(os.Getpid())
	if ns := pidNS(); ns != "" && ns != hostPidNS {
		id += "/" + ns
	}
	return id
}

// hostPidNS is the initial pid namespace's link text.
const hostPidNS = "pid:[4026531836]"

func pidNS() string {
	ns, _ := os.Readlink("/proc/self/ns/pid")
	return ns
}

// goneHere says holder (defaultInstance's form) was a process of this
// host and pid namespace that is gone: a provisioner restarted by
// condor_master after a crash need not wait for its own previous lease to
// expire. A holder elsewhere is never gone by this test: only its lease's
// expiry tells.
func goneHere(holder string) bool {
	parts := strings.SplitN(holder, "/", 3)
	if len(parts) < 2 {
		return false
	}
	me := strings.SplitN(defaultInstance(), "/", 3)
	if parts[0] != me[0] || len(parts) != len(me) || (len(parts) == 3 && parts[2] != me[2]) {
		return false
	}
	n, err := strconv.Atoi(parts[1])
	if err != nil || n <= 0 {
		return false
	}
	return errors.Is(syscall.Kill(n, 0), syscall.ESRCH)
}
