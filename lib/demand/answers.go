package demand

// Reading what the schedd answers: condor_q's autocluster lines, the jobs
// that are not idle and the queue dates, joined into demand groups. Pure
// functions of the tools' output, apart from the reporter that asks.

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
)

// Shape is one autocluster as `condor_q -autocluster -af:tV` prints it.
type Shape struct {
	ID       int
	Jobs     int    // JobCount: every job of the autocluster, whatever its status
	FirstJob string // first of JobIds ("12.0"): the autocluster's oldest job
	Cpus     int
	MemoryMB int
	DiskKB   int64
	GPUs     int
	Pin      Pin
}

// SkippedLine is one line of `condor_q -autocluster` output that could not
// be read. Only that autocluster is lost, never the others: one job's
// hostile attribute must not hide a whole schedd's demand.
type SkippedLine struct {
	Line        int    // 1-based
	Autocluster int    // -1 when the id itself could not be read
	Attr        string // the attribute at fault; "" when not known
	Err         error
}

func (s SkippedLine) Error() string {
	where := fmt.Sprintf("line %d", s.Line)
	if s.Autocluster >= 0 {
		where += fmt.Sprintf(" (autocluster %d)", s.Autocluster)
	}
	if s.Attr != "" {
		where += " " + s.Attr
	}
	return where + ": " + s.Err.Error()
}

// ParseAutoclusters reads the output of `condor_q -autocluster -af:tV`
// with the attributes of autoclusterAttrs. Undefined requests take
// HTCondor's defaults (1 CPU, no GPU). A line that cannot be read is
// skipped and returned, named, so the caller can warn: a job's string
// attribute can hold a tab (which splits the line into more fields) or a
// trailing backslash, and that one autocluster must not cost every other.
func ParseAutoclusters(out []byte) (map[int]Shape, []SkippedLine) {
	shapes := map[int]Shape{}
	var skipped []SkippedLine
	for i, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		s, sk := parseAutoclusterLine(line)
		if sk != nil {
			sk.Line = i + 1
			skipped = append(skipped, *sk)
			continue
		}
		shapes[s.ID] = s
	}
	return shapes, skipped
}

func parseAutoclusterLine(line string) (Shape, *SkippedLine) {
	f := strings.Split(line, "\t")
	id, err := strconv.Atoi(strings.TrimSpace(f[0]))
	if err != nil || id < 0 {
		return Shape{}, &SkippedLine{Autocluster: -1, Attr: autoclusterAttrs[0], Err: fmt.Errorf("not an autocluster id: %s", clip(f[0]))}
	}
	if len(f) != len(autoclusterAttrs) {
		return Shape{}, &SkippedLine{Autocluster: id, Attr: splitAttr(f),
			Err: fmt.Errorf("%d fields, want %d (a value holds a tab or a line break)", len(f), len(autoclusterAttrs))}
	}
	v := make([]classad.Value, len(f))
	for j, s := range f {
		x, err := fieldValue(strings.TrimSpace(s))
		if err != nil {
			return Shape{}, &SkippedLine{Autocluster: id, Attr: autoclusterAttrs[j], Err: err}
		}
		v[j] = x
	}
	num := func(x classad.Value, def int64) int64 {
		if f, ok := x.FloatVal(); ok && f >= 0 {
			return int64(f + 0.999999) // requests are rounded up
		}
		return def
	}
	str := func(x classad.Value) string { s, _ := x.Str(); return s }
	first, _, _ := strings.Cut(strings.TrimSpace(str(v[2])), " ")
	return Shape{
		ID:       id,
		Jobs:     int(num(v[1], 0)),
		FirstJob: first,
		Cpus:     int(num(v[3], 1)),
		MemoryMB: int(num(v[4], 0)),
		DiskKB:   num(v[5], 0),
		GPUs:     int(num(v[6], 0)),
		Pin:      Pin{Cloud: str(v[7]), Region: str(v[8]), Flavor: str(v[9])},
	}, nil
}

