// Command gen writes the synthetic job traces shipped in lib/sim/testdata.
// Every trace is a pure function of its flags, so they can be rebuilt:
//
//	go run ./lib/sim/gen -kind steady -seed 1 > lib/sim/testdata/steady.csv
//	go run ./lib/sim/gen -kind bursty -seed 1 > lib/sim/testdata/bursty.csv
//	go run ./lib/sim/gen -kind wave -seed 1 -format swf > lib/sim/testdata/wave.swf
//	go run ./lib/sim/gen -kind mixed -seed 1 > lib/sim/testdata/mixed/mixed.csv
//	go run ./lib/sim/gen -kind mixed -seed 2 -maxcpus 64 -jobs 1200 -hours 12 > lib/sim/testdata/mixed/wide.csv
//
// Kinds:
//
//	steady  jobs arrive at a constant rate (Poisson) for -hours
//	bursty  -bursts bursts, -gap apart, each of -jobs/-bursts jobs submitted within 3 minutes
//	wave    the arrival rate follows a sine wave (period 2 h) between 0 and twice its mean
//	mixed   arrivals as wave; narrow and wide jobs mixed, 1 to -maxcpus cores (see mixed.go)
//	month   sim.MonthTrace: -days days of -jobs jobs (default 1,000,000) with a working day's
//	        rhythm, bursts and mostly narrow jobs (its shape is documented there; the job
//	        shapes and run times below do not apply)
//
// Job shapes, but for mixed: 55% 1 cpu/1500 MB, 30% 2 cpu/3000 MB, 15% 4
// cpu/6000 MB (they fit m1.small, m1.medium and m1.large workers). Run
// times are log-normal around -runtime (σ 0.6), between 1 minute and 4 ×
// -runtime.
package main

import (
	"cmp"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"sort"
	"time"

	"github.com/ehos-project/ehos/lib/sim"
)

func main() {
	kind := flag.String("kind", "steady", "steady, bursty, wave or month")
	days := flag.Int("days", 30, "days (month)")
	seed := flag.Uint64("seed", 1, "random seed")
	jobs := flag.Int("jobs", 0, "number of jobs (default: 600 steady, 480 bursty, 700 wave)")
	hours := flag.Float64("hours", 3, "submission window for steady and wave")
	bursts := flag.Int("bursts", 6, "bursts (bursty)")
	gap := flag.Duration("gap", 35*time.Minute, "time between bursts (bursty)")
	runtime := flag.Duration("runtime", 15*time.Minute, "typical run time")
	format := flag.String("format", "csv", "csv or swf")
	maxCpus := flag.Int("maxcpus", 8, "widest job (mixed)")
	flag.Parse()

	r := rand.New(rand.NewPCG(*seed, 0x5eed))
	n := *jobs
	if n == 0 {
		n = map[string]int{"steady": 600, "bursty": 480, "wave": 700, "mixed": 700}[*kind]
	}
	window := time.Duration(*hours * float64(time.Hour))
	var out []sim.Job
	if *kind == "month" {
		out = sim.MonthTrace(*seed, cmp.Or(n, 1_000_000), *days).Jobs
		n = 0 // the loop below makes the other kinds
	}
	for i := 0; i < n; i++ {
		var at time.Duration
		switch *kind {
		case "steady":
			at = time.Duration(r.Float64() * float64(window))
		case "bursty":
			b := i * *bursts / n
			at = time.Duration(b)*(*gap) + time.Duration(r.Float64()*float64(3*time.Minute))
		case "wave", "mixed":
			// rejection sampling of rate ∝ 1 + sin(2πt/2h)
			for {
				at = time.Duration(r.Float64() * float64(window))
				if r.Float64()*2 < 1+math.Sin(2*math.Pi*at.Hours()/2) {
					break
				}
			}
		default:
			fmt.Fprintf(os.Stderr, "gen: unknown -kind %q (steady, bursty, wave, mixed)\n", *kind)
			os.Exit(2)
		}
		j := sim.Job{Submit: at.Truncate(time.Second)}
		if *kind == "mixed" {
			j.Cpus, j.MemoryMB = mixedShape(r, *maxCpus)
			j.Runtime = mixedRuntime(r, *runtime, j.Cpus)
			out = append(out, j)
			continue
		}
		switch x := r.Float64(); {
		case x < 0.55:
			j.Cpus, j.MemoryMB = 1, 1500
		case x < 0.85:
			j.Cpus, j.MemoryMB = 2, 3000
		default:
			j.Cpus, j.MemoryMB = 4, 6000
		}
		const sigma = 0.6
		rt := time.Duration(float64(*runtime) * math.Exp(r.NormFloat64()*sigma-sigma*sigma/2))
		j.Runtime = min(max(rt, time.Minute), 4**runtime).Truncate(time.Second)
		out = append(out, j)
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Submit < out[b].Submit })
	var err error
	switch *format {
	case "csv":
		extra := ""
		switch *kind {
		case "mixed":
			extra = fmt.Sprintf(" -maxcpus %d -hours %g", *maxCpus, *hours)
		case "month":
			extra = fmt.Sprintf(" -days %d", *days)
		}
		fmt.Printf("# generated: go run ./lib/sim/gen -kind %s -seed %d%s -format csv (%d jobs)\n", *kind, *seed, extra, len(out))
		err = sim.WriteCSV(os.Stdout, out)
	case "swf":
		err = sim.WriteSWF(os.Stdout, out, fmt.Sprintf("generated: go run ./lib/sim/gen -kind %s -seed %d -format swf (%d jobs)", *kind, *seed, len(out)),
			"fields: job submit wait run allocprocs avgcpu usedmem reqprocs reqtime reqmem(KB/proc) status user group exe queue partition prev think")
	default:
		err = fmt.Errorf("unknown -format %q (csv, swf)", *format)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
