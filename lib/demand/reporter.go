package demand

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"

	"github.com/ehos-project/ehos/lib/classad"
)

// Condor is what the reporter needs of HTCondor's tools; *condor.Client
// satisfies it.
type Condor interface {
	Run(ctx context.Context, tool string, args ...string) ([]byte, error)
	Advertise(ctx context.Context, command string, ads []classad.Ad) error
}

// What the reporter asks the schedd. The cost of a cycle must not grow with
// the number of idle jobs (a burst is exactly when ehos is needed), so idle
// jobs are never listed one by one:
//
//   - `condor_q -autocluster`: one short line per shape, with JobCount (all
//     the jobs of the autocluster: idle, running and held) and JobIds;
//   - the jobs that are NOT idle, one autocluster id each: bounded by the
//     pool's running slots plus held jobs, not by the queue;
//   - the QDate of the first job of each autocluster, by job id.
//
// Idle = JobCount − not idle. Neither query ever returns a whole job ad.
var (
	autoclusterAttrs = []string{"AutoClusterId", "JobCount", "JobIds", "RequestCpus", "RequestMemory", "RequestDisk", "RequestGPUs", AttrCloud, AttrRegion, AttrFlavor}
	// NotIdleConstraint is the jobs that are not demand: not idle, or
	// scheduler and local universe (they never need a worker).
	NotIdleConstraint = "JobStatus != 1 || JobUniverse == 7 || JobUniverse == 12"
)

// Reporter advertises one schedd's idle demand. Make one and call Cycle (or
// Run); it remembers which ads it advertised so it can withdraw them.
type Reporter struct {
	Condor Condor
	// Schedd is the schedd's Name. "" picks the only schedd the collector
	// knows, which is right for a personal pool but not for several schedds.
	Schedd   string
	Pool     string        // EHOSPool of the ads (ehos.yaml pool name); may be ""
	Lifetime time.Duration // ClassAdLifetime of the ads
	Log      zerolog.Logger

	live         map[string]bool      // names advertised and not withdrawn
	qdates       map[string]time.Time // QDate of autoclusters' first jobs, by job id
	started      bool
	lastSig      string    // the groups last advertised
	lastAdv      time.Time // when
	name, addr   string    // the schedd, as last looked up
	sinceResolve int
}

const resolveEvery = 15

// Stats describe one cycle.
type Stats struct {
	Schedd     string
	Groups     int
	Idle       int
	Advertised int   // ads sent this cycle (0 when unchanged and fresh)
	Withdrawn  int   // ads withdrawn this cycle
	Skipped    int   // autoclusters whose line could not be read (each logged)
	BytesRead  int64 // tool output read
	Duration   time.Duration
}

