package classad

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestQuoteRoundTrip(t *testing.T) {
	hostile := []string{
		``, `plain`, `a "quoted" word`, `back\slash`, "new\nline = injected", "tab\there",
		`"; Requirements = True; x = "`, "ctl\x01\x7f", `trailing\`, "unicode ✓ ok", "\r\n",
	}
	for _, s := range hostile {
		q := Quote(s)
		if strings.ContainsAny(q, "\n\r") {
			t.Errorf("Quote(%q) = %s: has a line break", s, q)
		}
		v, err := ParseValue(q)
		if err != nil {
			t.Fatalf("ParseValue(%s): %v", q, err)
		}
		got, ok := v.Str()
		if !ok || got != s {
			t.Errorf("round trip of %q: got %q (string %v)", s, got, ok)
		}
	}
}

func TestMarshalAndParseLong(t *testing.T) {
	ads := []Ad{
		{"MyType": String("EHOSDemand"), "Name": String("x y = 1"), "Idle": Int(3), "Cost": Float(2), "Ok": Bool(true), "Req": Expr("TARGET.Cpus >= 2")},
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

// The old syntax (condor_advertise input, -long output) has one escape, \"
// for a quote; backslashes are literal; line breaks cannot be written. These
// expectations were measured against HTCondor 23.9 (see the integration test
// TestClassadQuotingRoundTripsThroughHTCondor).
func TestQuoteOld(t *testing.T) {
	cases := []struct{ in, quoted, back string }{
		{`plain`, `"plain"`, `plain`},
		{`a "q" b`, `"a \"q\" b"`, `a "q" b`},
		{`back\slash`, `"back\slash"`, `back\slash`},
		{`trailing\`, `"trailing\"`, `trailing\`},
		{`\"`, `"\\""`, `\"`},
		{"new\nline = injected", `"new line = injected"`, "new line = injected"},
		{"tab\there", "\"tab\there\"", "tab\there"},
		{"ctl\x01\x7f\r", `"ctl   "`, "ctl   "},
		{`"; Requirements = True; x = "`, `"\"; Requirements = True; x = \""`, `"; Requirements = True; x = "`},
	}
	for _, c := range cases {
		if got := QuoteOld(c.in); got != c.quoted {
			t.Errorf("QuoteOld(%q) = %s, want %s", c.in, got, c.quoted)
		}
		ads, err := ParseLong([]byte("A = " + QuoteOld(c.in) + "\n"))
		if err != nil || len(ads) != 1 {
			t.Fatalf("ParseLong: %v", err)
		}
		if got := ads[0].GetString("A"); got != c.back || OldSafe(c.in) != c.back {
			t.Errorf("%q read back as %q (OldSafe %q), want %q", c.in, got, OldSafe(c.in), c.back)
		}
	}
}
