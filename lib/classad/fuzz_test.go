package classad

import (
	"strings"
	"testing"
)

// FuzzParse: any tool output is parsed or refused with an error that says
// what could not be parsed; never a panic.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		`[{"Name":"slot1@w1","Cpus":4,"Memory":2048.5,"Start":"\/Expr(true)\/","EHOSPool":"demo"}]`,
		"Name = \"slot1@w1\"\nCpus = 4\nStart = true\n\nName = \"x\"\n", `[{"a":[1,{"b":null}]}]`, "[]", "", "A = \"\\\"\n", "= 1\n", `[{"a":1e999}]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, parse := range []func([]byte) ([]Ad, error){ParseJSON, ParseLong} {
			ads, err := parse([]byte(s))
			if err != nil {
				if !strings.HasPrefix(err.Error(), "classad: ") {
					t.Fatalf("error that does not say where it comes from: %v", err)
				}
				continue
			}
			for _, ad := range ads {
				for k := range ad {
					_ = ad.GetString(k)
				}
			}
		}
		if v, err := ParseValue(s); err == nil {
			_ = v.Text()
		}
	})
}
