//go:build integration

package integration_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
)

// TestClassAdQuotingMatchesHTCondor advertises every hostile string of
// classad.QuotingCases through condor_advertise and reads it back with
// condor_status -json: HTCondor must store exactly what classad.Stored
// predicts, and a -constraint written with classad.Quote must find it.
func TestClassAdQuotingMatchesHTCondor(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{})
	cl := pool.Client()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	var inputs []string
	for s := range classad.QuotingCases {
		inputs = append(inputs, s)
	}
	sort.Strings(inputs)
	ad := classad.Ad{"MyType": classad.String("EHOSQuoteTest"), "Name": classad.String("quote-test")}
	for i, s := range inputs {
		ad[fmt.Sprintf("S%d", i)] = classad.String(s)
	}
	if err := cl.Advertise(ctx, "UPDATE_AD_GENERIC", []classad.Ad{ad}); err != nil {
		t.Fatal(err)
	}
	ads, err := cl.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: `MyType == "EHOSQuoteTest"`})
	if err != nil || len(ads) != 1 {
		t.Fatalf("read back: %d ads, %v", len(ads), err)
	}
	for i, s := range inputs {
		name := fmt.Sprintf("S%d", i)
		if got, want := ads[0].GetString(name), classad.QuotingCases[s]; got != want {
			t.Errorf("%q: HTCondor stored %q, lib/classad predicts %q", s, got, want)
		}
		found, err := cl.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: name + " == " + classad.Quote(s), Attrs: []string{"Name"}})
		if err != nil || len(found) != 1 {
			t.Errorf("-constraint '%s == %s' found %d ads (%v)", name, classad.Quote(s), len(found), err)
		}
	}
}
