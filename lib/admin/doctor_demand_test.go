package admin

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/demand"
)

func demandAd(schedd, pool string, idle int64) classad.Ad {
	a := classad.Ad{"MyType": classad.String(demand.DemandType), demand.AttrSchedd: classad.String(schedd), demand.AttrIdle: classad.Int(idle)}
	if pool != "" {
		a[demand.AttrPool] = classad.String(pool)
	}
	return a
}

func TestDemandPoolFindings(t *testing.T) {
	for _, tc := range []struct {
		name  string
		ads   []classad.Ad
		level []Level
		want  []string
	}{
		{name: "none", level: []Level{OK}, want: []string{"no EHOSDemand ads now"}},
		{name: "all ours", ads: []classad.Ad{demandAd("s1", "demo", 3), demandAd("s2", "demo", 1)}, level: []Level{OK}, want: []string{"2 EHOSDemand ad(s), all for pool \"demo\""}},
		{name: "no pool name", ads: []classad.Ad{demandAd("s1", "demo", 3), demandAd("s2", "", 4), demandAd("s2", "", 5)},
			level: []Level{Fail}, want: []string{`schedd "s2" advertises 9 idle jobs with no EHOSPool`}},
		{name: "other pool", ads: []classad.Ad{demandAd("s3", "dmeo", 2)}, level: []Level{Warn}, want: []string{`for pool "dmeo", not this pool "demo"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := demandPoolFindings(tc.ads, "demo")
			if len(fs) != len(tc.want) {
				t.Fatalf("findings %v, want %d", fs, len(tc.want))
			}
			for i, f := range fs {
				if f.Level != tc.level[i] || !strings.Contains(f.What, tc.want[i]) {
					t.Errorf("finding %d = %v %q, want %v containing %q", i, f.Level, f.What, tc.level[i], tc.want[i])
				}
				if f.Level != OK && !strings.Contains(f.Fix, "EHOS_POOL_NAME = demo") {
					t.Errorf("fix %q does not say how", f.Fix)
				}
			}
		})
	}
}

// A held demand job is reported with what it said last on its stderr: the
// hold reason alone only knows the exit code.
func TestHeldDemandJobSaysWhy(t *testing.T) {
	fsys := fstest.MapFS{
		"var/lib/ehos/EHOSDemandLog": {Data: []byte(`{"level":"info","message":"starting"}` + "\n" +
			"ehos_demand: no pool name: set EHOS_POOL_NAME, pass --pool, or point EHOS_CONFIG at an ehos.yaml with pool.name\n\n")},
		"tmp/abs/err": {Data: []byte("ehos_demand: token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl refused\n")},
	}
	job := func(id int64, status int64, iwd, errFile string) classad.Ad {
		return classad.Ad{"ClusterId": classad.Int(id), "ProcId": classad.Int(0), "JobStatus": classad.Int(status),
			"HoldReason": classad.String("The job attribute OnExitHold expression '(ExitCode != 0)' evaluated to TRUE"),
			"Iwd":        classad.String(iwd), "Err": classad.String(errFile)}
	}
	fs := demandJobFindings([]classad.Ad{job(7, 5, "/var/lib/ehos", "EHOSDemandLog"), job(8, 5, "/x", "/tmp/abs/err"), job(9, 5, "/var/lib/ehos", "missing")}, fsys, "fix")
	if len(fs) != 1 || fs[0].Level != Fail {
		t.Fatalf("findings %v, want one failure", fs)
	}
	what := fs[0].What
	for _, want := range []string{"7.0 held: The job attribute OnExitHold", "its stderr ends: ehos_demand: no pool name: set EHOS_POOL_NAME",
		"8.0 held", "[token redacted]", "9.0 held: The job attribute OnExitHold expression '(ExitCode != 0)' evaluated to TRUE"} {
		if !strings.Contains(what, want) {
			t.Errorf("finding %q lacks %q", what, want)
		}
	}
	if strings.Contains(what, "c2lnbmF0dXJl") || strings.Count(what, "its stderr ends") != 2 {
		t.Errorf("finding %q: a token leaked, or a missing file was quoted", what)
	}
	if fs := demandJobFindings([]classad.Ad{job(7, 2, "", "")}, fsys, "fix"); len(fs) != 1 || fs[0].Level != OK {
		t.Errorf("a running job: %v", fs)
	}
}
