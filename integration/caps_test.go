//go:build integration

package integration

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration/localcloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// Caps hold while the cloud refuses every delete: with max 1, every new
// server going to ERROR and every delete answered 409 (the server stays),
// the provisioner never has more than one server, however many cycles and
// region back-offs pass, and says why: max counts the server it cannot
// delete. (Before, 5 servers existed under max 1.)
func TestMaxHoldsWhileDeletesAreRefused(t *testing.T) {
	t.Parallel()
	broken := localcloud.Faults{BootError: "No valid host was found.", DeleteStatus: 409}
	s := StartStack(t, StackOptions{
		Scaling: strings.Replace(defaultStackScaling, "max: 6", "max: 1", 1),
		Faults:  map[string]localcloud.Faults{"RegionOne": broken, "RegionTwo": broken, "RegionThree": broken},
	})
	w := watchServers(t, s)
	cl := s.Pool.Client()
	ctx := context.Background()
	if _, err := cl.Submit(ctx, "executable = /bin/sleep\narguments = 1\nrequest_cpus = 1\nrequest_memory = 512\nqueue 2\n"); err != nil {
		t.Fatal(err)
	}
	s.Pool.WaitFor(t, 2*time.Minute, "a server created, failed, and its delete refused", func(context.Context) (bool, error) {
		return strings.Contains(s.ProvisionerLog(), "delete failed"), nil
	})
	// Long enough for every region's back-off (5 s .. 30 s) to expire
	// more than once.
	time.Sleep(75 * time.Second)
	seen, status, most := w.snapshot()
	t.Logf("servers seen %v, at most %d at once", status, most)
	if most > 1 || len(seen) > 1 {
		t.Errorf("max 1 broken while deletes are refused: %d servers at once, %d in all", most, len(seen))
	}
	rep, err := s.Report(ctx)
	if err != nil {
		t.Fatal(err)
	}
	counted := false // max counts the server being deleted
	for _, u := range rep.Decision.Unmet {
		for _, b := range u.Reason.Blocks {
			counted = counted || b.Limit == scale.LimitMax && b.Of == 1 && b.Exists == 1 && b.Out.Deleting == 1
		}
	}
	if !counted {
		t.Errorf("unmet reasons %v do not say max counts the server being deleted", rep.Decision.Unmet)
	}
}
