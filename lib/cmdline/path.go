package cmdline

import "os"

// DefaultPath gives the HTCondor tools a PATH when HTCondor started us
// without one: condor_master may start a daemon with none, and a
// scheduler-universe job gets only the environment its submit file names.
// HTCondor's packages put their tools in /usr/bin; the binaries'
// --condor-bin covers other installs.
func DefaultPath() {
	if os.Getenv("PATH") == "" {
		os.Setenv("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin")
	}
}
