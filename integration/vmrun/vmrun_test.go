package vmrun

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"os"
	"path/filepath"
	"testing"
)

func TestApply(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("zipped\n"))
	zw.Close()
	ud := "#cloud-config\n" +
		"write_files:\n" +
		"  - path: /etc/condor/config.d/50-ehos.conf\n" +
		"    content: |\n      CONDOR_HOST = 127.0.0.1\n" +
		"  - path: /etc/condor/tokens.d/ehos\n" +
		"    encoding: b64\n" +
		"    content: " + base64.StdEncoding.EncodeToString([]byte("tok")) + "\n" +
		"    permissions: '0600'\n" +
		"  - path: /opt/z\n" +
		"    encoding: gz+b64\n" +
		"    content: " + base64.StdEncoding.EncodeToString(gz.Bytes()) + "\n" +
		"runcmd:\n  - [echo, hi]\n"
	cc, err := Parse([]byte(ud))
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	ws, err := Apply(cc, root)
	if err != nil {
		t.Fatal(err)
	}
	if len(ws) != 3 {
		t.Fatalf("wrote %d files, want 3", len(ws))
	}
	check := func(p, want string, mode os.FileMode) {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != want {
			t.Errorf("%s = %q, want %q", p, b, want)
		}
		st, _ := os.Stat(filepath.Join(root, p))
		if st.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", p, st.Mode().Perm(), mode)
		}
	}
	check("etc/condor/config.d/50-ehos.conf", "CONDOR_HOST = 127.0.0.1\n", 0o644)
	check("etc/condor/tokens.d/ehos", "tok", 0o600)
	check("opt/z", "zipped\n", 0o644)
}

func TestParseRejects(t *testing.T) {
	if _, err := Parse([]byte("#!/bin/sh\necho hi\n")); err != ErrNotCloudConfig {
		t.Errorf("shell script: err = %v, want ErrNotCloudConfig", err)
	}
	cc := &CloudConfig{WriteFiles: []WriteFile{{Path: "relative"}}}
	if _, err := Apply(cc, t.TempDir()); err == nil {
		t.Error("relative path accepted")
	}
	// ../ cannot escape the root
	if p, _ := MapPath("/r", "/../../etc/passwd"); p != "/r/etc/passwd" {
		t.Errorf("MapPath escaped: %s", p)
	}
}
