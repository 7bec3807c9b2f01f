package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/urfave/cli/v2"

	"github.com/ehos-project/ehos/lib/cmdline"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/condorpool"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/openstack"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/tmpl"
	"github.com/ehos-project/ehos/lib/version"
)

func run(c *cli.Context) error {
	if c.NArg() > 0 {
		return cmdline.Usagef(c, "unexpected argument %q: ehos_provisioner takes options only", c.Args().First())
	}
	stop, hard := signals()
	if c.Bool("once") {
		// By hand: an unreachable Keystone or collector must not hold the
		// one cycle for the tools' own, longer limits.
		var cancel context.CancelFunc
		hard, cancel = context.WithTimeout(hard, c.Duration("timeout"))
		defer cancel()
	}
	tools := &condor.Client{}
	underMaster := os.Getenv("CONDOR_INHERIT") != ""

	// ehos.yaml and the knobs (one condor_config_val call), found as every
	// ehos binary finds them. HTCondor may be absent when run by hand
	// against a remote pool; then ehos.yaml alone decides.
	found, err := config.Find(hard, config.Lookup{File: c.String("config"), Knobs: tools.ConfigVal,
		Extra: []string{"EHOS_PROVISIONER_LOG", "NEGOTIATOR_INTERVAL", "EHOS_TOKEN_REVOCATION_FILE"}})
	if err != nil {
		return err
	}
	knobs, kerr := found.Knobs, found.KnobErr
	if kerr != nil && underMaster {
		return fmt.Errorf("read EHOS_* knobs: %w", kerr)
	}
	path := found.Path
	cfg, err := found.Load()
	if err != nil {
		return fmt.Errorf("config not valid, nothing touched:\n%w", err)
	}
	if c.Bool("dry-run") {
		cfg.Scaling.DryRun = true
	}

	logFile := c.String("log-file")
	if logFile == "" && underMaster {
		logFile = knobs["EHOS_PROVISIONER_LOG"]
	}
	log, closeLog, err := logger(cfg, logFile, c.String("log-format"), verbosity)
	if err != nil {
		return err
	}
	defer closeLog()
	cloudsUse, cloudsPath, cloudsFrom := config.FindClouds(c.String("clouds"), path, nil)
	log.Info().Str("version", version.Version).Str("config", path).Str("config_from", found.From).
		Str("clouds", cloudsPath).Str("clouds_from", cloudsFrom).Str("pool", cfg.Pool.Name).Str("owner", cfg.Pool.Owner).
		Bool("dry_run", cfg.Scaling.DryRun).Bool("under_condor_master", underMaster).Msg("starting")
	if kerr != nil {
		log.Warn().Err(kerr).Msg("EHOS_* knobs not read: ehos.yaml alone decides")
	}

	copts := openstack.Options{CloudsFile: cloudsUse}
	if err := openstack.RefuseExposed(copts); err != nil {
		return fmt.Errorf("nothing touched: %w", err)
	}
	copts.OnReauth = func(cloud string, err error) {
		if err != nil {
			log.Warn().Str("cloud", cloud).Err(err).Msg("token expired and re-authentication failed")
			return
		}
		log.Info().Str("cloud", cloud).Msg("token expired: re-authenticated")
	}
	log.Info().Int("clouds", len(cfg.Clouds)).Msg("authenticating to the clouds (Keystone)")
	clouds, err := openstack.OpenAll(hard, cfg.Clouds, copts)
	if err != nil {
		log.Error().Err(err).Msg("clouds")
		if hard.Err() == context.DeadlineExceeded {
			return fmt.Errorf("open clouds: gave up after --timeout %s: %w", c.Duration("timeout"), err)
		}
		return fmt.Errorf("open clouds: %w", err)
	}
	opt := provision.OptionsFrom(cfg)
	opt.Log = log
	for i, cl := range clouds {
		cc := cfg.Clouds[indexOf(cfg, cl.Name())]
		cc.Regions = cl.Regions()
		opt.Clouds = append(opt.Clouds, provision.CloudSpec{Config: cc, Cloud: clouds[i]})
	}

	wd, _ := os.Getwd()
	tfile, src, err := tmpl.Find(os.DirFS("/"), cfg.Templates.Worker, tmpl.SearchDirs(cfg.Templates, checkout(wd)))
	if err != nil {
		return fmt.Errorf("worker template: %w", err)
	}
	boot, err := condorpool.NewBootstrap(tools, cfg, tfile, src)
	if err != nil {
		return fmt.Errorf("worker template %s does not render, nothing touched:\n%w", tfile, err)
	}
	log.Info().Str("template", tfile).Msg("worker template")

	var negInterval time.Duration
	if s, err := strconv.Atoi(knobs["NEGOTIATOR_INTERVAL"]); err == nil {
		negInterval = time.Duration(s) * time.Second
	}
	pool := condorpool.New(tools, cfg.Pool.Name, negInterval)
	pool.Log = log
	pool.WorkerIdentity, pool.Self, pool.DemandIdentity = cfg.Worker.IdentityOf, cfg.Pool.ProvisionerIdentity, cfg.Pool.DemandIdentity
	if d := 20 * cfg.Scaling.Cycle; d > pool.AdLifetime {
		pool.AdLifetime = d
	}
	// The central manager snippet names the file it includes for the
	// revoked tokens of deleted VMs; without it, nothing is revoked.
	if f := knobs["EHOS_TOKEN_REVOCATION_FILE"]; f != "" && !cfg.Scaling.DryRun {
		pool.Revoker = &condorpool.Revoker{File: f, Tools: tools}
		log.Info().Str("file", f).Msg("revoking deleted VMs' tokens")
	} else if f == "" {
		log.Warn().Msg("EHOS_TOKEN_REVOCATION_FILE is not set: deleted VMs' tokens stay valid until they expire")
	}
	p, err := provision.New(opt, pool, boot)
	if err != nil {
		return err
	}

	if c.Bool("once") {
		rep, err := p.RunOnce(hard, time.Now())
		if hard.Err() == context.DeadlineExceeded {
			return fmt.Errorf("gave up after --timeout %s: %w", c.Duration("timeout"), errors.Join(err, hard.Err()))
		}
		if err != nil {
			return err
		}
		if len(rep.Errors) > 0 {
			return fmt.Errorf("cycle had errors:\n  %s", strings.Join(rep.Errors, "\n  "))
		}
		return nil
	}
	err = p.Run(stop, func() context.Context { return hard })
	if errors.Is(hard.Err(), context.Canceled) {
		log.Info().Msg("SIGQUIT: stopped at once")
	} else {
		log.Info().Msg("stopped after the cycle")
	}
	return err
}

