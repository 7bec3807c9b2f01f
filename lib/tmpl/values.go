package tmpl

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/version"
)

// Builtin is the tag set ehos fills itself, each with where its value comes
// from (the text is used in "has no value" errors). docs/templates.md
// documents the same set.
var Builtin = map[string]string{
	"host_ip":         "the central manager's address: pool.central_manager in ehos.yaml",
	"private_network": "HTCondor's PRIVATE_NETWORK_NAME of the VM's network: clouds[].private_network in ehos.yaml (or per region), default CLOUD.REGION[.NETWORK]; for ehos render use --set cloud=NAME",
	"collector_port":  "the collector's port: pool.collector_port in ehos.yaml, default 9618",
	"collector_host":  "HTCondor's COLLECTOR_HOST for the VM: <host_ip>:<collector_port>, and with pool.ha_peer in ehos.yaml the other central manager too (per cloud or region: clouds[].ha_peer)",
	"uid_domain":      "HTCondor's UID_DOMAIN: pool.uid_domain in ehos.yaml",
	"trust_domain":    "HTCondor's TRUST_DOMAIN: pool.trust_domain in ehos.yaml, default the central manager",
	"pool_name":       "the pool's name: pool.name in ehos.yaml",
	"provisioner_id":  "the identity on the provisioner's ads, the only one whose retire requests a worker obeys: pool.provisioner_identity in ehos.yaml, default condor@<uid_domain>",
	"instance_name":   "the VM's name, chosen by the provisioner; for ehos render use --set instance_name=NAME",
	"cloud":           "the clouds.yaml entry the VM is created in; for ehos render use --set cloud=NAME",
	"region":          "the region the VM is created in; for ehos render use --set region=NAME",
	"flavor":          "the VM's flavor; for ehos render use --set flavor=NAME",
	"worker_token":    "the VM's own IDTOKEN, minted by the provisioner when it creates the VM; for ehos render use --set worker_token=TOKEN",
	"worker_cpus":     "the cores the worker's startd offers (NUM_CPUS): the flavor's vcpus; for ehos render use --set worker_cpus=N",
	"worker_memory":   "the memory in MB the worker's startd offers (MEMORY): the flavor's RAM less the OS's share; for ehos render use --set worker_memory=MB",
	"token_file":      "where the worker's IDTOKEN is written, inside SEC_TOKEN_DIRECTORY; default " + DefaultTokenFile,
	"ehos_version":    "the version of ehos that rendered the file",
}

// DefaultTokenFile is where a worker's IDTOKEN goes: HTCondor reads every
// file in SEC_TOKEN_DIRECTORY (/etc/condor/tokens.d on Debian and in
// cloudinit/worker.yaml).
const DefaultTokenFile = "/etc/condor/tokens.d/ehos-worker"

// IsBuiltin reports whether name is one of ehos's own tags.
func IsBuiltin(name string) bool { _, ok := Builtin[name]; return ok }

