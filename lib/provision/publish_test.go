package provision

import (
	"context"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/google/go-cmp/cmp"
)

// lazyPool is fakePool as a LazyPublisher that builds the ad when build is
// set.
type lazyPool struct {
	*fakePool
	build bool
	calls int
	built []classad.Ad
}

func (l *lazyPool) PublishLazy(_ context.Context, ad func() classad.Ad) error {
	l.calls++
	if l.build {
		l.built = append(l.built, ad())
	}
	return nil
}

// A LazyPublisher gets the very ad Publish would have had, and only
// through PublishLazy.
func TestPublishLazy(t *testing.T) {
	for _, build := range []bool{false, true} {
		r := newRig(t, knobs())
		lp := &lazyPool{fakePool: r.pool, build: build}
		p, err := New(r.p.opt, lp, r.boot)
		if err != nil {
			t.Fatal(err)
		}
		r.p = p
		r.pool.demand = smallDemand(2, offerKey("a", "r1", "small"))
		r.cycle(0)
		r.cycle(time.Minute)
		if lp.calls != 2 || len(r.pool.published) != 0 {
			t.Fatalf("build=%v: PublishLazy called %d times, Publish %d; want 2 and 0", build, lp.calls, len(r.pool.published))
		}
		if !build {
			continue
		}
		want, err := p.ad(p.last).MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		got, err := lp.built[1].MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(string(want), string(got)); diff != "" {
			t.Errorf("lazily built ad (-eager +lazy):\n%s", diff)
		}
		if back, err := ReportFromAd(lp.built[1]); err != nil || len(back.Nodes) != 2 {
			t.Errorf("report from the lazy ad: %v %+v", err, back)
		}
	}
}
