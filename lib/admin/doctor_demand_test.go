package admin

import (
	"strings"
	"testing"

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
