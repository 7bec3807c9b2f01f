package wire

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/condorpool"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/tmpl"
	"github.com/ehos-project/ehos/lib/version"
)

// Settings are what the provisioner's command line decides.
type Settings struct {
	Config    string // ehos.yaml named on the command line; "" to look it up
	Clouds    string // clouds.yaml named on the command line; "" to look it up
	DryRun    bool   // on top of ehos.yaml's scaling.dry_run
	LogFile   string // "" : EHOS_PROVISIONER_LOG under condor_master, else stderr
	LogFormat string // "" : ehos.yaml's log.format
	Verbosity int    // -v count
	// Timeout, when set, is the limit the caller put on ctx; errors name it.
	Timeout time.Duration
}

// Running is a provisioner wired to its clouds and pool.
type Running struct {
	P   *provision.Provisioner
	Log zerolog.Logger
	// Close closes the log file; call it when done.
	Close func()
}

// Provisioner resolves ehos.yaml and the knobs, opens the log and the
// clouds, renders a first worker template and builds the provisioner. It
// touches nothing in the clouds or the pool: any error leaves everything
// as it was.
func Provisioner(ctx context.Context, s Settings) (Running, error) {
	tools := &condor.Client{}
	underMaster := os.Getenv("CONDOR_INHERIT") != ""
	src, cfg, err := resolve(ctx, s, tools, underMaster)
	if err != nil {
		return Running{}, err
	}
	logFile := s.LogFile
	if logFile == "" && underMaster {
		logFile = src.Knobs["EHOS_PROVISIONER_LOG"]
	}
	log, closeLog, err := Logger(cfg, logFile, s.LogFormat, s.Verbosity)
	if err != nil {
		return Running{}, err
	}
	p, err := build(ctx, s, tools, src, cfg, log, underMaster)
	if err != nil {
		closeLog()
		return Running{}, err
	}
	return Running{P: p, Log: log, Close: closeLog}, nil
}

// resolve finds ehos.yaml and the knobs (one condor_config_val call), as
// every ehos binary finds them. HTCondor may be absent when run by hand
// against a remote pool; then ehos.yaml alone decides. Under
// condor_master the knobs must be read.
func resolve(ctx context.Context, s Settings, tools *condor.Client, underMaster bool) (config.Source, *config.Config, error) {
	src, err := config.Find(ctx, config.Lookup{File: s.Config, Knobs: tools.ConfigVal,
		Extra: []string{"EHOS_PROVISIONER_LOG", "NEGOTIATOR_INTERVAL", "EHOS_TOKEN_REVOCATION_FILE"}})
	if err != nil {
		return src, nil, err
	}
	if src.KnobErr != nil && underMaster {
		return src, nil, fmt.Errorf("read EHOS_* knobs: %w", src.KnobErr)
	}
	cfg, err := src.Load()
	if err != nil {
		return src, nil, fmt.Errorf("config not valid, nothing touched:\n%w", err)
	}
	if s.DryRun {
		cfg.Scaling.DryRun = true
	}
	return src, cfg, nil
}

// build is Provisioner once the configuration and the log are there.
func build(ctx context.Context, s Settings, tools *condor.Client, src config.Source, cfg *config.Config, log zerolog.Logger, underMaster bool) (*provision.Provisioner, error) {
	cloudsUse, cloudsPath, cloudsFrom := config.FindClouds(s.Clouds, src.Path, nil)
	log.Info().Str("version", version.Version).Str("config", src.Path).Str("config_from", src.From).
		Str("clouds", cloudsPath).Str("clouds_from", cloudsFrom).Str("pool", cfg.Pool.Name).Str("owner", cfg.Pool.Owner).
		Bool("dry_run", cfg.Scaling.DryRun).Bool("under_condor_master", underMaster).Msg("starting")
	if src.KnobErr != nil {
		log.Warn().Err(src.KnobErr).Msg("EHOS_* knobs not read: ehos.yaml alone decides")
	}
	opt := provision.OptionsFrom(cfg)
	opt.Log = log
	specs, err := openClouds(ctx, cfg, cloudsUse, log)
	if err != nil {
		if s.Timeout > 0 && ctx.Err() == context.DeadlineExceeded {
			return nil, fmt.Errorf("open clouds: gave up after --timeout %s: %w", s.Timeout, err)
		}
		return nil, fmt.Errorf("open clouds: %w", err)
	}
	opt.Clouds = specs
	boot, err := bootstrap(cfg, tools, log)
	if err != nil {
		return nil, err
	}
	return provision.New(opt, pool(cfg, tools, src.Knobs, log), boot)
}

