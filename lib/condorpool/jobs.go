package condorpool

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/provision"
)

// Queuer is the condor_q part of Tools, needed only to tell which jobs run
// where; *condor.Client satisfies it.
type Queuer interface {
	Queue(ctx context.Context, q condor.QueueQuery) ([]classad.Ad, error)
}

var _ provision.RunningJobs = (*Pool)(nil)

// onHostConstraint selects the jobs that hold a slot on some startd: running
// (2), transferring output (6) or suspended (7), with a RemoteHost.
const onHostConstraint = "(JobStatus == 2 || JobStatus == 6 || JobStatus == 7) && RemoteHost =!= undefined"

// RunningJobs asks every schedd the collector knows which of its jobs run
// on which startd. A worker's startd is named after its VM (STARTD_NAME, see
// condor-config/50-ehos-worker.conf), so a job's RemoteHost
// "slot1_1@NAME@HOST" runs on the VM NAME. One schedd that cannot be asked
// makes it an error (naming it), with what the others said.
func (p *Pool) RunningJobs(ctx context.Context) (map[string][]string, error) {
	q, ok := p.Tools.(Queuer)
	if !ok {
		return nil, errors.New("the pool's tools cannot run condor_q")
	}
	schedds, err := p.Tools.Status(ctx, condor.StatusQuery{Kind: "-schedd", Attrs: []string{"Name"}})
	if err != nil {
		return nil, fmt.Errorf("list the schedds: %w", err)
	}
	names := make([]string, 0, len(schedds))
	for _, s := range schedds {
		if n := s.GetString("Name"); n != "" {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	out := map[string][]string{}
	var errs []error
	for _, s := range names {
		jobs, err := q.Queue(ctx, condor.QueueQuery{
			Name: s, AllUsers: true, Constraint: onHostConstraint,
			Attrs: []string{"ClusterId", "ProcId", "RemoteHost", "JobStatus"},
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("schedd %s: %w", s, err))
			continue
		}
		for _, j := range jobs {
			vm := VMOfRemoteHost(j.GetString("RemoteHost"))
			if vm == "" {
				continue
			}
			out[vm] = append(out[vm], fmt.Sprintf("schedd %s job %d.%d", s, j.GetInt("ClusterId", -1), j.GetInt("ProcId", -1)))
		}
	}
	return out, errors.Join(errs...)
}

// VMOfRemoteHost is the startd name's first part in a job's RemoteHost
// ("slot1_1@ehos-x@host" → "ehos-x"); "" when it names no slot of a named
// startd.
func VMOfRemoteHost(remote string) string {
	_, startd, ok := strings.Cut(remote, "@")
	if !ok {
		return ""
	}
	name, _, _ := strings.Cut(startd, "@")
	return name
}
