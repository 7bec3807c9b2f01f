package config

import (
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// MaxSize is the largest ehos.yaml read: a real one is a few KB, and a
// larger file is a mistake (the wrong file, a log) rather than a config.
const MaxSize = 1 << 20

// Problem is one thing wrong in a config file, in the user's words: where
// (key path and line), the value found and what was expected.
type Problem struct {
	File  string
	Line  int    // 0: unknown
	Path  string // e.g. scaling.max, clouds[0].flavors
	Value string // as written; "" when the problem is not about one value
	Want  string // what was expected, and how to fix it
}

func (p *Problem) Error() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		fmt.Fprintf(&b, ":%d", p.Line)
	}
	if p.Path != "" {
		b.WriteString(": " + p.Path)
	}
	if p.Value != "" {
		fmt.Fprintf(&b, ": %q", p.Value)
	}
	return b.String() + ": " + p.Want
}

// nodeBudget bounds the nodes one decode visits: aliases can make a small
// file stand for an exponential tree.
const nodeBudget = 1_000_000

var durationType = reflect.TypeOf(time.Duration(0))

// decoder turns a parsed YAML tree into a struct, reporting every problem
// at once. yaml.v3 reports one type error at a time, in Go's words, lets
// 20.9 into an int as 20, and checks duplicate keys in time quadratic in a
// mapping's size; this walk does none of that.
type decoder struct {
	file   string
	probs  []error
	lines  map[string]int // key path → line, for later validation errors
	budget int
}

func (d *decoder) bad(n *yaml.Node, path, value, want string, a ...any) {
	d.probs = append(d.probs, &Problem{File: d.file, Line: n.Line, Path: path, Value: value, Want: fmt.Sprintf(want, a...)})
}

// decodeNode decodes data (the whole document) into out.
func decodeNode(file string, data []byte, out any) (lines map[string]int, err error) {
	if len(data) > MaxSize {
		return nil, &Problem{File: file, Want: fmt.Sprintf("%.1f MB is more than the %d KB an ehos.yaml may be: is this the right file?", float64(len(data))/1e6, MaxSize>>10)}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, &Problem{File: file, Want: "not YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	d := &decoder{file: file, lines: map[string]int{}, budget: nodeBudget}
	if len(root.Content) == 0 {
		return d.lines, nil // empty file: all defaults
	}
	doc := root.Content[0]
	if p := originalLayout(file, doc); p != nil {
		return nil, p
	}
	d.decode(doc, reflect.ValueOf(out).Elem(), "")
	return d.lines, errors.Join(d.probs...)
}

func (d *decoder) decode(n *yaml.Node, v reflect.Value, path string) {
	if d.budget--; d.budget < 0 {
		if d.budget == -1 {
			d.bad(n, path, "", "too many nodes (aliases expanding to over %d): not a config", nodeBudget)
		}
		return
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if path != "" {
		d.lines[path] = n.Line
	}
	if n.Kind == yaml.ScalarNode && n.Tag == "!!null" {
		return // key: (nothing) keeps the default
	}
	switch v.Kind() {
	case reflect.Pointer:
		e := reflect.New(v.Type().Elem())
		d.decode(n, e.Elem(), path)
		v.Set(e)
	case reflect.Struct:
		d.mapping(n, path, nil, func(k *yaml.Node, key, kp string) (reflect.Value, bool) {
			f, ok := fieldByKey(v, key)
			if !ok {
				want := "unknown key"
				if s := suggest(key, yamlKeys(v.Type())); s != "" {
					want += fmt.Sprintf(": did you mean %q?", s)
				} else {
					want += " (known: " + strings.Join(yamlKeys(v.Type()), ", ") + ")"
				}
				d.bad(k, kp, "", "%s", want)
			}
			return f, ok
		})
	case reflect.Map:
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
		d.mapping(n, path, func(key string, e reflect.Value) {
			v.SetMapIndex(reflect.ValueOf(key).Convert(v.Type().Key()), e)
		}, func(*yaml.Node, string, string) (reflect.Value, bool) {
			return reflect.New(v.Type().Elem()).Elem(), true
		})
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.bad(n, path, scalarValue(n), "want a list (lines starting with \"- \", or [a, b])")
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, c := range n.Content {
			d.decode(c, s.Index(i), fmt.Sprintf("%s[%d]", path, i))
		}
		v.Set(s)
	default:
		d.scalar(n, v, path)
	}
}

// mapping walks a mapping node: field gives the value each key decodes
// into (false: skip it); done, if not nil, is called after each decode.
func (d *decoder) mapping(n *yaml.Node, path string, done func(string, reflect.Value), field func(k *yaml.Node, key, keyPath string) (reflect.Value, bool)) {
	if n.Kind != yaml.MappingNode {
		d.bad(n, path, scalarValue(n), "want a mapping (key: value lines)")
		return
	}
	seen := make(map[string]int, len(n.Content)/2)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, val := n.Content[i], n.Content[i+1]
		key := k.Value
		kp := key
		if path != "" {
			kp = path + "." + key
		}
		if k.Kind != yaml.ScalarNode {
			d.bad(k, path, "", "a key must be a plain word")
			continue
		}
		if first, dup := seen[key]; dup {
			d.bad(k, kp, "", "given twice (first at line %d)", first)
			continue
		}
		seen[key] = k.Line
		d.lines[kp] = k.Line
		f, ok := field(k, key, kp)
		if !ok {
			continue
		}
		d.decode(val, f, kp)
		if done != nil {
			done(key, f)
		}
	}
}

func (d *decoder) scalar(n *yaml.Node, v reflect.Value, path string) {
	if n.Kind != yaml.ScalarNode {
		d.bad(n, path, "", "want a single value, not a %s", kindName(n.Kind))
		return
	}
	var want string
	switch {
	case v.Type() == durationType:
		if n.Tag == "!!int" {
			d.bad(n, path, n.Value, "a duration needs a unit: %ss (the original EHOS counted plain seconds), or like 5m, 2h", n.Value)
			return
		}
		want = "want a duration like 90s, 5m or 2h"
	case v.CanInt():
		if n.Tag != "!!int" {
			d.bad(n, path, n.Value, "want a whole number")
			return
		}
		want = "want a whole number in range"
	case v.CanFloat():
		if n.Tag != "!!int" && n.Tag != "!!float" {
			d.bad(n, path, n.Value, "want a number")
			return
		}
		want = "want a number"
	case v.Kind() == reflect.Bool:
		if n.Tag != "!!bool" {
			d.bad(n, path, n.Value, "want true or false")
			return
		}
	case v.Kind() == reflect.String:
		v.SetString(n.Value)
		return
	}
	if err := n.Decode(v.Addr().Interface()); err != nil {
		d.bad(n, path, n.Value, "%s", want)
	}
}

func scalarValue(n *yaml.Node) string {
	if n.Kind == yaml.ScalarNode {
		return n.Value
	}
	return ""
}

func kindName(k yaml.Kind) string {
	switch k {
	case yaml.MappingNode:
		return "mapping"
	case yaml.SequenceNode:
		return "list"
	}
	return "value"
}

// fieldByKey is the field of struct v whose yaml name is key.
func fieldByKey(v reflect.Value, key string) (reflect.Value, bool) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if yamlName(t.Field(i)) == key {
			return v.Field(i), true
		}
	}
	return reflect.Value{}, false
}

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	if name == "" {
		return strings.ToLower(f.Name)
	}
	return name
}