// BuiltinNames is the built-in tag names, sorted.
func BuiltinNames() []string {
	out := make([]string, 0, len(Builtin))
	for n := range Builtin {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

var nameRE = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// ValidName reports whether name can be written as a tag.
func ValidName(name string) bool { return nameRE.MatchString(name) }

// VMValues are the tags that differ per VM. Empty fields stay unset, so a
// template using them fails with "has no value" (what ehos render wants
// when the admin did not --set them).
type VMValues struct {
	InstanceName string
	Cloud        string
	Region       string
	Flavor       string
	WorkerToken  string // the VM's IDTOKEN: secret, never log it
	TokenFile    string // default DefaultTokenFile
	// Cpus and MemoryMB are what the worker offers to jobs; the offline
	// flavor ads the negotiator matches carry the same figures.
	Cpus     int
	MemoryMB int
}

// Values builds the value of every tag from ehos.yaml and one VM, so the
// provisioner and `ehos render` fill templates the same way. It refuses a
// template_vars entry that is not a valid tag name or shadows a built-in tag,
// and built-in values holding characters that would break the HTCondor
// config or ClassAd strings they land in (", \, $ or control characters).
// All problems are returned at once.
func Values(cfg *config.Config, vm VMValues) (map[string]string, error) {
	v := map[string]string{}
	var errs []string
	set := func(name, val string) {
		if val == "" {
			return
		}
		if err := CheckValue(name, val); err != nil {
			errs = append(errs, err.Error())
			return
		}
		v[name] = val
	}
	port := config.DefaultCollectorPort
	if cfg != nil {
		port = cfg.Pool.Port()
	}
	set("collector_port", strconv.Itoa(port))
	if cfg != nil {
		if vm.Cloud != "" {
			set("private_network", cfg.Site(vm.Cloud, vm.Region).PrivateNetwork)
		}
		cm, _ := cfg.CentralManagers(vm.Cloud, vm.Region)
		set("host_ip", cm)
		set("collector_host", cfg.CollectorHost(vm.Cloud, vm.Region))
		set("uid_domain", cfg.Pool.UIDDomain)
		td := cfg.Pool.TrustDomain
		if td == "" {
			td = cfg.Pool.CentralManager
		}
		set("trust_domain", td)
		set("pool_name", cfg.Pool.Name)
		set("provisioner_id", cfg.Pool.Provisioner())
	}
	set("instance_name", vm.InstanceName)
	set("cloud", vm.Cloud)
	set("region", vm.Region)
	set("flavor", vm.Flavor)
	if vm.WorkerToken != "" {
		if strings.ContainsFunc(vm.WorkerToken, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
			errs = append(errs, "value of <worker_token> holds white space or control characters: not an IDTOKEN")
		} else {
			v["worker_token"] = vm.WorkerToken
		}
	}
	if vm.Cpus > 0 {
		set("worker_cpus", strconv.Itoa(vm.Cpus))
	}
	if vm.MemoryMB > 0 {
		set("worker_memory", strconv.Itoa(vm.MemoryMB))
	}
	tf := vm.TokenFile
	if tf == "" {
		tf = DefaultTokenFile
	}
	set("token_file", tf)
	set("ehos_version", version.Version)
	if cfg != nil {
		names := make([]string, 0, len(cfg.TemplateVars))
		for n := range cfg.TemplateVars {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			switch {
			case !ValidName(n):
				errs = append(errs, fmt.Sprintf("template_vars.%s: not a tag name (lower-case letters, digits and _, starting with a letter)", n))
			case looksSecret(n):
				errs = append(errs, fmt.Sprintf("template_vars.%s: looks like a secret; user-data is readable by every process on the VM and through the metadata service, so secrets do not go into templates", n))
			case IsBuiltin(n):
				errs = append(errs, fmt.Sprintf("template_vars.%s: shadows the built-in tag <%s> (%s); choose another name", n, n, Builtin[n]))
			default:
				v[n] = cfg.TemplateVars[n]
			}
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("template values:\n  %s", strings.Join(errs, "\n  "))
	}
	return v, nil
}

// CheckValue refuses a tag value holding a character that would break the
// HTCondor config or ClassAd string it lands in: ", \, $ or a control
// character.
func CheckValue(name, val string) error {
	if i := strings.IndexFunc(val, func(r rune) bool { return r == '"' || r == '\\' || r == '$' || r < 0x20 || r == 0x7f }); i >= 0 {
		what := ""
		if d, ok := Builtin[name]; ok {
			what = " (" + d + ")"
		}
		return fmt.Errorf("value of <%s>%s holds %q, which HTCondor config and ClassAd strings cannot carry", name, what, val[i:i+1])
	}
	return nil
}

// looksSecret reports whether a template_vars name suggests a secret. The
// one secret ehos itself puts into user-data is <worker_token>, minted per VM
// and narrowly scoped.
func looksSecret(name string) bool {
	for _, w := range []string{"password", "passwd", "secret", "token", "private_key", "credential"} {
		if strings.Contains(name, w) {
			return true
		}
	}
	return false
}
