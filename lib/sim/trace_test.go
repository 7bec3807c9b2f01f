package sim

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestParseCSV(t *testing.T) {
	in := "# comment\nsubmit_s,runtime_s,cpus,memory_mb\n\n30,60.5,2,4096\n0,10,1,0\n"
	tr, err := ParseCSV("t.csv", strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := []Job{
		{Submit: 0, Runtime: 10 * time.Second, Cpus: 1, MemoryMB: 0, Line: 5},
		{Submit: 30 * time.Second, Runtime: 60500 * time.Millisecond, Cpus: 2, MemoryMB: 4096, Line: 4},
	}
	if d := cmp.Diff(want, tr.Jobs); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
}

func TestParseCSVBadRows(t *testing.T) {
	const h = "submit_s,runtime_s,cpus,memory_mb\n"
	wantParseErrors(t, ParseCSV, "t.csv", []badRow{
		{"", "t.csv:1: end of file and no header"},
		{"# only a comment\n\n", "t.csv:2: end of file and no header"},
		{"0,1,1,1\n", "t.csv:1: no header line"},
		{"when,how,cpus,mem\n", "t.csv:1: header is"},
		{h + "0,1,1\n", "t.csv:2: 3 fields, want 4"},
		{h + "0,1,1,1\nx,1,1,1\n", "t.csv:3: submit_s \"x\""},
		{h + "-5,1,1,1\n", "t.csv:2: submit_s \"-5\": must not be negative"},
		{h + "0,NaN,1,1\n", "t.csv:2: runtime_s"},
		{h + "0,1,0,1\n", "t.csv:2: cpus \"0\""},
		{h + "0,1,1.5,1\n", "t.csv:2: cpus \"1.5\""},
		{h + "0,1,1,-1\n", "t.csv:2: memory_mb \"-1\""},
		{h + "0,1,2000000,1\n", "t.csv:2: cpus \"2000000\": want a whole number from 1 to 1048576"},
		{h + "0,1,1,9999999999999\n", "t.csv:2: memory_mb \"9999999999999\": want a whole number from 0 to"},
	})
}

// badRow is a trace and what its parse error must say.
type badRow struct{ in, want string }

// wantParseErrors parses each bad trace as name and checks the error.
func wantParseErrors(t *testing.T, parse func(string, io.Reader) (*Trace, error), name string, rows []badRow) {
	t.Helper()
	for _, tc := range rows {
		_, err := parse(name, strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestParseSWF(t *testing.T) {
	in := `; Version: 2.2
; a comment
1 0 5 100 4 -1 -1 4 -1 1024 1 -1 -1 -1 -1 -1 -1 -1
2 10 5 -1 4 -1 -1 4 -1 1024 5 -1 -1 -1 -1 -1 -1 -1
3 20 5 50 2 -1 2048 -1 -1 -1 1 -1 -1 -1 -1 -1 -1 -1
4 15 5 0 1 -1 -1 1 -1 -1 0 -1 -1 -1 -1 -1 -1 -1
`
	tr, err := ParseSWF("t.swf", strings.NewReader(in))
	wantTrace(t, tr, err, 2, []Job{ // skipped: run time -1 and 0
		{Submit: 0, Runtime: 100 * time.Second, Cpus: 4, MemoryMB: 4, Line: 3},
		{Submit: 20 * time.Second, Runtime: 50 * time.Second, Cpus: 2, MemoryMB: 4, Line: 5},
	})
}

// wantTrace checks a parse that must succeed: the jobs, and how many
// records were skipped.
func wantTrace(t *testing.T, tr *Trace, err error, skipped int, jobs []Job) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(jobs, tr.Jobs); d != "" {
		t.Errorf("(-want +got)\n%s", d)
	}
	if tr.Skipped != skipped {
		t.Errorf("skipped %d, want %d", tr.Skipped, skipped)
	}
}

func TestParseSWFBadRows(t *testing.T) {
	const ok = "1 0 5 100 4 -1 -1 4 -1 1024 1 -1 -1 -1 -1 -1 -1 -1\n"
	wantParseErrors(t, ParseSWF, "t.swf", []badRow{
		{"; only comments\n", "t.swf:1: end of file and no job that ran"},
		{ok + "2 0 5 100 4\n", "t.swf:2: 5 fields, want the 18"},
		{"1 x 5 100 4 -1 -1 4 -1 1024 1 -1 -1 -1 -1 -1 -1 -1\n", "t.swf:1: field 2 (submit time) \"x\""},
		{"1 -3 5 100 4 -1 -1 4 -1 1024 1 -1 -1 -1 -1 -1 -1 -1\n", "t.swf:1: field 2 (submit time) \"-3\": want seconds from 0 to ten years"},
		{"1 1e12 5 100 4 -1 -1 4 -1 1024 1 -1 -1 -1 -1 -1 -1 -1\n", "t.swf:1: field 2 (submit time) \"1e12\""},
		{"1 0 5 1e12 4 -1 -1 4 -1 1024 1 -1 -1 -1 -1 -1 -1 -1\n", "t.swf:1: field 4 (run time) \"1e12\" is more than ten years"},
		{"1 0 5 100 4 -1 -1 1e300 -1 1024 1 -1 -1 -1 -1 -1 -1 -1\n", "t.swf:1: 1e+300 processors: more than 1048576"},
		{"1 0 5 100 4 -1 -1 4 -1 1e300 1 -1 -1 -1 -1 -1 -1 -1\n", "t.swf:1: 1e+300 KB per processor × 4 processors: more than"},
		{"1 0 5 100 -1 -1 -1 -1 -1 1024 1 -1 -1 -1 -1 -1 -1 -1\n", "t.swf:1: no processor count"},
		{ok + "1 0 5 1e9999 4 -1 -1 4 -1 1024 1 -1 -1 -1 -1 -1 -1 -1\n", "t.swf:2: field 4 (run time)"},
	})
}

// TestWriteRead: what the generator writes reads back the same, in both
// formats, and ReadTrace tells them apart without an extension.
func TestWriteRead(t *testing.T) {
	jobs := []Job{{Submit: 0, Runtime: time.Minute, Cpus: 1, MemoryMB: 1500}, {Submit: 90 * time.Second, Runtime: 2 * time.Hour, Cpus: 4, MemoryMB: 6000}}
	dir := t.TempDir()
	var csv, swf bytes.Buffer
	if err := WriteCSV(&csv, jobs); err != nil {
		t.Fatal(err)
	}
	if err := WriteSWF(&swf, jobs, "test"); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"a.csv": csv.Bytes(), "a.swf": swf.Bytes(), "a-csv": csv.Bytes(), "a-swf": swf.Bytes()} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, data, 0o644)
		tr, err := ReadTrace(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for i := range tr.Jobs {
			tr.Jobs[i].Line = 0
		}
		if d := cmp.Diff(jobs, tr.Jobs); d != "" {
			t.Errorf("%s (-want +got)\n%s", name, d)
		}
	}
}
