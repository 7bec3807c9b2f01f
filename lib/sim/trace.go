package sim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Job is one job of a trace.
type Job struct {
	Submit   time.Duration `json:"submit"` // from the start of the trace
	Runtime  time.Duration `json:"runtime"`
	Cpus     int           `json:"cpus"`
	MemoryMB int           `json:"memory_mb"`
	Line     int           `json:"line,omitempty"` // where it was read, for messages
}

// Trace is a list of jobs sorted by submit time.
type Trace struct {
	Name string
	Jobs []Job
	// Skipped counts records left out because they never ran on a worker:
	// SWF records with no run time (e.g. cancelled before start), and
	// condor_history jobs that did not complete or run in the scheduler or
	// local universe.
	Skipped int
}

// Span is the time from the first submit to the last job's end if every job
// started at once.
func (t *Trace) Span() time.Duration {
	var end time.Duration
	for _, j := range t.Jobs {
		end = max(end, j.Submit+j.Runtime)
	}
	return end
}

// ReadTrace reads a trace file: a condor_history -af:h table when its first
// line that is not a comment names QDate (ParseHistory), otherwise CSV when
// the name ends in .csv, the Standard Workload Format when it ends in .swf,
// and else guessed from that line (a comma means CSV).
func ReadTrace(path string) (*Trace, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read trace: %w", err)
	}
	text := string(data)
	first := firstLine(text)
	switch {
	case isHistory(first):
		return ParseHistory(path, strings.NewReader(text))
	case strings.EqualFold(filepath.Ext(path), ".csv"):
		return ParseCSV(path, strings.NewReader(text))
	case strings.EqualFold(filepath.Ext(path), ".swf"):
		return ParseSWF(path, strings.NewReader(text))
	case strings.Contains(first, ","):
		return ParseCSV(path, strings.NewReader(text))
	}
	return ParseSWF(path, strings.NewReader(text))
}

// firstLine is the first line of text that is neither blank nor a comment
// (# in CSV and history tables, ; in SWF), trimmed; "" when there is none.
func firstLine(text string) string {
	for _, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line != "" && !strings.HasPrefix(line, ";") && !strings.HasPrefix(line, "#") {
			return line
		}
	}
	return ""
}

// CSVHeader is the header line of a CSV trace.
const CSVHeader = "submit_s,runtime_s,cpus,memory_mb"

// ParseCSV reads a CSV trace: a header line, then one job per line with its
// submit time and run time in seconds (decimals allowed), cpus and memory in
// MB. Blank lines and lines starting with # are ignored. name is used in
// messages, which name the line of a bad row.
func ParseCSV(name string, r io.Reader) (*Trace, error) {
	t := &Trace{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ln, header := 0, false
	for sc.Scan() {
		ln++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Split(line, ",")
		for i := range f {
			f[i] = strings.TrimSpace(f[i])
		}
		if !header {
			header = true
			if _, err := strconv.ParseFloat(f[0], 64); err != nil {
				if strings.ToLower(strings.Join(f, ",")) != CSVHeader {
					return nil, fmt.Errorf("%s:%d: header is %q, want %q", name, ln, line, CSVHeader)
				}
				continue
			}
			return nil, fmt.Errorf("%s:%d: no header line: the first line must be %q", name, ln, CSVHeader)
		}
		if len(f) != 4 {
			return nil, fmt.Errorf("%s:%d: %d fields, want 4 (%s)", name, ln, len(f), CSVHeader)
		}
		var j Job
		var err error
		if j.Submit, err = seconds(f[0]); err != nil {
			return nil, fmt.Errorf("%s:%d: submit_s %q: %v", name, ln, f[0], err)
		}
		if j.Runtime, err = seconds(f[1]); err != nil {
			return nil, fmt.Errorf("%s:%d: runtime_s %q: %v", name, ln, f[1], err)
		}
		if j.Cpus, err = strconv.Atoi(f[2]); err != nil || j.Cpus < 1 || j.Cpus > maxCpus {
			return nil, fmt.Errorf("%s:%d: cpus %q: want a whole number from 1 to %d", name, ln, f[2], maxCpus)
		}
		if j.MemoryMB, err = strconv.Atoi(f[3]); err != nil || j.MemoryMB < 0 || j.MemoryMB > maxMemoryMB {
			return nil, fmt.Errorf("%s:%d: memory_mb %q: want a whole number from 0 to %d", name, ln, f[3], maxMemoryMB)
		}
		j.Line = ln
		t.Jobs = append(t.Jobs, j)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, ln+1, err)
	}
	if !header {
		return nil, fmt.Errorf("%s:%d: end of file and no header: want a header line %q and one line per job", name, max(ln, 1), CSVHeader)
	}
	t.sort()
	return t, nil
}

// tenYears, in seconds, is longer than any trace or job we take as meant.
const tenYears = 10 * 365 * 24 * 3600

// A job asking for more than these is a typo or garbage, and would
// overflow the sums the simulator keeps.
const (
	maxCpus     = 1 << 20
	maxMemoryMB = 1 << 40
)

// finite reads a number that is neither NaN nor infinite.
func finite(s string) (float64, bool) {
	v, err := strconv.ParseFloat(s, 64)
	return v, err == nil && !math.IsNaN(v) && !math.IsInf(v, 0)
}

