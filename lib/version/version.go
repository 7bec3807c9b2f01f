// Package version holds the build's version, stamped by the GNUmakefile with
// -ldflags -X.
package version

// Version is set at build time; "dev" for a plain go build.
var Version = "dev"
