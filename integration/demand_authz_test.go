//go:build integration

package integration_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/integration"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/demand"
)

// TestDemandReporterAuthorization finds what a demand job on a submit host
// other than the central manager needs in its token: UPDATE_AD_GENERIC and
// INVALIDATE_ADS_GENERIC are DAEMON-level commands, the queries READ.
func TestDemandReporterAuthorization(t *testing.T) {
	t.Parallel()
	pool := integration.StartPool(t, integration.PoolOptions{})
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if _, err := pool.Client().Submit(ctx, "executable = /bin/true\nqueue 2\n"); err != nil {
		t.Fatal(err)
	}
	// Jobs only get an autocluster once the schedd negotiates: advertise a
	// made-up group directly, the permission is the same.
	withToken := func(authz ...string) *condor.Client {
		dir := filepath.Join(pool.Dir, "tokens-"+strings.Join(authz, "-"))
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		tok := pool.MintToken(t, "ehos@"+integration.Domain, authz, time.Hour)
		if err := os.WriteFile(filepath.Join(dir, "token"), []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chown(dir, integration.PoolUID, integration.PoolUID)
		os.Chown(filepath.Join(dir, "token"), integration.PoolUID, integration.PoolUID)
		cl := pool.Client()
		cl.Env = append(cl.Env, "_CONDOR_SEC_TOKEN_DIRECTORY="+dir, "_CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS=IDTOKENS")
		return cl
	}
	groups := []demand.Group{{Schedd: "authz-test", Autocluster: 1, Cpus: 1, Idle: 2, Oldest: time.Now()}}
	for _, c := range []struct {
		authz []string
		ok    bool
	}{
		{[]string{"READ", "DAEMON"}, true},
		{[]string{"READ", "WRITE", "ADVERTISE_STARTD", "ADVERTISE_SCHEDD", "ADVERTISE_MASTER"}, false},
	} {
		cl := withToken(c.authz...)
		adErr := cl.Advertise(ctx, "UPDATE_AD_GENERIC", demand.DemandAds(groups, demandPool, time.Minute, time.Now()))
		r := &demand.Reporter{Condor: cl, Pool: demandPool, Lifetime: time.Minute, Log: zerolog.Nop()}
		// Queries (READ) and, on a first cycle, INVALIDATE_ADS_GENERIC.
		_, cycleErr := r.Cycle(ctx, time.Now())
		if c.ok && (adErr != nil || cycleErr != nil) {
			t.Errorf("token %v: advertise %v, cycle %v", c.authz, adErr, cycleErr)
		}
		if !c.ok && adErr == nil {
			t.Errorf("token %v could advertise EHOSDemand ads", c.authz)
		}
		t.Logf("token %v: advertise err %v; reporter cycle err %v", c.authz, adErr, cycleErr)
	}
}
