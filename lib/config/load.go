package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads, defaults and validates an ehos.yaml. Every problem is reported
// at once: the error joins one line per problem, each naming the file, the
// key path and the bad value.
func Load(path string) (*Config, error) {
	data, err := readLimited(path)
	if err != nil {
		return nil, err
	}
	cfg, err := Parse(path, data)
	if err != nil {
		return nil, err
	}
	if err := CheckSecretFile(path, data); err != nil {
		return nil, err
	}
	return cfg, nil
}

// Parse decodes ehos.yaml text (unknown keys are errors), applies defaults
// and validates. name is used in messages.
// A key's problem in decoding does not hide the other keys' problems, nor
// the validation of what did decode.
func Parse(name string, data []byte) (*Config, error) {
	cfg := Default()
	lines, derr := decodeNode(name, data, &cfg)
	if lines == nil { // not a config at all: nothing to validate
		return nil, derr
	}
	cfg.applyDerived()
	if err := errors.Join(derr, prefixErrors(name, lines, cfg.Validate())); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// readLimited reads a config file of at most MaxSize bytes.
func readLimited(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	return data, nil
}

// Decode only decodes: no defaults, no validation. An unknown key (a typo) is
// an error naming its line.
func Decode(name string, data []byte) (*Config, error) {
	var cfg Config
	if _, err := decodeNode(name, data, &cfg); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// prefixErrors names the file, and the line where the key path a
// validation problem starts with was written, if it was.
func prefixErrors(name string, lines map[string]int, err error) error {
	var out []error
	for _, e := range Problems(err) {
		key, _, _ := strings.Cut(e.Error(), ": ")
		if l := lines[key]; l > 0 {
			out = append(out, fmt.Errorf("%s:%d: %w", name, l, e))
		} else {
			out = append(out, fmt.Errorf("%s: %w", name, e))
		}
	}
	return errors.Join(out...)
}

// Problems splits an error made by errors.Join back into its parts.
func Problems(err error) []error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, Problems(e)...)
		}
		return out
	}
	return []error{err}
}

// secretWords are key names whose values are secrets wherever they appear.
var secretWords = []string{"password", "secret", "token", "application_credential_secret", "private_key"}

// CheckSecretFile refuses a file that holds secret-looking keys with a value
// when its mode lets the group or others read it. data is the file's content.
func CheckSecretFile(path string, data []byte) error {
	st, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	if st.Mode().Perm()&0o044 == 0 {
		return nil
	}
	if key := findSecretKey(data); key != "" {
		return fmt.Errorf("%s: holds a secret (%s) but is readable by group or others (mode %04o): chmod 600 %s", path, key, st.Mode().Perm(), path)
	}
	return nil
}

func findSecretKey(data []byte) string {
	var root yaml.Node
	if yaml.Unmarshal(data, &root) != nil {
		return ""
	}
	var walk func(n *yaml.Node, path string) string
	walk = func(n *yaml.Node, path string) string {
		switch n.Kind {
		case yaml.DocumentNode, yaml.SequenceNode:
			for i, c := range n.Content {
				p := path
				if n.Kind == yaml.SequenceNode {
					p = fmt.Sprintf("%s[%d]", path, i)
				}
				if k := walk(c, p); k != "" {
					return k
				}
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i].Value, n.Content[i+1]
				p := key
				if path != "" {
					p = path + "." + key
				}
				if val.Kind == yaml.ScalarNode && isSecretKey(key) && val.Value != "" && !strings.EqualFold(val.Value, "none") {
					return p
				}
				if k := walk(val, p); k != "" {
					return k
				}
			}
		}
		return ""
	}
	return walk(&root, "")
}

func isSecretKey(key string) bool {
	k := strings.ToLower(key)
	for _, w := range secretWords {
		if strings.Contains(k, w) && !strings.HasSuffix(k, "_lifetime") && !strings.HasSuffix(k, "_file") && !strings.HasSuffix(k, "_key") {
			return true
		}
	}
	return false
}
