package admin

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/demand"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/tmpl"
)

// Doctor says what `ehos doctor` looks at.
type Doctor struct {
	ConfigPath string
	Condor     *condor.Client
	Clouds     openstack.Options
	FS         fs.FS  // rooted at "/" (os.DirFS("/"))
	Checkout   string // ehos source tree for templates, "" if none
	Now        time.Time
	// Waiting, if set, is told what each step waits for before it runs;
	// Found is given each step's findings as soon as they are known.
	Waiting func(what string)
	Found   func(Findings)
}

// WorkerAuthz is what a worker's token may do (as the provisioner mints it).
var WorkerAuthz = []string{"ADVERTISE_STARTD", "ADVERTISE_MASTER", "READ"}

// Run checks everything: the config, HTCondor, the provisioner, the demand
// job, the templates, token minting and the clouds.
func (d Doctor) Run(ctx context.Context) Findings {
	var all Findings
	step := func(what string, check func() Findings) {
		if d.Waiting != nil {
			d.Waiting(what)
		}
		fs := check()
		all = append(all, fs...)
		if d.Found != nil {
			d.Found(fs)
		}
	}
	var cfg *config.Config
	step("HTCondor's configuration (condor_config_val)", func() Findings {
		var fs Findings
		cfg, fs = CheckConfig(ctx, ConfigCheck{Path: d.ConfigPath, Condor: d.Condor, Clouds: d.Clouds})
		return fs
	})
	step("the collector (condor_status)", func() Findings { return d.condorChecks(ctx) })
	if cfg == nil {
		step("the templates", func() Findings {
			var fs Findings
			fs.add(Skip, "templates", "not rendered: ehos.yaml does not load", "")
			return fs
		})
		return all
	}
	step("the schedds' demand ads (condor_status)", func() Findings { return d.demandAdsCheck(ctx, cfg.Pool.Name, cfg.Pool.DemandIdentity) })
	step("the collector's file descriptors (condor_config_val)", func() Findings { return d.collectorFDCheck(ctx, cfg.Scaling.Max) })
	step("the templates", func() Findings { return CheckTemplates(d.FS, cfg, d.Checkout) })
	step("a worker token (condor_token_create)", func() Findings { return d.tokenCheck(ctx, cfg) })
	step("the clouds' APIs (Keystone, Nova, Glance, Neutron)", func() Findings { return CheckClouds(ctx, cfg.Clouds, d.network(ctx, cfg), d.Clouds) })
	return all
}

