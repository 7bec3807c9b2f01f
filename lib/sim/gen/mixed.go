package main

import (
	"math"
	"math/rand/v2"
	"time"
)

// Shape statistics of the mixed-width kind, from the published model of
// rigid parallel jobs in the Parallel Workloads Archive's logs (U. Lublin
// and D. G. Feitelson, "The workload on parallel supercomputers: modeling
// the characteristics of rigid jobs", JPDC 63(11), 2003), as that paper
// states them rather than fitted here (no SWF log could be fetched where
// this was written):
//
//   - about a quarter of the jobs are serial (1 core);
//   - of the parallel ones, about three quarters ask a power of two;
//   - log2 of a parallel job's size is uniform in two stages, most of the
//     mass (86%) on the lower part and the rest on the upper part, split
//     where the paper splits a 128-processor machine's range [0.8, 7] (at
//     4.5, 60% of the way up), so wide jobs are few but present;
//   - run times are log-normal-like and heavy tailed, and wider jobs run
//     somewhat longer.
const (
	mixedSerial     = 0.24
	mixedPowerOfTwo = 0.75
	mixedLowStage   = 0.86
	mixedMemPerCore = 1500 // MB, so a job fits flavors of 2 GB per vcpu
)

// mixedShape draws a job's cores (1 to maxCpus) and memory.
func mixedShape(r *rand.Rand, maxCpus int) (cpus, memoryMB int) {
	if maxCpus <= 1 || r.Float64() < mixedSerial {
		return 1, mixedMemPerCore
	}
	hi := math.Log2(float64(maxCpus))
	mid := 1 + 0.6*(hi-1)
	var l float64
	if r.Float64() < mixedLowStage {
		l = 1 + r.Float64()*(mid-1)
	} else {
		l = mid + r.Float64()*(hi-mid)
	}
	if r.Float64() < mixedPowerOfTwo {
		cpus = 1 << int(math.Round(l))
	} else {
		cpus = int(math.Round(math.Exp2(l)))
	}
	cpus = min(max(cpus, 2), maxCpus)
	return cpus, cpus * mixedMemPerCore
}

// mixedRuntime is log-normal around typical (σ 1), times 1 + log2(cpus)/4
// so a 64-core job runs 2.5 times as long as a serial one on average,
// between 1 minute and 8 × typical.
func mixedRuntime(r *rand.Rand, typical time.Duration, cpus int) time.Duration {
	const sigma = 1.0
	f := math.Exp(r.NormFloat64()*sigma-sigma*sigma/2) * (1 + math.Log2(float64(cpus))/4)
	return min(max(time.Duration(float64(typical)*f), time.Minute), 8*typical).Truncate(time.Second)
}
