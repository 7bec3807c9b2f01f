package admin

import (
	"fmt"
	"io"
	"time"

	"github.com/ehos-project/ehos/lib/provision"
)

// unreachableFindings are the joined workers the provisioner's last cycle
// could not connect to: no job starts on them, and their regions back off.
func unreachableFindings(rep provision.Report) Findings {
	var fs Findings
	for _, u := range rep.Unreachable {
		fs.fail(u.Location.String(), u.Hint, "worker %s at %s cannot be reached from the central manager since %s (%s): no job starts there, and no VM is booted in %s while it stands",
			u.Node, u.Address, u.Since.UTC().Format(time.TimeOnly), u.Error, u.Location)
	}
	return fs
}

// writeUnreachable is the status section of the workers the central
// manager cannot reach.
func writeUnreachable(w io.Writer, rep provision.Report) {
	if len(rep.Unreachable) == 0 {
		return
	}
	fmt.Fprintf(w, "\nunreachable workers (no job starts there; docs/network.md):\n")
	for _, u := range rep.Unreachable {
		fmt.Fprintf(w, "  %s\n", u)
	}
}
