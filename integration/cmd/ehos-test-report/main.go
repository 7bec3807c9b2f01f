// Command ehos-test-report turns `go test -json` into what a person reads in
// CI: one line per finished test with its time, the whole output of a test
// that failed, and at the end the slowest tests. It keeps the raw events in
// a file, so the slowest tests of several steps can be listed together.
//
//	go test -json ./... | ehos-test-report -save out.json -slowest 15
//	ehos-test-report -slowest 15 a.json b.json   (no stdin: only the table)
//
// Its exit status is 1 when a test or a package failed (or a build did),
// so a pipeline with pipefail fails as `go test` would.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
)

// event is one line of test2json (`go doc test2json`).
type event struct {
	Time    time.Time `json:",omitempty"`
	Action  string
	Package string  `json:",omitempty"`
	Test    string  `json:",omitempty"`
	Elapsed float64 `json:",omitempty"`
	Output  string  `json:",omitempty"`
}

// result is a finished test (or, with Test empty, package).
type result struct {
	Package, Test, Action string
	Elapsed               float64
}

func main() {
	save := flag.String("save", "", "write the raw events here as well")
	slowest := flag.Int("slowest", 15, "list this many slowest tests at the end (0: none)")
	flag.Parse()

	var results []result
	failed := false
	if flag.NArg() == 0 {
		var w io.Writer = io.Discard
		if *save != "" {
			f, err := os.Create(*save)
			if err != nil {
				fmt.Fprintln(os.Stderr, "ehos-test-report:", err)
				os.Exit(2)
			}
			defer f.Close()
			w = f
		}
		var err error
		results, failed, err = follow(os.Stdin, w, os.Stdout)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ehos-test-report:", err)
			os.Exit(2)
		}
	}
	for _, path := range flag.Args() {
		f, err := os.Open(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ehos-test-report:", err)
			os.Exit(2)
		}
		r, _, err := follow(f, io.Discard, io.Discard)
		f.Close()
		if err != nil {
			fmt.Fprintf(os.Stderr, "ehos-test-report: %s: %v\n", path, err)
			os.Exit(2)
		}
		results = append(results, r...)
	}
	if *slowest > 0 {
		printSlowest(os.Stdout, results, *slowest)
	}
	if failed {
		os.Exit(1)
	}
}

// follow reads events from r, copies each line to raw, and prints to out a
// line per finished top-level test and package, with the output of every
// failed test. Lines that are not JSON (a build error) are printed as they
// are and count as a failure.
func follow(r io.Reader, raw, out io.Writer) (results []result, failed bool, err error) {
	outputs := map[string][]string{} // package + test → its output lines
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		line := sc.Bytes()
		fmt.Fprintf(raw, "%s\n", line)
		var e event
		if json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(out, "%s\n", line)
			failed = true
			continue
		}
		key := e.Package + " " + e.Test
		switch e.Action {
		case "output":
			outputs[key] = append(outputs[key], e.Output)
		case "build-output": // Go 1.24 on: the compiler's words
			fmt.Fprint(out, e.Output)
		case "build-fail":
			failed = true
		case "pass", "fail", "skip":
			results = append(results, result{e.Package, e.Test, e.Action, e.Elapsed})
			if e.Action == "fail" {
				failed = true
				fmt.Fprint(out, strings.Join(outputs[key], ""))
			}
			if e.Test == "" || !strings.Contains(e.Test, "/") {
				fmt.Fprintf(out, "%-4s %s %s (%.1fs)\n", strings.ToUpper(e.Action), e.Package, e.Test, e.Elapsed)
			}
			delete(outputs, key)
		}
	}
	return results, failed, sc.Err()
}

func printSlowest(w io.Writer, results []result, n int) {
	var tests []result
	for _, r := range results {
		if r.Test != "" {
			tests = append(tests, r)
		}
	}
	sort.SliceStable(tests, func(i, j int) bool { return tests[i].Elapsed > tests[j].Elapsed })
	if len(tests) > n {
		tests = tests[:n]
	}
	fmt.Fprintf(w, "\nthe %d slowest tests:\n", len(tests))
	for _, r := range tests {
		fmt.Fprintf(w, "  %7.1fs  %-4s %s %s\n", r.Elapsed, r.Action, r.Package, r.Test)
	}
}