func (d Doctor) condorChecks(ctx context.Context) Findings {
	var fs Findings
	const where = "htcondor"
	ads, err := d.Condor.Status(ctx, condor.StatusQuery{Kind: "-collector", Attrs: []string{"Name", "MyAddress"}})
	if err != nil || len(ads) == 0 {
		fs.fail(where, "start HTCondor (systemctl start condor) and check CONDOR_HOST / COLLECTOR_HOST; scripts/install-master.sh sets up a central manager", "collector not reachable: %v", err)
		fs.add(Skip, "provisioner", "not checked: no collector", "")
		return fs
	}
	fs.ok(where, "collector %s answers", ads[0].GetString("Name"))

	vals, verr := d.Condor.ConfigVal(ctx, "DAEMON_LIST", "EHOS_PROVISIONER", "EHOS_CONFIG", config.ProvisionerIdentityKnob, "UID_DOMAIN")
	if verr != nil {
		fs.fail(where, "check that condor_config_val runs", "condor_config_val: %v", verr)
	} else {
		const fix = "install condor-config/50-ehos-central-manager.conf into /etc/condor/config.d and run condor_reconfig (scripts/install-master.sh does)"
		dl := strings.Fields(strings.ReplaceAll(vals["DAEMON_LIST"], ",", " "))
		has := false
		for _, n := range dl {
			has = has || n == "EHOS_PROVISIONER"
		}
		switch {
		case !has:
			fs.fail(where, fix, "DAEMON_LIST (%s) lacks EHOS_PROVISIONER", vals["DAEMON_LIST"])
		case vals["EHOS_PROVISIONER"] == "":
			fs.fail(where, fix, "EHOS_PROVISIONER (the provisioner's binary) is not set")
		default:
			fs.ok(where, "DAEMON_LIST runs EHOS_PROVISIONER = %s", vals["EHOS_PROVISIONER"])
		}
		if vals["EHOS_CONFIG"] == "" {
			fs.add(Warn, where, "EHOS_CONFIG knob not set: the provisioner reads "+config.DefaultEtcDir+"/ehos.yaml", "set EHOS_CONFIG in /etc/condor/config.d")
		}
	}

	var st Status
	if verr != nil {
		err = fmt.Errorf("the provisioner's identity: %w", verr)
	} else {
		st, err = ReadStatus(ctx, d.Condor, config.ProvisionerOf(vals), d.Now)
	}
	switch {
	case err != nil:
		fs.fail("provisioner", "check the collector's READ authorization for this user", "%v", err)
	case !st.Healthy():
		fs.fail("provisioner", "see its log: condor_config_val EHOS_PROVISIONER_LOG, or $(LOG)/EHOSProvisionerLog", "%s", st.Problem)
	default:
		fs.ok("provisioner", "ad %s fresh: last cycle %s ago (every %s)", st.Name, st.Age, st.Cycle)
		for _, s := range st.Standby {
			fs.ok("provisioner", "standby (takes over when the one acting goes silent; docs/ha.md): %s", s)
		}
		fs = append(fs, cycleErrors(st.Report)...)
		fs = append(fs, unreachableFindings(st.Report)...)
	}
	if st.Refused > 0 {
		fs.add(Warn, "trust", fmt.Sprintf("%d %s ads not written by the provisioner's identity %s were ignored (from %s)", st.Refused, provision.AdType, st.Identity, strings.Join(st.RefusedBy, ", ")),
			"a worker's token can store an ad of any type through a startd or master update: find the sender by its identity, delete that VM or revoke its token; docs/security.md")
	}
	if st.Found {
		fs = append(fs, refusals(st.Report, st.Refused)...)
	}

	jobs, err := d.Condor.Queue(ctx, condor.QueueQuery{AllUsers: true,
		Constraint: `EHOSReporter =?= True || regexp("ehos_demand", Cmd)`,
		Attrs:      []string{"ClusterId", "ProcId", "JobStatus", "JobUniverse", "Owner", "HoldReason", "Cmd", "Iwd", "Err"}})
	const fix = "sudo -u ehos condor_submit /usr/local/share/ehos/ehos_demand.submit (scripts/install-master.sh makes the ehos user)"
	switch {
	case err != nil:
		fs.fail("demand job", "check that the schedd runs (condor_q)", "condor_q: %v", err)
	case len(jobs) == 0:
		fs.fail("demand job", fix, "no ehos_demand job in the queue: the provisioner sees no demand")
	default:
		fs = append(fs, demandJobFindings(jobs, d.FS, fix)...)
	}
	return fs
}

// demandJobFindings says whether one of the demand jobs runs; for a held
// one it adds what the job said last on its stderr (ehos_demand's own error
// line: "no pool name ..."), read through fsys when it can be, since
// HTCondor's hold reason only knows the exit code.
func demandJobFindings(jobs []classad.Ad, fsys fs.FS, fix string) Findings {
	var out Findings
	running := 0
	var other []string
	for _, j := range jobs {
		id := fmt.Sprintf("%d.%d", j.GetInt("ClusterId", 0), j.GetInt("ProcId", 0))
		switch j.GetInt("JobStatus", 0) {
		case 2:
			running++
		case 5:
			msg := id + " held: " + j.GetString("HoldReason")
			if said := lastWords(fsys, j.GetString("Iwd"), j.GetString("Err")); said != "" {
				msg += "; its stderr ends: " + said
			}
			other = append(other, msg)
		default:
			other = append(other, fmt.Sprintf("%s status %d", id, j.GetInt("JobStatus", 0)))
		}
	}
	if running == 0 {
		out.fail("demand job", "condor_release it, or condor_rm and "+fix, "ehos_demand not running: %s", strings.Join(other, "; "))
	} else {
		out.ok("demand job", "%d ehos_demand job(s) running", running)
	}
	return out
}

