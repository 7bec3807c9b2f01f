package demand

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"

	"gopkg.in/yaml.v3"
)

// Knobs the reporter reads to find its pool name when --pool is not given:
// the same EHOS_POOL_NAME knob that overrides ehos.yaml for the provisioner,
// then pool.name of the ehos.yaml that EHOS_CONFIG names (the central
// manager's config.d sets it, condor-config/50-ehos-central-manager.conf).
const (
	PoolKnob   = "EHOS_POOL_NAME"
	ConfigKnob = "EHOS_CONFIG"
)

// ConfigReader reads HTCondor configuration knobs; *condor.Client satisfies
// it. Knobs that are not defined are absent from the map.
type ConfigReader interface {
	ConfigVal(ctx context.Context, names ...string) (map[string]string, error)
}

// ResolvePool finds the pool name the reporter writes as EHOSPool: flag
// (--pool or $EHOS_POOL_NAME) when set, else the HTCondor knob
// EHOS_POOL_NAME, else pool.name in the ehos.yaml named by the knob
// EHOS_CONFIG (read with readFile). It returns the name and where it came
// from. Without a name it fails: the provisioner reads only the demand ads
// of its own pool, so ads without one would be demand nobody serves.
func ResolvePool(ctx context.Context, cr ConfigReader, readFile func(string) ([]byte, error), flag string) (name, source string, err error) {
	if flag = strings.TrimSpace(flag); flag != "" {
		return flag, "--pool", nil
	}
	const hint = "pass --pool NAME (the submit file's arguments), or set EHOS_POOL_NAME in this schedd host's HTCondor configuration"
	vals, err := cr.ConfigVal(ctx, PoolKnob, ConfigKnob)
	if err != nil {
		return "", "", fmt.Errorf("no pool name: --pool not given and condor_config_val failed: %w; %s", err, hint)
	}
	if v := strings.TrimSpace(vals[PoolKnob]); v != "" {
		return v, "HTCondor knob " + PoolKnob, nil
	}
	path := strings.TrimSpace(vals[ConfigKnob])
	if path == "" {
		return "", "", fmt.Errorf("no pool name: --pool not given and neither %s nor %s is set in the HTCondor configuration; %s", PoolKnob, ConfigKnob, hint)
	}
	data, err := readFile(path)
	if err != nil {
		why := err.Error()
		if errors.Is(err, fs.ErrPermission) {
			why = "not readable by this user"
		}
		return "", "", fmt.Errorf("no pool name: --pool not given, %s not set, and %s (%s) %s; %s", PoolKnob, path, ConfigKnob, why, hint)
	}
	var doc struct {
		Pool struct {
			Name string `yaml:"name"`
		} `yaml:"pool"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return "", "", fmt.Errorf("no pool name: %s (%s): %v; %s", path, ConfigKnob, err, hint)
	}
	if v := strings.TrimSpace(doc.Pool.Name); v != "" {
		return v, path + " pool.name", nil
	}
	return "", "", fmt.Errorf("no pool name: --pool not given, %s not set, and %s (%s) has no pool.name; %s", PoolKnob, path, ConfigKnob, hint)
}
