package provision

import (
	"strings"
	"testing"
	"time"
)

// The provisioner ad is readable by every worker: an error quoting a token
// (however it got there) is redacted in it, in EHOSLastError and in the
// JSON report alike, and the Report itself is left as it was.
func TestAdRedactsTokensInErrors(t *testing.T) {
	const tok = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ3In0.c2lnbmF0dXJl"
	r := Report{Pool: "demo", Owner: "cm", Time: time.Unix(1700000000, 0), Errors: []string{"mint token: bad " + tok}}
	ad := r.Ad(1)
	for attr, v := range ad {
		if strings.Contains(v.Text(), "eyJ") {
			t.Errorf("%s holds the token: %s", attr, v.Text())
		}
	}
	if got := ad.GetString("EHOSLastError"); !strings.Contains(got, "[token redacted]") {
		t.Errorf("EHOSLastError = %s", got)
	}
	if !strings.Contains(r.Errors[0], tok) {
		t.Errorf("Ad changed the report it was given")
	}
}
