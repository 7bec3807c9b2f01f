//go:build integration

package integration

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/condorpool"
	"github.com/ehos-project/ehos/lib/provision"
)

// tokenOnlyClient is a client of pool p that authenticates with token only
// (IDTOKENS, a token directory holding just it), as whoever holds a VM's
// token would.
func tokenOnlyClient(t *testing.T, p *Pool, name, token string) *condor.Client {
	t.Helper()
	dir := makeDir(t, "tokenclient-"+name)
	tdir := filepath.Join(dir, "tokens.d")
	mkdirOwned(t, tdir, 0o700)
	writeOwned(t, filepath.Join(tdir, "token"), []byte(token+"\n"), 0o600)
	conf := filepath.Join(dir, "condor_config")
	writeOwned(t, conf, []byte("include : "+p.ConfigFile+"\nSEC_CLIENT_AUTHENTICATION_METHODS = IDTOKENS\nSEC_DEFAULT_AUTHENTICATION_METHODS = IDTOKENS\n"+
		"SEC_TOKEN_DIRECTORY = "+tdir+"\nSEC_TOKEN_SYSTEM_DIRECTORY = "+tdir+"\n"), 0o644)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return &condor.Client{Env: []string{"CONDOR_CONFIG=" + conf, "EHOS_CONDOR_ROOT=" + p.Install.Root}, BinDir: p.Install.BinDir, Timeout: 30 * time.Second}
}

func probeAd(name string) classad.Ad {
	return classad.Ad{
		"MyType": classad.String("Machine"), "Name": classad.String(name), "Machine": classad.String(name),
		"State": classad.String("Unclaimed"), "Activity": classad.String("Idle"),
		"MyAddress": classad.String("<127.0.0.1:1>"), "StartdIpAddr": classad.String("<127.0.0.1:1>"), "UpdateSequenceNumber": classad.Int(1),
	}
}

// A deleted VM's token is revoked in the real collector: the Revoker writes
// SEC_TOKEN_REVOCATION_EXPR (by the token's jti) into the file the central
// manager includes and has the collector re-read it; from then on a client
// holding that token cannot advertise a startd ad, while one holding
// another worker's token still can.
func TestRevokedTokenCannotAdvertise(t *testing.T) {
	t.Parallel()
	revoked := filepath.Join(makeDir(t, "revocation"), "ehos-revoked-tokens.conf")
	p := StartPool(t, PoolOptions{ExtraConfig: "include ifexist : " + revoked + "\n"})
	ctx := context.Background()
	gone := p.MintToken(t, WorkerIdentity, WorkerAuthz, time.Hour)
	kept := p.MintToken(t, WorkerIdentity, WorkerAuthz, time.Hour)
	goneID, err := condor.ParseTokenID(gone)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("token of the deleted VM: jti %s, expires %s", goneID.JTI, goneID.Expires.Format(time.RFC3339))
	goneClient, keptClient := tokenOnlyClient(t, p, "gone", gone), tokenOnlyClient(t, p, "kept", kept)
	cl := p.Client()
	seen := func(name string) func(ctx context.Context) (bool, error) {
		return func(ctx context.Context) (bool, error) {
			ads, err := cl.Status(ctx, condor.StatusQuery{Constraint: "Name == " + classad.Quote(name), Attrs: []string{"Name", "AuthenticatedIdentity"}})
			return len(ads) == 1, err
		}
	}

	// Before: both tokens advertise.
	for name, c := range map[string]*condor.Client{"gone-before": goneClient, "kept-before": keptClient} {
		if err := c.Advertise(ctx, "UPDATE_STARTD_AD", []classad.Ad{probeAd(name)}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		p.WaitFor(t, 20*time.Second, "the ad "+name, seen(name))
	}

	rv := &condorpool.Revoker{File: revoked, Tools: cl}
	if err := rv.Revoke(ctx, time.Now(), []provision.RevokedToken{{VM: "ehos-gone", JTI: goneID.JTI, Expires: goneID.Expires}}); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(revoked); err != nil || st.Mode().Perm() != 0o644 {
		t.Fatalf("revocation file: %v %v", st, err)
	}
	vals, err := cl.ConfigVal(ctx, "SEC_TOKEN_REVOCATION_EXPR")
	if err != nil || !strings.Contains(vals["SEC_TOKEN_REVOCATION_EXPR"], goneID.JTI) {
		t.Fatalf("SEC_TOKEN_REVOCATION_EXPR = %q (%v), want it to name %s", vals["SEC_TOKEN_REVOCATION_EXPR"], err, goneID.JTI)
	}
	time.Sleep(2 * time.Second) // the collector's reconfig is asynchronous

	keptErr := keptClient.Advertise(ctx, "UPDATE_STARTD_AD", []classad.Ad{probeAd("kept-after")})
	if keptErr != nil {
		t.Fatalf("the other worker's token was refused too: %v", keptErr)
	}
	p.WaitFor(t, 20*time.Second, "the ad kept-after", seen("kept-after"))
	goneErr := goneClient.Advertise(ctx, "UPDATE_STARTD_AD", []classad.Ad{probeAd("gone-after")})
	time.Sleep(6 * time.Second)
	if ok, _ := seen("gone-after")(ctx); ok {
		t.Fatalf("a revoked token still advertised an ad (condor_advertise said %v)", goneErr)
	}
	t.Logf("revoked token: condor_advertise said %v", goneErr)
	if log := tail(filepath.Join(p.Dir, "log", "CollectorLog"), 400); !strings.Contains(log, "revoked") {
		t.Logf("the collector log does not say revoked (the refusal may only be at D_SECURITY)")
	}

	// Pruned once the token would have expired anyway.
	if err := rv.Revoke(ctx, goneID.Expires.Add(time.Second), nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(revoked); strings.Contains(string(b), goneID.JTI) {
		t.Errorf("an expired token is still listed:\n%s", b)
	}
}
