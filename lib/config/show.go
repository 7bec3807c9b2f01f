package config

import (
	"bytes"
	"fmt"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"
)

// Show is the configuration s stands for, as the provisioner runs with it
// (defaults, ehos.yaml, the knobs laid over it), as YAML with the source of
// each value in a comment (FILE:LINE, knob NAME or default) and every
// secret-looking value masked.
func (s Source) Show() ([]byte, error) {
	cfg, err := s.Load()
	if err != nil {
		return nil, err
	}
	data, err := readLimited(s.Path)
	if err != nil {
		return nil, err
	}
	var raw Config
	lines, _ := decodeNode(s.Path, data, &raw)
	knob := map[string]string{}
	for _, k := range Knobs {
		if strings.TrimSpace(s.Knobs[k.Name]) != "" {
			knob[k.Key] = k.Name
		}
	}
	var root yaml.Node
	if err := root.Encode(cfg); err != nil {
		return nil, err
	}
	file := filepath.Base(s.Path)
	var walk func(n *yaml.Node, path, key string)
	walk = func(n *yaml.Node, path, key string) {
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(n.Content[i+1], p, k)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i), key)
			}
		case yaml.ScalarNode:
			switch {
			case knob[path] != "":
				n.LineComment = "knob " + knob[path]
			case lines[path] > 0:
				n.LineComment = fmt.Sprintf("%s:%d", file, lines[path])
			default:
				n.LineComment = "default"
			}
			if isSecretKey(key) && n.Value != "" {
				n.Value, n.Style = "********", 0
			}
		}
	}
	walk(&root, "", "")
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
