package tmpl

import (
	"bytes"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks the scanner's invariants on any input: every tag use sits
// where its position says, positions agree with a naive line count, and
// expansion changes exactly the tags and escapes. Seeds: f.Add below and
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"", "<", ">", "<>", "<a>", "<<a>>", "<<<a>>>", "<<a>", "<a>>", "<a<b>>", "x <host_ip>:<collector_port>\n",
		"<A>", "<1a>", "<a-b>", "<a_1>", "\n\n<é><a>\r\n<b>", "{master_ip} {password}", "2>&1 <in >out",
		"#cloud-config\nwrite_files:\n  - path: <token_file>\n    content: |\n      <worker_token>\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		tp := Parse("f", src)
		uses := tp.Tags()
		values := map[string]string{}
		removed, added := 0, 0
		for _, u := range uses {
			tag := "<" + u.Name + ">"
			if !bytes.HasPrefix(src[u.Pos.Offset:], []byte(tag)) {
				t.Fatalf("use %+v: source there is %q", u, src[u.Pos.Offset:])
			}
			if !ValidName(u.Name) {
				t.Fatalf("invalid name %q", u.Name)
			}
			line := bytes.Count(src[:u.Pos.Offset], []byte("\n")) + 1
			ls := bytes.LastIndexByte(src[:u.Pos.Offset], '\n') + 1
			col := utf8.RuneCount(src[ls:u.Pos.Offset]) + 1
			if u.Pos.Line != line || u.Pos.Col != col {
				t.Fatalf("use %+v: want line %d col %d", u, line, col)
			}
			values[u.Name] = "V" + u.Name
			removed += len(tag)
			added += len(values[u.Name])
		}
		escapes := 0
		for _, tk := range tp.toks {
			if tk.kind == tokEscape {
				escapes++
			}
		}
		out, err := tp.Expand(values)
		if err != nil {
			t.Fatalf("Expand with every value: %v", err)
		}
		if want := len(src) - removed + added - 2*escapes; len(out) != want {
			t.Fatalf("expanded length %d, want %d", len(out), want)
		}
		// With no values, every use is reported, in order.
		_, err = tp.Expand(nil)
		if len(uses) == 0 && err != nil || len(uses) > 0 && (err == nil || len(err.(ErrorList)) != len(uses)) {
			t.Fatalf("Expand(nil) = %v for %d uses", err, len(uses))
		}
		// Render and ConvertLegacy never panic; a rendered file passes the
		// user-data check.
		if r, err := tp.Render(values); err == nil {
			if err := CheckUserData("f", r); err != nil {
				t.Fatalf("rendered file fails CheckUserData: %v", err)
			}
		}
		if c, _, err := ConvertLegacy("f", src); err == nil {
			// Converting never adds tags except from {name}.
			if got, want := len(Tags(c)), strings.Count(string(c), "<"); got > want {
				t.Fatalf("more tags than '<'")
			}
		}
	})
}

// FuzzRenderValue checks that a value either renders to exactly itself in
// every YAML context of the template, or is refused.
func FuzzRenderValue(f *testing.F) {
	for _, s := range []string{"x", "a: b", "a #b", "'", `"`, `\n`, "- x", "[1]", "{a: 1}", "*a", "&a x", "!!int 3", "|", ">", "%x", "@x", "`x", " x", "x ", "123", "true", "~", "#x", "a\tb", "é", "---", "...", "? x"} {
		f.Add(s)
	}
	const src = "#cloud-config\nplain: <v>\ndouble: \"<v>\"\nsingle: '<v>'\nblock: |\n  <v>\nlist:\n  - <v>\n"
	f.Fuzz(func(t *testing.T, v string) {
		out, err := Render("f", []byte(src), map[string]string{"v": v})
		if err != nil {
			return
		}
		docs, err := parseYAML(out)
		if err != nil {
			t.Fatalf("rendered file does not parse: %v", err)
		}
		m := docs[0].Content[0]
		want := map[string]string{"plain": v, "double": v, "single": v, "block": v + "\n"}
		for i := 0; i+1 < len(m.Content); i += 2 {
			k, val := m.Content[i].Value, m.Content[i+1]
			if k == "list" {
				val = val.Content[0]
				k = "plain"
			}
			if val.Value != want[k] {
				t.Fatalf("%s: got %q, want %q", k, val.Value, want[k])
			}
		}
	})
}
