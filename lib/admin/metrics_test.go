package admin

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

// The text format, line by line: HELP and TYPE comments, other comments,
// and samples of a metric name, optional labels with quoted values, and a
// number.
var exposition = regexp.MustCompile(`^(# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*|# TYPE [a-zA-Z_:][a-zA-Z0-9_:]* (gauge|counter)|# .*|[a-zA-Z_:][a-zA-Z0-9_:]*(\{([a-zA-Z_][a-zA-Z0-9_]*="([^"\\\n]|\\[\\"n])*",?)*\})? -?[0-9.e+-]+)$`)

func checkExposition(t *testing.T, text string) {
	t.Helper()
	if !strings.HasSuffix(text, "\n") {
		t.Errorf("exposition does not end with a line feed")
	}
	typed := map[string]bool{}
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if !exposition.MatchString(line) {
			t.Errorf("line %d is not in the text format: %q", i+1, line)
		}
		if f := strings.Fields(line); len(f) == 4 && f[1] == "TYPE" {
			if typed[f[2]] {
				t.Errorf("line %d: TYPE of %s given twice", i+1, f[2])
			}
			typed[f[2]] = true
		} else if !strings.HasPrefix(line, "#") {
			name, _, _ := strings.Cut(strings.Fields(line)[0], "{")
			if !typed[name] {
				t.Errorf("line %d: sample of %s before its TYPE", i+1, name)
			}
		}
	}
}

