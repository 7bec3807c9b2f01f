//go:build integration

package integration_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/demand"
)

// countingCondor counts the bytes the reporter reads from HTCondor's tools.
type countingCondor struct {
	*condor.Client
	read atomic.Int64
}

func (c *countingCondor) Run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	out, err := c.Client.Run(ctx, tool, args...)
	c.read.Add(int64(len(out)))
	return out, err
}

func (c *countingCondor) Advertise(ctx context.Context, cmd string, ads []classad.Ad) error {
	return c.Client.Advertise(ctx, cmd, ads)
}

// BenchmarkDemandReporter20k: one reporter cycle against a schedd holding
// 20,000 idle jobs in 50 shapes (no worker, so they stay idle), beside
// `condor_q -json` of the full job ads of the same queue.
// Run with: make bench (or go test -tags integration -run '^$' -bench DemandReporter ./integration/).
func BenchmarkDemandReporter20k(b *testing.B) {
	pool := integration.StartPool(b, integration.PoolOptions{ExtraConfig: integration.ShippedOfferRank(b)})
	cl := pool.Client()
	ctx := context.Background()
	// As in production: the provisioner's flavor ads are what the negotiator
	// matches against, and negotiating is what makes the schedd build
	// autoclusters (with no machine ad at all it never does).
	if err := cl.Advertise(ctx, "UPDATE_STARTD_AD", demand.FlavorAds(demandOffers(), "bench", time.Now().Unix())); err != nil {
		b.Fatal(err)
	}
	var mems []string
	for i := 0; i < 50; i++ {
		mems = append(mems, fmt.Sprint(1000+100*i))
	}
	start := time.Now()
	if _, err := cl.Submit(ctx, "executable = /bin/true\nrequest_cpus = 1\nrequest_memory = $(mem)\nqueue 400 mem in ("+strings.Join(mems, " ")+")\n"); err != nil {
		b.Fatal(err)
	}
	b.Logf("20,000 jobs submitted in %v", time.Since(start).Round(time.Millisecond))

	cc := &countingCondor{Client: cl}
	r := &demand.Reporter{Condor: cc, Pool: "bench", Lifetime: time.Minute, Log: zerolog.Nop()}
	// Autoclusters exist once the negotiator has asked the schedd.
	var last demand.Stats
	pool.WaitFor(b, 3*time.Minute, "50 autoclusters holding 20,000 idle jobs", func(ctx context.Context) (bool, error) {
		st, err := r.Cycle(ctx, time.Now())
		last = st
		return err == nil && st.Groups == 50 && st.Idle == 20000, err
	})
	b.Logf("queue ready after %v: %+v", time.Since(start).Round(time.Millisecond), last)

	// With b.Loop the function runs once, so the pool above is set up once.
	cc.read.Store(0)
	t0 := time.Now()
	n := 0
	for b.Loop() {
		if _, err := r.Cycle(ctx, time.Now()); err != nil {
			b.Fatal(err)
		}
		n++
	}
	cycleNs := float64(time.Since(t0).Nanoseconds()) / float64(n)
	cycleBytes := float64(cc.read.Load()) / float64(n)

	// The same queue as whole job ads, and what one tool call costs here
	// (the test tools run through a chroot wrapper; a cycle makes 3-4
	// calls, condor_q -json one).
	const fullRuns = 3
	var fullBytes float64
	t0 = time.Now()
	for i := 0; i < fullRuns; i++ {
		out, err := cl.Run(ctx, "condor_q", "-allusers", "-json")
		if err != nil {
			b.Fatal(err)
		}
		fullBytes = float64(len(out))
	}
	fullNs := float64(time.Since(t0).Nanoseconds()) / fullRuns
	t0 = time.Now()
	for i := 0; i < 5; i++ {
		if _, err := cl.Run(ctx, "condor_version"); err != nil {
			b.Fatal(err)
		}
	}
	execNs := float64(time.Since(t0).Nanoseconds()) / 5

	b.ReportMetric(cycleBytes, "bytes-read/op")
	b.ReportMetric(fullNs/1e6, "full-json-ms")
	b.ReportMetric(fullBytes, "full-json-bytes")
	b.ReportMetric(fullNs/cycleNs, "x-less-time")
	b.ReportMetric(fullBytes/cycleBytes, "x-fewer-bytes")
	b.Logf("one tool call through the test wrapper: %.1f ms", execNs/1e6)

	// The same comparison inside the HTCondor root, where the tools run as
	// they do in production (no wrapper per call): the real ehos_demand
	// binary, 21 cycles (the first is cold), then condor_q -json 5 times.
	// Medians: the machine is shared, and a neighbour's burst should not
	// decide the figure.
	bin := buildStatic(b, pool.Dir, "ehos_demand")
	script := bin + ` --pool bench --interval 10ms --count 21 2>&1
for i in 1 2 3 4 5; do s=$(date +%s%N); n=$(condor_q -allusers -json | wc -c); e=$(date +%s%N); echo "FULL $n $(( (e - s) / 1000 ))"; done`
	cmd := exec.CommandContext(ctx, pool.Install.Wrap, "sh", "-c", script)
	cmd.Env = append(os.Environ(), "CONDOR_CONFIG="+pool.ConfigFile, "EHOS_CONDOR_ROOT="+pool.Install.Root)
	out, err := cmd.Output()
	if err != nil {
		b.Fatalf("in-root run: %v\n%s", err, out)
	}
	var cycles, fulls []float64
	var inBytes, fullB float64
	for i, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var full, us int64
		if _, err := fmt.Sscanf(line, "FULL %d %d", &full, &us); err == nil {
			fulls = append(fulls, float64(us)/1000)
			fullB = float64(full)
			continue
		}
		var rec struct {
			Msg   string  `json:"message"`
			Took  float64 `json:"took"`
			Bytes float64 `json:"bytes"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "demand reported" && i > 0 {
			cycles = append(cycles, rec.Took)
			inBytes = rec.Bytes
		}
	}
	if len(cycles) == 0 || len(fulls) == 0 {
		b.Fatalf("in-root run printed no figures:\n%s", out)
	}
	sort.Float64s(cycles)
	sort.Float64s(fulls)
	inCycleMs, inFullMs := cycles[len(cycles)/2], fulls[len(fulls)/2]
	b.ReportMetric(inCycleMs, "native-cycle-ms")
	b.ReportMetric(inFullMs/inCycleMs, "native-x-less-time")
	b.Logf("inside the root (native tool calls): ehos_demand cycle median %.1f ms (%.1f-%.1f over %d warm cycles), %.0f bytes; condor_q -json median %.1f ms (%.1f-%.1f), %.0f bytes: %.1fx less time, %.0fx fewer bytes",
		inCycleMs, cycles[0], cycles[len(cycles)-1], len(cycles), inBytes, inFullMs, fulls[0], fulls[len(fulls)-1], fullB, inFullMs/inCycleMs, fullB/inBytes)
	if cycleNs > 0 && cycleBytes > 0 {
		b.Logf("reporter cycle %.1f ms, %.0f bytes read; condor_q -json %.1f ms, %.0f bytes: %.1fx less time, %.0fx fewer bytes (goal 20x)",
			cycleNs/1e6, cycleBytes, fullNs/1e6, fullBytes, fullNs/cycleNs, fullBytes/cycleBytes)
	}
}
