package config

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// The one lookup of ehos.yaml and clouds.yaml every ehos binary uses
// (docs/cli.md, "Which files are used"). ehos.yaml is the first of:
//
//  1. the file named on the command line (--config, -c, or a command's FILE)
//  2. $EHOS_CONFIG
//  3. the EHOS_CONFIG HTCondor knob (condor_config_val), as the provisioner
//     under condor_master sees it
//  4. DefaultEtcDir/ehos.yaml, where install-master.sh puts it
//
// clouds.yaml is the first of --clouds, then the OpenStack tools' own
// search ($OS_CLIENT_CONFIG_FILE, ./clouds.yaml,
// ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml), then
// clouds.yaml beside the ehos.yaml in use (where `ehos config migrate`
// writes it).

// Lookup is what the search needs from its surroundings.
type Lookup struct {
	File   string              // named on the command line; "" for none
	Getenv func(string) string // nil: os.Getenv
	// Knobs reads HTCondor knobs (condor_config_val); nil when HTCondor
	// is not asked. Its error leaves the knobs unset.
	Knobs func(ctx context.Context, names ...string) (map[string]string, error)
	Extra []string // more knobs to read in the same call
}

// Source is the ehos.yaml found and the knobs read on the way.
type Source struct {
	Path    string
	From    string            // "command line", "$EHOS_CONFIG", "EHOS_CONFIG knob" or "installed path"
	Knobs   map[string]string // EHOS_CONFIG, UID_DOMAIN, every Knob and Extra; empty when not read
	KnobErr error             // why the knobs could not be read
}

// ErrNoConfig is returned when no ehos.yaml is named and none is installed.
var ErrNoConfig = errors.New("no ehos.yaml: give --config FILE or set $EHOS_CONFIG (looked at the EHOS_CONFIG knob and " + DefaultEtcDir + "/ehos.yaml)")

// Find resolves ehos.yaml. The knobs are read once, whatever decides the
// path, so every binary applies the same ones.
func Find(ctx context.Context, l Lookup) (Source, error) {
	getenv := l.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	s := Source{Knobs: map[string]string{}}
	if l.Knobs != nil {
		names := append(append([]string{"EHOS_CONFIG", "UID_DOMAIN"}, KnobNames()...), l.Extra...)
		k, err := l.Knobs(ctx, names...)
		if err != nil {
			s.KnobErr = err
		} else if k != nil {
			s.Knobs = k
		}
	}
	switch {
	case l.File != "":
		s.Path, s.From = l.File, "command line"
	case getenv("EHOS_CONFIG") != "":
		s.Path, s.From = getenv("EHOS_CONFIG"), "$EHOS_CONFIG"
	case s.Knobs["EHOS_CONFIG"] != "":
		s.Path, s.From = s.Knobs["EHOS_CONFIG"], "EHOS_CONFIG knob"
	default:
		p := filepath.Join(DefaultEtcDir, "ehos.yaml")
		if _, err := os.Stat(p); err != nil {
			return s, ErrNoConfig
		}
		s.Path, s.From = p, "installed path"
	}
	return s, nil
}

// ProvisionerIdentity is the identity whose ads are the provisioner's, as
// HTCondor's configuration names it where the knobs were read: the
// EHOS_PROVISIONER_IDENTITY knob, else condor@UID_DOMAIN (as the
// provisioner itself defaults it). It is configuration, never an ad's
// word. An error says the knobs could not be read.
func (s Source) ProvisionerIdentity() (string, error) {
	if s.KnobErr != nil {
		return "", fmt.Errorf("the provisioner's identity: %w", s.KnobErr)
	}
	return ProvisionerOf(s.Knobs), nil
}

// ProvisionerOf is the provisioner's identity from HTCondor knobs read with
// ProvisionerIdentityKnob and UID_DOMAIN among them.
func ProvisionerOf(knobs map[string]string) string {
	return Pool{ProvisionerIdentity: knobs[ProvisionerIdentityKnob], UIDDomain: knobs["UID_DOMAIN"]}.Provisioner()
}

// Load reads the ehos.yaml found and lays the knobs read over it: the
// configuration the provisioner runs with.
func (s Source) Load() (*Config, error) {
	cfg, err := Load(s.Path)
	if err != nil {
		return nil, err
	}
	if err := cfg.ApplyKnobs(s.Knobs); err != nil {
		return nil, fmt.Errorf("EHOS_* knobs not valid:\n%w", err)
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s not valid after EHOS_* knobs:\n%w", s.Path, err)
	}
	return cfg, nil
}

// FindClouds resolves clouds.yaml for the ehos.yaml at configPath: the
// file given (--clouds), else the OpenStack tools' search, else
// clouds.yaml beside ehos.yaml. use is what to hand lib/openstack ("" lets
// it search itself, which also merges secure.yaml); path and from say
// which file that is, for -v ("" when there is none).
func FindClouds(given, configPath string, getenv func(string) string) (use, path, from string) {
	if getenv == nil {
		getenv = os.Getenv
	}
	if given != "" {
		return given, given, "--clouds"
	}
	home, _ := os.UserHomeDir()
	for _, c := range []struct{ path, from string }{
		{getenv("OS_CLIENT_CONFIG_FILE"), "$OS_CLIENT_CONFIG_FILE"},
		{"clouds.yaml", "the working directory"},
		{filepath.Join(home, ".config", "openstack", "clouds.yaml"), "~/.config/openstack"},
		{"/etc/openstack/clouds.yaml", "/etc/openstack"},
	} {
		if c.path == "" {
			continue
		}
		if _, err := os.Stat(c.path); err == nil {
			return "", c.path, c.from
		}
	}
	if configPath != "" {
		p := filepath.Join(filepath.Dir(configPath), "clouds.yaml")
		if _, err := os.Stat(p); err == nil {
			return p, p, "beside ehos.yaml"
		}
	}
	return "", "", ""
}
