package main

import (
	"fmt"
	"os"
	"testing"
)

// runner lets the demo use the integration harness, which is written for
// tests: it implements the few testing.TB methods the harness calls.
// Fatal unwinds to main (by panic) so every cleanup still runs.
type runner struct {
	testing.TB // nil: a method the harness does not use would panic loudly
	cleanups   []func()
	failed     bool
}

type fatal struct{}

func newRunner() *runner { return &runner{} }

func (r *runner) Helper()                 {}
func (r *runner) Name() string            { return "ehos-demo" }
func (r *runner) Failed() bool            { return r.failed }
func (r *runner) Cleanup(f func())        { r.cleanups = append(r.cleanups, f) }
func (r *runner) Log(a ...any)            { fmt.Fprintln(os.Stderr, a...) }
func (r *runner) Logf(f string, a ...any) {}
func (r *runner) Error(a ...any)          { r.failed = true; fmt.Fprintln(os.Stderr, a...) }
func (r *runner) Errorf(f string, a ...any) {
	r.failed = true
	fmt.Fprintf(os.Stderr, f+"\n", a...)
}
func (r *runner) Fatal(a ...any)            { r.Error(a...); panic(fatal{}) }
func (r *runner) Fatalf(f string, a ...any) { r.Errorf(f, a...); panic(fatal{}) }
func (r *runner) FailNow()                  { r.failed = true; panic(fatal{}) }
func (r *runner) Fail()                     { r.failed = true }
func (r *runner) Skip(a ...any)             { r.Fatal(a...) }
func (r *runner) Skipf(f string, a ...any)  { r.Fatalf(f, a...) }
func (r *runner) SkipNow()                  { r.FailNow() }
func (r *runner) Skipped() bool             { return false }
func (r *runner) TempDir() string {
	d, err := os.MkdirTemp("", "ehos-demo-")
	if err != nil {
		r.Fatal(err)
	}
	r.Cleanup(func() { os.RemoveAll(d) })
	return d
}

func (r *runner) recover(code *int) {
	if v := recover(); v != nil {
		if _, ok := v.(fatal); !ok {
			r.cleanup()
			panic(v)
		}
		*code = 1
	}
}

// cleanup runs the cleanups last first, as testing does.
func (r *runner) cleanup() {
	for i := len(r.cleanups) - 1; i >= 0; i-- {
		r.cleanups[i]()
	}
	r.cleanups = nil
}
