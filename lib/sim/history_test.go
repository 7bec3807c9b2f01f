package sim

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The table HTCondor 23.9.6 printed (integration/history_trace_test.go
// makes it again on a real pool and replays it).
func TestParseHistoryFromHTCondor(t *testing.T) {
	tr, err := ReadTrace("testdata/history/condor-23.9.6.txt")
	s := time.Second
	// All submitted at QDate 1795565163, so in file order; skipped: the
	// removed job and the scheduler-universe one.
	wantTrace(t, tr, err, 2, []Job{
		{Submit: 0, Runtime: 6 * s, Cpus: 2, MemoryMB: 300, Line: 6},
		{Submit: 0, Runtime: 5 * s, Cpus: 2, MemoryMB: 300, Line: 7},
		{Submit: 0, Runtime: 4 * s, Cpus: 1, MemoryMB: 100, Line: 8},
		{Submit: 0, Runtime: 2 * s, Cpus: 1, MemoryMB: 5, Line: 9},
		{Submit: 0, Runtime: 3 * s, Cpus: 1, MemoryMB: 100, Line: 10},
		{Submit: 0, Runtime: 3 * s, Cpus: 1, MemoryMB: 100, Line: 11},
	})
}

func TestParseHistory(t *testing.T) {
	in := "# comment\n" +
		"jobuniverse requestmemory requestcpus completiondate jobcurrentstartdate qdate\n" + // any order, any case
		"5 2000.5 4 1000700 1000100 1000060\n" +
		"5 100 1 1000030 1000010 1000000\n" +
		"12 100 1 1000030 1000010 1000000\n" + // local universe
		"5 100 1 undefined undefined 1000000\n" + // never ran
		"JobUniverse RequestMemory RequestCpus CompletionDate JobCurrentStartDate QDate\n" // the next schedd's table
	tr, err := ParseHistory("h", strings.NewReader(in))
	wantTrace(t, tr, err, 2, []Job{
		{Submit: 0, Runtime: 20 * time.Second, Cpus: 1, MemoryMB: 100, Line: 4},
		{Submit: 60 * time.Second, Runtime: 600 * time.Second, Cpus: 4, MemoryMB: 2001, Line: 3},
	})
}

func TestParseHistoryBadRows(t *testing.T) {
	const h = "QDate JobCurrentStartDate CompletionDate RequestCpus RequestMemory JobUniverse\n"
	wantParseErrors(t, ParseHistory, "h", []badRow{
		{"", "h:1: end of file and no header: write the trace with `condor_history -af:h QDate"},
		{"QDate CompletionDate RequestCpus\n", "h:1: header \"QDate CompletionDate RequestCpus\" lacks JobCurrentStartDate, RequestMemory, JobUniverse: write the trace with `condor_history -af:h"},
		{h + "1 2 3 1 100\n", "h:2: 5 values under 6 columns"},
		{h + "1000 1001 x 1 100 5\n", "h:2: CompletionDate \"x\" is not a number"},
		{h + "undefined 1001 1002 1 100 5\n", "h:2: QDate \"undefined\": want the job's submit time"},
		{h + "1000 undefined 1002 1 100 5\n", "h:2: JobCurrentStartDate \"undefined\": a completed job must have one"},
		{h + "1000 1003 1002 1 100 5\n", "h:2: QDate 1000, JobCurrentStartDate 1003 and CompletionDate 1002 are out of order"},
		{h + "1000 1001 1002 1.5 100 5\n", "h:2: RequestCpus \"1.5\": want a whole number"},
		{h + "1000 1001 1002 0 100 5\n", "h:2: RequestCpus \"0\""},
		{h + "1000 1001 1002 1 -2 5\n", "h:2: RequestMemory \"-2\": want megabytes"},
		{h + "1000 1001 1002 1e300 1 5\n", "h:2: RequestCpus \"1e300\": want a whole number from 1 to 1048576"},
		{h + "1000 1001 1002 1 1e300 5\n", "h:2: RequestMemory \"1e300\": want megabytes from 0 to"},
		{h + "1000 1001 1002 1 undefined 5\n", "h:2: RequestMemory \"undefined\""},
		{h + "1000 1001 undefined 1 100 5\n1000 1001 1002 1 100 7\n", "h:3: end of file and no completed job to replay (2 skipped)"},
		{h + "1000 1001 1002 1 100 5\n999999999999 999999999999 999999999999 1 100 5\n", "h:3: QDate 999999999999 is more than ten years after the first"},
	})
}

// The content decides: a condor_history table is read as one whatever the
// file is called, and a CSV trace is not taken for one.
func TestReadTraceKnowsHistory(t *testing.T) {
	dir := t.TempDir()
	hist := filepath.Join(dir, "week.csv")
	if err := os.WriteFile(hist, []byte("QDate JobCurrentStartDate CompletionDate RequestCpus RequestMemory JobUniverse\n10 11 71 2 512 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr, err := ReadTrace(hist)
	if err != nil || len(tr.Jobs) != 1 || tr.Jobs[0].Runtime != time.Minute || tr.Jobs[0].Cpus != 2 {
		t.Fatalf("history named .csv: %+v, %v", tr, err)
	}
	comma := filepath.Join(dir, "week-comma.txt") // condor_history -af:,h
	if err := os.WriteFile(comma, []byte("QDate, JobCurrentStartDate, CompletionDate, RequestCpus, RequestMemory, JobUniverse\n10, 11, 71    , 2, 512, 5\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if tr, err := ReadTrace(comma); err != nil || len(tr.Jobs) != 1 || tr.Jobs[0].Runtime != time.Minute {
		t.Fatalf("history with commas: %+v, %v", tr, err)
	}
	csv := filepath.Join(dir, "jobs")
	if err := os.WriteFile(csv, []byte("# QDate is not a column here\nsubmit_s,runtime_s,cpus,memory_mb\n0,60,1,100\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if tr, err := ReadTrace(csv); err != nil || len(tr.Jobs) != 1 {
		t.Fatalf("CSV without an extension: %+v, %v", tr, err)
	}
}
