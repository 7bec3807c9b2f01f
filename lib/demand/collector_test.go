package demand

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/scale"
)

type fakeCollector struct {
	demandAds, flavorAds []classad.Ad
	err                  error
	sent                 []string
	seqs                 []int64
}

func (f *fakeCollector) Status(_ context.Context, q condor.StatusQuery) ([]classad.Ad, error) {
	if f.err != nil {
		return nil, f.err
	}
	if q.Kind == "-any" {
		return f.demandAds, nil
	}
	return f.flavorAds, nil
}

func (f *fakeCollector) Advertise(_ context.Context, cmd string, ads []classad.Ad) error {
	f.sent = append(f.sent, cmd)
	if cmd == "UPDATE_STARTD_AD" {
		f.seqs = append(f.seqs, ads[0].GetInt("UpdateSequenceNumber", 0))
	}
	return nil
}

func TestCollectorOfferOnlyWhenChanged(t *testing.T) {
	now := time.Unix(1795538000, 0)
	f := &fakeCollector{}
	c := &Collector{Condor: f, Pool: "p", Refresh: time.Minute, Now: func() time.Time { return now }}
	ctx := context.Background()
	three := []scale.Offer{offer("c", "r", "s", 2, 4000, 1), offer("c", "r", "m", 4, 8000, 2), offer("c", "r", "l", 8, 32000, 4)}

	step := func(offers []scale.Offer, want ...string) {
		t.Helper()
		f.sent = nil
		if err := c.Offer(ctx, offers); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, f.sent); diff != "" {
			t.Errorf("sent (-want +got):\n%s", diff)
		}
	}
	step(three, "UPDATE_STARTD_AD", "INVALIDATE_STARTD_ADS")
	now = now.Add(10 * time.Second)
	step(three) // unchanged: the verdict is left alone
	now = now.Add(time.Minute)
	step(three, "UPDATE_STARTD_AD") // refresh
	step(three[:2], "UPDATE_STARTD_AD", "INVALIDATE_STARTD_ADS")
	if len(f.seqs) != 3 || !(f.seqs[0] < f.seqs[1] && f.seqs[1] < f.seqs[2]) {
		t.Errorf("UpdateSequenceNumber does not rise: %v", f.seqs)
	}
	w := WithdrawFlavorAd("p", three[:2])
	req, _ := w["Requirements"].ExprText()
	if !strings.Contains(req, `Name != "ehos-offer-p@c/r/s"`) || strings.Contains(req, "c/r/l") {
		t.Errorf("withdraw query: %s", req)
	}
}

func TestCollectorDemandFailureIsNotZero(t *testing.T) {
	c := &Collector{Condor: &fakeCollector{err: errors.New("collector down")}, Pool: "p"}
	if ds, err := c.Demand(context.Background()); err == nil || ds != nil {
		t.Errorf("failed read gave %v, %v", ds, err)
	}
}
