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
)

// tokenClient is a client of pool p that authenticates with token alone.
func tokenClient(t *testing.T, p *Pool, label, token string) *condor.Client {
	t.Helper()
	dir := filepath.Join(p.Dir, "tokens-"+label)
	mkdirOwned(t, dir, 0o700)
	writeOwned(t, filepath.Join(dir, "token"), []byte(token+"\n"), 0o600)
	cl := p.Client()
	cl.Env = append(cl.Env, "_CONDOR_SEC_TOKEN_DIRECTORY="+dir, "_CONDOR_SEC_CLIENT_AUTHENTICATION_METHODS=IDTOKENS")
	return cl
}

func TestExploreCollectorTrust(t *testing.T) {
	extra := cmSecurity(t)
	if os.Getenv("NOREQ") != "" {
		extra += "COLLECTOR_REQUIREMENTS =\n"
	}
	extra += "COLLECTOR_DEBUG = D_FULLDEBUG\n"
	p := StartPool(t, PoolOptions{ExtraConfig: extra})
	const a, b = "ehos-demo-aaaa", "ehos-demo-bbbb"
	ehosAttrs := func(name string) string {
		return "EHOSName = \"" + name + "\"\nEHOSPool = \"demo\"\nSTARTD_ATTRS = $(STARTD_ATTRS) EHOSName EHOSPool\n"
	}
	p.StartWorkerWith(t, a, WorkerOptions{Token: p.MintToken(t, a+"@"+Domain, WorkerAuthz, time.Hour), ExtraConfig: ehosAttrs(a)})
	ctx := context.Background()
	ads, err := p.Client().Status(ctx, condor.StatusQuery{Kind: "-any", Attrs: []string{"MyType", "Name", "AuthenticatedIdentity", "AuthenticationMethod", "EHOSName"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, ad := range ads {
		t.Logf("%s %s id=%s via %s", ad.GetString("MyType"), ad.GetString("Name"), ad.GetString("AuthenticatedIdentity"), ad.GetString("AuthenticationMethod"))
	}
	bcl := tokenClient(t, p, "b", p.MintToken(t, b+"@"+Domain, WorkerAuthz, time.Hour))
	host := hostName(t)
	slot := func(name, ehosName string, extra classad.Ad) classad.Ad {
		ad := classad.Ad{"MyType": classad.String("Machine"), "Name": classad.String(name), "Machine": classad.String(host),
			"MyAddress": classad.String("<127.0.0.1:1>"), "StartdIpAddr": classad.String("<127.0.0.1:1>"),
			"EHOSPool": classad.String("demo"), "State": classad.String("Unclaimed"), "Activity": classad.String("Idle"),
			"Requirements": classad.Bool(true), "Cpus": classad.Int(1), "Memory": classad.Int(100)}
		if ehosName != "" {
			ad["EHOSName"] = classad.String(ehosName)
		}
		for k, v := range extra {
			ad[k] = v
		}
		return ad
	}
	for _, c := range []struct {
		what string
		ad   classad.Ad
	}{
		{"own", slot("slot1@"+b+"@"+host, b, nil)},
		{"forged-retire", slot("slot1@forged-"+a+"@"+host, a, classad.Ad{"EHOSRetire": classad.Bool(true), "EHOSInstanceID": classad.String("id-a")})},
		{"forged-name", slot("slot1@"+a+"@"+host, "", nil)},
		{"offline", slot("ehos-offer-demo@x/y/z", "", classad.Ad{"Offline": classad.Bool(true), "EHOSOffer": classad.Bool(true)})},
	} {
		err := bcl.Advertise(ctx, "UPDATE_STARTD_AD", []classad.Ad{c.ad})
		t.Logf("%s: advertise err %v", c.what, err)
	}
	time.Sleep(2 * time.Second)
	ads, _ = p.Client().Status(ctx, condor.StatusQuery{Kind: "-any", Attrs: []string{"MyType", "Name", "AuthenticatedIdentity", "EHOSName"}})
	for _, ad := range ads {
		t.Logf("after: %s %s id=%s", ad.GetString("MyType"), ad.GetString("Name"), ad.GetString("AuthenticatedIdentity"))
	}
	inv := classad.Ad{"MyType": classad.String("Query"), "TargetType": classad.String("Machine"), "Requirements": classad.Expr(`EHOSName == "` + a + `"`)}
	t.Logf("invalidate: %v", bcl.Advertise(ctx, "INVALIDATE_STARTD_ADS", []classad.Ad{inv}))
	time.Sleep(time.Second)
	ads, _ = p.Client().Status(ctx, condor.StatusQuery{Attrs: []string{"Name", "AuthenticatedIdentity"}})
	for _, ad := range ads {
		t.Logf("after invalidate: %s id=%s", ad.GetString("Name"), ad.GetString("AuthenticatedIdentity"))
	}
	log, _ := os.ReadFile(filepath.Join(p.Dir, "log", "CollectorLog"))
	for _, l := range strings.Split(string(log), "\n") {
		if (strings.Contains(l, "VIOLATION") || strings.Contains(l, "ehos-demo") || strings.Contains(l, "forged") || strings.Contains(l, "offer")) && !strings.Contains(l, "Query info") {
			t.Log("log: " + l)
		}
	}
}
