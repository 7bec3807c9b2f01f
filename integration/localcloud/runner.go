package localcloud

import (
	"bytes"
	"context"
	"io"
	"time"
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

// startRunner runs the VM through the VMRunner in the background; s.mu held.
func (s *Server) startRunner(v *vm) {
	info := VMInfo{ID: v.id, Name: v.name, Cloud: v.region.cloud.spec.Name, Region: v.region.name,
		Flavor: v.flavor.Name, VCPUs: v.flavor.VCPUs, RAMMB: v.flavor.RAMMB, DiskGB: v.flavor.DiskGB,
		Metadata: copyMap(v.metadata), Console: consoleWriter{s, v}}
	ud := v.userData
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		stop, err := s.opts.Runner.Start(s.baseCtx, info, ud)
		s.mu.Lock()
		defer s.mu.Unlock()
		if err != nil {
			v.consolef("ehos-local: could not run the VM: %v", err)
			s.logf("localcloud: run server %s (%s): %v", v.name, v.id, err)
			return
		}
		if v.deleted || s.closed {
			s.wg.Add(1)
			go func() { defer s.wg.Done(); s.stopVM(v, stop) }()
			return
		}
		v.stop = stop
		v.consolef("ehos-local: VM running")
	}()
}

func (s *Server) stopVM(v *vm, stop func(context.Context) error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := stop(ctx); err != nil {
		s.logf("localcloud: stop server %s (%s): %v", v.name, v.id, err)
	}
}

type consoleWriter struct {
	s *Server
	v *vm
}

func (c consoleWriter) Write(p []byte) (int, error) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	c.v.consolef("%s", bytes.TrimRight(p, "\n"))
	return len(p), nil
}
