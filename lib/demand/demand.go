package demand

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/scale"
)

// MyType of the demand ads the reporter advertises.
const DemandType = "EHOSDemand"

// Attribute names of EHOSDemand ads (besides RequestCpus, RequestMemory,
// RequestDisk in KB, RequestGPUs and the pins AttrCloud, AttrRegion,
// AttrFlavor).
const (
	AttrSchedd      = "EHOSSchedd"        // the schedd's Name
	AttrScheddAddr  = "EHOSScheddAddress" // its address (sinful string), the join key with OfflineMatches
	AttrAutocluster = "EHOSAutocluster"   // the schedd's autocluster id
	AttrIdle        = "EHOSIdle"          // idle jobs in the group
	AttrOldestQDate = "EHOSOldestQDate"   // QDate of the oldest idle job, Unix seconds
	AttrReported    = "EHOSReportTime"    // when the reporter made the ad, Unix seconds
	AttrKey         = "EHOSKey"           // "<schedd>#<autocluster>", scale.Demand.Key
)

// Pin is where a job asked to run (job attributes +EHOSCloud, +EHOSRegion,
// +EHOSFlavor); "" is no constraint.
type Pin struct {
	Cloud, Region, Flavor string
}

// Group is the idle jobs of one autocluster at one schedd.
type Group struct {
	Schedd      string // schedd Name
	ScheddAddr  string // schedd address (sinful string)
	Autocluster int
	Cpus        int
	MemoryMB    int
	DiskKB      int64
	GPUs        int
	Idle        int
	Oldest      time.Time // QDate of the oldest idle job
	Reported    time.Time // when the reporter counted (read back from the ad; zero when building)
	Pin         Pin
}

// Key is the stable demand key "<schedd>#<autocluster>".
func (g Group) Key() string { return g.Schedd + "#" + strconv.Itoa(g.Autocluster) }

// ScheddOfKey is the schedd Name of a demand key made by Key ("" when key
// has no '#'). Schedd names carry no '#', autocluster ids are numbers, so
// the last '#' splits them.
func ScheddOfKey(key string) string {
	i := strings.LastIndexByte(key, '#')
	if i < 0 {
		return ""
	}
	return key[:i]
}

// AdName is the Name of a group's EHOSDemand ad: unique in the collector.
func (g Group) AdName() string { return g.Key() }

// DemandAds builds the EHOSDemand ads of groups, for
// `condor_advertise -multiple UPDATE_AD_GENERIC`. lifetime is their
// ClassAdLifetime: a few reporter intervals, so a dead reporter's demand
// vanishes by itself.
func DemandAds(groups []Group, pool string, lifetime time.Duration, now time.Time) []classad.Ad {
	ads := make([]classad.Ad, 0, len(groups))
	for _, g := range groups {
		ad := classad.Ad{
			"MyType":          classad.String(DemandType),
			"TargetType":      classad.String(""),
			"Name":            classad.String(g.AdName()),
			AttrKey:           classad.String(g.Key()),
			AttrSchedd:        classad.String(g.Schedd),
			AttrScheddAddr:    classad.String(g.ScheddAddr),
			AttrAutocluster:   classad.Int(int64(g.Autocluster)),
			"RequestCpus":     classad.Int(int64(g.Cpus)),
			"RequestMemory":   classad.Int(int64(g.MemoryMB)),
			"RequestDisk":     classad.Int(g.DiskKB),
			"RequestGPUs":     classad.Int(int64(g.GPUs)),
			AttrIdle:          classad.Int(int64(g.Idle)),
			AttrOldestQDate:   classad.Int(g.Oldest.Unix()),
			AttrReported:      classad.Int(now.Unix()),
			"ClassAdLifetime": classad.Int(int64(max(lifetime/time.Second, 1))),
		}
		if pool != "" {
			ad[AttrPool] = classad.String(pool)
		}
		if g.Pin.Cloud != "" {
			ad[AttrCloud] = classad.String(g.Pin.Cloud)
		}
		if g.Pin.Region != "" {
			ad[AttrRegion] = classad.String(g.Pin.Region)
		}
		if g.Pin.Flavor != "" {
			ad[AttrFlavor] = classad.String(g.Pin.Flavor)
		}
		ads = append(ads, ad)
	}
	return ads
}

// WithdrawAd is the query ad of `condor_advertise INVALIDATE_ADS_GENERIC`
// that removes every EHOSDemand ad of one schedd except those named in
// keep. Withdrawing "all but the current ones" also clears what an earlier
// run of the reporter left behind.
func WithdrawAd(schedd string, keep []string) classad.Ad {
	req := "MyType == " + classad.Quote(DemandType) + " && " + AttrSchedd + " == " + classad.Quote(schedd)
	for _, n := range keep {
		req += " && Name != " + classad.Quote(n)
	}
	return classad.Ad{
		"MyType":       classad.String("Query"),
		"TargetType":   classad.String(DemandType),
		"Requirements": classad.Expr(req),
	}
}

// DemandConstraint selects the EHOSDemand ads of a pool (all of them when
// pool is "") for `condor_status -any -constraint`.
func DemandConstraint(pool string) string {
	c := "MyType == " + classad.Quote(DemandType)
	if pool != "" {
		c += " && " + AttrPool + " == " + classad.Quote(pool)
	}
	return c
}