func TestWriteMetrics(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	one := cloud.Location{Cloud: "alpha", Region: "RegionOne"}
	odd := cloud.Location{Cloud: "beta", Region: `Region "Two"\`}
	rep := provision.Report{Time: now.Add(-10 * time.Second), Cycle: 20 * time.Second, Duration: 250 * time.Millisecond, Pool: "demo", Owner: "cm",
		Demand: []scale.Demand{{Key: "cm#1", Need: scale.Resources{Cpus: 2}, Idle: 5}},
		Nodes: []provision.NodeReport{
			{Name: "ehos-demo-a", Location: one, Flavor: "m1.medium", State: scale.Busy, Running: 2},
			{Name: "ehos-demo-b", Location: one, Flavor: "m1.medium", State: scale.Busy, Running: 1},
			{Name: "ehos-demo-c", Location: odd, Flavor: "m1.medium", State: scale.Booting},
		},
		Regions: []provision.RegionReport{
			{Location: odd, Listed: false, VMs: 1, BackoffUntil: now.Add(time.Minute), BackoffReason: "HTTP 503"},
			{Location: one, Listed: true, VMs: 2, Limits: &cloud.Limits{MaxInstances: 10, UsedInstances: 4, MaxCores: -1, UsedCores: 8, MaxRAMMB: 51200, UsedRAMMB: 16384}},
		},
		Decision: scale.Decision{
			Creates: []scale.Create{{Offer: scale.OfferKey{Loc: one, Flavor: "m1.medium"}, Count: 2}},
			Unmet:   []scale.Unmet{{Demand: "cm#1", Jobs: 1, Reason: scale.Reason{Kind: scale.UnmetNoRoom, Blocks: []scale.Block{{Limit: scale.LimitMax, Of: 2, Exists: 2}}}}},
		},
		Errors: []string{"list beta: HTTP 503"},
	}
	st := StatusFromAds([]classad.Ad{rep.Ad(1)}, now)
	var b bytes.Buffer
	if err := WriteMetrics(&b, st, nil); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	checkExposition(t, out)
	for _, want := range []string{
		"# TYPE ehos_up gauge\nehos_up 1\n",
		"ehos_provisioner_ads 1\n",
		"ehos_last_cycle_timestamp_seconds 1795521590\n",
		"ehos_last_cycle_duration_seconds 0.25\n",
		"ehos_cycle_interval_seconds 20\n",
		"ehos_idle_jobs 5\n",
		"ehos_unmet_jobs 1\n",
		`ehos_nodes{state="booting"} 1` + "\n",
		`ehos_nodes{state="busy"} 2` + "\n",
		`ehos_nodes{state="failed"} 0` + "\n",
		"ehos_decision_creates 2\n",
		"ehos_cycle_errors 1\n",
		// regions in name order, label values escaped
		`ehos_region_vms{cloud="alpha",region="RegionOne"} 2` + "\n" + `ehos_region_vms{cloud="beta",region="Region \"Two\"\\"} 1` + "\n",
		`ehos_region_listed{cloud="beta",region="Region \"Two\"\\"} 0` + "\n",
		`ehos_region_backoff{cloud="alpha",region="RegionOne"} 0` + "\n" + `ehos_region_backoff{cloud="beta",region="Region \"Two\"\\"} 1` + "\n",
		`ehos_quota_limit{cloud="alpha",region="RegionOne",resource="instances"} 10` + "\n" + `ehos_quota_limit{cloud="alpha",region="RegionOne",resource="ram_mb"} 51200` + "\n",
		`ehos_quota_used{cloud="alpha",region="RegionOne",resource="instances"} 4` + "\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("metrics lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, `resource="cores"`) {
		t.Errorf("an unlimited quota has a series:\n%s", out)
	}
	if rep.Regions[0].Location != odd {
		t.Errorf("WriteMetrics reordered the report's regions")
	}

	// A stale ad: ehos_up 0, with the reason as a comment.
	old := rep
	old.Time = now.Add(-time.Hour)
	b.Reset()
	WriteMetrics(&b, StatusFromAds([]classad.Ad{old.Ad(2)}, now), nil)
	checkExposition(t, b.String())
	if !strings.Contains(b.String(), "\nehos_up 0\n") || !strings.HasPrefix(b.String(), "# STALE: ") || !strings.Contains(b.String(), "ehos_nodes{") {
		t.Errorf("stale ad:\n%s", b.String())
	}
	// No ad, and no collector.
	b.Reset()
	WriteMetrics(&b, StatusFromAds(nil, now), nil)
	checkExposition(t, b.String())
	if !strings.Contains(b.String(), "\nehos_up 0\n") || !strings.Contains(b.String(), "ehos_provisioner_ads 0\n") || strings.Contains(b.String(), "ehos_nodes") {
		t.Errorf("no ad:\n%s", b.String())
	}
	b.Reset()
	WriteMetrics(&b, Status{}, errors.New("condor_status: connection refused\nsecond line"))
	checkExposition(t, b.String())
	if b.String() != "# reading the collector: condor_status: connection refused\n# second line\n# HELP ehos_up 1 when the provisioner's ad is in the collector, fresh (its last cycle within 3 cycles) and readable\n# TYPE ehos_up gauge\nehos_up 0\n" {
		t.Errorf("no collector:\n%s", b.String())
	}
}

func TestMetricsHandler(t *testing.T) {
	now := time.Now()
	rep := provision.Report{Time: now, Cycle: 20 * time.Second, Pool: "demo", Owner: "cm"}
	reads := 0
	h := MetricsHandler(func(ctx context.Context) (Status, error) {
		reads++
		if _, ok := ctx.Deadline(); !ok {
			t.Errorf("read without a deadline")
		}
		return StatusFromAds([]classad.Ad{rep.Ad(1)}, now), nil
	}, time.Second)
	srv := httptest.NewServer(h)
	defer srv.Close()
	for i := range 2 {
		resp, err := http.Get(srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain; version=0.0.4") || !strings.Contains(string(body), "\nehos_up 1\n") {
			t.Errorf("scrape %d: %s %q\n%s", i, resp.Status, resp.Header.Get("Content-Type"), body)
		}
	}
	if reads != 2 {
		t.Errorf("%d reads of the collector for 2 scrapes", reads)
	}
	resp, err := http.Post(srv.URL+"/metrics", "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %s", resp.Status)
	}
}
