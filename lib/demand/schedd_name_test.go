package demand

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// recordingCondor is fakeCondor noting every condor_q's arguments.
// The reporter runs its queries side by side: the fake answers them one at
// a time.
type recordingCondor struct {
	*fakeCondor
	mu sync.Mutex
	q  [][]string
}

func (r *recordingCondor) Run(ctx context.Context, tool string, args ...string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if tool == "condor_q" {
		r.q = append(r.q, args)
	}
	return r.fakeCondor.Run(ctx, tool, args...)
}

// The reporter asks its own (local) schedd without -name unless the admin
// named one: condor_q resolves -name as a host, and a schedd named after a
// host DNS does not know ("vm") failed every cycle of an installed pool.
func TestReporterAsksTheLocalScheddUnlessNamed(t *testing.T) {
	ac, _ := os.ReadFile("testdata/autocluster.txt")
	busy, _ := os.ReadFile("testdata/notidle.txt")
	qd, _ := os.ReadFile("testdata/qdates.txt")
	for _, named := range []string{"", "ehos@vm"} {
		f := &recordingCondor{fakeCondor: &fakeCondor{
			schedd: `[{"Name": "ehos@vm", "MyAddress": "<127.0.0.1:41889>"}]`,
			ac:     string(ac), busy: string(busy), qdates: string(qd), fail: map[string]error{},
		}}
		r := &Reporter{Condor: f, Schedd: named, Pool: "p", Lifetime: time.Minute, Log: zerolog.Nop()}
		if _, err := r.Cycle(context.Background(), time.Unix(1795538200, 0)); err != nil {
			t.Fatal(err)
		}
		if len(f.q) == 0 {
			t.Fatal("no condor_q ran")
		}
		for _, args := range f.q {
			has := slices.Contains(args, "-name")
			if has != (named != "") {
				t.Errorf("--schedd %q: condor_q %v", named, args)
			}
		}
	}
}
