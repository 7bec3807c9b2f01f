package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// docCommands are the ehos and ehos_provisioner command lines of a
// markdown file: each line of a fenced block that starts with one, and each
// inline code span that does (prose mentions such as `ehos render`).
func docCommands(t *testing.T, file string) (lines, spans []string) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	app := newApp(nil, nil)
	isCmd := func(l string) bool {
		f := strings.Fields(l)
		switch {
		case strings.HasPrefix(l, " "):
			return false // a diagram
		case len(f) < 2:
			return len(f) == 1 && (f[0] == "ehos" || f[0] == "ehos_provisioner")
		case f[0] == "ehos_provisioner":
			return strings.HasPrefix(f[1], "-")
		case f[0] != "ehos":
			return false
		}
		// Output quoted in the docs (`ehos demo: all 16 jobs ...`) is no
		// command line.
		return strings.HasPrefix(f[1], "-") || app.Command(f[1]) != nil
	}
	fenced := false
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "```") {
			fenced = !fenced
			continue
		}
		if fenced && isCmd(l) {
			lines = append(lines, l)
		} else if !fenced {
			for _, m := range regexp.MustCompile("`(ehos(?:_provisioner)?(?: [^`]*)?)`").FindAllStringSubmatch(l, -1) {
				if isCmd(m[1]) {
					spans = append(spans, m[1])
				}
			}
		}
	}
	return lines, spans
}

// usageWords are how an older ehos (exit 1 for everything) refused a
// command line.
var usageWords = regexp.MustCompile(`Incorrect Usage|flag provided but not defined|want one [A-Z][A-Za-z.]*, got [1-9]|No help topic`)

// Every ehos command README.md and docs/install.md show runs as written,
// offline: none is refused as a usage error (a renamed option or command,
// an argument in the wrong place), none crashes. HTCondor is absent,
// Keystone is a closed 127.0.0.1 port, so those that need them exit 1.
// Commands that run until Ctrl-C (--watch, --listen) and sudo lines are
// left out.
func TestDocCommandsRunAsWritten(t *testing.T) {
	t.Parallel()
	bin := bins(t)
	n := 0
	for _, doc := range []string{"../../README.md", "../../docs/install.md"} {
		lines, spans := docCommands(t, doc)
		for i, cmdline := range append(lines, spans...) {
			if strings.Contains(cmdline, "--watch") || strings.Contains(cmdline, "--listen") {
				continue
			}
			mention := i >= len(lines)
			n++
			dir, cfg, clouds := offlineSite(t)
			home := t.TempDir()
			write(t, filepath.Join(home, ".ssh", "id_ed25519.pub"), "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBIt0SRHGDwMEikyiUWKT8+WVy9mMHvJOJwPLZsTFaKB admin@host\n", 0o644)
			write(t, filepath.Join(dir, "old.yaml"), "clouds:\n  site-a:\n    auth_url: http://127.0.0.1:1/v3\n    password: x\nehos:\n  flavor: m1.small\n  image: i\ncondor:\n  host_ip: 127.0.0.1\n", 0o600)
			// The file the commands read is not ./ehos.yaml, which the
			// migrate example writes.
			conf := filepath.Join(dir, "etc")
			os.MkdirAll(conf, 0o700)
			os.Rename(cfg, filepath.Join(conf, "ehos.yaml"))
			os.Rename(clouds, filepath.Join(conf, "clouds.yaml"))
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			cmd := exec.CommandContext(ctx, "bash", "-c", cmdline)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + bin + ":/usr/bin:/bin", "HOME=" + home, "EHOS_CONFIG=" + filepath.Join(conf, "ehos.yaml"), "EHOS_CONDOR_BIN=" + t.TempDir()}
			out, err := cmd.CombinedOutput()
			cancel()
			code := 0
			if ee, ok := err.(*exec.ExitError); ok {
				code = ee.ExitCode()
			} else if err != nil {
				t.Fatalf("%s: %s: %v", doc, cmdline, err)
			}
			switch {
			case mention && code == 2 && strings.Contains(string(out), "got 0 arguments"):
				// `ehos render` in prose: the command, not a command line.
			case strings.Contains(string(out), "panic:"):
				t.Errorf("%s: `%s` crashed:\n%s", doc, cmdline, out)
			case code == 2 || usageWords.Match(out):
				t.Errorf("%s: `%s` is refused as a usage error:\n%s", doc, cmdline, out)
			case code != 0 && code != 1:
				t.Errorf("%s: `%s`: exit %d\n%s", doc, cmdline, code, out)
			}
		}
	}
	t.Logf("%d commands run", n)
	if n < 20 {
		t.Errorf("only %d commands found in the docs: is the extraction broken?", n)
	}
}
