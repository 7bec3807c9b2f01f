package admin

import (
	"strings"
	"testing"
)

func TestCollectorFDFindings(t *testing.T) {
	if got := NeededCollectorFDs(2000); got != 9024 {
		t.Errorf("NeededCollectorFDs(2000) = %d, want 9024", got)
	}
	for _, c := range []struct {
		knob  string
		max   int
		level Level
		want  string
	}{
		{"16384", 2000, OK, "holds scaling.max = 2000"},
		{"4096", 2000, Fail, "holds about 768 brokered workers"},
		{"", 10, Warn, "unknown to this HTCondor"},
		{"lots", 10, Fail, "is not a number"},
	} {
		fs := collectorFDFindings(c.knob, c.max)
		if len(fs) != 1 || fs[0].Level != c.level || !strings.Contains(fs[0].What, c.want) {
			t.Errorf("knob %q, max %d: %+v, want %s with %q", c.knob, c.max, fs, c.level, c.want)
		}
	}
}
