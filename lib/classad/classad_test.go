package classad

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestQuoteRoundTrip(t *testing.T) {
	// What HTCondor 23.9.6 kept of each value, seen through condor_advertise
	// and condor_status -json (integration/classad_quoting_test.go checks the
	// same table against the real tools).
	for s, want := range QuotingCases {
		q := Quote(s)
		if strings.ContainsAny(q, "\n\r") {
			t.Errorf("Quote(%q) = %s: has a line break", s, q)
		}
		v, rest, err := unquote(q)
		if err != nil || rest != "" {
			t.Fatalf("Quote(%q) = %s: not one literal (rest %q, %v)", s, q, rest, err)
		}
		if v != want {
			t.Errorf("Quote(%q) = %s reads back as %q, want %q", s, q, v, want)
		}
		if got := Stored(s); got != want {
			t.Errorf("Stored(%q) = %q, want %q", s, got, want)
		}
	}
}

func TestMarshalAndParseLong(t *testing.T) {
	ads := []Ad{
		{"MyType": String("EHOSDemand"), "Name": String(`x" y = 1 \ z`), "Idle": Int(3), "Cost": Float(2), "Ok": Bool(true), "Req": Expr("TARGET.Cpus >= 2")},
		{"MyType": String("Other"), "N": Int(-1)},
	}
	text, err := MarshalAds(ads)
	if err != nil {
		t.Fatal(err)
	}
	back, err := ParseLong(text)
	if err != nil {
		t.Fatalf("ParseLong: %v\n%s", err, text)
	}
	opt := cmp.AllowUnexported(Value{})
	if diff := cmp.Diff(ads, back, opt); diff != "" {
		t.Errorf("round trip (-want +got):\n%s\ntext:\n%s", diff, text)
	}
}

func TestMarshalRefusesBadNames(t *testing.T) {
	for _, name := range []string{"", "1abc", "a b", "a=b", "x\ny"} {
		if _, err := (Ad{name: Int(1)}).MarshalText(); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	if _, err := (Ad{"E": Expr("1\nInjected = 2")}).MarshalText(); err == nil {
		t.Error("expression with a line break accepted")
	}
}

func TestParseJSON(t *testing.T) {
	in := `[
{ "Name": "slot1@w1@host", "Cpus": 4, "LoadAvg": 0.25, "Offline": true,
  "Requirements": "\/Expr(START)\/", "List": [1,2] }
]`
	ads, err := ParseJSON([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(ads) != 1 {
		t.Fatalf("got %d ads", len(ads))
	}
	a := ads[0]
	if a.GetString("name") != "slot1@w1@host" || a.GetInt("CPUS", 0) != 4 || a.GetFloat("LoadAvg", 0) != 0.25 || !a.GetBool("Offline", false) {
		t.Errorf("wrong values: %#v", a)
	}
	if e, ok := a["Requirements"].ExprText(); !ok || e != "START" {
		t.Errorf("Requirements = %#v", a["Requirements"])
	}
	if none, err := ParseJSON([]byte("  \n")); err != nil || none != nil {
		t.Errorf("empty output: %v %v", none, err)
	}
	if _, err := ParseJSON([]byte("[{")); err == nil {
		t.Error("truncated JSON accepted")
	}
}
