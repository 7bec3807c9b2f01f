package sim

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestProgressPrinter(t *testing.T) {
	var now time.Time
	at := func(d time.Duration) { now = Epoch.Add(d) }
	at(0)
	var b strings.Builder
	show := progressPrinter(&b, "ehos", func() time.Time { return now })
	span := 30 * 24 * time.Hour
	steps := []struct {
		wall time.Duration
		p    Progress
	}{
		{time.Second, Progress{Finished: 10, Jobs: 1000, Simulated: time.Hour, Span: span}},               // too soon: nothing
		{4 * time.Second, Progress{Finished: 100, Jobs: 1000, Simulated: 3 * 24 * time.Hour, Span: span}}, // first line
		{6 * time.Second, Progress{Finished: 150, Jobs: 1000, Simulated: 4 * 24 * time.Hour, Span: span}}, // within 5 s of it: nothing
		{10 * time.Second, Progress{Finished: 1000, Jobs: 1000, Simulated: span + time.Hour, Span: span}}, // past the span
		{11 * time.Second, Progress{Finished: 1000, Jobs: 1000, Simulated: span + time.Hour, Span: span, Cycles: 90, Ran: 80, Done: true}},
	}
	for _, s := range steps {
		at(s.wall)
		show(s.p)
	}
	want := "simulate ehos: 100 of 1000 jobs done, simulated 3d00h00m of 30d00h00m, 4s so far, about 36s left\n" +
		"simulate ehos: 1000 of 1000 jobs done, simulated 30d01h00m of 30d00h00m, 10s so far, retiring the last workers\n" +
		"simulate ehos: 1000 of 1000 jobs done, simulated 30d01h00m of 30d00h00m, finished in 11s (80 of 90 cycles ran the policy, the rest could change nothing)\n"
	if diff := cmp.Diff(want, b.String()); diff != "" {
		t.Errorf("progress lines (-want +got):\n%s", diff)
	}

	// A run shorter than a few seconds says nothing, not even that it ended.
	b.Reset()
	at(0)
	show = progressPrinter(&b, "baseline", func() time.Time { return now })
	at(2 * time.Second)
	show(Progress{Finished: 5, Jobs: 5, Done: true})
	if b.Len() > 0 {
		t.Errorf("a 2 s run printed %q", b.String())
	}
}
