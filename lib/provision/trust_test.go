package provision

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
)

// A worker's slot ad that carries another VM's instance id (its own name,
// so its identity checked out) and says it is draining is not taken for
// that VM: the busy VM is neither drained nor deleted, and the lie is
// refused in the report and the provisioner's ad.
func TestWorkerClaimingAnotherVMsInstanceIDIsIgnored(t *testing.T) {
	r := newRig(t, knobs())
	r.pool.demand = smallDemand(2, offerKey("a", "r1", "small"))
	r.cycle(0)
	vms := r.servers(r.a)
	if len(vms) != 2 {
		t.Fatalf("created %d VMs, want 2", len(vms))
	}
	busy, liar := vms[0], vms[1]
	for _, vm := range vms {
		r.a.setStatus(vm.ID, cloud.StatusActive)
	}
	r.pool.join(busy, 1, time.Time{})
	r.pool.join(liar, 0, r.now)
	r.pool.demand = nil
	r.pool.mu.Lock()
	w := r.pool.workers[liar.Metadata[cloud.MetaName]]
	w.InstanceID, w.Draining = busy.ID, true
	r.pool.mu.Unlock()

	first := r.cycle(time.Minute)
	var rep Report
	for i := 0; i < 20; i++ {
		rep = r.cycle(time.Minute)
	}
	alive := false
	for _, vm := range r.servers(r.a) {
		alive = alive || vm.ID == busy.ID
	}
	if !alive {
		t.Fatalf("the busy VM %s was deleted on another worker's word", busy.ID)
	}
	for _, n := range rep.Nodes {
		if n.ID == busy.ID && n.State != "busy" {
			t.Errorf("busy VM is %s", n.State)
		}
	}
	if len(first.Refused) == 0 || !strings.Contains(first.Refused[0].Claimed, busy.ID) || !strings.Contains(first.Refused[0].Why, liar.ID) {
		t.Errorf("refused %v, want the liar's ad", first.Refused)
	}
	ad := first.Ad(1)
	if ad.GetInt("EHOSRefusedAds", 0) == 0 || !strings.Contains(ad.GetString("EHOSLastRefusal"), busy.ID) {
		t.Errorf("provisioner ad: EHOSRefusedAds %d, EHOSLastRefusal %q", ad.GetInt("EHOSRefusedAds", 0), ad.GetString("EHOSLastRefusal"))
	}
}

// A report whose strings hold quotes and backslashes (a refused ad's
// claims, an error quoting a name) survives HTCondor's storage of the
// EHOSReport string and reads back whole.
func TestReportWithQuotesSurvivesTheCollector(t *testing.T) {
	rep := Report{Time: t0, Pool: "p", Owner: "o",
		Refused: []Refusal{{Ad: `slot1@"x"`, Identity: "a@b", Claimed: `EHOSName="ehos-p-1" EHOSFlavor="m1\\"`, Why: `ends in \`}},
		Errors:  []string{`cloud "alpha": 503 \ "quoted\"`, `trailing\\`}}
	s := rep.Ad(1).GetString("EHOSReport")
	if stored := classad.Stored(s); stored != s {
		t.Fatalf("HTCondor would store the report changed:\n%s\n%s", s, stored)
	}
	got, err := ReportFromAd(classad.Ad{"EHOSReport": classad.String(classad.Stored(s))})
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(rep.Refused, got.Refused); d != "" || !slices.Equal(rep.Errors, got.Errors) {
		t.Errorf("read back (-want +got):\n%s\nerrors %q", d, got.Errors)
	}
}
