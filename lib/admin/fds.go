package admin

import (
	"context"
	"strconv"
)

// FDsPerBrokeredWorker is how many files one worker behind the broker (CCB)
// keeps open at the collector: its broker registration and its daemons' TCP
// updates. Measured about 3.7 on HTCondor 23.9 and 25
// (TestBrokeredWorkerBehindNATRunsAJob; docs/network.md), rounded up.
const FDsPerBrokeredWorker = 4

// collectorFDReserve is what the collector needs besides its workers: its
// own files, the central manager's daemons, queries.
const collectorFDReserve = 1024

// NeededCollectorFDs is the collector's file-descriptor limit that holds
// maxWorkers brokered workers.
func NeededCollectorFDs(maxWorkers int) int {
	return maxWorkers*FDsPerBrokeredWorker + collectorFDReserve
}

// collectorFDKnob is the collector's limit (HTCondor's default 10240 on
// 23.9 and 25, which condor_config_val prints when it is unset; the
// general MAX_FILE_DESCRIPTORS does not change it, nor does
// COLLECTOR.MAX_FILE_DESCRIPTORS: measured).
const collectorFDKnob = "COLLECTOR_MAX_FILE_DESCRIPTORS"

func (d Doctor) collectorFDCheck(ctx context.Context, maxWorkers int) Findings {
	vals, err := d.Condor.ConfigVal(ctx, collectorFDKnob)
	if err != nil {
		var fs Findings
		fs.fail("collector", "check that condor_config_val runs", "condor_config_val: %v", err)
		return fs
	}
	return collectorFDFindings(vals[collectorFDKnob], maxWorkers)
}

// collectorFDFindings says whether the collector's file-descriptor limit
// (the knob's value, "" when unset) holds scaling.max brokered workers.
func collectorFDFindings(knob string, maxWorkers int) Findings {
	var fs Findings
	need := NeededCollectorFDs(maxWorkers)
	fix := "set " + collectorFDKnob + " = " + strconv.Itoa(need) + " or more on the central manager (condor-config/50-ehos-central-manager.conf sets 16384) and restart condor; docs/network.md"
	if knob == "" {
		fs.add(Warn, "collector", collectorFDKnob+" unknown to this HTCondor: the collector may keep the limit condor_master inherited, often 1024, and each brokered worker holds about "+strconv.Itoa(FDsPerBrokeredWorker)+" files open there; scaling.max = "+strconv.Itoa(maxWorkers)+" needs about "+strconv.Itoa(need), fix)
		return fs
	}
	n, err := strconv.Atoi(knob)
	switch {
	case err != nil:
		fs.fail("collector", fix, "%s = %q is not a number", collectorFDKnob, knob)
	case n < need:
		fs.fail("collector", fix, "%s = %d holds about %d brokered workers (%d files each, %d kept for the collector itself), below scaling.max = %d",
			collectorFDKnob, n, max(n-collectorFDReserve, 0)/FDsPerBrokeredWorker, FDsPerBrokeredWorker, collectorFDReserve, maxWorkers)
	default:
		fs.ok("collector", "%s = %d holds scaling.max = %d brokered workers (needs about %d)", collectorFDKnob, n, maxWorkers, need)
	}
	return fs
}
