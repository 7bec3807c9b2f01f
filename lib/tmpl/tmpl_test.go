package tmpl

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestTags(t *testing.T) {
	src := "#cloud-config\na: <host_ip>:<collector_port>\n# <<file>> <1> <Foo> a<b <x_1>\nb: é<pool_name>\n"
	got := Parse("w.yaml", []byte(src)).Tags()
	want := []TagUse{
		{Name: "host_ip", Pos: Pos{File: "w.yaml", Line: 2, Col: 4, Offset: 17}},
		{Name: "collector_port", Pos: Pos{File: "w.yaml", Line: 2, Col: 14, Offset: 27}},
		{Name: "x_1", Pos: Pos{File: "w.yaml", Line: 3, Col: 26, Offset: 69}},
		{Name: "pool_name", Pos: Pos{File: "w.yaml", Line: 4, Col: 5, Offset: 80}},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Tags (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"collector_port", "host_ip", "pool_name", "x_1"}, TagNames([]byte(src))); d != "" {
		t.Errorf("TagNames (-want +got):\n%s", d)
	}
}

func TestExpand(t *testing.T) {
	tests := []struct {
		name, src string
		values    map[string]string
		want      string
		errs      []string // substrings, one per expected error, in order
	}{
		{name: "plain", src: "x <a> y <b_2>", values: map[string]string{"a": "1", "b_2": "two"}, want: "x 1 y two"},
		{name: "escape", src: "cat <<file>> <<<a>>> <<a>", values: map[string]string{"a": "1"}, want: "cat <file> <<a>> <1"},
		{name: "not tags", src: "a < b > c <1> <Ab> <-> <a-b> 2>&1 <", want: "a < b > c <1> <Ab> <-> <a-b> 2>&1 <"},
		{name: "unknown", src: "l1\n  <nope> and <nope2>", errs: []string{
			"f:2:3: unknown tag <nope> (define it under template_vars: in ehos.yaml or with --set nope=VALUE; write <<name>> for a literal <name>)",
			"f:2:14: unknown tag <nope2>"}},
		{name: "builtin without value", src: "<worker_token>", errs: []string{"f:1:1: tag <worker_token> has no value (the VM's own IDTOKEN"}},
		{name: "empty", src: "<a>", values: map[string]string{"a": ""}, errs: []string{"f:1:1: tag <a> has an empty value"}},
		{name: "newline", src: "x: <a>\ny: <a>", values: map[string]string{"a": "1\n2"}, errs: []string{
			"f:1:4: value of <a> contains a line break", "f:2:4: value of <a> contains a line break"}},
		{name: "control", src: "<a>", values: map[string]string{"a": "1\t2"}, errs: []string{"contains the control character U+0009"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse("f", []byte(tc.src)).Expand(tc.values)
			checkErrs(t, err, tc.errs)
			if err == nil && string(got) != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func checkErrs(t *testing.T, err error, want []string) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("unexpected error: %v", err)
		}
		return
	}
	var l ErrorList
	if !errors.As(err, &l) {
		t.Fatalf("error %v is not an ErrorList", err)
	}
	if len(l) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(l), len(want), err)
	}
	for i, w := range want {
		if !strings.Contains(l[i].Error(), w) {
			t.Errorf("error %d = %q, want it to contain %q", i, l[i].Error(), w)
		}
	}
}

