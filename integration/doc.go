// Package integration is the test harness for end-to-end tests against a real
// HTCondor (23.x, run from the Debian trixie root that scripts/install-condor.sh
// makes) on 127.0.0.1, and the home of those tests (build tag integration).
//
// The harness files have no build tag, so tests in other packages import them:
//
//	inst := integration.RequireCondor(t) // skips, naming what is missing
//	pool := integration.StartPool(t, integration.PoolOptions{})
//	w := pool.StartWorker(t, "worker1", "")
//	ads, err := pool.Client().Status(ctx, condor.StatusQuery{Kind: "-startd"})
//
// Every process it starts is stopped in t.Cleanup, also when the test fails;
// when the test process itself is killed, the daemons die with it (see
// scripts/condor-wrap), and the next run removes what a killed run left.
package integration
