//go:build integration

package integration_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/demand"
)

// recordingCondor keeps the demand ads the reporter advertises, as it built
// them (before the collector's own reading of the text).
type recordingCondor struct {
	*condor.Client
	mu  sync.Mutex
	ads []classad.Ad
}

func (c *recordingCondor) Advertise(ctx context.Context, cmd string, ads []classad.Ad) error {
	if cmd == "UPDATE_AD_GENERIC" {
		c.mu.Lock()
		c.ads = append([]classad.Ad(nil), ads...)
		c.mu.Unlock()
	}
	return c.Client.Advertise(ctx, cmd, ads)
}

func (c *recordingCondor) last() []classad.Ad {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.ads
}

type hostileJob struct {
	name, attr, value string // value as written in the submit file, quotes included
	jobs              int
	normal            bool // no hostile value: its demand must be exact
	cpus, mem         int
}

// TestHostilePinsThroughRealCondorQ submits normal jobs beside jobs whose
// +EHOSCloud, +EHOSRegion or +EHOSFlavor hold tabs, backslashes, quotes,
// control bytes, a literal \n and 100 kB, and runs the demand reporter
// against the real condor_q: every normal job's demand is reported intact,
// and each hostile group is either carried with exactly the value HTCondor
// holds or skipped with a warning naming it, never failing the batch.
func TestHostilePinsThroughRealCondorQ(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{ExtraConfig: integration.ShippedOfferRank(t)})
	cl := pool.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// The offline flavor ads' START names the pins: that makes them
	// significant, so each pin value gets its own autocluster.
	if err := cl.Advertise(ctx, "UPDATE_STARTD_AD", demand.FlavorAds(demandOffers(), demandPool, time.Now().Unix())); err != nil {
		t.Fatalf("advertise flavor ads: %v", err)
	}
	huge := strings.Repeat("r", 100<<10)
	jobs := []hostileJob{
		{name: "normal-1cpu", jobs: 3, normal: true, cpus: 1, mem: 1000},
		{name: "normal-4cpu", jobs: 2, normal: true, cpus: 4, mem: 6000},
		{name: "normal-pinned", attr: "EHOSFlavor", value: `"large"`, jobs: 1, normal: true, cpus: 1, mem: 1200},
		{name: "tab-region", attr: "EHOSRegion", value: "\"Region\tOne\"", jobs: 1, cpus: 1, mem: 1300},
		{name: "tab-cloud", attr: "EHOSCloud", value: "\"\tc1\"", jobs: 1, cpus: 1, mem: 1400},
		{name: "trailing-backslash", attr: "EHOSRegion", value: `"r1\"`, jobs: 1, cpus: 1, mem: 1500},
		{name: "backslashes", attr: "EHOSCloud", value: `"c:\\x\\"`, jobs: 1, cpus: 1, mem: 1600},
		{name: "quote", attr: "EHOSFlavor", value: `"sm\"all"`, jobs: 1, cpus: 1, mem: 1700},
		{name: "injection", attr: "EHOSFlavor", value: `"x\" Requirements = True; y = \""`, jobs: 1, cpus: 1, mem: 1800},
		{name: "literal-newline", attr: "EHOSRegion", value: `"r1\nEHOSIdle = 1000"`, jobs: 1, cpus: 1, mem: 1900},
		{name: "control-byte", attr: "EHOSFlavor", value: "\"ctl\x01\"", jobs: 1, cpus: 1, mem: 2000},
		{name: "100kB", attr: "EHOSRegion", value: `"` + huge + `"`, jobs: 1, cpus: 1, mem: 2100},
	}
	byCluster := map[int]hostileJob{}
	for _, j := range jobs {
		sub := fmt.Sprintf("executable = /bin/sleep\narguments = 1\nrequest_cpus = %d\nrequest_memory = %d\n", j.cpus, j.mem)
		if j.attr != "" {
			sub += "+" + j.attr + " = " + j.value + "\n"
		}
		c, err := cl.Submit(ctx, sub+fmt.Sprintf("queue %d\n", j.jobs))
		if err != nil {
			t.Fatalf("submit %s: %v", j.name, err)
		}
		byCluster[c] = j
	}

	rec := &recordingCondor{Client: cl}
	var logs syncBuffer
	r := &demand.Reporter{Condor: rec, Pool: demandPool, Lifetime: time.Minute, Log: zerolog.New(&logs)}

	// The truth: what HTCondor holds for each job, from condor_q -json.
	type truth struct {
		ac  int
		pin string
	}
	truthOf := func(ctx context.Context) (map[int]truth, error) {
		ads, err := cl.Queue(ctx, condor.QueueQuery{AllUsers: true, Attrs: []string{"ClusterId", "AutoClusterId", "EHOSCloud", "EHOSRegion", "EHOSFlavor"}})
		if err != nil {
			return nil, err
		}
		m := map[int]truth{}
		for _, ad := range ads {
			c := int(ad.GetInt("ClusterId", -1))
			j := byCluster[c]
			tr := truth{ac: int(ad.GetInt("AutoClusterId", -1))}
			if j.attr != "" {
				tr.pin = ad.GetString(j.attr)
			}
			m[c] = tr
		}
		return m, nil
	}

	var truths map[int]truth
	var adsByAC map[int]demand.Group
	var st demand.Stats
	pool.WaitFor(t, 2*time.Minute, "every job in an autocluster and every readable autocluster reported", func(ctx context.Context) (bool, error) {
		var err error
		if st, err = r.Cycle(ctx, time.Now()); err != nil {
			return false, fmt.Errorf("the reporter's cycle failed (one hostile job must not fail the batch): %w", err)
		}
		if truths, err = truthOf(ctx); err != nil {
			return false, err
		}
		acs := map[int]bool{}
		for c, tr := range truths {
			if tr.ac < 0 {
				return false, nil // not in an autocluster yet
			}
			if acs[tr.ac] {
				t.Logf("cluster %d shares autocluster %d", c, tr.ac)
			}
			acs[tr.ac] = true
		}
		groups, err := demand.ParseDemandAds(rec.last())
		if err != nil {
			return false, err
		}
		adsByAC = map[int]demand.Group{}
		for _, g := range groups {
			adsByAC[g.Autocluster] = g
		}
		return len(adsByAC)+st.Skipped == len(acs), nil
	})
	t.Logf("%d groups advertised, %d skipped, %d bytes read", st.Groups, st.Skipped, st.BytesRead)

	carried, skipped := 0, 0
	for c, j := range byCluster {
		tr := truths[c]
		g, ok := adsByAC[tr.ac]
		switch {
		case j.normal:
			switch {
			case !ok:
				t.Errorf("%s (cluster %d, autocluster %d): no demand reported", j.name, c, tr.ac)
			case g.Idle != j.jobs || g.Cpus != j.cpus || g.MemoryMB != j.mem:
				t.Errorf("%s: demand %+v, want %d idle of %d cpu/%d MB", j.name, g, j.jobs, j.cpus, j.mem)
			case j.attr == "EHOSFlavor" && g.Pin.Flavor != "large":
				t.Errorf("%s: pin %+v, want flavor large", j.name, g.Pin)
			}
		case ok:
			carried++
			var got string
			switch j.attr {
			case "EHOSCloud":
				got = g.Pin.Cloud
			case "EHOSRegion":
				got = g.Pin.Region
			case "EHOSFlavor":
				got = g.Pin.Flavor
			}
			if got != tr.pin {
				t.Errorf("%s: %s carried as %s, HTCondor holds %s", j.name, j.attr, clipQ(got), clipQ(tr.pin))
			}
			if g.Idle != j.jobs || g.MemoryMB != j.mem {
				t.Errorf("%s: demand %+v, want %d idle of %d MB", j.name, g, j.jobs, j.mem)
			}
		default:
			skipped++
			want := fmt.Sprintf(`"autocluster":%d,"attribute":"%s"`, tr.ac, j.attr)
			if !strings.Contains(logs.String(), want) || !strings.Contains(logs.String(), `"schedd":`) {
				t.Errorf("%s (autocluster %d): skipped without a warning naming the schedd, it and %s", j.name, tr.ac, j.attr)
			}
		}
		t.Logf("%-18s cluster %2d autocluster %2d: reported %v", j.name, c, tr.ac, ok)
	}
	if skipped != st.Skipped {
		t.Errorf("%d hostile groups missing, the reporter says it skipped %d", skipped, st.Skipped)
	}
	t.Logf("hostile groups: %d carried faithfully, %d skipped with a warning", carried, skipped)

	// What the collector holds is what HTCondor makes of the reporter's
	// quoting (lib/classad.Stored), for every advertised group.
	dads, err := cl.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: demand.DemandConstraint(demandPool)})
	if err != nil {
		t.Fatal(err)
	}
	stored, err := demand.ParseDemandAds(dads)
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(adsByAC) {
		t.Errorf("collector holds %d demand ads, the reporter sent %d", len(stored), len(adsByAC))
	}
	for _, s := range stored {
		g := adsByAC[s.Autocluster]
		for _, p := range [][2]string{{s.Pin.Cloud, g.Pin.Cloud}, {s.Pin.Region, g.Pin.Region}, {s.Pin.Flavor, g.Pin.Flavor}} {
			if p[0] != classad.Stored(p[1]) {
				t.Errorf("autocluster %d: collector holds pin %s, expected %s", s.Autocluster, clipQ(p[0]), clipQ(classad.Stored(p[1])))
			}
		}
		if s.Idle != g.Idle {
			t.Errorf("autocluster %d: collector holds %d idle, reporter sent %d", s.Autocluster, s.Idle, g.Idle)
		}
	}
}

func clipQ(s string) string {
	if len(s) > 60 {
		return fmt.Sprintf("%q... (%d bytes)", s[:60], len(s))
	}
	return fmt.Sprintf("%q", s)
}

// syncBuffer is a log sink safe for the reporter's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
