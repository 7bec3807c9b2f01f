package admin

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// WriteMetrics writes the provisioner's status in the Prometheus text
// exposition format (0.0.4): gauges read from its ad, so they are as fresh
// as its last cycle. readErr is the error reading the collector, if any:
// then only ehos_up (0) is written, with the error as a comment. Every
// series of a fixed set (node states) is written even at 0, so that a
// missing series means a missing exporter, not a zero.
func WriteMetrics(w io.Writer, s Status, readErr error) error {
	m := &metrics{}
	m.write(s, readErr)
	_, err := w.Write(m.b.Bytes())
	return err
}

func (m *metrics) write(s Status, readErr error) {
	up := 0
	if readErr == nil && s.Healthy() {
		up = 1
	}
	switch {
	case readErr != nil:
		m.comment("reading the collector: " + readErr.Error())
	case s.Problem != "":
		m.comment(s.Problem)
	}
	m.gauge("ehos_up", "1 when the provisioner's ad is in the collector, fresh (its last cycle within 3 cycles) and readable", nil, float64(up))
	if readErr != nil {
		return
	}
	m.gauge("ehos_provisioner_ads", "EHOSProvisioner ads in the collector; more than 1 means several provisioners for one pool", nil, float64(s.Others+btoi(s.Found)))
	if !s.Found {
		return
	}
	r := s.Report
	m.gauge("ehos_last_cycle_timestamp_seconds", "when the provisioner's last cycle ran, in Unix time", nil, float64(s.LastCycle.Unix()))
	m.gauge("ehos_last_cycle_duration_seconds", "how long the last cycle took", nil, r.Duration.Seconds())
	m.gauge("ehos_cycle_interval_seconds", "the time between cycles", nil, s.Cycle.Seconds())
	m.gauge("ehos_dry_run", "1 when decisions are logged, not carried out", nil, float64(btoi(r.DryRun)))
	m.gauge("ehos_idle_jobs", "idle jobs in the demand the last cycle saw", nil, float64(s.IdleJobs))
	unmet := 0
	for _, u := range r.Decision.Unmet {
		unmet += u.Jobs
	}
	m.gauge("ehos_unmet_jobs", "idle jobs the last decision found no room or no flavor for", nil, float64(unmet))
	for _, st := range scale.NodeStates {
		m.gauge("ehos_nodes", "this provisioner's VMs by lifecycle state", []string{"state", string(st)}, float64(s.Nodes[st]))
	}
	m.gauge("ehos_decision_creates", "VMs the last decision created", nil, float64(provision.CountCreates(r.Decision)))
	m.gauge("ehos_decision_drains", "nodes the last decision drained", nil, float64(len(r.Decision.Drains)))
	m.gauge("ehos_decision_deletes", "VMs the last decision deleted", nil, float64(len(r.Decision.Deletes)))
	m.gauge("ehos_cycle_errors", "errors in the last cycle (ehos status lists them)", nil, float64(len(r.Errors)))
	m.gauge("ehos_refused_ads", "ads the last cycle refused: written by an identity that may not speak for that VM or offer (ehos doctor lists them)", nil, float64(len(r.Refused)))

	regions := slices.Clone(r.Regions)
	slices.SortStableFunc(regions, func(a, b provision.RegionReport) int {
		return strings.Compare(a.Location.String(), b.Location.String())
	})
	region := func(l cloud.Location, more ...string) []string {
		return append([]string{"cloud", l.Cloud, "region", l.Region}, more...)
	}
	for _, f := range []struct {
		name, help string
		value      func(provision.RegionReport) int
	}{
		{"ehos_region_vms", "this provisioner's VMs the region listed", func(rr provision.RegionReport) int { return rr.VMs }},
		{"ehos_region_listed", "1 when the last cycle listed the region's servers", func(rr provision.RegionReport) int { return btoi(rr.Listed) }},
		{"ehos_region_backoff", "1 while the region backs off after failures", func(rr provision.RegionReport) int { return btoi(!rr.BackoffUntil.IsZero()) }},
	} {
		for _, rr := range regions {
			m.gauge(f.name, f.help, region(rr.Location), float64(f.value(rr)))
		}
	}
	for _, kind := range []struct{ name, help string }{
		{"ehos_quota_limit", "the region's Nova limit (unlimited ones are left out)"},
		{"ehos_quota_used", "what the project uses of the region's Nova limit"},
	} {
		for _, rr := range regions {
			l := rr.Limits
			if l == nil {
				continue
			}
			for _, q := range []struct {
				res       string
				max, used int
			}{{"instances", l.MaxInstances, l.UsedInstances}, {"cores", l.MaxCores, l.UsedCores}, {"ram_mb", l.MaxRAMMB, l.UsedRAMMB}} {
				if q.max < 0 {
					continue // unlimited: no series
				}
				v := q.max
				if kind.name == "ehos_quota_used" {
					v = q.used
				}
				m.gauge(kind.name, kind.help, region(rr.Location, "resource", q.res), float64(v))
			}
		}
	}
}

// metrics builds the exposition text; a family's HELP and TYPE go before
// its first sample only.
type metrics struct {
	b    bytes.Buffer
	seen map[string]bool
}

func (m *metrics) comment(s string) {
	for _, line := range strings.Split(s, "\n") {
		fmt.Fprintf(&m.b, "# %s\n", line)
	}
}

func (m *metrics) gauge(name, help string, labels []string, v float64) {
	if m.seen == nil {
		m.seen = map[string]bool{}
	}
	if !m.seen[name] {
		m.seen[name] = true
		fmt.Fprintf(&m.b, "# HELP %s %s\n", name, escapeHelp(help))
		fmt.Fprintf(&m.b, "# TYPE %s gauge\n", name)
	}
	m.b.WriteString(name)
	if len(labels) > 0 {
		m.b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				m.b.WriteByte(',')
			}
			fmt.Fprintf(&m.b, "%s=\"%s\"", labels[i], escapeLabel(labels[i+1]))
		}
		m.b.WriteByte('}')
	}
	m.b.WriteByte(' ')
	m.b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
	m.b.WriteByte('\n')
}

// escapeLabel escapes a label value as the text format asks: backslash,
// double quote and line feed.
func escapeLabel(s string) string {
	return strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`).Replace(s)
}

// escapeHelp escapes HELP text: backslash and line feed.
func escapeHelp(s string) string {
	return strings.NewReplacer(`\`, `\\`, "\n", `\n`).Replace(s)
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

// MetricsHandler serves WriteMetrics at every request, reading the status
// afresh each time (bounded by timeout), so a scrape sees the provisioner's
// latest ad.
func MetricsHandler(read func(context.Context) (Status, error), timeout time.Duration) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if req.Method != http.MethodGet && req.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		ctx, cancel := context.WithTimeout(req.Context(), timeout)
		defer cancel()
		st, err := read(ctx)
		var b bytes.Buffer
		if werr := WriteMetrics(&b, st, err); werr != nil {
			http.Error(w, werr.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		w.Write(b.Bytes())
	})
}
