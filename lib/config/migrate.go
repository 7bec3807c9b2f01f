package config

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"gopkg.in/yaml.v3"
)

// Migration is the result of reading the original (Python) EHOS ehos.yaml.
type Migration struct {
	// Config is the new ehos.yaml, holding only what the old file said;
	// everything else keeps its default when it is loaded.
	Config []byte
	// CloudsYAML is a clouds.yaml with the credentials the old file carried
	// inline, or nil when it carried none. It holds secrets: write it 0600.
	CloudsYAML []byte
	// Notes say, one line each, what was converted, moved or dropped and why.
	Notes []string
}

// credential keys of the old per-cloud sections, which belong in clouds.yaml.
var credKeys = map[string]bool{
	"auth_url": true, "username": true, "password": true, "project_name": true, "project_id": true,
	"project_domain_name": true, "project_domain_id": true, "user_domain_name": true, "user_domain_id": true,
	"region_name": true, "application_credential_id": true, "application_credential_secret": true,
	"token": true, "interface": true, "identity_api_version": true, "cacert": true, "verify": true,
}

// Migrate converts the original EHOS ehos.yaml (sections clouds, ehos,
// daemon or ehos_daemon, condor) into the new form. It never copies the pool
// password: workers now get their own short-lived tokens.
func Migrate(name string, data []byte) (*Migration, error) {
	var old map[string]any
	if err := yaml.Unmarshal(data, &old); err != nil {
		return nil, fmt.Errorf("%s: not YAML: %w", name, err)
	}
	if old == nil {
		return nil, fmt.Errorf("%s: empty file", name)
	}
	if err := isOriginal(name, old); err != nil {
		return nil, err
	}
	m := &Migration{}
	// Notes quote the old file's keys and values; they become comment lines
	// of the new ehos.yaml and lines on a terminal, so control characters
	// in them (a key holding a newline would start a YAML line) are escaped.
	note := func(f string, a ...any) { m.Notes = append(m.Notes, escapeControl(fmt.Sprintf(f, a...))) }

	pool := map[string]any{}
	scaling := map[string]any{}
	templates := map[string]any{}
	var clouds []map[string]any
	cloudsYAML := map[string]any{}

	ehos := section(old, "ehos")
	daemon := section(old, "daemon")
	if d := section(old, "ehos_daemon"); d != nil {
		if daemon != nil {
			note("ehos_daemon: merged with daemon (both were present; ehos_daemon wins)")
		} else {
			daemon = map[string]any{}
		}
		for k, v := range d {
			daemon[k] = v
		}
	}
	condor := section(old, "condor")
	// The earliest layout kept the daemon's settings (nodes_*, sleep) in
	// ehos: itself; daemon: wins where both say.
	from := map[string]string{}
	for _, k := range sortedKeys(ehos) {
		if !daemonKeys[k] {
			continue
		}
		if daemon == nil {
			daemon = map[string]any{}
		}
		if _, ok := daemon[k]; !ok {
			daemon[k] = ehos[k]
			from[k] = "ehos"
		}
		delete(ehos, k)
	}
	// ... and one cloud as cloud:, not a map of them under clouds:.
	clouds0 := section(old, "clouds")
	if c := section(old, "cloud"); c != nil {
		if clouds0 == nil {
			clouds0 = map[string]any{}
		}
		cname := "openstack"
		if n, ok := c["name"].(string); ok && n != "" {
			cname = n
			delete(c, "name")
		}
		clouds0[cname] = c
		note("cloud: became clouds[] entry %q (and the clouds.yaml entry of that name)", cname)
	}

	for _, k := range sortedKeys(old) {
		switch k {
		case "clouds", "cloud", "ehos", "daemon", "ehos_daemon", "condor":
		default:
			note("%s: dropped: not a section ehos knows", k)
		}
	}

	// ehos: defaults shared by all clouds in the old format.
	shared := map[string]any{}
	for _, k := range sortedKeys(ehos) {
		v := ehos[k]
		if isNone(v) {
			continue
		}
		switch k {
		case "project_prefix":
			pn := poolName(fmt.Sprint(v))
			pool["name"] = pn
			note("ehos.project_prefix: %q became pool.name %q (it names VMs and marks them as this pool's in metadata)", v, pn)
		case "flavor", "image", "image_id", "network", "key", "security_groups":
			shared[k] = v
		case "base_image":
			note("ehos.base_image: dropped: `ehos image build --cloud C` boots base.yaml on an image you name on the command line")
		case "userdata_file":
			templates["worker"] = fmt.Sprint(v)
			note("ehos.userdata_file: became templates.worker; an old {tag} template must be converted: `ehos render --legacy FILE`")
		default:
			note("ehos.%s: dropped: unknown setting", k)
		}
	}

	for _, cname := range sortedKeys(clouds0) {
		c, _ := clouds0[cname].(map[string]any)
		entry := map[string]any{"name": cname}
		creds := map[string]any{}
		auth := map[string]any{}
		vals := map[string]any{}
		for k, v := range shared {
			vals[k] = v
		}
		if inner, ok := c["ehos"].(map[string]any); ok {
			for k, v := range inner {
				if !isNone(v) {
					vals[k] = v
				}
			}
		}
		for _, k := range sortedKeys(c) {
			v := c[k]
			switch {
			case k == "ehos":
			case credKeys[k]:
				if isNone(v) {
					continue
				}
				if k == "region_name" {
					entry["regions"] = []string{fmt.Sprint(v)}
					creds[k] = v
				} else if k == "interface" || k == "identity_api_version" || k == "cacert" || k == "verify" {
					creds[k] = v
				} else {
					auth[k] = v
				}
			case k == "image" || k == "image_id":
				if !isNone(v) {
					vals[k] = v
				}
			case k == "no_cache" || k == "backend":
				note("clouds.%s.%s: dropped: not needed", cname, k)
			default:
				note("clouds.%s.%s: dropped: unknown setting", cname, k)
			}
		}
		if img, ok := vals["image_id"]; ok {
			entry["image"] = fmt.Sprint(img)
		} else if img, ok := vals["image"]; ok {
			entry["image"] = fmt.Sprint(img)
		} else {
			note("clouds.%s: no image was set (the old deploy script filled it in): set clouds[].image, e.g. after `ehos image build`", cname)
		}
		if f, ok := vals["flavor"]; ok {
			entry["flavors"] = []string{fmt.Sprint(f)}
		} else {
			note("clouds.%s: no flavor was set: list the flavors ehos may use in clouds[].flavors", cname)
		}
		if v, ok := vals["network"]; ok {
			entry["network"] = fmt.Sprint(v)
		}
		if v, ok := vals["key"]; ok {
			entry["key_pair"] = fmt.Sprint(v)
		}
		if v, ok := vals["security_groups"]; ok {
			entry["security_groups"] = splitList(v)
		}
		if len(auth) > 0 {
			creds["auth"] = auth
			keys := sortedKeys(auth)
			note("clouds.%s: credentials (%s) moved to clouds.yaml entry %q: ehos.yaml holds no secrets now", cname, strings.Join(keys, ", "), cname)
		}
		if len(creds) > 0 {
			cloudsYAML[cname] = creds
		}
		clouds = append(clouds, entry)
	}

	for _, k := range sortedKeys(daemon) {
		v := daemon[k]
		if isNone(v) {
			continue
		}
		sec := "daemon"
		if from[k] != "" {
			sec = from[k]
		}
		note := func(f string, a ...any) { note(strings.Replace(f, "daemon.", sec+".", 1), a...) }
		switch k {
		case "nodes_min", "nodes_max", "nodes_spare":
			n, err := toInt(v)
			if err != nil {
				note("daemon.%s: %v: dropped: not a whole number", k, v)
				continue
			}
			key := map[string]string{"nodes_min": "min", "nodes_max": "max", "nodes_spare": "spare"}[k]
			scaling[key] = n
			note("daemon.%s: became scaling.%s = %d", k, key, n)
		case "sleep":
			n, err := toInt(v)
			if err != nil {
				note("daemon.sleep: %v: dropped: not a whole number of seconds", v)
				continue
			}
			scaling["cycle"] = fmt.Sprintf("%ds", n)
			note("daemon.sleep: became scaling.cycle = %ds", n)
		case "node_allocation":
			note("daemon.node_allocation: %v: dropped: ehos places each VM on the cheapest fitting flavor, then by clouds[].weight, and moves demand away from clouds that fail or are out of quota", v)
		case "min_cores", "min_ram", "min_instances":
			note("daemon.%s: dropped: ehos reads each region's Nova limits and never plans past them", k)
		case "master_cloud":
			note("daemon.master_cloud: dropped: use `ehos master deploy --cloud %v`", v)
		case "hostname":
			pool["central_manager"] = fmt.Sprint(v)
			note("daemon.hostname: became pool.central_manager")
		default:
			note("daemon.%s: dropped: unknown setting", k)
		}
	}

	for _, k := range sortedKeys(condor) {
		v := condor[k]
		switch k {
		case "host_ip":
			if !isNone(v) {
				pool["central_manager"] = fmt.Sprint(v)
				note("condor.host_ip: became pool.central_manager")
			}
		case "password":
			if !isNone(v) {
				note("condor.password: DROPPED: a pool password never goes into user-data now; each worker gets its own IDTOKEN, minted at create time and valid for worker.token_lifetime. To keep using this secret as the pool's signing key: condor_store_cred add -c -f /etc/condor/passwords.d/POOL")
			}
		case "uid_domain":
			if !isNone(v) {
				pool["uid_domain"] = fmt.Sprint(v)
			}
		default:
			note("condor.%s: dropped: unknown setting", k)
		}
	}
	if _, ok := pool["name"]; !ok {
		pool["name"] = "ehos"
		note("pool.name: not in the old file: set to \"ehos\"")
	}
	if _, ok := pool["central_manager"]; !ok {
		note("pool.central_manager: not in the old file (the deploy script filled it in): set it to the central manager's address")
	}

	out := yaml.Node{Kind: yaml.MappingNode}
	add := func(key string, v any) {
		if mv, ok := v.(map[string]any); ok && len(mv) == 0 {
			return
		}
		var kn, vn yaml.Node
		kn.SetString(key)
		if err := vn.Encode(v); err != nil {
			panic(err) // only maps, strings and ints are encoded here
		}
		out.Content = append(out.Content, &kn, &vn)
	}
	add("pool", pool)
	add("scaling", scaling)
	if len(clouds) > 0 {
		add("clouds", clouds)
	}
	add("templates", templates)

	var buf bytes.Buffer
	fmt.Fprintf(&buf, "# ehos.yaml migrated from %s by `ehos config migrate`.\n", name)
	for _, n := range m.Notes {
		fmt.Fprintf(&buf, "#   %s\n", n)
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&out); err != nil {
		return nil, fmt.Errorf("write migrated config: %w", err)
	}
	m.Config = buf.Bytes()
	if len(cloudsYAML) > 0 {
		b, err := yaml.Marshal(map[string]any{"clouds": cloudsYAML})
		if err != nil {
			return nil, fmt.Errorf("write clouds.yaml: %w", err)
		}
		m.CloudsYAML = b
	}
	return m, nil
}

