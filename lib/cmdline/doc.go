// Package cmdline is what every ehos binary's command line shares: options
// accepted before and after arguments (as condor_* and openstack users type
// them), and the exit codes (0 OK, 1 a check found problems or an action
// failed, 2 a usage error, with the help on stderr). It knows urfave/cli and
// nothing of ehos's commands.
package cmdline
