package integration

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
	"testing"
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