// Cycle queries the schedd once and advertises (or withdraws) its demand.
// A failed query returns an error and advertises nothing: the ads of the
// last good cycle stay until their lifetime, rather than reporting zero.
func (r *Reporter) Cycle(ctx context.Context, now time.Time) (st Stats, err error) {
	start := time.Now()
	defer func() { st.Duration = time.Since(start) }()
	// The schedd's address only changes when it restarts, and then it
	// restarts this job too: look it up on the first cycle, after a failed
	// one, and every resolveEvery cycles in case the reporter runs outside
	// the schedd (by hand, under systemd).
	if r.addr == "" || r.sinceResolve >= resolveEvery {
		name, addr, n, err := r.resolveSchedd(ctx)
		st.BytesRead += n
		if err != nil {
			return st, err
		}
		r.name, r.addr, r.sinceResolve = name, addr, 0
	}
	r.sinceResolve++
	name, addr := r.name, r.addr
	st.Schedd = name
	groups, n, skipped, err := r.query(ctx, name, addr)
	st.BytesRead += n
	if err != nil {
		r.addr = "" // look the schedd up again next cycle
		return st, err
	}
	st.Groups, st.Skipped = len(groups), skipped
	for _, g := range groups {
		st.Idle += g.Idle
	}
	keep := map[string]bool{}
	for _, g := range groups {
		keep[g.AdName()] = true
	}
	// Advertise when the demand changed, and otherwise every half lifetime
	// so the ads never expire while the reporter lives: an unchanged queue
	// costs the collector nothing most cycles.
	if len(groups) > 0 {
		sig := signature(groups)
		if sig != r.lastSig || now.Sub(r.lastAdv) >= r.Lifetime/2 || now.Before(r.lastAdv) {
			if err := r.Condor.Advertise(ctx, "UPDATE_AD_GENERIC", DemandAds(groups, r.Pool, r.Lifetime, now)); err != nil {
				r.lastSig = ""
				return st, fmt.Errorf("advertise demand of schedd %q: %w", name, err)
			}
			r.lastSig, r.lastAdv = sig, now
			st.Advertised = len(groups)
		}
	} else {
		r.lastSig = ""
	}
	// Withdraw what is no longer there, and on the first cycle whatever an
	// earlier incarnation of this reporter left behind.
	gone := 0
	for n := range r.live {
		if !keep[n] {
			gone++
		}
	}
	if gone > 0 || !r.started {
		names := make([]string, 0, len(keep))
		for n := range keep {
			names = append(names, n)
		}
		sort.Strings(names)
		if err := r.Condor.Advertise(ctx, "INVALIDATE_ADS_GENERIC", []classad.Ad{WithdrawAd(name, names)}); err != nil {
			// Kept in live: tried again next cycle; they expire anyway.
			r.Log.Warn().Err(err).Int("ads", gone).Msg("withdraw demand ads failed")
		} else {
			st.Withdrawn = gone
			for n := range r.live {
				if !keep[n] {
					delete(r.live, n)
				}
			}
		}
	}
	r.started = true
	if r.live == nil {
		r.live = map[string]bool{}
	}
	for n := range keep {
		r.live[n] = true
	}
	return st, nil
}

