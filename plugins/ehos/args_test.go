package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ehos-project/ehos/lib/cmdline"
)

func TestGlobalFlagsAfterTheCommand(t *testing.T) {
	s := newSite(t, siteConfig)
	var o, e bytes.Buffer
	app := newAppWith(&o, &e, &deps{})
	args := []string{"ehos", "config", "check", "--config", s.config, "--clouds", s.clouds, "--condor-bin", t.TempDir(), "-v", "-v"}
	if err := app.Run(cmdline.Args(app, args)); err != nil && exitCode(err) != 1 {
		t.Fatalf("config check with flags after it: %v\n%s", err, e.String())
	}
	if strings.Contains(e.String(), "flag provided but not defined") || !strings.Contains(e.String(), "DBG") && !strings.Contains(e.String(), "INF") {
		t.Errorf("flags after the command not taken, or -v -v gave no detail:\n%s", e.String())
	}
	if !strings.Contains(o.String(), s.config) && !strings.Contains(o.String()+e.String(), "ehos.yaml") {
		t.Errorf("config check did not read --config %s:\n%s%s", s.config, o.String(), e.String())
	}
}
