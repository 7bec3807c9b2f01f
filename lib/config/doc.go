// Package config reads ehos.yaml, applies defaults in one place, overlays
// HTCondor's EHOS_* knobs, and validates the result, reporting every problem
// at once with the key path and the offending value. It does no network I/O.
package config
