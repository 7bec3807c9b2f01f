package tmpl

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"
)

// Pos is a place in a template. Line and Col count from 1; Col counts
// characters (runes), Offset bytes from the start.
type Pos struct {
	File   string
	Line   int
	Col    int
	Offset int
}

func (p Pos) String() string {
	f := p.File
	if f == "" {
		f = "-"
	}
	if p.Line == 0 {
		return f
	}
	if p.Col == 0 {
		return fmt.Sprintf("%s:%d", f, p.Line)
	}
	return fmt.Sprintf("%s:%d:%d", f, p.Line, p.Col)
}

// TagUse is one occurrence of a tag in a template.
type TagUse struct {
	Name string
	Pos  Pos
}

// Error is one problem at one place in a template.
type Error struct {
	Pos Pos
	Tag string // the tag's name, "" when the problem is not about a tag
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

// ErrorList is every problem found in one file, in file order. It is what
// the functions of this package return when a template cannot be rendered.
type ErrorList []*Error

func (l ErrorList) Error() string {
	s := make([]string, len(l))
	for i, e := range l {
		s[i] = e.Error()
	}
	return strings.Join(s, "\n")
}

// Unwrap lets errors.As reach each *Error.
func (l ErrorList) Unwrap() []error {
	out := make([]error, len(l))
	for i, e := range l {
		out[i] = e
	}
	return out
}

func (l ErrorList) sorted() ErrorList {
	sort.SliceStable(l, func(i, j int) bool { return l[i].Pos.Offset < l[j].Pos.Offset })
	return l
}

// token is a piece of a scanned template: literal text, a tag, or an escape
// (<<name>>, which renders as <name>).
type token struct {
	kind   tokKind
	text   string // literal text; for tags and escapes, the name
	offset int
}

type tokKind uint8

const (
	tokText tokKind = iota
	tokTag
	tokEscape
)

func isNameStart(c byte) bool { return c >= 'a' && c <= 'z' }
func isNameByte(c byte) bool {
	return isNameStart(c) || c >= '0' && c <= '9' || c == '_'
}

// nameAt returns the length of a tag name starting at src[i], or 0.
func nameAt(src []byte, i int) int {
	if i >= len(src) || !isNameStart(src[i]) {
		return 0
	}
	j := i + 1
	for j < len(src) && isNameByte(src[j]) {
		j++
	}
	return j - i
}

// scan splits src into tokens. It never fails: whatever is not a tag or an
// escape is text.
func scan(src []byte) []token {
	var toks []token
	start := 0 // start of pending text
	flush := func(end int) {
		if end > start {
			toks = append(toks, token{kind: tokText, text: string(src[start:end]), offset: start})
		}
	}
	for i := 0; i < len(src); {
		if src[i] != '<' {
			// Jump to the next '<'.
			k := bytes.IndexByte(src[i:], '<')
			if k < 0 {
				break
			}
			i += k
			continue
		}
		// Escape: <<name>>
		if i+1 < len(src) && src[i+1] == '<' {
			if n := nameAt(src, i+2); n > 0 && i+2+n+1 < len(src) && src[i+2+n] == '>' && src[i+3+n] == '>' {
				flush(i)
				toks = append(toks, token{kind: tokEscape, text: string(src[i+2 : i+2+n]), offset: i})
				i += n + 4
				start = i
				continue
			}
		}
		// Tag: <name>
		if n := nameAt(src, i+1); n > 0 && i+1+n < len(src) && src[i+1+n] == '>' {
			flush(i)
			toks = append(toks, token{kind: tokTag, text: string(src[i+1 : i+1+n]), offset: i})
			i += n + 2
			start = i
			continue
		}
		i++
	}
	flush(len(src))
	return toks
}

// lineIndex turns byte offsets into line and column numbers.
type lineIndex struct {
	src    []byte
	file   string
	starts []int // byte offset of the start of each line
}

func newLineIndex(file string, src []byte) *lineIndex {
	li := &lineIndex{src: src, file: file, starts: []int{0}}
	for i, c := range src {
		if c == '\n' {
			li.starts = append(li.starts, i+1)
		}
	}
	return li
}

func (li *lineIndex) pos(offset int) Pos {
	line := sort.Search(len(li.starts), func(i int) bool { return li.starts[i] > offset }) // first line starting after offset
	start := li.starts[line-1]
	return Pos{File: li.file, Line: line, Col: utf8.RuneCount(li.src[start:offset]) + 1, Offset: offset}
}

// Template is a parsed template. Parsing never fails: a template's problems
// show when it is rendered with a set of values.
type Template struct {
	file string
	src  []byte
	toks []token
	li   *lineIndex
}

// Parse scans src, the text of the template named file (used in positions).
func Parse(file string, src []byte) *Template {
	return &Template{file: file, src: src, toks: scan(src), li: newLineIndex(file, src)}
}

// File is the name given to Parse.
func (t *Template) File() string { return t.file }

// Tags lists every tag use in file order (escaped tags are not uses).
func (t *Template) Tags() []TagUse {
	var out []TagUse
	for _, tk := range t.toks {
		if tk.kind == tokTag {
			out = append(out, TagUse{Name: tk.text, Pos: t.li.pos(tk.offset)})
		}
	}
	return out
}

// Tags lists the tags used in src, in file order, with positions naming no
// file.
func Tags(src []byte) []TagUse { return Parse("", src).Tags() }

// TagNames is the sorted set of tag names src uses.
func TagNames(src []byte) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range Tags(src) {
		if !seen[u.Name] {
			seen[u.Name] = true
			out = append(out, u.Name)
		}
	}
	sort.Strings(out)
	return out
}

