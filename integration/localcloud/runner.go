package localcloud

import (
	"context"
	"io"
)

// VMInfo describes a server that has just gone ACTIVE.
type VMInfo struct {
	ID, Name      string
	Cloud, Region string
	Flavor        string
	VCPUs, RAMMB  int
	DiskGB        int
	Metadata      map[string]string
	// Console collects what the VM prints; it shows in the server's
	// console log (os-getConsoleOutput).
	Console io.Writer
}

// VMRunner makes servers run for real. Start is called (in its own
// goroutine) when a server goes ACTIVE, with its decoded user-data; the
// returned stop is called once when the server is deleted or the Server
// closes. A Start error is written to the console log; the server stays
// ACTIVE, as a real VM whose software failed would.
type VMRunner interface {
	Start(ctx context.Context, vm VMInfo, userData []byte) (stop func(context.Context) error, err error)
}

// RunnerFunc adapts a function to VMRunner.
type RunnerFunc func(ctx context.Context, vm VMInfo, userData []byte) (func(context.Context) error, error)

func (f RunnerFunc) Start(ctx context.Context, vm VMInfo, userData []byte) (func(context.Context) error, error) {
	return f(ctx, vm, userData)
}
