package tmpl

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/ehos-project/ehos/lib/config"
)

func TestFind(t *testing.T) {
	fsys := fstest.MapFS{
		"etc/ehos/worker.yaml":    {Data: []byte("etc")},
		"share/ehos/worker.yaml":  {Data: []byte("share")},
		"share/ehos/master.yaml":  {Data: []byte("share master")},
		"src/cloudinit/base.yaml": {Data: []byte("checkout base")},
		"home/me/mine.yaml":       {Data: []byte("mine")},
	}
	dirs := SearchDirs(config.Templates{EtcDir: "/etc/ehos", ShareDir: "/share/ehos"}, "/src")
	for _, tc := range []struct{ name, path, data string }{
		{"worker.yaml", "/etc/ehos/worker.yaml", "etc"},
		{"worker", "/etc/ehos/worker.yaml", "etc"},
		{"master.yaml", "/share/ehos/master.yaml", "share master"},
		{"base", "/src/cloudinit/base.yaml", "checkout base"},
		{"/home/me/mine.yaml", "/home/me/mine.yaml", "mine"},
	} {
		p, b, err := Find(fsys, tc.name, dirs)
		if err != nil || p != tc.path || string(b) != tc.data {
			t.Errorf("Find(%q) = %q, %q, %v; want %q, %q", tc.name, p, b, err, tc.path, tc.data)
		}
	}
	_, _, err := Find(fsys, "nope.yaml", dirs)
	if err == nil || !strings.Contains(err.Error(), "/etc/ehos/nope.yaml, /share/ehos/nope.yaml, /src/cloudinit/nope.yaml") {
		t.Errorf("err = %v", err)
	}
	if d := SearchDirs(config.Templates{}, ""); d[0] != config.DefaultEtcDir || d[1] != config.DefaultShareDir || len(d) != 2 {
		t.Errorf("default dirs %v", d)
	}
}
