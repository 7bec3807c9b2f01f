package provision

import (
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/scale"
)

// unmatched is what the provisioner remembers about one demand group and
// one of its eligible offers: since when its jobs sat idle beside idle real
// workers of that offer.
type unmatched struct {
	since time.Time
	// stuck: it lasted UnmatchedAfter. Kept while the group exists, even
	// when those workers are gone (they retire, since the jobs no longer
	// hold them), or the next round would boot for the same jobs again.
	stuck bool
	at    time.Time // when it got stuck
	idle  int       // the group's idle jobs then
}

// updateMarks brings the unmatched marks up to date: the eligible offers
// of each demand group whose joined, healthy, unclaimed workers with room
// for one of its jobs stood idle beside it, and since when. It is computed
// from what the cycle already read: the startd ads (an idle slot's
// State/Activity) and the demand ads. A stuck mark is lifted when jobs of
// the group started while a worker of that offer took a job: then HTCondor
// does match them there, and it was something else that held them (a
// concurrency limit, a quota). Without the workers' view (workersOK false)
// the marks are kept as they were.
func (p *Provisioner) updateMarks(now time.Time, demand []scale.Demand, nodes []scale.Node, workers []Worker, workersOK bool) {
	after := scale.UnmatchedAfter(p.opt.Knobs)
	if after <= 0 {
		return
	}
	beside := idleBeside(nodes, workers)
	seen := map[string]bool{}
	for _, d := range demand {
		seen[d.Key] = true
		ts := p.unmatched[d.Key]
		if ts == nil {
			ts = map[scale.OfferKey]*unmatched{}
			p.unmatched[d.Key] = ts
		}
		for _, k := range d.Eligible {
			if workersOK {
				p.updateMark(now, after, d, k, ts, beside(k, d.Need))
			}
		}
		if len(ts) == 0 {
			delete(p.unmatched, d.Key)
		}
	}
	for key := range p.unmatched {
		if !seen[key] {
			delete(p.unmatched, key) // the group is gone
		}
	}
}

// idleBeside says whether an idle, healthy worker of an offer has room
// for a job's need.
func idleBeside(nodes []scale.Node, workers []Worker) func(k scale.OfferKey, need scale.Resources) bool {
	healthy := make(map[string]bool, len(workers))
	for _, w := range workers {
		healthy[w.Name] = w.Healthy && !w.Draining && w.Claimed == 0
	}
	idle := map[scale.OfferKey][]scale.Resources{}
	for _, n := range nodes {
		if n.State == scale.Idle && n.Running == 0 && healthy[n.Name] {
			idle[n.Offer] = append(idle[n.Offer], n.Free)
		}
	}
	return func(k scale.OfferKey, need scale.Resources) bool {
		for _, free := range idle[k] {
			if free.Holds(need) {
				return true
			}
		}
		return false
	}
}

// updateMark is updateMarks for one group and one of its offers.
func (p *Provisioner) updateMark(now time.Time, after time.Duration, d scale.Demand, k scale.OfferKey, ts map[scale.OfferKey]*unmatched, beside bool) {
	t := ts[k]
	switch {
	case t == nil && d.Idle > 0 && beside:
		t = &unmatched{since: now}
		ts[k] = t
	case t != nil && !t.stuck && (d.Idle <= 0 || !beside):
		delete(ts, k) // matched, or the workers left: start again
		return
	case t != nil && t.stuck && d.Idle < t.idle && p.startedOn[k].After(t.at):
		p.opt.Log.Info().Str("demand", d.Key).Str("offer", k.String()).
			Msg("demand matched on real workers again: it is demand for that flavor once more")
		delete(ts, k)
		return
	}
	if t != nil && !t.stuck && now.Sub(t.since) >= after {
		t.stuck, t.at, t.idle = true, now, d.Idle
		p.opt.Log.Info().Str("demand", d.Key).Str("offer", k.String()).Time("since", t.since).Int("idle", d.Idle).
			Msg("demand unmatched on real workers: no VM is booted for it there")
	}
}

