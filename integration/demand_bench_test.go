//go:build integration

package integration_test

import (
	"context"
	"fmt"
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
	pool := integration.StartPool(b, integration.PoolOptions{})
	cl := pool.Client()
	ctx := context.Background()
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
	pool.WaitFor(b, 2*time.Minute, "50 autoclusters holding 20,000 idle jobs", func(ctx context.Context) (bool, error) {
		st, err := r.Cycle(ctx, time.Now())
		return err == nil && st.Groups == 50 && st.Idle == 20000, err
	})

	var cycleNs, cycleBytes, fullNs, fullBytes float64
	b.Run("reporter-cycle", func(b *testing.B) {
		cc.read.Store(0)
		t0 := time.Now()
		n := 0
		for b.Loop() {
			if _, err := r.Cycle(ctx, time.Now()); err != nil {
				b.Fatal(err)
			}
			n++
		}
		cycleNs = float64(time.Since(t0).Nanoseconds()) / float64(n)
		cycleBytes = float64(cc.read.Load()) / float64(n)
		b.ReportMetric(cycleBytes, "bytes-read/op")
	})
	b.Run("condor_q-json-full", func(b *testing.B) {
		var read int64
		t0 := time.Now()
		n := 0
		for b.Loop() {
			out, err := cl.Run(ctx, "condor_q", "-allusers", "-json")
			if err != nil {
				b.Fatal(err)
			}
			read += int64(len(out))
			n++
		}
		fullNs = float64(time.Since(t0).Nanoseconds()) / float64(n)
		fullBytes = float64(read) / float64(n)
		b.ReportMetric(fullBytes, "bytes-read/op")
	})
	if cycleNs > 0 && cycleBytes > 0 {
		b.Logf("reporter cycle %.1f ms, %.0f bytes read; condor_q -json %.1f ms, %.0f bytes: %.1fx less time, %.0fx fewer bytes (goal 20x)",
			cycleNs/1e6, cycleBytes, fullNs/1e6, fullBytes, fullNs/cycleNs, fullBytes/cycleBytes)
	}
}