// openClouds authenticates to every configured cloud and pairs each with
// its configuration, regions resolved.
func openClouds(ctx context.Context, cfg *config.Config, cloudsFile string, log zerolog.Logger) ([]provision.CloudSpec, error) {
	copts := openstack.Options{CloudsFile: cloudsFile}
	if err := openstack.RefuseExposed(copts); err != nil {
		return nil, fmt.Errorf("nothing touched: %w", err)
	}
	copts.OnReauth = func(cloud string, err error) {
		if err != nil {
			log.Warn().Str("cloud", cloud).Err(err).Msg("token expired and re-authentication failed")
			return
		}
		log.Info().Str("cloud", cloud).Msg("token expired: re-authenticated")
	}
	log.Info().Int("clouds", len(cfg.Clouds)).Msg("authenticating to the clouds (Keystone)")
	clouds, err := openstack.OpenAll(ctx, cfg.Clouds, copts)
	if err != nil {
		log.Error().Err(err).Msg("clouds")
		return nil, err
	}
	var specs []provision.CloudSpec
	for _, cl := range clouds {
		cc := cfg.Clouds[indexOf(cfg, cl.Name())]
		cc.Regions = cl.Regions()
		specs = append(specs, provision.CloudSpec{Config: cc, Cloud: cl})
	}
	return specs, nil
}

func indexOf(cfg *config.Config, name string) int {
	for i, c := range cfg.Clouds {
		if c.Name == name {
			return i
		}
	}
	return 0
}

// bootstrap finds the worker template (an admin's copy first, then the
// shipped one, then a checkout's) and checks that it renders.
func bootstrap(cfg *config.Config, tools *condor.Client, log zerolog.Logger) (*condorpool.Bootstrap, error) {
	wd, _ := os.Getwd()
	tfile, src, err := tmpl.Find(os.DirFS("/"), cfg.Templates.Worker, tmpl.SearchDirs(cfg.Templates, checkout(wd)))
	if err != nil {
		return nil, fmt.Errorf("worker template: %w", err)
	}
	boot, err := condorpool.NewBootstrap(tools, cfg, tfile, src)
	if err != nil {
		return nil, fmt.Errorf("worker template %s does not render, nothing touched:\n%w", tfile, err)
	}
	log.Info().Str("template", tfile).Msg("worker template")
	return boot, nil
}

// checkout is the ehos source tree we run from, if any, so `bin/...` in a
// checkout finds the shipped templates without installing them.
func checkout(wd string) string {
	exe, err := os.Executable()
	if err == nil {
		dir := filepath.Dir(filepath.Dir(exe))
		if _, err := os.Stat(filepath.Join(dir, "cloudinit", "worker.yaml")); err == nil {
			return dir
		}
	}
	if _, err := os.Stat(filepath.Join(wd, "cloudinit", "worker.yaml")); err == nil {
		return wd
	}
	return ""
}

// pool is the provisioner's HTCondor pool: the identities it believes,
// its ad's lifetime, and the revocation of deleted VMs' tokens where the
// central manager's snippet names the file for them.
func pool(cfg *config.Config, tools *condor.Client, knobs map[string]string, log zerolog.Logger) *condorpool.Pool {
	var negInterval time.Duration
	if s, err := strconv.Atoi(knobs["NEGOTIATOR_INTERVAL"]); err == nil {
		negInterval = time.Duration(s) * time.Second
	}
	pool := condorpool.New(tools, cfg.Pool.Name, negInterval)
	pool.Log = log
	pool.WorkerIdentity, pool.Self, pool.DemandIdentity = cfg.Worker.IdentityOf, cfg.Pool.ProvisionerIdentity, cfg.Pool.DemandIdentity
	pool.AdLifetime = AdLifetime(cfg.Scaling.Cycle, pool.AdLifetime)
	// Without the file, nothing is revoked.
	if f := knobs["EHOS_TOKEN_REVOCATION_FILE"]; f != "" && !cfg.Scaling.DryRun {
		pool.Revoker = &condorpool.Revoker{File: f, Tools: tools}
		log.Info().Str("file", f).Msg("revoking deleted VMs' tokens")
	} else if f == "" {
		log.Warn().Msg("EHOS_TOKEN_REVOCATION_FILE is not set: deleted VMs' tokens stay valid until they expire")
	}
	return pool
}

// AdLifetime is the ClassAdLifetime of the provisioner's ad for a cycle:
// 20 cycles, never less than least (the pool's default), so that a slow
// cycle does not let the ad vanish while `ehos status` can still call it
// stale.
func AdLifetime(cycle, least time.Duration) time.Duration {
	return max(20*cycle, least)
}