// lastWords is the last line a job wrote on its stderr file (Err, relative
// to Iwd; ehos_demand's last words are its "ehos_demand: ERROR" line), at
// most 300 characters, tokens redacted. "" when the file cannot be read.
func lastWords(fsys fs.FS, iwd, errFile string) string {
	if fsys == nil || errFile == "" || errFile == "/dev/null" {
		return ""
	}
	p := errFile
	if !path.IsAbs(p) {
		p = path.Join(iwd, p)
	}
	f, err := fsys.Open(strings.TrimPrefix(path.Clean(p), "/"))
	if err != nil {
		return ""
	}
	defer f.Close()
	const tail = 64 << 10
	if st, err := f.Stat(); err == nil && st.Size() > tail {
		if sk, ok := f.(io.Seeker); ok {
			sk.Seek(st.Size()-tail, io.SeekStart)
		}
	}
	b, _ := io.ReadAll(io.LimitReader(f, tail))
	var last string
	for _, line := range strings.Split(string(b), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			last = line
		}
	}
	last = condor.Redact(last)
	if r := []rune(last); len(r) > 300 {
		last = string(r[:300]) + "…"
	}
	return last
}

// cycleErrors turns what went wrong in the provisioner's last cycle into
// warnings: it runs as its own identity, with its own view of the clouds and
// schedds, so what it met can differ from what doctor's own checks find.
func cycleErrors(rep provision.Report) Findings {
	var fs Findings
	const logs = "`ehos status` shows the cycle, the provisioner's log ($(LOG)/EHOSProvisionerLog) the details"
	for _, e := range rep.Errors {
		fix := logs
		if strings.HasPrefix(e, provision.RescheduleError) {
			fix = "new workers wait for the negotiator's next cycle until the schedd lets the provisioner's identity ask for one: " +
				"as that user, `condor_ping -verbose -type schedd -name SCHEDD RESCHEDULE` shows the identity and the decision; allow it in the schedd's security config"
		}
		fs.add(Warn, "provisioner", "its last cycle ("+rep.Time.UTC().Format(time.TimeOnly)+" UTC) met: "+e, fix)
	}
	return fs
}

// maxRefusalFindings bounds the refused ads doctor lists one by one.
const maxRefusalFindings = 5

// refusals reports the ads the provisioner's last cycle did not believe:
// someone with a worker's token (or another identity) tried to speak for a
// VM or an offer that is not theirs.
func refusals(rep provision.Report, others int) Findings {
	var fs Findings
	const fix = "an ad claimed a VM or flavor offer for an identity that may not write it: find the sender by its identity " +
		"(a worker's token names its VM), delete that VM or revoke its token; docs/security.md"
	for i, r := range rep.Refused {
		if i == maxRefusalFindings {
			fs.add(Warn, "trust", fmt.Sprintf("and %d more refused ads (ehos status --json lists them)", len(rep.Refused)-i), fix)
			break
		}
		fs.add(Warn, "trust", "the provisioner refused "+r.String(), fix)
	}
	if len(rep.Refused) == 0 && others == 0 {
		fs.ok("trust", "the provisioner's last cycle refused no ad")
	}
	return fs
}

// CheckTemplates renders each configured template with placeholder per-VM
// values and says which file is in use.
func CheckTemplates(fsys fs.FS, cfg *config.Config, checkout string) Findings {
	var fs Findings
	dirs := tmpl.SearchDirs(cfg.Templates, checkout)
	vals, err := tmpl.Values(cfg, tmpl.VMValues{InstanceName: "ehos-doctor-00000000", Cloud: "doctor-cloud", Region: "doctor-region",
		Flavor: "doctor-flavor", WorkerToken: "doctor.placeholder.token", Cpus: 1, MemoryMB: 1024})
	if err != nil {
		fs.fail("templates", "fix template_vars or pool values in ehos.yaml", "%v", err)
		return fs
	}
	for _, t := range []struct{ key, name string }{{"worker", cfg.Templates.Worker}, {"master", cfg.Templates.Master}, {"base", cfg.Templates.Base}} {
		where := "template " + t.key
		path, src, err := tmpl.Find(fsys, t.name, dirs)
		if err != nil {
			fs.fail(where, "install the shipped templates into "+cfg.Templates.ShareDir+" (scripts/install-master.sh) or fix templates."+t.key, "%v", err)
			continue
		}
		which := "shipped copy"
		switch {
		case strings.HasPrefix(path, strings.TrimSuffix(cfg.Templates.EtcDir, "/")+"/"):
			which = "the admin's copy in the etc dir (wins over " + cfg.Templates.ShareDir + ")"
		case checkout != "" && strings.HasPrefix(path, checkout+"/"):
			which = "from the source tree"
		case strings.Contains(t.name, "/"):
			which = "as configured"
		}
		if _, err := tmpl.Render(path, src, vals); err != nil {
			fs.fail(where, "edit "+path+" (`ehos render "+t.name+"` shows the same errors)", "%s (%s) does not render: %v", path, which, err)
			continue
		}
		fs.ok(where, "%s renders (%s)", path, which)
	}
	return fs
}

