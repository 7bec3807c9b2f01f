package integration

import (
	"fmt"
	"strings"
)

// QueueRow is one shape of job in OneQueue: Values of the varying submit
// commands, queued Count times.
type QueueRow struct {
	Count  int
	Values []string // no spaces or commas: they separate the values
}

// OneQueue returns submit text that queues jobs of several shapes in one
// cluster with a single queue statement (`queue VARS from (...)`): HTCondor 25
// refuses a submit file with a second queue statement ("Extra data found
// after queue statement", SUBMIT_PREVENT_MULTI_QUEUE), while 23.9 and 25
// both take this form (docs/condor-versions.md). common holds the commands
// every job shares; vars names the commands that vary, e.g. request_cpus.
func OneQueue(common string, vars []string, rows ...QueueRow) string {
	var b strings.Builder
	b.WriteString(common)
	if common != "" && !strings.HasSuffix(common, "\n") {
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "queue %s from (\n", strings.Join(vars, ", "))
	for _, r := range rows {
		line := strings.Join(r.Values, ", ") + "\n"
		b.WriteString(strings.Repeat(line, r.Count))
	}
	b.WriteString(")\n")
	return b.String()
}
