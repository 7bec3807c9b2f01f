// Package vmrun applies the parts of a worker's cloud-init user-data that
// matter for a test VM: it decodes #cloud-config YAML and writes its
// write_files entries under a root directory, mapping absolute paths into it
// (/etc/condor/config.d/x becomes ROOT/etc/condor/config.d/x).
//
// It is shared by the local OpenStack API (integration/localcloud), whose
// "VMs" are directories on this machine, and by the agent that turns a real
// OpenStack's fake-driver servers into startds. It knows nothing of HTCondor.
//
// It is not cloud-init: where the cloud-init root of
// scripts/install-cloudinit.sh exists, localcloud.CloudInitRunner boots
// workers through Debian's real cloud-init instead (StackOptions.CloudInit),
// and the shipped templates are checked with `cloud-init schema`. This
// applier stays for the quick tests' default runner (CondorRunner: no root
// copy, unprivileged daemons) and for the real-OpenStack agent.
package vmrun

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// CloudConfig is the subset of #cloud-config that vmrun understands. Other
// keys are kept in Rest so callers can look at them (runcmd, users, ...).
type CloudConfig struct {
	WriteFiles []WriteFile    `yaml:"write_files"`
	RunCmd     []any          `yaml:"runcmd"`
	Rest       map[string]any `yaml:",inline"`
}

// WriteFile is one write_files entry.
type WriteFile struct {
	Path        string `yaml:"path"`
	Content     string `yaml:"content"`
	Encoding    string `yaml:"encoding"`
	Permissions string `yaml:"permissions"`
	Owner       string `yaml:"owner"`
	Append      bool   `yaml:"append"`
	Defer       bool   `yaml:"defer"`
}

// ErrNotCloudConfig is returned for user-data that is not #cloud-config
// (a shell script, a MIME multipart archive, ...).
var ErrNotCloudConfig = errors.New("user-data is not #cloud-config")

// Parse decodes user-data. It accepts the raw text or gzip-compressed text
// (cloud-init does the same).
func Parse(userData []byte) (*CloudConfig, error) {
	if len(userData) > 2 && userData[0] == 0x1f && userData[1] == 0x8b {
		zr, err := gzip.NewReader(bytes.NewReader(userData))
		if err != nil {
			return nil, fmt.Errorf("gunzip user-data: %w", err)
		}
		if userData, err = io.ReadAll(zr); err != nil {
			return nil, fmt.Errorf("gunzip user-data: %w", err)
		}
	}
	first, _, _ := strings.Cut(string(userData), "\n")
	if strings.TrimSpace(first) != "#cloud-config" {
		return nil, ErrNotCloudConfig
	}
	var cc CloudConfig
	if err := yaml.Unmarshal(userData, &cc); err != nil {
		return nil, fmt.Errorf("parse #cloud-config: %w", err)
	}
	return &cc, nil
}

// Decode returns the file's bytes, undoing its encoding.
func (w WriteFile) Decode() ([]byte, error) {
	data := []byte(w.Content)
	enc := strings.ToLower(strings.TrimSpace(w.Encoding))
	var err error
	switch enc {
	case "", "text/plain":
		return data, nil
	case "b64", "base64":
		return base64.StdEncoding.DecodeString(strings.TrimSpace(w.Content))
	case "gz", "gzip":
	case "gz+base64", "gzip+base64", "gz+b64", "gzip+b64":
		if data, err = base64.StdEncoding.DecodeString(strings.TrimSpace(w.Content)); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("unknown encoding %q", w.Encoding)
	}
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// Mode is the file's permission bits (cloud-init's default 0644).
func (w WriteFile) Mode() (fs.FileMode, error) {
	if w.Permissions == "" {
		return 0o644, nil
	}
	m, err := strconv.ParseUint(strings.TrimSpace(w.Permissions), 8, 32)
	if err != nil {
		return 0, fmt.Errorf("permissions %q: not octal", w.Permissions)
	}
	return fs.FileMode(m) & fs.ModePerm, nil
}

// MapPath maps an absolute guest path into root; it refuses relative paths
// and paths that would escape root.
func MapPath(root, guestPath string) (string, error) {
	if !strings.HasPrefix(guestPath, "/") {
		return "", fmt.Errorf("path %q is not absolute", guestPath)
	}
	clean := path.Clean(guestPath)
	return filepath.Join(root, filepath.FromSlash(clean)), nil
}

// Written is one file Apply wrote.
type Written struct {
	GuestPath string // as in the user-data
	HostPath  string // under root
}

// Apply writes every write_files entry under root, creating directories as
// needed. Owners are ignored (the caller decides who owns the tree). It
// stops at the first bad entry and says which one.
func Apply(cc *CloudConfig, root string) ([]Written, error) {
	var out []Written
	for i, w := range cc.WriteFiles {
		host, err := MapPath(root, w.Path)
		if err != nil {
			return out, fmt.Errorf("write_files[%d]: %w", i, err)
		}
		data, err := w.Decode()
		if err != nil {
			return out, fmt.Errorf("write_files[%d] %s: decode: %w", i, w.Path, err)
		}
		mode, err := w.Mode()
		if err != nil {
			return out, fmt.Errorf("write_files[%d] %s: %w", i, w.Path, err)
		}
		if err := os.MkdirAll(filepath.Dir(host), 0o755); err != nil {
			return out, fmt.Errorf("write_files[%d] %s: %w", i, w.Path, err)
		}
		flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
		if w.Append {
			flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
		}
		f, err := os.OpenFile(host, flags, mode)
		if err != nil {
			return out, fmt.Errorf("write_files[%d] %s: %w", i, w.Path, err)
		}
		_, werr := f.Write(data)
		cerr := f.Close()
		if err := errors.Join(werr, cerr); err != nil {
			return out, fmt.Errorf("write_files[%d] %s: %w", i, w.Path, err)
		}
		if err := os.Chmod(host, mode); err != nil { // umask may have narrowed it
			return out, fmt.Errorf("write_files[%d] %s: %w", i, w.Path, err)
		}
		out = append(out, Written{GuestPath: w.Path, HostPath: host})
	}
	return out, nil
}
