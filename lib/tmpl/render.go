package tmpl

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// MaxUserData is Nova's limit on user_data, counted after base64 encoding.
const MaxUserData = 65535

// MaxRawUserData is the largest raw file whose base64 form fits MaxUserData.
const MaxRawUserData = MaxUserData / 4 * 3

// Header is the first line cloud-init needs to read a file as cloud-config.
const Header = "#cloud-config"

// Render substitutes values into the template src (named file in errors),
// checks that no value changed the YAML it landed in, and that the result is
// cloud-config user-data Nova accepts (CheckUserData). All problems are
// returned at once as an ErrorList.
func Render(file string, src []byte, values map[string]string) ([]byte, error) {
	return Parse(file, src).Render(values)
}

// Render is the package-level Render for a parsed template.
func (t *Template) Render(values map[string]string) ([]byte, error) {
	out, err := t.Expand(values)
	if err != nil {
		return nil, err
	}
	if err := t.checkYAMLShape(out, values); err != nil {
		return nil, err
	}
	if err := CheckUserData(t.file, out); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckUserData checks a finished file: it starts with the #cloud-config
// line, is one YAML document whose top level is a mapping (or empty), and its
// base64 form fits Nova's limit.
func CheckUserData(file string, b []byte) error {
	var errs ErrorList
	first, _, _ := bytes.Cut(b, []byte("\n"))
	if strings.TrimRight(string(first), " \t\r") != Header {
		errs = append(errs, &Error{Pos: Pos{File: file, Line: 1, Col: 1}, Msg: "the file must start with the line " + Header + " (cloud-init ignores it otherwise)"})
	}
	docs, err := parseYAML(b)
	if err != nil {
		errs = append(errs, yamlError(file, "not valid YAML", err))
	} else {
		if len(docs) > 1 {
			errs = append(errs, &Error{Pos: Pos{File: file, Line: docs[1].Line}, Msg: fmt.Sprintf("cloud-config must be one YAML document, found %d", len(docs))})
		}
		if len(docs) > 0 && len(docs[0].Content) > 0 && docs[0].Content[0].Kind != yaml.MappingNode {
			n := docs[0].Content[0]
			errs = append(errs, &Error{Pos: Pos{File: file, Line: n.Line, Col: n.Column}, Msg: "the top level of cloud-config must be a mapping (key: value)"})
		}
	}
	if enc := base64.StdEncoding.EncodedLen(len(b)); enc > MaxUserData {
		errs = append(errs, &Error{Pos: Pos{File: file}, Msg: fmt.Sprintf("rendered user-data is %d bytes, %d as base64: over Nova's limit of %d bytes as base64 (%d raw)", len(b), enc, MaxUserData, MaxRawUserData)})
	}
	if len(errs) > 0 {
		return errs.sorted()
	}
	return nil
}

// parseYAML decodes every document of b into nodes.
func parseYAML(b []byte) ([]*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []*yaml.Node
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		docs = append(docs, &n)
	}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// yamlError turns a yaml.v3 error into an Error with the line it names.
func yamlError(file, what string, err error) *Error {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{Pos: Pos{File: file, Line: line}, Msg: what + ": " + m[2]}
	}
	return &Error{Pos: Pos{File: file}, Msg: what + ": " + strings.TrimPrefix(msg, "yaml: ")}
}

// checkYAMLShape proves that the values did not change the YAML they landed
// in. It renders the template again with a plain marker (letters and digits,
// safe in any YAML context) for every tag use, and requires the real result
// to have the same nodes, each scalar holding the marker version's text with
// the markers replaced by the values. When that fails, each tag use is tried
// alone to name the values at fault.
func (t *Template) checkYAMLShape(out []byte, values map[string]string) error {
	uses := t.Tags()
	if len(uses) == 0 {
		return nil // nothing substituted: CheckUserData reports YAML errors
	}
	prefix := "ehosmark"
	for bytes.Contains(t.src, []byte(prefix)) {
		prefix += "q"
	}
	markers := make([]string, len(uses))
	repl := make([]string, 0, 2*len(uses))
	for i, u := range uses {
		markers[i] = fmt.Sprintf("%s%dx", prefix, i)
		repl = append(repl, markers[i], values[u.Name])
	}
	allMarkers := func(i int, _ string) string { return markers[i] }
	ref, err := t.expand(allMarkers, values)
	if err != nil {
		return err
	}
	refDocs, err := parseYAML(ref)
	if err != nil {
		// The template itself is broken; its line numbers are the
		// template's, since values hold no line breaks.
		return ErrorList{yamlError(t.file, "template is not valid YAML", err)}
	}
	expand := strings.NewReplacer(repl...)
	if sameShape(refDocs, out, expand) {
		return nil
	}
	var errs ErrorList
	for i, u := range uses {
		one, err := t.expand(func(j int, _ string) string {
			if j == i {
				return ""
			}
			return markers[j]
		}, values)
		if err != nil {
			return err
		}
		r := strings.NewReplacer(markers[i], values[u.Name])
		if !sameShape(refDocs, one, r) {
			errs = append(errs, &Error{Pos: u.Pos, Tag: u.Name, Msg: fmt.Sprintf(
				"the value of <%s> changes the YAML here (it holds characters YAML reads as structure or escapes, such as \": \", \" #\", quotes, backslashes or a leading -, [, {, !, &, *, |, >); put the tag inside a block scalar (|) or a quoted string that can hold the value", u.Name)})
		}
	}
	if len(errs) == 0 {
		// Only the values together break it.
		errs = append(errs, &Error{Pos: uses[0].Pos, Tag: uses[0].Name, Msg: "the values together change the YAML structure of the template; quote the tags"})
	}
	return errs
}

// sameShape reports whether b parses to the documents ref with each scalar's
// text equal to ref's after expand.
func sameShape(ref []*yaml.Node, b []byte, expand *strings.Replacer) bool {
	docs, err := parseYAML(b)
	if err != nil || len(docs) != len(ref) {
		return false
	}
	for i := range ref {
		if !sameNode(ref[i], docs[i], expand) {
			return false
		}
	}
	return true
}

func sameNode(a, b *yaml.Node, expand *strings.Replacer) bool {
	if a.Kind != b.Kind || a.Style != b.Style || len(a.Content) != len(b.Content) ||
		expand.Replace(a.Anchor) != b.Anchor || expand.Replace(a.Value) != b.Value {
		return false
	}
	if a.Style&yaml.TaggedStyle != 0 && a.Tag != b.Tag {
		return false
	}
	for i := range a.Content {
		if !sameNode(a.Content[i], b.Content[i], expand) {
			return false
		}
	}
	return true
}
