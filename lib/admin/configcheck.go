package admin

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/tmpl"
)

// ConfigCheck says what `ehos config check` looks at.
type ConfigCheck struct {
	Path   string         // ehos.yaml
	Condor *condor.Client // nil: the knobs are not checked
	Clouds openstack.Options
}

// CheckConfig reports every problem of ehos.yaml, of the EHOS_* knobs laid
// over it and of the clouds.yaml entries it names, at once. It returns the
// loaded config (with knobs applied) when ehos.yaml itself is sound.
func CheckConfig(ctx context.Context, cc ConfigCheck) (*config.Config, Findings) {
	var fs Findings
	where := cc.Path
	data, err := os.ReadFile(cc.Path)
	if err != nil {
		fs.fail(where, "give the right path with --config or $EHOS_CONFIG", "cannot read: %v", err)
		return nil, fs
	}
	cfg, err := config.Load(cc.Path)
	if err != nil {
		for _, p := range config.Problems(err) {
			fs.fail(where, "edit that key in "+cc.Path, "%s", inFile(p.Error(), cc.Path))
		}
		// Still look at the clouds it names, if it decodes at all.
		if raw, derr := config.Decode(cc.Path, data); derr == nil {
			fs = append(fs, checkCloudEntries(raw, cc.Clouds)...)
		}
		return nil, fs
	}
	fs.ok(where, "valid (pool %q, %d clouds, scaling %d..%d)", cfg.Pool.Name, len(cfg.Clouds), cfg.Scaling.Min, cfg.Scaling.Max)
	// What every template render would refuse (template_vars shadowing a
	// built-in tag or looking like a secret, values HTCondor cannot
	// carry) is refused here too, not first at the provisioner's cycle.
	if _, err := tmpl.Values(cfg, tmpl.VMValues{}); err != nil {
		for _, line := range strings.Split(strings.TrimPrefix(err.Error(), "template values:\n  "), "\n  ") {
			fs.fail(where, "edit that key in "+cc.Path+" (docs/templates.md)", "%s", line)
		}
	}

	if cc.Condor == nil {
		fs.add(Skip, "knobs", "EHOS_* knobs not checked (no HTCondor client)", "")
	} else {
		vals, err := cc.Condor.ConfigVal(ctx, config.KnobNames()...)
		switch {
		case errors.Is(err, condor.ErrToolMissing) || errors.Is(err, condor.ErrUnreachable):
			fs.add(Skip, "knobs", fmt.Sprintf("EHOS_* knobs not checked: HTCondor not reachable (%v)", err), "")
		case err != nil:
			fs.fail("knobs", "check CONDOR_CONFIG and that condor_config_val runs", "condor_config_val: %v", err)
		default:
			kerr := cfg.ApplyKnobs(vals)
			for _, p := range config.Problems(kerr) {
				fs.fail("knobs", "fix the knob in /etc/condor/config.d (condor_config_val -v NAME shows where it is set)", "%v", p)
			}
			if kerr == nil {
				if verr := cfg.Validate(); verr != nil {
					for _, p := range config.Problems(verr) {
						fs.fail("knobs", "a knob overrides the key named: fix the knob or the key", "with the knobs applied: %v", p)
					}
				} else {
					names := make([]string, 0, len(vals))
					for n := range vals {
						names = append(names, n)
					}
					slices.Sort(names)
					if len(names) == 0 {
						fs.ok("knobs", "no EHOS_* knob set: ehos.yaml's values apply")
					} else {
						fs.ok("knobs", "%d EHOS_* knobs set (%s), all valid", len(names), strings.Join(names, ", "))
					}
				}
			}
		}
	}
	fs = append(fs, checkCloudEntries(cfg, cc.Clouds)...)
	return cfg, fs
}

func checkCloudEntries(cfg *config.Config, opts openstack.Options) Findings {
	var fs Findings
	fs = append(fs, checkCredentialFiles(opts)...)
	for _, c := range cfg.Clouds {
		where := "clouds.yaml " + c.Name
		if !c.IsEnabled() {
			fs.add(Skip, where, "disabled in ehos.yaml", "")
			continue
		}
		e, err := openstack.LookupEntry(c.Name, opts)
		if err != nil {
			fs.fail(where, "add the entry to clouds.yaml (OS_CLIENT_CONFIG_FILE, ./clouds.yaml, ~/.config/openstack/ or /etc/openstack/) or fix clouds[].name", "%v", err)
			continue
		}
		if e.AuthURL == "" {
			fs.fail(where, "set auth.auth_url in the entry", "no auth_url")
			continue
		}
		if len(c.Regions) == 0 && e.RegionName == "" && len(e.Regions) == 0 {
			fs.add(Warn, where, "no region in ehos.yaml nor region_name in the entry: works only if the catalog has one region", "set clouds[].regions")
		}
		fs.ok(where, "entry found (auth %s at %s)", orDash(e.AuthType), e.AuthURL)
	}
	return fs
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// checkCredentialFiles refuses a clouds.yaml (or secure.yaml) whose
// secrets every user of the machine can read, or that every user can
// change: the cloud's password, and through it every VM of the pool.
func checkCredentialFiles(opts openstack.Options) Findings {
	var fs Findings
	files, err := openstack.CredentialFiles(opts)
	if err != nil {
		fs.fail("clouds.yaml", "fix the file's YAML or its permissions", "%v", err)
	}
	for _, f := range files {
		where := "clouds.yaml file " + f.Path
		if why := f.Exposed(); why != "" {
			fs.fail(where, fmt.Sprintf("chmod 600 %s (or 640 with group condor when the provisioner runs as condor)", f.Path), "mode %04o: %s", f.Mode, why)
			continue
		}
		fs.ok(where, "mode %04o: secrets readable by owner and group only", f.Mode)
	}
	return fs
}

// inFile words a problem of file for a finding already placed at file:
// "f.yaml:9: scaling.max: ..." becomes "line 9: scaling.max: ...".
func inFile(msg, file string) string {
	rest, ok := strings.CutPrefix(msg, file)
	if !ok {
		return msg
	}
	if line, after, ok := strings.Cut(strings.TrimPrefix(rest, ":"), ": "); ok && line != "" && strings.Trim(line, "0123456789") == "" {
		return "line " + line + ": " + after
	}
	return strings.TrimPrefix(rest, ": ")
}