// Run calls Cycle every interval until ctx ends. Failed cycles are logged
// and skipped. The ads are left to expire on exit: when the schedd restarts
// the job comes back and refreshes them, without a gap in demand.
func (r *Reporter) Run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		st, err := r.Cycle(ctx, time.Now())
		if err != nil {
			r.Log.Error().Err(err).Msg("demand cycle skipped")
		} else {
			r.Log.Info().Str("schedd", st.Schedd).Int("groups", st.Groups).Int("idle", st.Idle).
				Int("advertised", st.Advertised).Int("withdrawn", st.Withdrawn).Int("skipped", st.Skipped).
				Int64("bytes", st.BytesRead).Dur("took", st.Duration).Msg("demand reported")
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// resolveSchedd finds the schedd's Name and address in the collector. The
// address changes when the schedd restarts, so it is looked up every cycle
// (one small answer: two attributes per schedd).
func (r *Reporter) resolveSchedd(ctx context.Context) (name, addr string, n int64, err error) {
	args := []string{"-schedd", "-json", "-attributes", "Name,MyAddress"}
	if r.Schedd != "" {
		args = append(args, "-constraint", "Name == "+classad.Quote(r.Schedd))
	}
	out, err := r.Condor.Run(ctx, "condor_status", args...)
	n = int64(len(out))
	if err != nil {
		return "", "", n, fmt.Errorf("look up schedd %q: %w", r.Schedd, err)
	}
	ads, err := classad.ParseJSON(out)
	if err != nil {
		return "", "", n, fmt.Errorf("look up schedd %q: %w", r.Schedd, err)
	}
	switch {
	case len(ads) == 1:
	case len(ads) == 0:
		return "", "", n, fmt.Errorf("schedd %q not in the collector", r.Schedd)
	default:
		return "", "", n, fmt.Errorf("%d schedds in the collector: name one (--schedd)", len(ads))
	}
	return ads[0].GetString("Name"), ads[0].GetString("MyAddress"), n, nil
}

func (r *Reporter) query(ctx context.Context, schedd, addr string) (groups []Group, n int64, skippedN int, err error) {
	// The reporter runs beside its schedd (a scheduler-universe job), so
	// condor_q asks the local schedd by default. -name only when the admin
	// named the schedd (--schedd): condor_q resolves a -name as a host name,
	// and a schedd named after a host that DNS does not know ("unknown
	// host vm") would fail every cycle.
	target := func(more ...string) []string {
		if r.Schedd == "" {
			return append([]string{"-allusers"}, more...)
		}
		return append([]string{"-name", schedd, "-allusers"}, more...)
	}
	// The two queries are independent: run them side by side (the schedd
	// answers both at once; a cycle waits for the slower, not the sum).
	var acOut, busyOut []byte
	var acErr, busyErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		busyOut, busyErr = r.Condor.Run(ctx, "condor_q", target("-constraint", NotIdleConstraint, "-af", "AutoClusterId")...)
	}()
	acOut, acErr = r.Condor.Run(ctx, "condor_q", target(append([]string{"-autocluster", "-af:tV"}, autoclusterAttrs...)...)...)
	wg.Wait()
	n += int64(len(acOut) + len(busyOut))
	if acErr != nil {
		return nil, n, skippedN, fmt.Errorf("autoclusters of schedd %q: %w", schedd, acErr)
	}
	if busyErr != nil {
		return nil, n, skippedN, fmt.Errorf("jobs not idle at schedd %q: %w", schedd, busyErr)
	}
	shapes, skipped := ParseAutoclusters(acOut)
	for _, sk := range skipped {
		r.Log.Warn().Str("schedd", schedd).Int("line", sk.Line).Int("autocluster", sk.Autocluster).Str("attribute", sk.Attr).
			Err(sk.Err).Msg("autocluster skipped: its line cannot be read; the other autoclusters are reported")
	}
	skippedN = len(skipped)
	busy, err := ParseNotIdle(busyOut)
	if err != nil {
		return nil, n, skippedN, fmt.Errorf("jobs not idle at schedd %q: %w", schedd, err)
	}
	// A job's QDate never changes: ask only for first jobs not seen before.
	var ask []string
	known := map[string]time.Time{}
	for _, s := range shapes {
		if s.Jobs-busy[s.ID] <= 0 || s.FirstJob == "" {
			continue
		}
		if q, ok := r.qdates[s.FirstJob]; ok {
			known[s.FirstJob] = q
		} else {
			ask = append(ask, s.FirstJob)
		}
	}
	if len(ask) > 0 {
		qOut, err := r.Condor.Run(ctx, "condor_q", target("-constraint", JobIDsConstraint(ask), "-af", "ClusterId", "ProcId", "QDate")...)
		n += int64(len(qOut))
		if err != nil {
			return nil, n, skippedN, fmt.Errorf("submit times at schedd %q: %w", schedd, err)
		}
		got, err := ParseQDates(qOut)
		if err != nil {
			return nil, n, skippedN, fmt.Errorf("submit times at schedd %q: %w", schedd, err)
		}
		for id, q := range got {
			known[id] = q
		}
	}
	r.qdates = known
	qdates := known
	return Join(schedd, addr, shapes, busy, qdates), n, skippedN, nil
}

// signature identifies what a set of groups would advertise, apart from
// the report time.
func signature(groups []Group) string {
	var b strings.Builder
	for _, g := range groups {
		fmt.Fprintf(&b, "%q|%q|%d|%d|%d|%d|%d|%d|%d|%q|%q|%q\n", g.Schedd, g.ScheddAddr, g.Autocluster, g.Cpus, g.MemoryMB, g.DiskKB, g.GPUs,
			g.Idle, g.Oldest.Unix(), g.Pin.Cloud, g.Pin.Region, g.Pin.Flavor)
	}
	return b.String()
}

// JobIDsConstraint selects the jobs with the given "cluster.proc" ids. Job
// ids as condor_q arguments become one clause per id, evaluated against
// every job (0.28 s for 49 ids over 20,000 jobs); two member() calls, the
// first on a plain integer, take 0.05 s.
func JobIDsConstraint(ids []string) string {
	ids = append([]string(nil), ids...)
	sort.Strings(ids)
	procs := map[string]bool{}
	var pl, il []string
	for _, id := range ids {
		_, proc, _ := strings.Cut(id, ".")
		if !procs[proc] {
			procs[proc] = true
			pl = append(pl, proc)
		}
		il = append(il, classad.Quote(id))
	}
	return "member(ProcId, {" + strings.Join(pl, ", ") + "}) && member(strcat(ClusterId, \".\", ProcId), {" + strings.Join(il, ", ") + "})"
}
