package demand

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/scale"
)

// StatusAdvertiser is what Collector needs of HTCondor; *condor.Client
// satisfies it.
type StatusAdvertiser interface {
	Status(ctx context.Context, q condor.StatusQuery) ([]classad.Ad, error)
	Advertise(ctx context.Context, command string, ads []classad.Ad) error
}

// Collector is the provisioner's half of the mechanism: it advertises the
// offline flavor ads and reads demand joined with the negotiator's verdict.
// Its two methods fit lib/provision's Pool (Demand, Offer).
//
// Call Demand before Offer in a cycle: advertising a flavor ad wipes its
// verdict until the next negotiation cycle, so Offer re-advertises only when
// the offers change or every Refresh.
type Collector struct {
	Condor StatusAdvertiser
	Pool   string // ehos pool name (EHOSPool)
	// MaxAge is how old a verdict may be (about two negotiation intervals;
	// default 150 s for HTCondor's default NEGOTIATOR_INTERVAL of 60 s).
	MaxAge time.Duration
	// Refresh re-advertises unchanged flavor ads this often (default 15 min),
	// so a collector that lost them gets them back.
	Refresh time.Duration
	Now     func() time.Time // default time.Now
	// Filter, when set, gets the flavor ads read and returns those to
	// believe (the provisioner keeps the ads its own identity wrote).
	Filter func(flavorAds []classad.Ad) []classad.Ad
	// DemandFilter, when set, gets the EHOSDemand ads read and returns
	// those to believe (the provisioner keeps the demand job's).
	DemandFilter func(demandAds []classad.Ad) []classad.Ad

	lastSig  string
	lastSent time.Time
	seq      int64
	resend   bool
	// seen is every offer the negotiator matched each live group to
	// (remember).
	seen   map[AutoclusterKey]remembered
	seenAt time.Time // the read seen is as of
}

func (c *Collector) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// Demand reads the pool's EHOSDemand ads and offline flavor ads and joins
// them. A group's eligible offers are all those the negotiator matched it
// to while it lived, not only in its latest cycle (remember). An error
// means the demand is unknown (a query failed), never "no demand"; a
// single unreadable ad is skipped (its group or offer is left out this
// cycle).
func (c *Collector) Demand(ctx context.Context) ([]scale.Demand, error) {
	dads, err := c.Condor.Status(ctx, condor.StatusQuery{Kind: "-any", Constraint: DemandConstraint(c.Pool)})
	if err != nil {
		return nil, fmt.Errorf("read demand ads: %w", err)
	}
	fads, err := c.Condor.Status(ctx, condor.StatusQuery{Constraint: FlavorConstraint(c.Pool), Attrs: FlavorAttrs})
	if err != nil {
		return nil, fmt.Errorf("read flavor ads: %w", err)
	}
	if c.DemandFilter != nil {
		dads = c.DemandFilter(dads)
	}
	if c.Filter != nil {
		fads = c.Filter(fads)
	}
	// Skipped ads are not a failed read: return what could be read.
	groups, _ := ParseDemandAds(dads)
	now := c.now()
	elig, _ := Eligibility(fads, now, c.maxAge())
	elig, c.seen = remember(c.seen, groups, elig)
	c.seenAt = now
	return ToScale(groups, elig), nil
}

func (c *Collector) maxAge() time.Duration {
	if c.MaxAge <= 0 {
		return 150 * time.Second
	}
	return c.MaxAge
}

// Offer advertises one offline ad per offer when the offers changed since
// the last call or Refresh has passed, and withdraws the ads of offers that
// are gone.
func (c *Collector) Offer(ctx context.Context, offers []scale.Offer) error {
	now := c.now()
	refresh := c.Refresh
	if refresh <= 0 {
		refresh = 15 * time.Minute
	}
	sig := offerSignature(offers)
	if !c.resend && sig == c.lastSig && now.Sub(c.lastSent) < refresh && !now.Before(c.lastSent) {
		return nil
	}
	// UpdateSequenceNumber must rise or the negotiator keeps its cached ad.
	c.seq = max(c.seq+1, now.Unix())
	if len(offers) > 0 {
		if err := c.Condor.Advertise(ctx, "UPDATE_STARTD_AD", FlavorAds(offers, c.Pool, c.seq)); err != nil {
			return fmt.Errorf("advertise flavor ads: %w", err)
		}
	}
	if sig != c.lastSig || c.resend {
		if sig != c.lastSig && c.lastSig != "" {
			// Other offers: what the negotiator said of the old ones no
			// longer holds. (The first call keeps it: the ads it replaces
			// are a previous run's, normally of the same offers.)
			c.seen = nil
		}
		if err := c.Condor.Advertise(ctx, "INVALIDATE_STARTD_ADS", []classad.Ad{WithdrawFlavorAd(c.Pool, offers)}); err != nil {
			return fmt.Errorf("withdraw flavor ads of offers gone: %w", err)
		}
	}
	c.lastSig, c.lastSent, c.resend = sig, now, false
	return nil
}

// Resend makes the next Offer advertise the flavor ads and withdraw the
// others even when the offers did not change: for when the ads in the
// collector are not what was advertised (overwritten or withdrawn by
// someone else).
func (c *Collector) Resend() { c.resend = true }

// WithdrawFlavorAd is the query ad of `condor_advertise INVALIDATE_STARTD_ADS`
// that removes a pool's flavor ads except those of keep.
func WithdrawFlavorAd(pool string, keep []scale.Offer) classad.Ad {
	req := FlavorConstraint(pool)
	for _, o := range keep {
		req += " && Name != " + classad.Quote(FlavorAdName(pool, o.OfferKey))
	}
	return classad.Ad{
		"MyType":       classad.String("Query"),
		"TargetType":   classad.String("Machine"),
		"Requirements": classad.Expr(req),
	}
}

func offerSignature(offers []scale.Offer) string {
	lines := make([]string, 0, len(offers))
	for _, o := range offers {
		lines = append(lines, fmt.Sprintf("%q %d %d %d %d %g", o.OfferKey.String(), o.Size.Cpus, o.Size.MemoryMB, o.Size.DiskMB, o.Size.GPUs, o.Cost))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}
