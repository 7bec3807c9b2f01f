package integration

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// A public key and its fingerprint as ssh-keygen -l -E md5 prints it: the
// oracle for keypair fingerprints (the local cloud's and Nova's).
const (
	TestPublicKey      = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBIt0SRHGDwMEikyiUWKT8+WVy9mMHvJOJwPLZsTFaKB ehos-test"
	TestKeyFingerprint = "51:2c:b8:64:a6:30:f1:0d:f4:88:11:ad:02:a0:0d:d0"
)

// RequireOpenStackCLI finds the standard `openstack` client (Debian's
// python3-openstackclient) and the Python that runs it, for openstacksdk.
// Without it the test skips, or fails where it must be there (CI,
// EHOS_REQUIRE_CONDOR=1).
func RequireOpenStackCLI(t testing.TB) (cli, python string) {
	t.Helper()
	cli, err := exec.LookPath("openstack")
	if err == nil {
		var f *os.File
		if f, err = os.Open(cli); err == nil {
			line, _ := bufio.NewReader(f).ReadString('\n')
			f.Close()
			python = strings.TrimSpace(strings.TrimPrefix(line, "#!"))
		}
	}
	if err != nil || python == "" {
		msg := "the standard OpenStack client is not installed (apt-get install python3-openstackclient)"
		if os.Getenv("EHOS_REQUIRE_CONDOR") == "1" || os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return cli, python
}

// OpenStackSession runs lines in one interactive `openstack` process (one
// Python start for many commands; each start costs about a second of CPU):
// every line must succeed (nothing on stderr). It returns stdout.
func OpenStackSession(ctx context.Context, cli string, env []string, lines []string) (string, error) {
	cmd := exec.CommandContext(ctx, cli)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(strings.Join(lines, "\n") + "\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil || errb.Len() > 0 {
		return out.String(), fmt.Errorf("openstack %q: %v\n%s", lines, err, errb.String())
	}
	return out.String(), nil
}

// JSONValues splits a session's output into the JSON value of each command
// (run with -f json), compacted.
func JSONValues(out string) ([]string, error) {
	dec := json.NewDecoder(strings.NewReader(out))
	var vals []string
	for dec.More() {
		var v any
		if err := dec.Decode(&v); err != nil {
			return vals, err
		}
		b, _ := json.Marshal(v)
		vals = append(vals, string(b))
	}
	return vals, nil
}