// withMarks is demand with each group's Unmatched filled from the marks.
func (p *Provisioner) withMarks(demand []scale.Demand) []scale.Demand {
	if scale.UnmatchedAfter(p.opt.Knobs) <= 0 {
		return demand
	}
	out := make([]scale.Demand, 0, len(demand))
	for _, d := range demand {
		d.Unmatched = nil
		for _, k := range d.Eligible {
			if t := p.unmatched[d.Key][k]; t != nil {
				d.Unmatched = append(d.Unmatched, scale.Unmatched{Offer: k, Since: t.since})
			}
		}
		out = append(out, d)
	}
	return out
}

// AttrUnmatched is the attribute of the provisioner's ad that carries its
// unmatched marks (JSON), so that a restarted provisioner goes on where
// the last one stopped instead of booting one more round for demand it had
// found unmatched on real workers. Only DAEMON-level identities can write
// a generic ad (the collector's rule, TestDemandReporterAuthorization): a
// worker's token cannot plant marks.
const AttrUnmatched = "EHOSUnmatchedMarks"

// maxMarks bounds the marks the ad carries; the oldest are kept, they are
// the ones whose loss would cost a round.
const maxMarks = 500

// mark is one unmatched entry as the ad carries it.
type mark struct {
	Demand string         `json:"demand"`
	Offer  scale.OfferKey `json:"offer"`
	Since  time.Time      `json:"since"`
	Stuck  bool           `json:"stuck,omitempty"`
	At     time.Time      `json:"at,omitzero"`
	Idle   int            `json:"idle,omitempty"`
}

// marksJSON is p.unmatched for the ad, oldest first.
func (p *Provisioner) marksJSON() string {
	var ms []mark
	for key, ts := range p.unmatched {
		for k, t := range ts {
			ms = append(ms, mark{Demand: key, Offer: k, Since: t.since, Stuck: t.stuck, At: t.at, Idle: t.idle})
		}
	}
	sort.Slice(ms, func(i, j int) bool {
		if !ms[i].Since.Equal(ms[j].Since) {
			return ms[i].Since.Before(ms[j].Since)
		}
		if ms[i].Demand != ms[j].Demand {
			return ms[i].Demand < ms[j].Demand
		}
		return ms[i].Offer.String() < ms[j].Offer.String()
	})
	if len(ms) > maxMarks {
		ms = ms[:maxMarks]
	}
	b, err := json.Marshal(ms)
	if err != nil || len(ms) == 0 {
		return "[]"
	}
	return string(b)
}

// jsonAttr reads ad's attribute attr, a string of JSON, into into; an ad
// without it leaves into as it is (an older ehos wrote the ad).
func jsonAttr(ad classad.Ad, attr string, into any) error {
	v, ok := ad.Get(attr)
	if !ok {
		return nil
	}
	s, ok := v.Str()
	if !ok {
		return fmt.Errorf("%s is not a string", attr)
	}
	if err := json.Unmarshal([]byte(s), into); err != nil {
		return fmt.Errorf("%s: %w", attr, err)
	}
	return nil
}

// restoreMarks reads the marks of an earlier run's provisioner ad. It
// returns how many it took; an ad without them is no error (older ehos).
func (p *Provisioner) restoreMarks(ad classad.Ad) (int, error) {
	var ms []mark
	if err := jsonAttr(ad, AttrUnmatched, &ms); err != nil {
		return 0, err
	}
	n := 0
	for _, m := range ms {
		if m.Demand == "" || m.Since.IsZero() {
			continue
		}
		ts := p.unmatched[m.Demand]
		if ts == nil {
			ts = map[scale.OfferKey]*unmatched{}
			p.unmatched[m.Demand] = ts
		}
		ts[m.Offer] = &unmatched{since: m.Since, stuck: m.Stuck, at: m.At, idle: m.Idle}
		n++
	}
	return n, nil
}