// ParseDemandAds turns EHOSDemand ads read from the collector back into
// groups. An ad missing its identity (schedd, autocluster) or with a
// negative count is skipped and named in the error; the others are returned.
func ParseDemandAds(ads []classad.Ad) ([]Group, error) {
	var groups []Group
	var errs []error
	for i, ad := range ads {
		g := Group{
			Schedd:      ad.GetString(AttrSchedd),
			ScheddAddr:  ad.GetString(AttrScheddAddr),
			Autocluster: int(ad.GetInt(AttrAutocluster, -1)),
			Cpus:        int(ad.GetInt("RequestCpus", 1)),
			MemoryMB:    int(ad.GetInt("RequestMemory", 0)),
			DiskKB:      ad.GetInt("RequestDisk", 0),
			GPUs:        int(ad.GetInt("RequestGPUs", 0)),
			Idle:        int(ad.GetInt(AttrIdle, -1)),
			Oldest:      time.Unix(ad.GetInt(AttrOldestQDate, 0), 0).UTC(),
			Reported:    unixOrZero(ad.GetInt(AttrReported, 0)),
			Pin: Pin{
				Cloud:  ad.GetString(AttrCloud),
				Region: ad.GetString(AttrRegion),
				Flavor: ad.GetString(AttrFlavor),
			},
		}
		switch {
		case g.Schedd == "" || g.Autocluster < 0:
			errs = append(errs, fmt.Errorf("demand ad %d (%q): no %s or %s", i, ad.GetString("Name"), AttrSchedd, AttrAutocluster))
			continue
		case g.Idle < 0 || g.Cpus < 0 || g.MemoryMB < 0 || g.DiskKB < 0 || g.GPUs < 0:
			errs = append(errs, fmt.Errorf("demand ad %q: negative count", g.Key()))
			continue
		}
		groups = append(groups, g)
	}
	sort.Slice(groups, func(i, j int) bool { return groups[i].Key() < groups[j].Key() })
	return groups, errors.Join(errs...)
}

// ToScale joins groups with the negotiator's verdict (from Eligibility) into
// the demand the decision consumes. A group's Eligible are the offers the
// negotiator matched its autocluster to, restricted to its pins; empty when
// no configured flavor can run it (or the negotiator has not seen it yet).
// Groups with no idle job are dropped.
func ToScale(groups []Group, elig map[AutoclusterKey][]scale.OfferKey) []scale.Demand {
	out := make([]scale.Demand, 0, len(groups))
	for _, g := range groups {
		if g.Idle <= 0 {
			continue
		}
		d := scale.Demand{
			Key:      g.Key(),
			Need:     g.Need(),
			Idle:     g.Idle,
			Oldest:   g.Oldest,
			Reported: g.Reported,
		}
		for _, k := range elig[AutoclusterKey{Schedd: NormalizeAddress(g.ScheddAddr), ID: g.Autocluster}] {
			if g.Pin.allows(k) {
				d.Eligible = append(d.Eligible, k)
			}
		}
		out = append(out, d)
	}
	return out
}

// FromScale is the inverse of ToScale for what scale.Demand holds: it splits
// Key back into schedd and autocluster (the schedd address and pins are not
// in scale.Demand, so they stay empty). It lets simulations and tests
// produce EHOSDemand ads from recorded demand.
func FromScale(ds []scale.Demand) ([]Group, error) {
	groups := make([]Group, 0, len(ds))
	for _, d := range ds {
		schedd, ac, err := SplitKey(d.Key)
		if err != nil {
			return nil, err
		}
		groups = append(groups, Group{
			Schedd: schedd, Autocluster: ac,
			Cpus: d.Need.Cpus, MemoryMB: d.Need.MemoryMB, DiskKB: int64(d.Need.DiskMB) * 1024, GPUs: d.Need.GPUs,
			Idle: d.Idle, Oldest: d.Oldest,
		})
	}
	return groups, nil
}

// SplitKey splits "<schedd>#<autocluster>" (the schedd name may itself hold
// '#': the last one separates).
func SplitKey(key string) (schedd string, autocluster int, err error) {
	for i := len(key) - 1; i >= 0; i-- {
		if key[i] == '#' {
			n, err := strconv.Atoi(key[i+1:])
			if err != nil || n < 0 || i == 0 {
				break
			}
			return key[:i], n, nil
		}
	}
	return "", 0, fmt.Errorf("demand key %q is not <schedd>#<autocluster>", key)
}

// Need is the per-job resources of the group (disk rounded up to MB).
func (g Group) Need() scale.Resources {
	return scale.Resources{Cpus: g.Cpus, MemoryMB: g.MemoryMB, DiskMB: int((g.DiskKB + 1023) / 1024), GPUs: g.GPUs}
}

func (p Pin) allows(k scale.OfferKey) bool {
	return (p.Cloud == "" || p.Cloud == k.Loc.Cloud) &&
		(p.Region == "" || p.Region == k.Loc.Region) &&
		(p.Flavor == "" || p.Flavor == k.Flavor)
}

// Demands is the provisioner's one call: EHOSDemand ads and offline flavor
// ads (both as read from the collector with -json) to scale.Demand. Errors
// name ads that were skipped; the demand returned is still usable.
func Demands(demandAds, flavorAds []classad.Ad, now time.Time, maxAge time.Duration) ([]scale.Demand, error) {
	groups, gerr := ParseDemandAds(demandAds)
	elig, eerr := Eligibility(flavorAds, now, maxAge)
	return ToScale(groups, elig), errors.Join(gerr, eerr)
}

func unixOrZero(sec int64) time.Time {
	if sec <= 0 {
		return time.Time{}
	}
	return time.Unix(sec, 0).UTC()
}
