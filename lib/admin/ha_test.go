package admin

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/provision"
)

// Two provisioners of one pool: the one that acts is shown, the standby is
// named with why, whichever cycled last; with only a standby, nothing acts
// and status says so.
func TestStatusShowsTheActingProvisionerAndTheStandby(t *testing.T) {
	now := time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
	acting := provision.Report{Time: now.Add(-4 * time.Second), Cycle: 10 * time.Second, Pool: "demo", Owner: "demo", Instance: "cm1/10"}
	standby := provision.Report{Time: now.Add(-time.Second), Cycle: 10 * time.Second, Pool: "demo", Owner: "demo", Instance: "cm2/20",
		Standby: "standby: provisioner cm1/10 holds the lease of pool demo (generation 1, until 03:00:26)"}
	st := StatusFromAds([]classad.Ad{standby.Ad(1), acting.Ad(1)}, now)
	var b bytes.Buffer
	WriteStatus(&b, st)
	for _, want := range []string{"provisioner demo@cm1/10: last cycle 4s ago (every 10s, took 0s): OK", "  STANDBY demo@cm2/20: standby: provisioner cm1/10 holds the lease"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("status lacks %q:\n%s", want, b.String())
		}
	}
	st = StatusFromAds([]classad.Ad{standby.Ad(1)}, now)
	if st.Healthy() || !strings.HasPrefix(st.Problem, "STANDBY, no provisioner of the pool acts") {
		t.Errorf("a lone standby judged %+v", st)
	}
}

func TestMasterSays(t *testing.T) {
	last := time.Unix(1000, 0)
	for _, tc := range []struct {
		start int64
		want  string
	}{
		{0, "condor_master cm says the provisioner is NOT RUNNING"},
		{1100, "condor_master cm says the provisioner was (re)started at 1970-01-01T00:18:20Z, after its last cycle"},
		{900, "condor_master cm says the provisioner runs since 1970-01-01T00:15:00Z: it hangs"},
	} {
		got := MasterSays([]classad.Ad{{"Name": classad.String("cm"), masterStartAttr: classad.Int(tc.start)}}, last)
		if !strings.HasPrefix(got, tc.want) {
			t.Errorf("start %d: %q, want it to start with %q", tc.start, got, tc.want)
		}
	}
	if got := MasterSays([]classad.Ad{{"Name": classad.String("worker")}}, last); got != "" {
		t.Errorf("a master that runs no provisioner says %q", got)
	}
}