// fieldValue reads one tab-separated field of `-af:tV`. HTCondor prints a
// string value there in the old ClassAd syntax: between double quotes, each
// double quote of the value preceded by a backslash, nothing else escaped.
// Knowing where the field ends, that inverts exactly, even for a value
// ending in a backslash ("trail\" is printed "trail\"), which a lexer that
// reads up to the closing quote cannot tell from an escaped quote.
func fieldValue(s string) (classad.Value, error) {
	if !strings.HasPrefix(s, `"`) {
		return classad.ParseValue(s)
	}
	if len(s) < 2 || !strings.HasSuffix(s, `"`) {
		return classad.Value{}, fmt.Errorf("unterminated string %s", clip(s))
	}
	in := s[1 : len(s)-1]
	var b strings.Builder
	for i := 0; i < len(in); i++ {
		switch {
		case in[i] == '\\' && i+1 < len(in) && in[i+1] == '"':
			b.WriteByte('"')
			i++
		case in[i] == '"':
			return classad.Value{}, fmt.Errorf("not one string literal: %s", clip(s))
		default:
			b.WriteByte(in[i])
		}
	}
	return classad.String(b.String()), nil
}

// splitAttr guesses which attribute's value a tab split: the first whose
// field opens a string it does not close.
func splitAttr(f []string) string {
	for j := 0; j < len(f) && j < len(autoclusterAttrs); j++ {
		s := strings.TrimSpace(f[j])
		if strings.HasPrefix(s, `"`) && (len(s) < 2 || !strings.HasSuffix(s, `"`)) {
			return autoclusterAttrs[j]
		}
	}
	return ""
}

// clip shortens text quoted in a message: a value can be 100 kB.
func clip(s string) string {
	const most = 80
	if len(s) <= most {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:most]) + fmt.Sprintf("... (%d bytes)", len(s))
}

// ParseNotIdle reads `condor_q -af AutoClusterId` of the jobs that are not
// idle: how many per autocluster. Jobs without an autocluster are in no
// JobCount either, so they are skipped.
func ParseNotIdle(out []byte) (map[int]int, error) {
	counts := map[int]int{}
	for i, line := range strings.Split(string(out), "\n") {
		f := strings.TrimSpace(line)
		if f == "" || f == "undefined" {
			continue
		}
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("line %d: AutoClusterId %q", i+1, f)
		}
		counts[id]++
	}
	return counts, nil
}

// ParseQDates reads `condor_q IDS -af ClusterId ProcId QDate`.
func ParseQDates(out []byte) (map[string]time.Time, error) {
	q := map[string]time.Time{}
	for i, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) != 3 {
			return nil, fmt.Errorf("line %d: %q", i+1, line)
		}
		sec, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: QDate %q", i+1, f[2])
		}
		q[f[0]+"."+f[1]] = time.Unix(sec, 0).UTC()
	}
	return q, nil
}

// Join makes the groups of one schedd: every autocluster with idle jobs
// (JobCount minus the jobs not idle). Oldest is the submit time of the
// autocluster's first job; zero when that job has just left the queue.
func Join(schedd, addr string, shapes map[int]Shape, notIdle map[int]int, qdates map[string]time.Time) []Group {
	groups := make([]Group, 0, len(shapes))
	for id, s := range shapes {
		idle := s.Jobs - notIdle[id]
		if idle <= 0 {
			continue
		}
		groups = append(groups, Group{
			Schedd: schedd, ScheddAddr: addr, Autocluster: id,
			Cpus: s.Cpus, MemoryMB: s.MemoryMB, DiskKB: s.DiskKB, GPUs: s.GPUs,
			Idle: idle, Oldest: qdates[s.FirstJob], Pin: s.Pin,
		})
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Autocluster < groups[j].Autocluster })
	return groups
}