func indexOf(cfg *config.Config, name string) int {
	for i, c := range cfg.Clouds {
		if c.Name == name {
			return i
		}
	}
	return 0
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

// openLog opens the provisioner's log for appending, created 0640 (owner
// and group: root and HTCondor's admins read it, jobs do not). An existing
// log that others may read, from an older version, is narrowed to 0640:
// the log names VMs, clouds and errors from the tools.
func openLog(file string) (*os.File, error) {
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o640)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	if st, err := f.Stat(); err == nil && st.Mode().Perm()&0o027 != 0 {
		if err := f.Chmod(st.Mode().Perm() &^ 0o027); err != nil {
			f.Close()
			return nil, fmt.Errorf("log %s is mode %04o (readable by others) and cannot be narrowed: %w", file, st.Mode().Perm(), err)
		}
	}
	return f, nil
}

func logger(cfg *config.Config, file, format string, verbose int) (zerolog.Logger, func(), error) {
	var w io.Writer = os.Stderr
	// Colour only for a person at a terminal, never into a file.
	color := isTerminal(os.Stderr)
	closeFn := func() {}
	if file != "" {
		f, err := openLog(file)
		if err != nil {
			return zerolog.Nop(), closeFn, err
		}
		w, closeFn, color = f, func() { f.Close() }, false
	}
	if format == "" {
		format = cfg.Log.Format
	}
	if format == "console" {
		w = zerolog.ConsoleWriter{Out: w, NoColor: !color, TimeFormat: time.RFC3339}
	}
	level, err := zerolog.ParseLevel(cfg.Log.Level)
	if err != nil {
		level = zerolog.InfoLevel
	}
	switch {
	case verbose >= 2:
		level = zerolog.DebugLevel
	case verbose == 1 && level > zerolog.InfoLevel:
		level = zerolog.InfoLevel
	}
	return zerolog.New(w).Level(level).With().Timestamp().Str("daemon", "ehos_provisioner").Logger(), closeFn, nil
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