func yamlKeys(t reflect.Type) []string {
	var out []string
	for i := 0; i < t.NumField(); i++ {
		if n := yamlName(t.Field(i)); n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// suggest is the known key closest to a mistyped one, if close enough to
// be a typo.
func suggest(key string, known []string) string {
	best, bestD := "", 0
	for _, k := range known {
		dist := editDistance(key, k)
		if limit := max(1, len(k)/3); dist <= limit && (best == "" || dist < bestD) {
			best, bestD = k, dist
		}
	}
	return best
}

// editDistance counts the edits (insert, delete, change, swap of two
// neighbours) between two short keys.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// originalLayout recognises the original (Python) EHOS ehos.yaml: its
// sections, or clouds as a mapping of credentials. Decoding it as the new
// form would bury the one useful fact under a problem per key.
func originalLayout(file string, doc *yaml.Node) *Problem {
	if doc.Kind != yaml.MappingNode {
		return nil
	}
	var found []string
	line := 0
	for i := 0; i+1 < len(doc.Content); i += 2 {
		k, v := doc.Content[i], doc.Content[i+1]
		switch {
		case k.Value == "ehos" || k.Value == "daemon" || k.Value == "ehos_daemon" || k.Value == "condor" || k.Value == "cloud":
			found = append(found, k.Value+":")
		case k.Value == "clouds" && v.Kind == yaml.MappingNode:
			found = append(found, "clouds: as a mapping of credentials")
		default:
			continue
		}
		if line == 0 {
			line = k.Line
		}
	}
	if len(found) == 0 {
		return nil
	}
	return &Problem{File: file, Line: line, Want: fmt.Sprintf("this is the original EHOS layout (%s), not the new ehos.yaml: convert it with `ehos config migrate %s -o ehos.yaml` (docs/install.md)", strings.Join(found, ", "), file)}
}
