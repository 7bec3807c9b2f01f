package scale

import (
	"fmt"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/google/go-cmp/cmp"
)

// packFor runs the steps before packing on in, then packing.
func packFor(in Input) (packed, []group, *ledger, life) {
	k := clean(in.Knobs)
	cat := newCatalog(in)
	l := lifecycle(in, k)
	gs := groups(in.Demand, in.Now, UnmatchedAfter(in.Knobs), cat)
	led := newLedger(k, cat, count(l, cat))
	return pack(in.Now, k, cat, gs, bins(l.nodes, l.gone, cat), led), gs, led, l
}

// The packing step alone: which capacity each group lands on, what is
// created and what is left unmet or starved.
func TestPack(t *testing.T) {
	type view struct {
		Creates []string // "count × flavor for serves"
		Used    []bool   // per bin: busy, idle, booting, each by name
		Unmet   []Kind
		Starved []starveView
	}
	for _, tc := range []struct {
		name string
		mod  func(*Input)
		want view
	}{
		{"busy capacity first, then idle, then booting", func(in *Input) {
			in.Nodes = []Node{node("b", Booting, medium, since(time.Minute)), node("i", Idle, medium), node("u", Busy, medium, free(Resources{Cpus: 2, MemoryMB: 4096}))}
			in.Demand = []Demand{jobs("s#1", 2, 4096, 2, medium)}
		}, view{Used: []bool{true, true, false}}},
		{"a VM planned for one group serves the next", func(in *Input) {
			in.Demand = []Demand{jobs("s#big", 4, 8192, 1, large), jobs("s#small", 2, 4096, 2, large, small)}
		}, view{Creates: []string{"1 × m1.large for [s#big s#small]"}}},
		{"a class of planned VMs split and filled by later groups", func(in *Input) {
			in.Demand = []Demand{jobs("s#a", 3, 6144, 3, medium), jobs("s#b", 1, 1024, 2, medium), jobs("s#c", 1, 1024, 1, medium)}
		}, view{Creates: []string{"3 × m1.medium for [s#a s#b s#c]"}}},
		{"full VMs, then one partly filled for the rest", func(in *Input) {
			in.Demand = []Demand{jobs("s#1", 1, 1024, 5, medium)}
		}, view{Creates: []string{"1 × m1.medium for [s#1]", "1 × m1.medium for [s#1]"}}},
		{"no flavor, not offered, too large", func(in *Input) {
			in.Demand = []Demand{jobs("s#1", 1, 1, 1), jobs("s#2", 1, 1, 1, cSmall), jobs("s#3", 64, 1, 1, large)}
		}, view{Unmet: []Kind{UnmetTooLarge, UnmetNoFlavor, UnmetNotOffered}}},
		{"starved under a full instance quota", func(in *Input) {
			in.Regions[0].Limits = &cloud.Limits{MaxInstances: 0, MaxCores: -1, MaxRAMMB: -1}
			in.Demand = []Demand{jobs("s#1", 4, 8192, 3, medium)}
		}, view{Unmet: []Kind{UnmetNoRoom}, Starved: []starveView{{Group: "s#1", Jobs: 3, FullIn: []cloud.Location{locA}}}}},
		{"max: starved only after the long wait", func(in *Input) {
			in.Knobs.Max = 1
			in.Nodes = []Node{node("w", Busy, small)}
			in.Demand = []Demand{jobs("s#new", 4, 8192, 1, medium), jobs("s#old", 2, 4096, 1, small)}
			in.Demand[1].Oldest = now.Add(-time.Hour)
		}, view{Unmet: []Kind{UnmetNoRoom, UnmetNoRoom}, Starved: []starveView{{Group: "s#old", Jobs: 1, AtMax: true}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := base()
			tc.mod(&in)
			pk, gs, led, _ := packFor(in)
			var got view
			for _, c := range pk.creates {
				got.Creates = append(got.Creates, fmtCreate(c))
			}
			if len(pk.used) > 0 && tc.want.Used != nil {
				got.Used = pk.used
			}
			for _, u := range pk.unmet {
				got.Unmet = append(got.Unmet, u.Reason.Kind)
			}
			for _, s := range pk.starved {
				got.Starved = append(got.Starved, viewStarve(s, gs, led.cat))
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("pack (-want +got):\n%s", diff)
			}
			if n := countVMs(pk.creates); led.created != n {
				t.Errorf("ledger booked %d VMs, creates are %d", led.created, n)
			}
		})
	}
}

type starveView struct {
	Group  string
	Jobs   int
	FullIn []cloud.Location
	AtMax  bool
	Capped []string
}

func viewStarve(s starve, gs []group, cat *catalog) starveView {
	v := starveView{Group: gs[s.group].d.Key, Jobs: s.jobs, AtMax: s.atMax}
	for _, r := range s.fullIn {
		v.FullIn = append(v.FullIn, cat.regions[r].loc)
	}
	for _, c := range s.capped {
		v.Capped = append(v.Capped, cat.clouds[c].name)
	}
	return v
}

func fmtCreate(c Create) string {
	return fmt.Sprintf("%d × %s for %v", c.Count, c.Offer.Flavor, c.Serves)
}

// countVMs is how many VMs creates ask for.
func countVMs(cs []Create) int {
	n := 0
	for _, c := range cs {
		n += c.Count
	}
	return n
}