// daemonKeys are the daemon's settings, in daemon: (or ehos_daemon:), or
// in ehos: in the earliest layout.
var daemonKeys = map[string]bool{"nodes_min": true, "nodes_max": true, "nodes_spare": true, "sleep": true, "node_allocation": true,
	"min_cores": true, "min_ram": true, "min_instances": true, "master_cloud": true, "hostname": true}

// isOriginal refuses a file that is not the original EHOS layout: the new
// form (pool:, clouds: as a list), which migrating would empty, or anything
// else.
func isOriginal(name string, old map[string]any) error {
	_, hasPool := old["pool"]
	_, cloudList := old["clouds"].([]any)
	if hasPool || cloudList {
		return fmt.Errorf("%s is already the new ehos.yaml (it has pool: or clouds: as a list): nothing to migrate; check it with `ehos config check %s`", name, name)
	}
	for _, k := range []string{"clouds", "cloud", "ehos", "daemon", "ehos_daemon", "condor"} {
		if section(old, k) != nil {
			return nil
		}
	}
	return fmt.Errorf("%s is not an original EHOS ehos.yaml: it has none of the sections clouds, cloud, ehos, daemon, ehos_daemon, condor", name)
}

func section(m map[string]any, key string) map[string]any {
	v, _ := m[key].(map[string]any)
	return v
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// isNone reports the old file's placeholders for "filled in by a script".
func isNone(v any) bool {
	if v == nil {
		return true
	}
	s, ok := v.(string)
	return ok && (s == "" || strings.EqualFold(s, "none") || strings.HasPrefix(s, "<"))
}

func toInt(v any) (int, error) {
	switch t := v.(type) {
	case int:
		return t, nil
	case string:
		return strconv.Atoi(strings.TrimSpace(t))
	}
	return 0, fmt.Errorf("not a number")
}

func splitList(v any) []string {
	switch t := v.(type) {
	case []any:
		var out []string
		for _, x := range t {
			out = append(out, fmt.Sprint(x))
		}
		return out
	default:
		var out []string
		for _, s := range strings.Split(fmt.Sprint(t), ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
}

var nonPool = regexp.MustCompile(`[^a-z0-9-]+`)

func poolName(s string) string {
	s = nonPool.ReplaceAllString(strings.ToLower(s), "-")
	s = strings.Trim(s, "-")
	if len(s) > 40 {
		s = s[:40]
	}
	if s == "" {
		s = "ehos"
	}
	return s
}

// escapeControl writes every control character of s (and the YAML/Unicode
// line and paragraph separators) as a Go escape, so s stays on one line.
func escapeControl(s string) string {
	var b strings.Builder
	for _, r := range s {
		if unicode.IsControl(r) || r == '\u2028' || r == '\u2029' {
			q := strconv.QuoteRune(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
