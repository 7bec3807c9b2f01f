package sim

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"slices"
	"strings"
	"time"
	"unicode"
)

// HistoryAttrs are the job attributes a condor_history trace must have, in
// the order HistoryCommand asks for them (any order is read).
var HistoryAttrs = [nHistAttrs]string{"QDate", "JobCurrentStartDate", "CompletionDate", "RequestCpus", "RequestMemory", "JobUniverse"}

// Indices into HistoryAttrs.
const (
	hQDate = iota
	hStart
	hDone
	hCpus
	hMemory
	hUniverse
	nHistAttrs
)

// histVal is one value of a condor_history row.
type histVal struct {
	raw string
	v   float64
	ok  bool // a number; false for "undefined"
}

// HistoryCommand is the command that writes a trace of a pool's finished
// jobs, as ParseHistory reads it. -af evaluates each attribute, so the
// default RequestMemory expression arrives as a number; :h adds the header
// line that names the columns.
var HistoryCommand = "condor_history -af:h " + strings.Join(HistoryAttrs[:], " ")

// Universes whose jobs never run on a worker: the scheduler universe
// (DAGMan, ehos_demand) and the local universe.
const (
	schedulerUniverse = 7
	localUniverse     = 12
)

// ParseHistory reads the table `condor_history -af:h ATTRS...` prints: a
// header line naming the attributes, then one job per line with its values
// separated by blanks, or by commas with -af:,h ("undefined" where the job
// has none). Lines starting with # are ignored, so are columns other than
// HistoryAttrs (their values must hold neither blanks nor commas) and the
// header line again (the tables of several schedds, one after the other). A job's
// submit time is its QDate, its run time that of its
// last run (CompletionDate − JobCurrentStartDate), its cpus RequestCpus and
// its memory RequestMemory (MB, rounded up). Jobs that did not complete
// (removed, held or still queued: no CompletionDate) are skipped and
// counted, and so are scheduler- and local-universe jobs (DAGMan, ehos's own
// demand job), which never run on a worker. Times are made relative to the
// first QDate. name is used in messages, which name the line and column.
func ParseHistory(name string, r io.Reader) (*Trace, error) {
	t := &Trace{Name: name}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var cols []string
	col := map[string]int{}
	var qdates []float64
	ln := 0
	for sc.Scan() {
		ln++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := historyFields(line)
		if cols == nil {
			cols = f
			for i, c := range f {
				col[strings.ToLower(c)] = i
			}
			var missing []string
			for _, a := range HistoryAttrs {
				if _, ok := col[strings.ToLower(a)]; !ok {
					missing = append(missing, a)
				}
			}
			if len(missing) > 0 {
				return nil, fmt.Errorf("%s:%d: header %q lacks %s: write the trace with `%s`", name, ln, line, strings.Join(missing, ", "), HistoryCommand)
			}
			continue
		}
		if slices.EqualFunc(f, cols, strings.EqualFold) {
			continue // the header again: tables of several schedds, one after the other
		}
		if len(f) != len(cols) {
			return nil, fmt.Errorf("%s:%d: %d values under %d columns (a value with blanks or commas, such as Cmd or Args, cannot be read: leave such attributes out)", name, ln, len(f), len(cols))
		}
		var row [nHistAttrs]histVal
		for i, a := range HistoryAttrs {
			row[i].raw = f[col[strings.ToLower(a)]]
			if strings.EqualFold(row[i].raw, "undefined") {
				continue
			}
			v, ok := finite(row[i].raw)
			if !ok {
				return nil, fmt.Errorf("%s:%d: %s %q is not a number", name, ln, a, row[i].raw)
			}
			row[i].v, row[i].ok = v, true
		}
		qdate, start, done, cpus, mem := row[hQDate].v, row[hStart].v, row[hDone].v, row[hCpus].v, row[hMemory].v
		if u := int(row[hUniverse].v); row[hUniverse].ok && (u == schedulerUniverse || u == localUniverse) {
			t.Skipped++
			continue
		}
		if !row[hDone].ok || done <= 0 {
			t.Skipped++ // removed, held or not finished: no run to replay
			continue
		}
		switch {
		case !row[hQDate].ok || qdate <= 0:
			return nil, fmt.Errorf("%s:%d: QDate %q: want the job's submit time (seconds since 1970)", name, ln, row[hQDate].raw)
		case !row[hStart].ok || start <= 0:
			return nil, fmt.Errorf("%s:%d: JobCurrentStartDate %q: a completed job must have one", name, ln, row[hStart].raw)
		case start < qdate || done < start:
			return nil, fmt.Errorf("%s:%d: QDate %.0f, JobCurrentStartDate %.0f and CompletionDate %.0f are out of order", name, ln, qdate, start, done)
		case !row[hCpus].ok || cpus < 1 || cpus > maxCpus || cpus != math.Trunc(cpus):
			return nil, fmt.Errorf("%s:%d: RequestCpus %q: want a whole number from 1 to %d", name, ln, row[hCpus].raw, maxCpus)
		case !row[hMemory].ok || mem < 0 || mem > maxMemoryMB:
			return nil, fmt.Errorf("%s:%d: RequestMemory %q: want megabytes from 0 to %d", name, ln, row[hMemory].raw, maxMemoryMB)
		}
		if done-start > tenYears {
			return nil, fmt.Errorf("%s:%d: run time %.0f s is more than ten years", name, ln, done-start)
		}
		t.Jobs = append(t.Jobs, Job{Runtime: time.Duration((done - start) * float64(time.Second)), Cpus: int(cpus), MemoryMB: int(math.Ceil(mem)), Line: ln})
		qdates = append(qdates, qdate)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, ln+1, err)
	}
	if cols == nil {
		return nil, fmt.Errorf("%s:%d: end of file and no header: write the trace with `%s`", name, max(ln, 1), HistoryCommand)
	}
	if len(t.Jobs) == 0 {
		return nil, fmt.Errorf("%s:%d: end of file and no completed job to replay (%d skipped)", name, max(ln, 1), t.Skipped)
	}
	first := qdates[0]
	for _, q := range qdates {
		first = min(first, q)
	}
	for i := range t.Jobs {
		rel := qdates[i] - first
		if rel > tenYears {
			return nil, fmt.Errorf("%s:%d: QDate %.0f is more than ten years after the first", name, t.Jobs[i].Line, qdates[i])
		}
		t.Jobs[i].Submit = time.Duration(rel * float64(time.Second))
	}
	t.sort()
	return t, nil
}

// historyFields splits a line of -af:h output (blanks between values) or of
// -af:,h (commas).
func historyFields(line string) []string {
	return strings.FieldsFunc(line, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
}

// isHistory says whether line (a trace's first line, see firstLine) is a
// condor_history -af:h header.
func isHistory(line string) bool {
	return slices.ContainsFunc(historyFields(line), func(f string) bool { return strings.EqualFold(f, "QDate") })
}