// EscapeHint is how to write a literal tag; the unknown-tag error repeats it.
const EscapeHint = "write <<name>> for a literal <name>"

// Expand substitutes values into the template with no YAML checks: every tag
// must have a non-empty value without control characters. All problems are
// returned together as an ErrorList.
func (t *Template) Expand(values map[string]string) ([]byte, error) {
	return t.expand(func(int, string) string { return "" }, values)
}

// expand does the substitution; marker, when it returns non-empty, replaces
// the i-th tag use instead of its value (used by the YAML check).
func (t *Template) expand(marker func(i int, name string) string, values map[string]string) ([]byte, error) {
	var errs ErrorList
	var out bytes.Buffer
	out.Grow(len(t.src))
	use := 0
	for _, tk := range t.toks {
		switch tk.kind {
		case tokText:
			out.WriteString(tk.text)
		case tokEscape:
			out.WriteString("<" + tk.text + ">")
		case tokTag:
			i := use
			use++
			v, ok := values[tk.text]
			if e := checkValue(tk.text, v, ok); e != "" {
				errs = append(errs, &Error{Pos: t.li.pos(tk.offset), Tag: tk.text, Msg: e})
				continue
			}
			if m := marker(i, tk.text); m != "" {
				v = m
			}
			out.WriteString(v)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return out.Bytes(), nil
}

// checkValue says what is wrong with the value of tag name, or "".
func checkValue(name, v string, ok bool) string {
	switch {
	case !ok && IsBuiltin(name):
		return fmt.Sprintf("tag <%s> has no value (%s)", name, Builtin[name])
	case !ok:
		return fmt.Sprintf("unknown tag <%s> (define it under template_vars: in ehos.yaml or with --set %s=VALUE; %s)", name, name, EscapeHint)
	case v == "":
		return fmt.Sprintf("tag <%s> has an empty value", name)
	}
	for _, r := range v {
		if r == '\n' || r == '\r' {
			return fmt.Sprintf("value of <%s> contains a line break; values must be one line", name)
		}
		if r < 0x20 || r == 0x7f || r == 0x85 || r == 0x2028 || r == 0x2029 || r == 0xfeff {
			return fmt.Sprintf("value of <%s> contains the control character %U", name, r)
		}
	}
	if !utf8.ValidString(v) {
		return fmt.Sprintf("value of <%s> is not valid UTF-8", name)
	}
	return ""
}
