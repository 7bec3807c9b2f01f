package classad

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// ParseJSON reads the output of a tool's -json option: an array of ads. Empty
// output (HTCondor prints nothing at all when nothing matches) is no ads.
// Expressions, which HTCondor writes as "\/Expr(...)\/" strings, become Expr
// values.
func ParseJSON(data []byte) ([]Ad, error) {
	data = bytes.TrimSpace(data)
	if len(data) == 0 {
		return nil, nil
	}
	var raw []map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("classad: parse JSON ads: %w", err)
	}
	ads := make([]Ad, 0, len(raw))
	for i, obj := range raw {
		ad := make(Ad, len(obj))
		for k, rv := range obj {
			v, err := jsonValue(rv)
			if err != nil {
				return nil, fmt.Errorf("classad: ad %d attribute %s: %w", i, k, err)
			}
			ad[k] = v
		}
		ads = append(ads, ad)
	}
	return ads, nil
}

func jsonValue(rv json.RawMessage) (Value, error) {
	var x any
	dec := json.NewDecoder(bytes.NewReader(rv))
	dec.UseNumber()
	if err := dec.Decode(&x); err != nil {
		return Value{}, err
	}
	switch t := x.(type) {
	case nil:
		return Value{}, nil
	case bool:
		return Bool(t), nil
	case string:
		if strings.HasPrefix(t, "/Expr(") && strings.HasSuffix(t, ")/") {
			return Expr(t[len("/Expr(") : len(t)-2]), nil
		}
		return String(t), nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return Int(i), nil
		}
		f, err := t.Float64()
		if err != nil {
			return Value{}, err
		}
		return Float(f), nil
	default:
		// Lists and nested ads are kept as their JSON text in an expression;
		// ehos reads them with ParseJSONValue where it needs them.
		return Expr(string(rv)), nil
	}
}

// ParseLong reads old-syntax ads as printed by `condor_status -long` or
// `condor_q -long`: `Name = Value` lines, ads separated by blank lines.
func ParseLong(data []byte) ([]Ad, error) {
	var ads []Ad
	cur := Ad{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64*1024), 16*1024*1024)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" {
			if len(cur) > 0 {
				ads = append(ads, cur)
				cur = Ad{}
			}
			continue
		}
		name, val, ok := strings.Cut(text, "=")
		name = strings.TrimSpace(name)
		if !ok || !ValidName(name) {
			return nil, fmt.Errorf("classad: line %d: not an attribute: %q", line, text)
		}
		v, err := parseOldValue(strings.TrimSpace(val))
		if err != nil {
			return nil, fmt.Errorf("classad: line %d: %s: %w", line, name, err)
		}
		cur[name] = v
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("classad: read: %w", err)
	}
	if len(cur) > 0 {
		ads = append(ads, cur)
	}
	return ads, nil
}

// parseOldValue is ParseValue for old-syntax text (`-long` output): in a
// string, \" is a quote unless that quote ends the text; every other
// backslash is literal. (HTCondor's ConvertEscapingOldToNew.)
func parseOldValue(text string) (Value, error) {
	if !strings.HasPrefix(text, `"`) || len(text) < 2 || !strings.HasSuffix(text, `"`) {
		return ParseValue(text)
	}
	body := text[1 : len(text)-1]
	var b strings.Builder
	for i := 0; i < len(body); i++ {
		c := body[i]
		if c == '\\' && i+1 < len(body) && body[i+1] == '"' {
			b.WriteByte('"')
			i++
			continue
		}
		if c == '"' {
			// An unescaped quote inside: not a plain string literal.
			return Expr(text), nil
		}
		b.WriteByte(c)
	}
	return String(b.String()), nil
}

// ParseValue reads one new-syntax literal: a quoted string, an integer, a real, true or
// false, or undefined. Anything else is kept as an expression.
func ParseValue(text string) (Value, error) {
	switch strings.ToLower(text) {
	case "true":
		return Bool(true), nil
	case "false":
		return Bool(false), nil
	case "undefined", "":
		return Value{}, nil
	}
	if strings.HasPrefix(text, `"`) {
		s, rest, err := unquote(text)
		if err != nil {
			return Value{}, err
		}
		if strings.TrimSpace(rest) == "" {
			return String(s), nil
		}
		return Expr(text), nil
	}
	if i, err := strconv.ParseInt(text, 10, 64); err == nil {
		return Int(i), nil
	}
	if f, err := strconv.ParseFloat(text, 64); err == nil {
		return Float(f), nil
	}
	return Expr(text), nil
}

// unquote reads a string literal at the start of text and returns it and the
// text after it, the way HTCondor's old-syntax lexer does (see Quote): a
// backslash escapes a double quote and nothing else; before any other
// character both are kept.
func unquote(text string) (string, string, error) {
	var b strings.Builder
	for i := 1; i < len(text); i++ {
		c := text[i]
		switch c {
		case '"':
			return b.String(), text[i+1:], nil
		case '\\':
			i++
			if i >= len(text) {
				return "", "", fmt.Errorf("unterminated escape in %s", text)
			}
			if text[i] != '"' {
				b.WriteByte('\\')
			}
			b.WriteByte(text[i])
		default:
			b.WriteByte(c)
		}
	}
	return "", "", fmt.Errorf("unterminated string %s", text)
}
