package admin

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io/fs"

	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/tmpl"
	"gopkg.in/yaml.v3"
)

// RenderTemplate finds the template name (etc dir, share dir, checkout)
// and fills it for vm. It returns the path used and the user-data.
func RenderTemplate(fsys fs.FS, cfg *config.Config, checkout, name string, vm tmpl.VMValues) (string, []byte, error) {
	path, src, err := tmpl.Find(fsys, name, tmpl.SearchDirs(cfg.Templates, checkout))
	if err != nil {
		return "", nil, err
	}
	vals, err := tmpl.Values(cfg, vm)
	if err != nil {
		return path, nil, err
	}
	out, err := tmpl.Render(path, src, vals)
	return path, out, err
}

// AddFile appends a write_files entry (content base64-encoded) to rendered
// cloud-config user-data, keeping the #cloud-config header.
func AddFile(userData []byte, path, perms string, content []byte) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(userData, &doc); err != nil {
		return nil, fmt.Errorf("user-data: %w", err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("user-data: top level is not a mapping")
	}
	top := doc.Content[0]
	var wf *yaml.Node
	for i := 0; i+1 < len(top.Content); i += 2 {
		if top.Content[i].Value == "write_files" {
			wf = top.Content[i+1]
		}
	}
	if wf == nil {
		wf = &yaml.Node{Kind: yaml.SequenceNode}
		top.Content = append(top.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "write_files"}, wf)
	}
	key := func(s string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Value: s} }
	str := func(s string) *yaml.Node {
		return &yaml.Node{Kind: yaml.ScalarNode, Value: s, Style: yaml.SingleQuotedStyle}
	}
	entry := &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
		key("path"), str(path), key("permissions"), str(perms), key("encoding"), str("b64"),
		key("content"), str(base64.StdEncoding.EncodeToString(content)),
	}}
	wf.Content = append(wf.Content, entry)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	out := b.Bytes()
	if !bytes.HasPrefix(out, []byte(tmpl.Header+"\n")) { // yaml.v3 keeps it as the head comment
		out = append([]byte(tmpl.Header+"\n"), out...)
	}
	return out, tmpl.CheckUserData(path, out)
}
