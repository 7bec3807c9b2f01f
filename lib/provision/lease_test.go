package provision

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestNextLease(t *testing.T) {
	now := time.Unix(1000, 0)
	ttl := 9 * time.Second
	live, dead := now.Add(5*time.Second), now.Add(-time.Second)
	for _, tc := range []struct {
		name   string
		leases []Lease
		want   Lease
		act    bool
		why    string
	}{
		{name: "no lease: claim generation 1", want: Lease{Pool: "p", Holder: "me", Generation: 1, Expires: now.Add(ttl)}, act: true},
		{name: "mine: renew, same generation", leases: []Lease{{Holder: "me", Generation: 4, Expires: live}},
			want: Lease{Pool: "p", Holder: "me", Generation: 4, Expires: now.Add(ttl)}, act: true},
		{name: "another's, live: stand by", leases: []Lease{{Holder: "cm1/7", Generation: 2, Expires: live}},
			want: Lease{Holder: "cm1/7", Generation: 2, Expires: live}, why: "standby: provisioner cm1/7 holds the lease"},
		{name: "another's, expired: take over with the next generation", leases: []Lease{{Holder: "cm1/7", Generation: 2, Expires: dead}},
			want: Lease{Pool: "p", Holder: "me", Generation: 3, Expires: now.Add(ttl)}, act: true},
		{name: "claimed at once: the higher generation wins", leases: []Lease{{Holder: "me", Generation: 3, Expires: live}, {Holder: "zz", Generation: 4, Expires: live}},
			want: Lease{Holder: "zz", Generation: 4, Expires: live}, why: "standby: provisioner zz"},
		{name: "claimed at once, same generation: the smaller holder wins", leases: []Lease{{Holder: "me", Generation: 3, Expires: live}, {Holder: "a", Generation: 3, Expires: live}},
			want: Lease{Holder: "a", Generation: 3, Expires: live}, why: "standby: provisioner a"},
		{name: "the winner of a tie keeps it", leases: []Lease{{Holder: "me", Generation: 3, Expires: live}, {Holder: "zz", Generation: 3, Expires: live}},
			want: Lease{Pool: "p", Holder: "me", Generation: 3, Expires: now.Add(ttl)}, act: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, act, why := nextLease(tc.leases, "p", "me", now, ttl)
			if d := cmp.Diff(tc.want, got); d != "" || act != tc.act {
				t.Errorf("act %v (want %v), lease (-want +got):\n%s", act, tc.act, d)
			}
			if !strings.HasPrefix(why, tc.why) || (tc.why == "") != (why == "") {
				t.Errorf("why %q, want it to start with %q", why, tc.why)
			}
		})
	}
}
