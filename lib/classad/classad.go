package classad

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Value is an attribute value. Use the constructors: String, Int, Float,
// Bool, Expr.
type Value struct {
	kind kind
	s    string
	i    int64
	f    float64
	b    bool
}

type kind uint8

const (
	kUndefined kind = iota
	kString
	kInt
	kFloat
	kBool
	kExpr
)

func String(s string) Value  { return Value{kind: kString, s: s} }
func Int(i int64) Value      { return Value{kind: kInt, i: i} }
func Float(f float64) Value  { return Value{kind: kFloat, f: f} }
func Bool(b bool) Value      { return Value{kind: kBool, b: b} }
func Expr(text string) Value { return Value{kind: kExpr, s: text} } // written as is: only for expressions ehos itself composes

// IsUndefined reports whether v is the zero Value.
func (v Value) IsUndefined() bool { return v.kind == kUndefined }

// Str returns the string and whether v is a string.
func (v Value) Str() (string, bool) { return v.s, v.kind == kString }

// IntVal returns v as an integer when it is an integer (or a whole float).
func (v Value) IntVal() (int64, bool) {
	switch v.kind {
	case kInt:
		return v.i, true
	case kFloat:
		if v.f == math.Trunc(v.f) && !math.IsInf(v.f, 0) {
			return int64(v.f), true
		}
	}
	return 0, false
}

// FloatVal returns v as a float when it is a number.
func (v Value) FloatVal() (float64, bool) {
	switch v.kind {
	case kInt:
		return float64(v.i), true
	case kFloat:
		return v.f, true
	}
	return 0, false
}

// BoolVal returns v as a boolean when it is one.
func (v Value) BoolVal() (bool, bool) { return v.b, v.kind == kBool }

// ExprText returns the text of an expression value.
func (v Value) ExprText() (string, bool) { return v.s, v.kind == kExpr }

// Text is the value as ClassAd source text.
func (v Value) Text() string {
	switch v.kind {
	case kString:
		return Quote(v.s)
	case kInt:
		return strconv.FormatInt(v.i, 10)
	case kFloat:
		if math.IsNaN(v.f) || math.IsInf(v.f, 0) {
			return "error"
		}
		s := strconv.FormatFloat(v.f, 'g', -1, 64)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
		return s
	case kBool:
		if v.b {
			return "true"
		}
		return "false"
	case kExpr:
		return v.s
	}
	return "undefined"
}

// Quote returns s as a ClassAd string literal in the syntax HTCondor 23's
// text interfaces read: condor_advertise files, startd cron output,
// -constraint arguments, `condor_status -long`. Seen on 23.9.6, a backslash
// there escapes a double quote and nothing else (`"a\\b"` is a, two
// backslashes, b; `"a\nb"` is a, backslash, n, b), and the two lexers
// involved disagree on runs of backslashes before a quote. So:
//
//   - a double quote is written `\"`, after an even run of backslashes (an
//     odd run before a quote gets one more backslash, which is stored);
//   - other backslashes are written as they are, except a run at the very
//     end, written `\134` each (it would escape the closing quote);
//   - newline, tab, carriage return and other control characters, which
//     cannot stand in a one-line attribute, are written as the visible
//     escapes `\n`, `\t`, `\r`, `\ooo` and stored as those characters;
//   - invalid UTF-8 is replaced.
//
// The result is always one line and one literal that both lexers read the
// same way: no value can end the string early or start another attribute.
// Stored reports what HTCondor keeps of s; for ordinary text it is s.
func Quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for len(s) > 0 {
		if s[0] == '\\' {
			k := len(s) - len(strings.TrimLeft(s, `\`))
			s = s[k:]
			switch {
			case s == "":
				b.WriteString(strings.Repeat(`\134`, k))
			case s[0] == '"' && k%2 == 1:
				b.WriteString(strings.Repeat(`\`, k+1))
			default:
				b.WriteString(strings.Repeat(`\`, k))
			}
			continue
		}
		r, size := utf8.DecodeRuneInString(s)
		s = s[size:]
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == '"':
			b.WriteString(`\"`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\%03o`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// Stored is the string HTCondor keeps when it reads Quote(s): s itself
// unless s holds control characters or a backslash before a quote or at
// the end (see Quote).
func Stored(s string) string {
	v, err := ParseValue(Quote(s))
	if err != nil {
		return ""
	}
	out, _ := v.Str()
	return out
}

// ValidName reports whether name is a legal attribute name.
func ValidName(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

// Ad is one ClassAd. Attribute names are case-insensitive in HTCondor; Ad
// keeps the spelling it was given and looks up without regard to case.
type Ad map[string]Value

// Get returns the attribute named name, case-insensitively.
func (a Ad) Get(name string) (Value, bool) {
	if v, ok := a[name]; ok {
		return v, true
	}
	for k, v := range a {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return Value{}, false
}

// GetString returns a string attribute or "".
func (a Ad) GetString(name string) string {
	v, _ := a.Get(name)
	s, _ := v.Str()
	return s
}

// GetInt returns an integer attribute or def.
func (a Ad) GetInt(name string, def int64) int64 {
	v, _ := a.Get(name)
	if i, ok := v.IntVal(); ok {
		return i
	}
	return def
}

// GetFloat returns a numeric attribute or def.
func (a Ad) GetFloat(name string, def float64) float64 {
	v, _ := a.Get(name)
	if f, ok := v.FloatVal(); ok {
		return f
	}
	return def
}

// GetBool returns a boolean attribute or def.
func (a Ad) GetBool(name string, def bool) bool {
	v, _ := a.Get(name)
	if b, ok := v.BoolVal(); ok {
		return b
	}
	return def
}

// Set sets an attribute, replacing one of the same name in another case.
func (a Ad) Set(name string, v Value) {
	for k := range a {
		if k != name && strings.EqualFold(k, name) {
			delete(a, k)
		}
	}
	a[name] = v
}

// MarshalText writes the ad in the old syntax, one `Name = Value` a line,
// sorted by name so output is stable. Names that are not legal attribute
// names are an error (they would let a caller inject text).
func (a Ad) MarshalText() ([]byte, error) {
	names := make([]string, 0, len(a))
	for k := range a {
		if !ValidName(k) {
			return nil, fmt.Errorf("classad: invalid attribute name %q", k)
		}
		if a[k].kind == kExpr && strings.ContainsAny(a[k].s, "\n\r") {
			return nil, fmt.Errorf("classad: expression for %s has a line break", k)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, k := range names {
		b.WriteString(k)
		b.WriteString(" = ")
		b.WriteString(a[k].Text())
		b.WriteByte('\n')
	}
	return []byte(b.String()), nil
}

// MarshalAds writes several ads separated by blank lines, the input form of
// `condor_advertise -multiple`.
func MarshalAds(ads []Ad) ([]byte, error) {
	var out []byte
	for i, ad := range ads {
		b, err := ad.MarshalText()
		if err != nil {
			return nil, fmt.Errorf("ad %d: %w", i, err)
		}
		if i > 0 {
			out = append(out, '\n')
		}
		out = append(out, b...)
	}
	return out, nil
}
