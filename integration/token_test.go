//go:build integration

package integration

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/condor"
)

// A worker whose token is forged (bad signature) or expired is refused by the
// collector: its startd never shows, and the refusal is in its logs.
func TestWorkerWithBadTokenIsRefused(t *testing.T) {
	t.Parallel()
	pool := StartPool(t, PoolOptions{})
	good := pool.MintToken(t, WorkerIdentity, WorkerAuthz, time.Hour)
	expired := pool.MintToken(t, WorkerIdentity, WorkerAuthz, time.Second)
	// A token is header.payload.signature: change the signature.
	i := strings.LastIndexByte(good, '.')
	sig := []byte(good[i+1:])
	for k := range sig[:8] {
		if sig[k] == 'A' {
			sig[k] = 'B'
		} else {
			sig[k] = 'A'
		}
	}
	forged := good[:i+1] + string(sig)
	time.Sleep(1500 * time.Millisecond) // let the 1 s token expire

	workers := []*Worker{
		pool.StartWorkerWith(t, "forged", WorkerOptions{Token: forged, NoWait: true}),
		pool.StartWorkerWith(t, "expired", WorkerOptions{Token: expired, NoWait: true}),
	}
	// Control: a worker with a good token joins, so the others had time to.
	pool.StartWorker(t, "good", "")

	refused := regexp.MustCompile(`(?i)authentication with collector \S+ failed|PERMISSION DENIED`)
	for _, w := range workers {
		w := w
		pool.WaitFor(t, 60*time.Second, "a refusal in "+w.Name+"'s logs", func(ctx context.Context) (bool, error) {
			return refused.MatchString(w.Log("MasterLog") + w.Log("StartLog")), nil
		})
		t.Logf("%s: %s", w.Name, refused.FindString(w.Log("MasterLog")+w.Log("StartLog")))
	}
	ads, err := pool.Client().Status(context.Background(), condor.StatusQuery{Kind: "-any", Attrs: []string{"MyType", "Name"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range ads {
		for _, w := range workers {
			if w.OwnsSlot(a.GetString("Name")) || a.GetString("Name") == w.Name+"@"+hostName(t) {
				t.Errorf("worker %s with a bad token got into the collector: %s ad %q", w.Name, a.GetString("MyType"), a.GetString("Name"))
			}
		}
	}
	if log := pool.Log("CollectorLog"); !strings.Contains(log, "forged") && !regexp.MustCompile(`(?i)token|authenticat`).MatchString(log) {
		t.Logf("collector log has no word of the refusal (it is in the workers' logs)")
	}
}

func hostName(t testing.TB) string {
	ads, err := (&condor.Client{}).Run(context.Background(), "hostname")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ads))
}
