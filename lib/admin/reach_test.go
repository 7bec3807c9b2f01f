package admin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/provision"
)

// An unreachable worker in the provisioner's ad shows in `ehos status`
// (through the ad, as status reads it) and fails `ehos doctor` with its
// address and the hint as the fix.
func TestUnreachableWorkerInStatusAndDoctor(t *testing.T) {
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	u := provision.Unreachable{Node: "ehos-demo-aaaa", Location: cloud.Location{Cloud: "alpha", Region: "RegionOne"},
		Address: "<10.213.49.4:9618?noUDP>", Since: now.Add(-2 * time.Minute), Error: "no connection to the worker", Hint: "leave CCB_ADDRESS = $(COLLECTOR_HOST) on the workers"}
	rep := provision.Report{Time: now.Add(-5 * time.Second), Cycle: 20 * time.Second, Pool: "demo", Owner: "cm", Unreachable: []provision.Unreachable{u}}
	st := StatusFromAds([]classad.Ad{rep.Ad(1)}, now)
	var b bytes.Buffer
	WriteStatus(&b, st)
	if want := "unreachable workers (no job starts there; docs/network.md):\n  worker ehos-demo-aaaa (alpha/RegionOne) at <10.213.49.4:9618?noUDP>"; !strings.Contains(b.String(), want) {
		t.Errorf("status lacks %q:\n%s", want, b.String())
	}
	fs := unreachableFindings(st.Report)
	if len(fs) != 1 || fs[0].Level != Fail || fs[0].Where != "alpha/RegionOne" || !strings.Contains(fs[0].What, "<10.213.49.4:9618?noUDP>") || fs[0].Fix != u.Hint {
		t.Errorf("doctor: %v", fs)
	}
	if fs := unreachableFindings(provision.Report{}); len(fs) != 0 {
		t.Errorf("doctor with every worker reached: %v", fs)
	}
}
