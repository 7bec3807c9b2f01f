package openstack

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/gophercloud/utils/v2/openstack/clientconfig"
	"gopkg.in/yaml.v3"
)

// CredentialFile is a clouds.yaml (or secure.yaml) that ehos reads, with
// what matters for its safety.
type CredentialFile struct {
	Path    string
	Mode    os.FileMode
	Secrets []string // "ENTRY.auth.KEY" of each secret it holds, sorted
}

// Exposed says why others than its owner and group may misuse the file:
// read its secrets (others can read it) or point ehos at another Keystone
// (others can write it). "" when neither.
func (f CredentialFile) Exposed() string {
	var why []string
	if f.Mode&0o004 != 0 && len(f.Secrets) > 0 {
		why = append(why, "every user can read its secrets ("+strings.Join(f.Secrets, ", ")+")")
	}
	if f.Mode&0o002 != 0 {
		why = append(why, "every user can change it")
	}
	return strings.Join(why, "; ")
}

// CredentialFiles are the files the clouds' credentials come from: the
// given clouds.yaml, or the one (and the secure.yaml) the OpenStack tools'
// search finds (OS_CLIENT_CONFIG_FILE, ./, ~/.config/openstack/,
// /etc/openstack/). None found is no files and no error.
func CredentialFiles(opts Options) ([]CredentialFile, error) {
	var paths []string
	if opts.CloudsFile != "" {
		paths = []string{opts.CloudsFile}
	} else {
		if p, _, err := clientconfig.FindAndReadCloudsYAML(); err == nil && p != "" {
			paths = append(paths, p)
		}
		if p, _, err := clientconfig.FindAndReadSecureCloudsYAML(); err == nil && p != "" {
			paths = append(paths, p)
		}
	}
	var out []CredentialFile
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return out, err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return out, err
		}
		secrets, err := secretKeys(b)
		if err != nil {
			return out, fmt.Errorf("%s: %w", p, err)
		}
		out = append(out, CredentialFile{Path: p, Mode: st.Mode().Perm(), Secrets: secrets})
	}
	return out, nil
}

// secretKeys lists the secrets of a clouds.yaml: non-empty auth values whose
// key names a password, secret or token.
func secretKeys(b []byte) ([]string, error) {
	var doc struct {
		Clouds map[string]struct {
			Auth map[string]any `yaml:"auth"`
		} `yaml:"clouds"`
	}
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return nil, err
	}
	var out []string
	for name, c := range doc.Clouds {
		for k, v := range c.Auth {
			lk := strings.ToLower(k)
			if s, ok := v.(string); ok && s != "" && (strings.Contains(lk, "password") || strings.Contains(lk, "secret") || lk == "token") {
				out = append(out, name+".auth."+k)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// RefuseExposed is an error naming every credential file (as
// CredentialFiles finds them) that others than its owner and group may read
// or change, with the chmod that fixes it: a daemon must not go on using
// them quietly.
func RefuseExposed(opts Options) error {
	files, err := CredentialFiles(opts)
	if err != nil {
		return err
	}
	var bad []string
	for _, f := range files {
		if why := f.Exposed(); why != "" {
			bad = append(bad, fmt.Sprintf("%s: mode %04o: %s: chmod 600 %s (or 640 with group condor)", f.Path, f.Mode, why, f.Path))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("clouds.yaml refused:\n  %s", strings.Join(bad, "\n  "))
	}
	return nil
}
