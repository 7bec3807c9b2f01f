// Package classad writes and reads the ClassAd text HTCondor's tools speak:
// the "old" `Name = Value` form of `condor_advertise` input and of
// `condor_status -long` output, and the JSON of `-json`. It is the one place
// in ehos that quotes and escapes ClassAd strings, so a hostile value (a
// quote, a backslash, a newline in a host name or fault message) cannot turn
// into an expression or a second attribute.
//
// It is not an evaluator: matching is HTCondor's job.
package classad
