package openstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCredentialFilesExposed(t *testing.T) {
	dir := t.TempDir()
	const withSecret = "clouds:\n  a:\n    auth: {auth_url: http://127.0.0.1:5000/v3, username: u, password: hunter2}\n  b:\n    auth: {auth_url: x, application_credential_id: i, application_credential_secret: s}\n"
	const noSecret = "clouds:\n  a:\n    auth: {auth_url: http://127.0.0.1:5000/v3, username: u}\n"
	for _, tc := range []struct {
		name, body string
		mode       os.FileMode
		want       string // substring of Exposed(); "" = not exposed
	}{
		{"private", withSecret, 0o600, ""},
		{"group", withSecret, 0o640, ""},
		{"world readable", withSecret, 0o644, "every user can read its secrets (a.auth.password, b.auth.application_credential_secret)"},
		{"world readable, no secret", noSecret, 0o644, ""},
		{"world writable", noSecret, 0o666, "every user can change it"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "_")+".yaml")
			os.WriteFile(p, []byte(tc.body), 0o600)
			os.Chmod(p, tc.mode)
			fs, err := CredentialFiles(Options{CloudsFile: p})
			if err != nil || len(fs) != 1 {
				t.Fatalf("%v %v", fs, err)
			}
			got := fs[0].Exposed()
			if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
				t.Errorf("Exposed() = %q, want %q", got, tc.want)
			}
		})
	}
}
