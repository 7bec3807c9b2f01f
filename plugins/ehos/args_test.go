package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestHoistGlobalFlags(t *testing.T) {
	app := newApp(&bytes.Buffer{}, &bytes.Buffer{})
	for _, tc := range []struct{ in, want string }{
		{"ehos config check --config F", "ehos --config F config check"},
		{"ehos config check --config=F -v", "ehos --config=F -v config check"},
		{"ehos status -vv --watch", "ehos -vv status --watch"},
		{"ehos status -v -v", "ehos -v -v status"},
		{"ehos -c F doctor --clouds C --condor-bin /b", "ehos --clouds C --condor-bin /b -c F doctor"},
		// render and simulate define their own --config: it stays theirs.
		{"ehos render worker.yaml --config F -v", "ehos -v render worker.yaml --config F"},
		{"ehos simulate -c F", "ehos simulate -c F"},
		// After "--" nothing is a flag.
		{"ehos render x -- --config F", "ehos render x -- --config F"},
		// No command, or flags already in front: unchanged.
		{"ehos --config F", "ehos --config F"},
		{"ehos -vv --config F status", "ehos -vv --config F status"},
		// A command's own value flag is skipped with its value.
		{"ehos status --watch", "ehos status --watch"},
	} {
		got := strings.Join(hoistGlobalFlags(app, strings.Fields(tc.in)), " ")
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("%q: (-want +got)\n%s", tc.in, d)
		}
	}
}

func TestGlobalFlagsAfterTheCommand(t *testing.T) {
	s := newSite(t, siteConfig)
	var o, e bytes.Buffer
	app := newAppWith(&o, &e, &deps{})
	args := []string{"ehos", "config", "check", "--config", s.config, "--clouds", s.clouds, "--condor-bin", t.TempDir(), "-v", "-v"}
	if err := app.Run(hoistGlobalFlags(app, args)); err != nil && exitCode(err) != 1 {
		t.Fatalf("config check with flags after it: %v\n%s", err, e.String())
	}
	if strings.Contains(e.String(), "flag provided but not defined") || !strings.Contains(e.String(), "DBG") && !strings.Contains(e.String(), "INF") {
		t.Errorf("flags after the command not taken, or -v -v gave no detail:\n%s", e.String())
	}
	if !strings.Contains(o.String(), s.config) && !strings.Contains(o.String()+e.String(), "ehos.yaml") {
		t.Errorf("config check did not read --config %s:\n%s%s", s.config, o.String(), e.String())
	}
}
