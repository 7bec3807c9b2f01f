package sim

import (
	"bytes"
	"os"
	"regexp"
	"testing"
	"time"
)

// The trace readers meet files users write by hand and tables tools
// print: whatever the bytes, they return a trace whose jobs the simulator
// can replay, or an error that names the file and the line; never a panic.

var fileLine = regexp.MustCompile(`^f\.trace:[0-9]+: `)

func checkTrace(t *testing.T, tr *Trace, err error) {
	t.Helper()
	if err != nil {
		if !fileLine.MatchString(err.Error()) {
			t.Fatalf("rejection that does not name file and line: %q", err)
		}
		return
	}
	var last time.Duration
	for i, j := range tr.Jobs {
		if j.Submit < 0 || j.Runtime < 0 || j.Cpus < 1 || j.MemoryMB < 0 || j.Line < 1 || j.Submit < last {
			t.Fatalf("job %d accepted as %+v (after a submit at %s)", i, j, last)
		}
		last = j.Submit
	}
}

// seedFile adds the first lines of a shipped trace: a whole file makes the
// fuzzer spend its time minimizing it.
func seedFile(f *testing.F, path string) {
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	if len(b) > 256 {
		b = b[:bytes.LastIndexByte(b[:256], '\n')+1]
	}
	f.Add(b)
}

func FuzzCSV(f *testing.F) {
	seedFile(f, "testdata/steady.csv")
	for _, s := range []string{"", "submit_s,runtime_s,cpus,memory_mb\n", "0,1,1,1\n", "submit_s,runtime_s,cpus,memory_mb\n1e300,1,1,1\n",
		"submit_s,runtime_s,cpus,memory_mb\nNaN,1,1,1\n", "submit_s,runtime_s,cpus,memory_mb\n1,1,99999999999999999999,1\n", "# x\n\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseCSV("f.trace", bytes.NewReader(data))
		checkTrace(t, tr, err)
	})
}

func FuzzSWF(f *testing.F) {
	seedFile(f, "testdata/wave.swf")
	for _, s := range []string{"", "; only\n", "1 0 -1 0 1 -1 -1 1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1\n",
		"1 1e300 -1 1e300 1e300 -1 1e300 1e300 -1 1e300 1 -1 -1 -1 -1 -1 -1 -1\n", "1 0 -1 5 -1 -1 -1 -1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseSWF("f.trace", bytes.NewReader(data))
		checkTrace(t, tr, err)
	})
}

func FuzzHistory(f *testing.F) {
	seedFile(f, "testdata/history/condor-23.9.6.txt")
	h := "QDate JobCurrentStartDate CompletionDate RequestCpus RequestMemory JobUniverse\n"
	for _, s := range []string{"", h, h + "1 2 3 1e300 1e300 5\n", h + "1 2 3 1 1 5\n" + h, "QDate,JobCurrentStartDate\n", h + "1 1 1e300 1 1 5\n"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		tr, err := ParseHistory("f.trace", bytes.NewReader(data))
		checkTrace(t, tr, err)
	})
}
