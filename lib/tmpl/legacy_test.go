package tmpl

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConvertLegacy(t *testing.T) {
	src := "#cloud-config\n" +
		"write_files:\n" +
		"  - content: |\n" +
		"      CONDOR_HOST = {master_ip}\n" +
		"      UID_DOMAIN = {uid_domain}\n" +
		"runcmd:\n" +
		"  - echo ${home} {mine} <file> <<x>> {pool_name}\n"
	got, warns, err := ConvertLegacy("old.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := "#cloud-config\n" +
		"write_files:\n" +
		"  - content: |\n" +
		"      CONDOR_HOST = <host_ip>\n" +
		"      UID_DOMAIN = <uid_domain>\n" +
		"runcmd:\n" +
		"  - echo ${home} {mine} <<file>> <<<x>>> <pool_name>\n"
	if d := cmp.Diff(want, string(got)); d != "" {
		t.Errorf("converted (-want +got):\n%s", d)
	}
	var ws []string
	for _, w := range warns {
		ws = append(ws, w.String())
	}
	wantW := []string{
		"old.yaml:4:21: {master_ip} converted to <host_ip> (renamed: the central manager's address: pool.central_manager in ehos.yaml)",
		"old.yaml:5:20: {uid_domain} converted to <uid_domain>",
		"old.yaml:7:18: {mine} left as it is: not a tag of the original tool or of ehos (if it is yours, write <mine> and define it under template_vars:)",
		"old.yaml:7:25: literal <file> escaped as <<file>> (in ehos templates <file> is a tag)",
		"old.yaml:7:32: literal <<x>> escaped as <<<x>>>",
		"old.yaml:7:38: {pool_name} converted to <pool_name>",
	}
	if d := cmp.Diff(wantW, ws); d != "" {
		t.Errorf("warnings (-want +got):\n%s", d)
	}
	// The converted file renders the literal text as the original did.
	out, err := Parse("c", got).Expand(map[string]string{"host_ip": "h", "uid_domain": "u", "pool_name": "p"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "echo ${home} {mine} <file> <<x>> p\n") {
		t.Errorf("rendered: %s", out)
	}
}

func TestConvertLegacyRefusesPassword(t *testing.T) {
	src := "#cloud-config\nruncmd:\n  - condor_store_cred -p {password} -c add\n  - echo {master_ip} {password}\n"
	got, _, err := ConvertLegacy("old.yaml", []byte(src))
	if got != nil {
		t.Errorf("converted output returned with the error: %q", got)
	}
	checkErrs(t, err, []string{
		"old.yaml:3:26: {password} is not supported: ehos never puts the pool password",
		"old.yaml:4:22: {password} is not supported",
	})
	if !strings.Contains(err.Error(), "IDTOKEN") || !strings.Contains(err.Error(), "<worker_token>") {
		t.Errorf("error does not explain the token mechanism: %v", err)
	}
}