func TestRenderYAMLSafety(t *testing.T) {
	const hdr = "#cloud-config\n"
	tests := []struct {
		name, src, value string
		errs             []string
		want             string
	}{
		{name: "plain ok", src: "a: <v>\n", value: "10.0.0.1", want: "a: 10.0.0.1\n"},
		{name: "plain url ok", src: "a: http://<v>/x\n", value: "h:80", want: "a: http://h:80/x\n"},
		{name: "plain colon space", src: "a: <v>\n", value: "x: y", errs: []string{"f:2:4: the value of <v> changes the YAML here"}},
		{name: "plain comment", src: "a: <v>\n", value: "x #y", errs: []string{"changes the YAML"}},
		{name: "plain leading dash", src: "a:\n  - <v>\n", value: "- x", errs: []string{"f:3:5: the value"}},
		{name: "plain flow", src: "a: <v>\n", value: "[1, 2]", errs: []string{"changes the YAML"}},
		{name: "plain alias", src: "a: <v>\n", value: "*x", errs: []string{"changes the YAML"}},
		{name: "plain trailing space", src: "a: <v>\n", value: "x ", errs: []string{"changes the YAML"}},
		{name: "double quote", src: "a: \"<v>\"\n", value: `say "hi"`, errs: []string{"changes the YAML"}},
		{name: "double backslash", src: "a: \"<v>\"\n", value: `c:\new`, errs: []string{"changes the YAML"}},
		{name: "double ok", src: "a: \"x <v>\"\n", value: "a: b # c 'd'", want: "a: \"x a: b # c 'd'\"\n"},
		{name: "single quote", src: "a: '<v>'\n", value: "it's", errs: []string{"changes the YAML"}},
		{name: "block ok", src: "a: |\n  X = <v>\n", value: `"q" \ : # - [ ' {`, want: "a: |\n  X = \"q\" \\ : # - [ ' {\n"},
		{name: "key", src: "<v>: 1\n", value: "k: x", errs: []string{"f:2:1: the value"}},
		{name: "only culprit named", src: "a: <ok>\nb: <v>\n", value: "x: y", errs: []string{"f:3:4: the value of <v>"}},
		{name: "comment ok", src: "a: 1 # <v>\n", value: "x: y #", want: "a: 1 # x: y #\n"},
		{name: "doc start", src: "<v>: 1\n", value: "--- b", errs: []string{"changes the YAML"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Render("f", []byte(hdr+tc.src), map[string]string{"v": tc.value, "ok": "fine"})
			checkErrs(t, err, tc.errs)
			if err == nil && string(got) != hdr+tc.want {
				t.Errorf("got %q, want %q", got, hdr+tc.want)
			}
		})
	}
}

func TestRenderTemplateNotYAML(t *testing.T) {
	_, err := Render("f", []byte("#cloud-config\na: [<v>\nb: 1\n"), map[string]string{"v": "x"})
	if err == nil || !strings.Contains(err.Error(), "template is not valid YAML") {
		t.Fatalf("err = %v, want template is not valid YAML", err)
	}
}

func TestCheckUserData(t *testing.T) {
	big := "#cloud-config\na: |\n" + strings.Repeat("  "+strings.Repeat("x", 70)+"\n", 700)
	tests := []struct {
		name, src string
		errs      []string
	}{
		{name: "ok", src: "#cloud-config\na: 1\n"},
		{name: "ok crlf", src: "#cloud-config\r\na: 1\r\n"},
		{name: "ok empty", src: "#cloud-config\n"},
		{name: "no header", src: "a: 1\n", errs: []string{"f:1:1: the file must start with the line #cloud-config"}},
		{name: "header not first", src: "\n#cloud-config\na: 1\n", errs: []string{"must start with"}},
		{name: "bad yaml", src: "#cloud-config\na: [\n", errs: []string{"not valid YAML"}},
		{name: "list", src: "#cloud-config\n- a\n", errs: []string{"f:2:1: the top level of cloud-config must be a mapping"}},
		{name: "two docs", src: "#cloud-config\na: 1\n---\nb: 2\n", errs: []string{"one YAML document, found 2"}},
		{name: "too big", src: big, errs: []string{"f: rendered user-data is 51119 bytes, 68160 as base64: over Nova's limit of 65535 bytes as base64 (49149 raw)"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkErrs(t, CheckUserData("f", []byte(tc.src)), tc.errs) })
	}
	// The limit itself: 49149 raw bytes fit, 49150 do not.
	fill := func(n int) []byte {
		s := "#cloud-config\na: "
		return []byte(s + strings.Repeat("x", n-len(s)-1) + "\n")
	}
	if err := CheckUserData("f", fill(MaxRawUserData)); err != nil {
		t.Errorf("%d bytes: %v", MaxRawUserData, err)
	}
	if err := CheckUserData("f", fill(MaxRawUserData+1)); err == nil {
		t.Errorf("%d bytes: no error", MaxRawUserData+1)
	}
}

func TestRenderReportsAllErrorsAtOnce(t *testing.T) {
	src := "#cloud-config\na: <x>\nb: <host_ip>\nc: <y>\n"
	_, err := Render("w.yaml", []byte(src), map[string]string{})
	checkErrs(t, err, []string{"w.yaml:2:4: unknown tag <x>", "w.yaml:3:4: tag <host_ip> has no value", "w.yaml:4:4: unknown tag <y>"})
}
