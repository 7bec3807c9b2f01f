package provision

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

func TestNextLease(t *testing.T) {
	now := time.Unix(1000, 0)
	ttl := 9 * time.Second
	live, dead := now.Add(5*time.Second), now.Add(-time.Second)
	for _, tc := range []struct {
		name   string
		leases []Lease
		want   Lease
		act    bool
		why    string
	}{
		{name: "no lease: claim generation 1", want: Lease{Pool: "p", Holder: "me", Generation: 1, Expires: now.Add(ttl)}, act: true},
		{name: "mine: renew, same generation", leases: []Lease{{Holder: "me", Generation: 4, Expires: live}},
			want: Lease{Pool: "p", Holder: "me", Generation: 4, Expires: now.Add(ttl)}, act: true},
		{name: "another's, live: stand by", leases: []Lease{{Holder: "cm1/7", Generation: 2, Expires: live}},
			want: Lease{Holder: "cm1/7", Generation: 2, Expires: live}, why: "standby: provisioner cm1/7 holds the lease"},
		{name: "another's, expired: take over with the next generation", leases: []Lease{{Holder: "cm1/7", Generation: 2, Expires: dead}},
			want: Lease{Pool: "p", Holder: "me", Generation: 3, Expires: now.Add(ttl)}, act: true},
		{name: "claimed at once: the higher generation wins", leases: []Lease{{Holder: "me", Generation: 3, Expires: live}, {Holder: "zz", Generation: 4, Expires: live}},
			want: Lease{Holder: "zz", Generation: 4, Expires: live}, why: "standby: provisioner zz"},
		{name: "claimed at once, same generation: the smaller holder wins", leases: []Lease{{Holder: "me", Generation: 3, Expires: live}, {Holder: "a", Generation: 3, Expires: live}},
			want: Lease{Holder: "a", Generation: 3, Expires: live}, why: "standby: provisioner a"},
		{name: "the winner of a tie keeps it", leases: []Lease{{Holder: "me", Generation: 3, Expires: live}, {Holder: "zz", Generation: 3, Expires: live}},
			want: Lease{Pool: "p", Holder: "me", Generation: 3, Expires: now.Add(ttl)}, act: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, act, why := nextLease(tc.leases, "p", "me", now, ttl)
			if d := cmp.Diff(tc.want, got); d != "" || act != tc.act {
				t.Errorf("act %v (want %v), lease (-want +got):\n%s", act, tc.act, d)
			}
			if !strings.HasPrefix(why, tc.why) || (tc.why == "") != (why == "") {
				t.Errorf("why %q, want it to start with %q", why, tc.why)
			}
		})
	}
}

// A holder of this host and pid namespace is gone once its process is; one
// of another host or namespace never is by that test.
func TestGoneHere(t *testing.T) {
	me := defaultInstance()
	if goneHere(me) {
		t.Errorf("%s (this process) is gone", me)
	}
	parts := strings.SplitN(me, "/", 3)
	dead := parts[0] + "/999999999"
	if len(parts) == 3 {
		dead += "/" + parts[2]
	}
	if !goneHere(dead) {
		t.Errorf("%s (no such process) is not gone", dead)
	}
	for _, other := range []string{"elsewhere/999999999", dead + "/pid:[1]", parts[0]} {
		if goneHere(other) {
			t.Errorf("%s is gone, but it is not of this host and namespace", other)
		}
	}
}

// leasedPool keeps leases as the collector would, one per holder.
type leasedPool struct {
	*fakePool
	leases map[string]Lease
}

func (p *leasedPool) Leases(context.Context) ([]Lease, error) {
	var out []Lease
	for _, l := range p.leases {
		out = append(out, l)
	}
	return out, nil
}

func (p *leasedPool) PutLease(_ context.Context, l Lease) error {
	p.leases[l.Holder] = l
	return nil
}

// Two provisioners of one pool: the second touches nothing and says why
// while the first renews its lease; when the first goes silent, the second
// takes over once the lease has expired, adopts the first's VMs and
// creates none twice.
func TestStandbyTouchesNothingUntilTheLeaseExpires(t *testing.T) {
	r := newRig(t, knobs())
	lp := &leasedPool{fakePool: r.pool, leases: map[string]Lease{}}
	build := func(instance string) *Provisioner {
		p, err := New(Options{Pool: "demo", Owner: "demo", Instance: instance, Knobs: knobs(), Log: zerolog.Nop(),
			Clouds: []CloudSpec{{Config: cloud.Config{Name: "a", Regions: []string{"r1"}, Image: "img", Flavors: []string{"small"}}, Cloud: r.a}}},
			lp, r.boot)
		if err != nil {
			t.Fatal(err)
		}
		p.opt.Cycle = 10 * time.Second // lease: 30 s
		return p
	}
	first, second := build("cm1/1"), build("cm2/2")
	r.pool.demand = smallDemand(3, offerKey("a", "r1", "small"))
	run := func(p *Provisioner, at time.Duration) Report {
		rep, err := p.RunOnce(context.Background(), t0.Add(at))
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	if rep := run(first, 0); rep.Standby != "" || r.a.callsLike("create") != 3 {
		t.Fatalf("the first provisioner: standby %q, %d creates, want to act with 3", rep.Standby, r.a.callsLike("create"))
	}
	for _, at := range []time.Duration{time.Second, 10 * time.Second, 29 * time.Second} {
		if at == 10*time.Second {
			run(first, at) // renews until 40 s
		}
		rep := run(second, at)
		if !strings.HasPrefix(rep.Standby, "standby: provisioner cm1/1 holds the lease of pool demo (generation 1") {
			t.Fatalf("at %v the second says %q", at, rep.Standby)
		}
		if !slices.ContainsFunc(rep.Decision.Notes, func(n scale.Reason) bool { return strings.Contains(n.String(), "nothing created, drained or deleted") }) {
			t.Errorf("at %v the decision's notes do not say it touched nothing: %q", at, rep.Decision.Notes)
		}
	}
	if ad := lp.published[len(lp.published)-1]; !strings.HasPrefix(ad.GetString(AttrStandby), "standby: provisioner cm1/1") || ad.GetString("Name") != "demo@cm2/2" {
		t.Errorf("the second's ad: Name %q, %s %q", ad.GetString("Name"), AttrStandby, ad.GetString(AttrStandby))
	}
	// The first is silent from 10 s: its lease ends at 40 s.
	if rep := run(second, 39*time.Second); rep.Standby == "" {
		t.Fatal("the second took over before the first's lease expired")
	}
	rep := run(second, 41*time.Second)
	if rep.Standby != "" || lp.leases["cm2/2"].Generation != 2 {
		t.Fatalf("at 41 s the second: standby %q, lease %+v", rep.Standby, lp.leases["cm2/2"])
	}
	if n := r.a.callsLike("create"); n != 3 || len(rep.Nodes) != 3 {
		t.Errorf("after the takeover: %d creates in all, %d nodes known; want 3 and 3 (adopted)", n, len(rep.Nodes))
	}
}
