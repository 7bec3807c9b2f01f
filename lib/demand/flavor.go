package demand

import (
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// Attribute names ehos puts on offline flavor ads (and, for the identity
// ones, on real workers through the startd cron hook).
const (
	AttrCloud    = "EHOSCloud"
	AttrRegion   = "EHOSRegion"
	AttrFlavor   = "EHOSFlavor"
	AttrPool     = "EHOSPool"
	AttrOffer    = "EHOSOffer"
	AttrCost     = "FlavorCost"
	AttrMatches  = "OfflineMatches"
	AttrLastMatc = "MachineLastMatchTime"
)

// GhostMultiplier weights each offline ad in the pool's size. Without it the
// submitter limit stops the negotiator early and nothing matches
// (notes/matchmaking.md).
const GhostMultiplier = 1000

// PinStart is the START expression of flavor ads (and the clause ehos adds
// to real workers' START): a job that carries EHOSCloud, EHOSRegion or
// EHOSFlavor only matches an offer with that value. Referring to the job's
// attributes here also makes them significant for autoclustering, so pinned
// and unpinned jobs land in different autoclusters.
const PinStart = `(TARGET.EHOSCloud =?= undefined || TARGET.EHOSCloud == MY.EHOSCloud) && ` +
	`(TARGET.EHOSRegion =?= undefined || TARGET.EHOSRegion == MY.EHOSRegion) && ` +
	`(TARGET.EHOSFlavor =?= undefined || TARGET.EHOSFlavor == MY.EHOSFlavor)`

// FlavorAdName is the Name (and Machine) of the offline ad of one offer in
// one pool. It is unique per pool, so two pools sharing a collector do not
// overwrite each other's offers.
func FlavorAdName(pool string, k scale.OfferKey) string {
	return "ehos-offer-" + pool + "@" + k.String()
}

// FlavorConstraint selects a pool's offline flavor ads, for
// `condor_status -constraint` (and INVALIDATE_STARTD_ADS).
func FlavorConstraint(pool string) string {
	return "Offline =?= True && EHOSOffer =?= True && EHOSPool == " + classad.Quote(pool)
}

// FlavorAttrs are the attributes Eligibility reads; pass them to
// `condor_status -attributes` to keep the answer small.
var FlavorAttrs = []string{"Name", AttrCloud, AttrRegion, AttrFlavor, AttrCost, AttrMatches, AttrLastMatc, "AuthenticatedIdentity"}

// FlavorAds builds one offline startd ad per offer, for
// `condor_advertise -multiple UPDATE_STARTD_AD`. seq must rise each time the
// ads are advertised again, or the negotiator keeps its cached copy.
//
// Advertising replaces the ad in the collector and with it the negotiator's
// verdict (OfflineMatches, MachineLastMatchTime) until the next negotiation
// cycle: read Eligibility before advertising, and re-advertise only when the
// offers change or the ads near their lifetime (docs/matchmaking.md).
func FlavorAds(offers []scale.Offer, pool string, seq int64) []classad.Ad {
	ads := make([]classad.Ad, 0, len(offers))
	for _, o := range offers {
		name := FlavorAdName(pool, o.OfferKey)
		cpus := int64(max(o.Size.Cpus, 0))
		mem := int64(max(o.Size.MemoryMB, 0))
		diskKB := int64(max(o.Size.DiskMB, 0)) * 1024
		gpus := int64(max(o.Size.GPUs, 0))
		ad := classad.Ad{
			"MyType":               classad.String("Machine"),
			"TargetType":           classad.String("Job"),
			"Name":                 classad.String(name),
			"Machine":              classad.String(name),
			"SlotID":               classad.Int(1),
			"Cpus":                 classad.Int(cpus),
			"TotalCpus":            classad.Int(cpus),
			"DetectedCpus":         classad.Int(cpus),
			"Memory":               classad.Int(mem),
			"TotalMemory":          classad.Int(mem),
			"DetectedMemory":       classad.Int(mem),
			"Disk":                 classad.Int(diskKB),
			"TotalDisk":            classad.Int(diskKB),
			"GPUs":                 classad.Int(gpus),
			"TotalGPUs":            classad.Int(gpus),
			"HasGPU":               classad.Bool(gpus > 0),
			"OpSys":                classad.String("LINUX"),
			"Arch":                 classad.String("X86_64"),
			"HasFileTransfer":      classad.Bool(true),
			"FileSystemDomain":     classad.String(name),
			"UidDomain":            classad.String(name),
			"START":                classad.Expr(PinStart),
			"Requirements":         classad.Expr("START"),
			"Rank":                 classad.Float(0),
			"State":                classad.String("Unclaimed"),
			"Activity":             classad.String("Idle"),
			"Offline":              classad.Bool(true),
			"WantAdRevaluate":      classad.Bool(true),
			"GhostMultiplier":      classad.Int(GhostMultiplier),
			AttrCost:               classad.Float(o.Cost),
			AttrFlavor:             classad.String(o.Flavor),
			AttrCloud:              classad.String(o.Loc.Cloud),
			AttrRegion:             classad.String(o.Loc.Region),
			AttrPool:               classad.String(pool),
			AttrOffer:              classad.Bool(true),
			"UpdateSequenceNumber": classad.Int(seq),
			// Never contacted: the negotiator does not talk to offline
			// startds, but an ad without an address is refused.
			"MyAddress":    classad.String("<127.0.0.1:1>"),
			"StartdIpAddr": classad.String("<127.0.0.1:1>"),
		}
		ads = append(ads, ad)
	}
	return ads
}

// AutoclusterKey names one autocluster of one schedd. Schedd is the
// schedd's address as NormalizeAddress returns it: the negotiator records
// the Scheduler by address, and autocluster ids are only unique per schedd.
type AutoclusterKey struct {
	Schedd string
	ID     int
}

func (k AutoclusterKey) String() string { return fmt.Sprintf("%s#%d", k.Schedd, k.ID) }

// NormalizeAddress reduces a sinful string ("<127.0.0.1:9618?addrs=...&
// alias=host&sock=schedd_1_2>") to host:port plus the shared-port socket
// name when there is one, so the same daemon compares equal whatever
// optional parameters a tool printed.
func NormalizeAddress(sinful string) string {
	s := strings.TrimSpace(sinful)
	s = strings.TrimPrefix(s, "<")
	s = strings.TrimSuffix(s, ">")
	hostport, query, _ := strings.Cut(s, "?")
	if query == "" {
		return hostport
	}
	v, err := url.ParseQuery(query)
	if err != nil {
		return hostport
	}
	if sock := v.Get("sock"); sock != "" {
		return hostport + "?sock=" + sock
	}
	return hostport
}

type offlineMatch struct {
	Scheduler     string
	AutoclusterID *int
	RequestCount  int
}

// Eligibility reads the negotiator's verdict from offline flavor ads as
// printed by `condor_status -json -constraint FlavorConstraint(pool)
// -attributes FlavorAttrs`: for every (schedd, autocluster) the offers it
// matched, cheapest first.
//
// An ad whose MachineLastMatchTime is missing, older than maxAge, or more
// than maxAge/4 older than the newest MachineLastMatchTime of all the ads
// (the latest negotiation cycle) is skipped: the negotiator never clears
// OfflineMatches, it only stops updating them when nothing matches that
// flavor any more, and autocluster ids are reused. maxAge should be about
// two negotiation intervals. An ad whose OfflineMatches cannot be read is
// skipped too (its offers are not eligible this cycle) and named in the
// returned error, which is otherwise nil; the map is valid either way.
func Eligibility(flavorAds []classad.Ad, now time.Time, maxAge time.Duration) (map[AutoclusterKey][]scale.OfferKey, error) {
	type cand struct {
		key  scale.OfferKey
		cost float64
	}
	found := map[AutoclusterKey][]cand{}
	var bad []string
	// The newest match time is the latest negotiation cycle. All of one
	// cycle's matches fall within its (short) duration, so an ad matched
	// well before it was not matched in it: its list is left over.
	var newest int64
	for _, ad := range flavorAds {
		newest = max(newest, ad.GetInt(AttrLastMatc, 0))
	}
	slack := int64(max(maxAge/4, time.Second) / time.Second)
	for _, ad := range flavorAds {
		last := ad.GetInt(AttrLastMatc, 0)
		if last <= 0 || now.Sub(time.Unix(last, 0)) > maxAge || last < newest-slack {
			continue
		}
		key := scale.OfferKey{
			Loc:    cloud.Location{Cloud: ad.GetString(AttrCloud), Region: ad.GetString(AttrRegion)},
			Flavor: ad.GetString(AttrFlavor),
		}
		if key.Flavor == "" {
			continue
		}
		v, ok := ad.Get(AttrMatches)
		if !ok || v.IsUndefined() {
			continue
		}
		text, isExpr := v.ExprText()
		if !isExpr {
			bad = append(bad, fmt.Sprintf("%s: OfflineMatches is not a list", key))
			continue
		}
		var ms []offlineMatch
		if err := json.Unmarshal([]byte(text), &ms); err != nil {
			bad = append(bad, fmt.Sprintf("%s: OfflineMatches: %v", key, err))
			continue
		}
		cost := ad.GetFloat(AttrCost, 0)
		for _, m := range ms {
			if m.Scheduler == "" || m.AutoclusterID == nil {
				continue
			}
			ak := AutoclusterKey{Schedd: NormalizeAddress(m.Scheduler), ID: *m.AutoclusterID}
			found[ak] = append(found[ak], cand{key, cost})
		}
	}
	out := make(map[AutoclusterKey][]scale.OfferKey, len(found))
	for ak, cs := range found {
		sort.Slice(cs, func(i, j int) bool {
			if cs[i].cost != cs[j].cost {
				return cs[i].cost < cs[j].cost
			}
			return cs[i].key.String() < cs[j].key.String()
		})
		keys := make([]scale.OfferKey, 0, len(cs))
		for i, c := range cs {
			if i > 0 && c.key == cs[i-1].key {
				continue
			}
			keys = append(keys, c.key)
		}
		out[ak] = keys
	}
	if len(bad) > 0 {
		return out, fmt.Errorf("unreadable flavor verdicts: %s", strings.Join(bad, "; "))
	}
	return out, nil
}
