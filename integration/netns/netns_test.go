package netns

import (
	"strings"
	"testing"
)

func TestParseSubnet(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in, err string
	}{
		{"10.213.47.0/24", ""},
		{" 192.168.77.0/29 ", ""},
		{"10.213.47.0", "not a subnet"},
		{"10.213.47.5/24", "host bits set"},
		{"10.213.47.0/30", "too small"},
		{"fd00::/64", "only IPv4"},
	} {
		_, err := ParseSubnet(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("ParseSubnet(%q): %v", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.Contains(err.Error(), "EHOS_NETNS_SUBNET")):
			t.Errorf("ParseSubnet(%q) = %v, want an error about EHOS_NETNS_SUBNET saying %q", tc.in, err, tc.err)
		}
	}
}

func TestHostAddr(t *testing.T) {
	t.Parallel()
	n, _ := ParseSubnet("10.213.47.0/24")
	for i, want := range map[int]string{1: "10.213.47.1", 2: "10.213.47.2", 254: "10.213.47.254", 255: "<nil>", 0: "<nil>"} {
		if got := hostAddr(n, i).String(); got != want {
			t.Errorf("host %d of %s = %s, want %s", i, n, got, want)
		}
	}
	n, _ = ParseSubnet("10.0.0.248/29")
	if got := hostAddr(n, 6).String(); got != "10.0.0.254" {
		t.Errorf("host 6 of %s = %s", n, got)
	}
}

func TestOwnerOf(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"ehosnt-4026531836.123.456.1-br":  "4026531836.123.456",
		"ehosnt-4026531836.123.456.7-cm":  "4026531836.123.456",
		"ehosnt-4026531836.123.456.7-w-1": "4026531836.123.456",
		"ehosnt-4026531836.123.456-cm":    "",
		"ehosnt-x.1.2.3-cm":               "",
		"other-4026531836.1.2.3-cm":       "",
		"ehosnt-1.2.3.4":                  "",
	} {
		got, ok := ownerOf(name)
		if ok != (want != "") || got != want {
			t.Errorf("ownerOf(%q) = %q, %v; want %q", name, got, ok, want)
		}
	}
}

func TestOwnerStampOfSelf(t *testing.T) {
	t.Parallel()
	s, err := ownerStamp(1)
	if err != nil {
		t.Skip(err)
	}
	if f := strings.Split(s, "."); len(f) != 3 || f[1] != "1" {
		t.Errorf("ownerStamp(1) = %q, want pidns.1.start", s)
	}
}
