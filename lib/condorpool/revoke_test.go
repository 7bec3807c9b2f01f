package condorpool

import (
	"context"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/scale"
)

type reconfigs struct {
	daemons []string
	err     error
}

func (r *reconfigs) Reconfig(_ context.Context, d string) error {
	r.daemons = append(r.daemons, d)
	return r.err
}

func TestRevokerKeepsPrunesAndSurvivesARestart(t *testing.T) {
	now := time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	file := filepath.Join(t.TempDir(), "ehos-revoked-tokens.conf")
	rc := &reconfigs{}
	rv := &Revoker{File: file, Tools: rc}
	ctx := context.Background()
	err := rv.Revoke(ctx, now, []provision.RevokedToken{
		{VM: "ehos-a", JTI: "aaa111", Expires: now.Add(time.Hour)},
		{VM: "ehos-b", JTI: "bbb222", Expires: now.Add(3 * time.Hour)},
		{VM: "ehos-c\nSEC_TOKEN_REVOCATION_EXPR = False", JTI: "ccc333"}, // never expires
	})
	if err != nil {
		t.Fatal(err)
	}
	text, _ := os.ReadFile(file)
	if want := `SEC_TOKEN_REVOCATION_EXPR = member(jti, {"aaa111", "bbb222", "ccc333"})` + "\n"; !strings.HasSuffix(string(text), want) {
		t.Errorf("file:\n%s\nwant it to end with %s", text, want)
	}
	if strings.Count("\n"+string(text), "\nSEC_TOKEN_REVOCATION_EXPR") != 1 {
		t.Errorf("a VM name injected a knob:\n%s", text)
	}
	if st, _ := os.Stat(file); st.Mode().Perm() != 0o644 {
		t.Errorf("mode %v", st.Mode().Perm())
	}
	if len(rc.daemons) != 1 || rc.daemons[0] != "collector" {
		t.Errorf("reconfigs %v, want the collector once", rc.daemons)
	}

	// Nothing new: no rewrite, no reconfig.
	if err := rv.Revoke(ctx, now.Add(time.Minute), nil); err != nil || len(rc.daemons) != 1 {
		t.Errorf("unchanged list: err %v, reconfigs %v", err, rc.daemons)
	}

	// A new provisioner reads the list back; aaa111 has expired by now.
	rv2 := &Revoker{File: file, Tools: rc}
	if err := rv2.Revoke(ctx, now.Add(2*time.Hour), []provision.RevokedToken{{VM: "ehos-d", JTI: "ddd444", Expires: now.Add(5 * time.Hour)}}); err != nil {
		t.Fatal(err)
	}
	text, _ = os.ReadFile(file)
	if want := `member(jti, {"bbb222", "ccc333", "ddd444"})`; !strings.Contains(string(text), want) || strings.Contains(string(text), "aaa111") {
		t.Errorf("after restart and prune:\n%s\nwant %s and no aaa111", text, want)
	}

	// Everything expired: the knob goes, the comments stay.
	rv2.Revoke(ctx, now.Add(6*time.Hour), nil)
	os.WriteFile(file, []byte(strings.ReplaceAll(mustRead(t, file), "ccc333 0", "ccc333 1")), 0o644)
	rv2.Revoke(ctx, now.Add(6*time.Hour), nil)
	if text := mustRead(t, file); strings.Contains(text, "\nSEC_TOKEN_REVOCATION_EXPR") {
		t.Errorf("expired list still sets the knob:\n%s", text)
	}

	// A jti that is not a plain id is refused, not written.
	err = rv2.Revoke(ctx, now, []provision.RevokedToken{{VM: "ehos-e", JTI: `x"}) || true || member(jti, {"`}})
	if err == nil || !strings.Contains(err.Error(), "ehos-e") || strings.Contains(mustRead(t, file), "true") {
		t.Errorf("hostile jti: err %v, file:\n%s", err, mustRead(t, file))
	}

	// A collector that does not re-read is an error naming the file.
	rc.err = errors.New("condor_reconfig: connection refused")
	err = rv2.Revoke(ctx, now, []provision.RevokedToken{{VM: "ehos-f", JTI: "fff666"}})
	if err == nil || !strings.Contains(err.Error(), file) {
		t.Errorf("reconfig failure: %v", err)
	}
	// Its retry finds the file already written, and still has the
	// collector re-read it.
	rc.err, rc.daemons = nil, nil
	if err := rv2.Revoke(ctx, now, []provision.RevokedToken{{VM: "ehos-f", JTI: "fff666"}}); err != nil || len(rc.daemons) != 1 {
		t.Errorf("retry after a failed reconfig: err %v, reconfigs %v; want one", err, rc.daemons)
	}

	// A provisioner started after one that died between writing and
	// reconfiguring puts the unchanged list in force at its first call,
	// once.
	rc.daemons = nil
	rv3 := &Revoker{File: file, Tools: rc}
	rv3.Revoke(ctx, now, nil)
	rv3.Revoke(ctx, now, nil)
	if len(rc.daemons) != 1 {
		t.Errorf("fresh Revoker on an unchanged list with entries: reconfigs %v, want one", rc.daemons)
	}
	// With nothing in the list there is nothing to put in force.
	empty := filepath.Join(t.TempDir(), "empty.conf")
	os.WriteFile(empty, renderRevoked(nil, now), 0o644)
	rc.daemons = nil
	(&Revoker{File: empty, Tools: rc}).Revoke(ctx, now, nil)
	if len(rc.daemons) != 0 {
		t.Errorf("empty list: reconfigs %v, want none", rc.daemons)
	}
}

func mustRead(t *testing.T, f string) string {
	t.Helper()
	b, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

type jtiMinter struct{}

func (jtiMinter) TokenCreate(context.Context, condor.TokenRequest) (string, error) {
	payload := base64.RawURLEncoding.EncodeToString([]byte(`{"exp":1800000000,"jti":"0123abcd","sub":"w@cm"}`))
	return "eyJhbGciOiJIUzI1NiJ9." + payload + ".c2ln", nil
}

// The Bootstrap hands the provisioner the id of the token it minted for a
// VM (for its metadata), once.
func TestBootstrapHandsOverTheTokenID(t *testing.T) {
	src, err := os.ReadFile("../../cloudinit/worker.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse("ehos.yaml", []byte("pool: {name: p1, central_manager: 10.0.0.5}\nclouds: [{name: c, image: i, flavors: [m1.small]}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewBootstrap(jtiMinter{}, cfg, "worker.yaml", src)
	if err != nil {
		t.Fatal(err)
	}
	vm := provision.NewVM{Name: "ehos-p1-0002", Offer: scale.OfferKey{Loc: cloud.Location{Cloud: "c", Region: "r"}, Flavor: "m1.small"},
		Flavor: cloud.Flavor{Name: "m1.small", VCPUs: 2, RAMMB: 4096}}
	if _, err := b.UserData(context.Background(), vm); err != nil {
		t.Fatal(err)
	}
	jti, exp, ok := b.TokenID(vm.Name)
	if !ok || jti != "0123abcd" || !exp.Equal(time.Unix(1800000000, 0)) {
		t.Errorf("TokenID = %q %v %v, want 0123abcd at 1800000000", jti, exp, ok)
	}
	if _, _, ok := b.TokenID(vm.Name); ok {
		t.Error("the token id was handed over twice")
	}
}
