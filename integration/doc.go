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
//
// The harness is the files without _test in their name; every *_test.go
// file is tests (shipped_test.go, with no build tag, checks the harness
// itself and runs in make test):
//
//   - install.go: finding HTCondor and the repository (RequireCondor);
//     process.go: starting and stopping a condor_master (StartMaster*);
//   - config.go: the one HTCondor configuration writer (condorConfig: the
//     base every test daemon shares, the sections of each role, the quick
//     intervals and loopback lines the other configurations reuse);
//   - shipped.go: the knobs read from the shipped condor-config/ snippets,
//     and the one list of where the harness departs from them, and why;
//   - pool.go: a test pool and its workers (StartPool, StartWorker);
//   - stack.go: a whole ehos with its local cloud (StartStack), natstack.go
//     its NAT layout; installed.go: a central manager installed from the
//     shipped files (InstallCentralManager);
//   - hosts.go: test hosts of their own (integration/netns); cloudinit.go:
//     VMs booted by real cloud-init; openstackcli.go: the real openstack
//     client; submit.go: submit file helpers.
package integration