func seconds(s string) (time.Duration, error) {
	v, ok := finite(s)
	if !ok {
		return 0, fmt.Errorf("want a number of seconds")
	}
	if v < 0 {
		return 0, fmt.Errorf("must not be negative")
	}
	if v > tenYears {
		return 0, fmt.Errorf("more than ten years")
	}
	return time.Duration(v * float64(time.Second)), nil
}

// ParseSWF reads the Standard Workload Format of the Parallel Workloads
// Archive: 18 whitespace-separated fields per job, -1 for unknown, and lines
// starting with ; as comments. It uses field 2 (submit time, s), 4 (run time,
// s), 8 (requested processors, or 5, allocated, when unknown) and 10
// (requested memory in KB per processor, or 7, used memory, when unknown).
// The wait time (field 3) is what the original system did and is ignored.
// Jobs whose run time is unknown or zero never ran and are skipped.
func ParseSWF(name string, r io.Reader) (*Trace, error) {
	t := &Trace{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ln := 0
	for sc.Scan() {
		ln++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 18 {
			return nil, fmt.Errorf("%s:%d: %d fields, want the 18 of the Standard Workload Format", name, ln, len(f))
		}
		num := func(i int, what string) (float64, error) {
			v, ok := finite(f[i-1])
			if !ok {
				return 0, fmt.Errorf("%s:%d: field %d (%s) %q is not a number", name, ln, i, what, f[i-1])
			}
			return v, nil
		}
		var v [19]float64
		for _, fw := range swfFields {
			i := fw.n
			x, err := num(i, fw.what)
			if err != nil {
				return nil, err
			}
			v[i] = x
		}
		if v[2] < 0 || v[2] > tenYears {
			return nil, fmt.Errorf("%s:%d: field 2 (submit time) %q: want seconds from 0 to ten years", name, ln, f[1])
		}
		if v[4] <= 0 {
			t.Skipped++
			continue
		}
		if v[4] > tenYears {
			return nil, fmt.Errorf("%s:%d: field 4 (run time) %q is more than ten years", name, ln, f[3])
		}
		procs := v[8]
		if procs <= 0 {
			procs = v[5]
		}
		if procs <= 0 {
			return nil, fmt.Errorf("%s:%d: no processor count: fields 8 (requested) and 5 (allocated) are both %q, %q", name, ln, f[7], f[4])
		}
		if procs > maxCpus {
			return nil, fmt.Errorf("%s:%d: %g processors: more than %d", name, ln, procs, maxCpus)
		}
		kb := v[10]
		if kb < 0 {
			kb = v[7]
		}
		j := Job{
			Submit:  time.Duration(v[2] * float64(time.Second)),
			Runtime: time.Duration(v[4] * float64(time.Second)),
			Cpus:    int(math.Ceil(procs)),
			Line:    ln,
		}
		if kb > 0 {
			mb := math.Ceil(kb * procs / 1024)
			if mb > maxMemoryMB {
				return nil, fmt.Errorf("%s:%d: %g KB per processor × %g processors: more than %d MB", name, ln, kb, procs, maxMemoryMB)
			}
			j.MemoryMB = int(mb)
		}
		t.Jobs = append(t.Jobs, j)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, ln+1, err)
	}
	if len(t.Jobs) == 0 {
		return nil, fmt.Errorf("%s:%d: end of file and no job that ran (%d skipped)", name, max(ln, 1), t.Skipped)
	}
	t.sort()
	return t, nil
}

// swfFields are the SWF fields read, in order, so the first bad one is named.
var swfFields = []struct {
	n    int
	what string
}{{2, "submit time"}, {4, "run time"}, {5, "allocated processors"}, {7, "used memory"}, {8, "requested processors"}, {10, "requested memory"}}

func (t *Trace) sort() {
	sort.SliceStable(t.Jobs, func(a, b int) bool { return t.Jobs[a].Submit < t.Jobs[b].Submit })
}

// WriteCSV writes a trace in the CSV form ParseCSV reads.
func WriteCSV(w io.Writer, jobs []Job) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, CSVHeader)
	for _, j := range jobs {
		fmt.Fprintf(bw, "%s,%s,%d,%d\n", secs(j.Submit), secs(j.Runtime), j.Cpus, j.MemoryMB)
	}
	return bw.Flush()
}

// WriteSWF writes a trace in the Standard Workload Format, with the fields
// this package does not use set to -1.
func WriteSWF(w io.Writer, jobs []Job, comments ...string) error {
	bw := bufio.NewWriter(w)
	for _, c := range comments {
		fmt.Fprintf(bw, "; %s\n", c)
	}
	for i, j := range jobs {
		kb := -1
		if j.MemoryMB > 0 {
			kb = j.MemoryMB * 1024 / j.Cpus
		}
		fmt.Fprintf(bw, "%d %s -1 %s %d -1 -1 %d -1 %d 1 -1 -1 -1 -1 -1 -1 -1\n",
			i+1, secs(j.Submit), secs(j.Runtime), j.Cpus, j.Cpus, kb)
	}
	return bw.Flush()
}

func secs(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64)
}
