package nodeinfo

import (
	"time"

	"github.com/ehos-project/ehos/lib/classad"
)

// RetireAdType is the MyType of a retire request: the provisioner asks a
// worker to take no new job by advertising one to the collector, and the
// worker's hook, which may READ the collector with its own token, finds it
// and publishes EHOSRetire = True, which the worker's START refuses new jobs
// on. This pull path works where the central manager cannot send
// condor_drain to the worker (a real VM holds no signing key, so it cannot
// check the central manager's token).
const RetireAdType = "EHOSRetireRequest"

// RetireRequest is the ad asking worker name of pool to retire.
func RetireRequest(pool, name string, lifetime time.Duration) classad.Ad {
	return classad.Ad{
		"MyType":          classad.String(RetireAdType),
		"Name":            classad.String(pool + "/" + name),
		"EHOSPool":        classad.String(pool),
		"EHOSName":        classad.String(name),
		"ClassAdLifetime": classad.Int(int64(lifetime.Seconds())),
	}
}

// RetireConstraint selects the retire requests for worker name of pool
// that the collector stamped with identity (AuthenticatedIdentity): any
// worker's token can store an ad of type EHOSRetireRequest through a
// startd update, stamped with that worker's identity.
func RetireConstraint(pool, name, identity string) string {
	return "MyType == " + classad.Quote(RetireAdType) + " && EHOSPool == " + classad.Quote(pool) +
		" && EHOSName == " + classad.Quote(name) + " && AuthenticatedIdentity == " + classad.Quote(identity)
}
