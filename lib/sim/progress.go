package sim

import (
	"fmt"
	"io"
	"time"
)

// ProgressPrinter returns an Options.Progress that writes a line to w now
// and then for runs longer than a few seconds: jobs done, simulated time
// and an estimate of the wall time left (from the share of the trace's
// span simulated so far). label names the run ("ehos", "baseline").
func ProgressPrinter(w io.Writer, label string) func(Progress) {
	return progressPrinter(w, label, time.Now)
}

func progressPrinter(w io.Writer, label string, clock func() time.Time) func(Progress) {
	start := clock()
	var last time.Time
	printed := false
	return func(p Progress) {
		now := clock()
		elapsed := now.Sub(start)
		switch {
		case p.Done && !printed:
			return // a short run: nothing was said, nothing to close
		case p.Done:
		case elapsed < 3*time.Second || now.Sub(last) < 5*time.Second:
			return
		}
		last, printed = now, true
		line := fmt.Sprintf("simulate %s: %d of %d jobs done, simulated %s of %s", label, p.Finished, p.Jobs,
			days(p.Simulated), days(p.Span))
		switch {
		case p.Done:
			line += fmt.Sprintf(", finished in %s (%d of %d cycles ran the policy, the rest could change nothing)",
				elapsed.Round(100*time.Millisecond), p.Ran, p.Cycles)
		case p.Simulated > 0 && p.Simulated < p.Span:
			left := time.Duration(float64(elapsed) * float64(p.Span-p.Simulated) / float64(p.Simulated))
			line += fmt.Sprintf(", %s so far, about %s left", elapsed.Round(time.Second), left.Round(time.Second))
		default:
			line += fmt.Sprintf(", %s so far, retiring the last workers", elapsed.Round(time.Second))
		}
		fmt.Fprintln(w, line)
	}
}

// days prints d as 3d04h05m, or 4h05m10s under a day.
func days(d time.Duration) string {
	if d < 24*time.Hour {
		return d.Truncate(time.Second).String()
	}
	day := d / (24 * time.Hour)
	d -= day * 24 * time.Hour
	return fmt.Sprintf("%dd%02dh%02dm", day, d/time.Hour, (d%time.Hour)/time.Minute)
}
