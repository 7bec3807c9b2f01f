// Package wire builds ehos's running parts from its configuration, the one
// way every binary does it: ehos.yaml and the EHOS_* knobs found and laid
// over each other (lib/config's lookup), the provisioner's options
// (provision.OptionsFrom, which the simulator uses too), its logger, its
// clouds, its worker template and its pool with the rules that join them
// (the provisioner ad's lifetime, token revocation).
//
// A main parses its flags into Settings and calls one function here; wire
// knows nothing of command lines.
package wire
