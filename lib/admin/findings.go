package admin

import (
	"fmt"
	"io"
)

// Level says how a finding counts.
type Level string

const (
	OK   Level = "OK"
	Fail Level = "FAIL"
	Warn Level = "WARN" // worth knowing, not an error
	Skip Level = "SKIP" // could not be checked; the text says why
)

// Finding is one checked thing. A failure carries the fix.
type Finding struct {
	Level Level  `json:"level"`
	Where string `json:"where"` // e.g. "alpha/RegionOne", "ehos.yaml", "htcondor"
	What  string `json:"what"`
	Fix   string `json:"fix,omitempty"`
}

func (f Finding) String() string {
	s := fmt.Sprintf("%-4s %s: %s", f.Level, f.Where, f.What)
	if f.Fix != "" && f.Level != OK {
		s += " — fix: " + f.Fix
	}
	return s
}

// Findings is a list of findings in check order.
type Findings []Finding

func (fs *Findings) add(l Level, where, what, fix string) {
	*fs = append(*fs, Finding{Level: l, Where: where, What: what, Fix: fix})
}
func (fs *Findings) ok(where, format string, a ...any) {
	fs.add(OK, where, fmt.Sprintf(format, a...), "")
}
func (fs *Findings) fail(where, fix, format string, a ...any) {
	fs.add(Fail, where, fmt.Sprintf(format, a...), fix)
}

// Failed counts the failures.
func (fs Findings) Failed() int {
	n := 0
	for _, f := range fs {
		if f.Level == Fail {
			n++
		}
	}
	return n
}

// Write prints one line per finding.
func (fs Findings) Write(w io.Writer) error {
	for _, f := range fs {
		if _, err := fmt.Fprintln(w, f.String()); err != nil {
			return err
		}
	}
	return nil
}