func (d Doctor) tokenCheck(ctx context.Context, cfg *config.Config) Findings {
	var fs Findings
	tok, err := d.Condor.TokenCreate(ctx, condor.TokenRequest{Identity: "ehos-doctor@" + cfg.Pool.TrustDomain, Key: cfg.Worker.TokenKey,
		Authz: WorkerAuthz, Lifetime: time.Minute})
	if err != nil {
		fs.fail("worker token", fmt.Sprintf("run as root or condor, and check the signing key %s in SEC_PASSWORD_DIRECTORY (condor_store_cred add -c -i -)", cfg.Worker.TokenKey), "cannot mint: %v", err)
		return fs
	}
	_ = tok // minted and dropped: never printed
	fs.ok("worker token", "can mint worker tokens with key %s", cfg.Worker.TokenKey)
	return fs
}

// demandAdsCheck asks the collector for every EHOSDemand ad the demand
// job's identity wrote, of any pool, and checks that the demand jobs label
// theirs with this pool's name: the provisioner reads only
// `EHOSPool == "<pool>"`, so a reporter that writes no name, or another
// one, is demand that nobody serves. (Ads from other identities, which a
// worker's token could store, are not the demand job's to judge.)
func (d Doctor) demandAdsCheck(ctx context.Context, pool, identity string) Findings {
	ads, err := d.Condor.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: demand.DemandConstraint("") + " && AuthenticatedIdentity == " + classad.Quote(identity),
		Attrs: []string{"Name", demand.AttrSchedd, demand.AttrPool, demand.AttrIdle}})
	if err != nil {
		var fs Findings
		fs.fail("demand ads", "check the collector's READ authorization for this user", "condor_status: %v", err)
		return fs
	}
	return demandPoolFindings(ads, pool)
}

// demandPoolFindings judges the EHOSDemand ads of the collector against
// this pool's name: one finding per schedd whose ads name no pool or
// another one, or one OK line.
func demandPoolFindings(ads []classad.Ad, pool string) Findings {
	var fs Findings
	const where = "demand ads"
	type key struct{ schedd, pool string }
	idle := map[key]int64{}
	var keys []key
	mine := 0
	for _, a := range ads {
		k := key{a.GetString(demand.AttrSchedd), a.GetString(demand.AttrPool)}
		if k.pool == pool {
			mine++
			continue
		}
		if _, seen := idle[k]; !seen {
			keys = append(keys, k)
		}
		idle[k] += a.GetInt(demand.AttrIdle, 0)
	}
	const fix = "set EHOS_POOL_NAME = %s in the HTCondor configuration of that schedd's host (or --pool %s in the demand job's arguments), then condor_rm and resubmit the demand job"
	for _, k := range keys {
		switch k.pool {
		case "":
			fs.fail(where, fmt.Sprintf(fix, pool, pool), "schedd %q advertises %d idle jobs with no EHOSPool: the provisioner of pool %q never sees them", k.schedd, idle[k], pool)
		default:
			// Another ehos pool sharing the collector is legitimate; say so,
			// since a typo in a pool name looks exactly like it.
			fs.add(Warn, where, fmt.Sprintf("schedd %q advertises %d idle jobs for pool %q, not this pool %q: another ehos pool, or a misspelt name", k.schedd, idle[k], k.pool, pool), fmt.Sprintf(fix, pool, pool))
		}
	}
	if len(keys) == 0 {
		if mine == 0 {
			fs.ok(where, "no EHOSDemand ads now (none are advertised while no job waits)")
		} else {
			fs.ok(where, "%d EHOSDemand ad(s), all for pool %q", mine, pool)
		}
	}
	return fs
}
