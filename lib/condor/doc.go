// Package condor is the one place in ehos that runs HTCondor's command-line
// tools (condor_status, condor_q, condor_advertise, condor_drain, condor_off,
// condor_config_val, condor_token_create, condor_submit). It reads their -json
// output through lib/classad and classifies failures: the tool is missing
// (ErrToolMissing), a daemon could not be reached (ErrUnreachable), or the
// output could not be read (ErrParse). Every error names the command.
//
// It knows nothing of clouds, scaling or the provisioner; callers declare the
// small interfaces they need and this package satisfies them.
package condor
