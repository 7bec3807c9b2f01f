package condorpool

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
)

// queueTools answers condor_status -schedd and condor_q per schedd.
type queueTools struct {
	fakeTools
	schedds []string
	jobs    map[string][]classad.Ad // by schedd
	down    map[string]bool
	asked   []condor.QueueQuery
}

func (f *queueTools) Status(_ context.Context, q condor.StatusQuery) ([]classad.Ad, error) {
	if q.Kind != "-schedd" {
		return nil, errors.New("unexpected query " + q.Kind)
	}
	var out []classad.Ad
	for _, s := range f.schedds {
		out = append(out, classad.Ad{"Name": classad.String(s)})
	}
	return out, nil
}

func (f *queueTools) Queue(_ context.Context, q condor.QueueQuery) ([]classad.Ad, error) {
	f.asked = append(f.asked, q)
	if f.down[q.Name] {
		return nil, errors.New("condor_q: failed to connect")
	}
	return f.jobs[q.Name], nil
}

func job(cluster, proc int, remote string) classad.Ad {
	return classad.Ad{"ClusterId": classad.Int(int64(cluster)), "ProcId": classad.Int(int64(proc)), "RemoteHost": classad.String(remote), "JobStatus": classad.Int(2)}
}

func TestRunningJobsByVM(t *testing.T) {
	tools := &queueTools{
		schedds: []string{"sub2@host", "sub1@host"},
		jobs: map[string][]classad.Ad{
			"sub1@host": {job(12, 0, "slot1_1@ehos-demo-aa@10.0.0.5"), job(12, 1, "slot1_2@ehos-demo-aa@10.0.0.5"), job(13, 0, "nohost")},
			"sub2@host": {job(3, 0, "slot1_1@ehos-demo-bb@10.0.0.6")},
		},
	}
	p := &Pool{Tools: tools, Name: "demo"}
	got, err := p.RunningJobs(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"ehos-demo-aa": {"schedd sub1@host job 12.0", "schedd sub1@host job 12.1"},
		"ehos-demo-bb": {"schedd sub2@host job 3.0"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	for _, q := range tools.asked {
		if !q.AllUsers || !strings.Contains(q.Constraint, "JobStatus == 2") {
			t.Errorf("query %+v: want every user's running jobs", q)
		}
	}

	// One schedd down: an error naming it, and what the other said.
	tools.down = map[string]bool{"sub2@host": true}
	got, err = p.RunningJobs(context.Background())
	if err == nil || !strings.Contains(err.Error(), "schedd sub2@host") {
		t.Errorf("error %v, want one naming schedd sub2@host", err)
	}
	if len(got["ehos-demo-aa"]) != 2 {
		t.Errorf("lost the answer of the schedd that answered: %v", got)
	}
}

func TestVMOfRemoteHost(t *testing.T) {
	for in, want := range map[string]string{
		"slot1_1@ehos-demo-aa@10.0.0.5": "ehos-demo-aa",
		"slot1@w1":                      "w1",
		"w1":                            "",
		"":                              "",
	} {
		if got := VMOfRemoteHost(in); got != want {
			t.Errorf("VMOfRemoteHost(%q) = %q, want %q", in, got, want)
		}
	}
}
