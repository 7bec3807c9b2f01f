package condorpool

import (
	"context"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/provision"
)

// LeaseAdType is the MyType of a pool's lease ads (provision.Lease).
const LeaseAdType = "EHOSLease"

var _ provision.Leaser = (*Pool)(nil)

// Leases reads the pool's lease ads from the collector: those the
// provisioner's own identity wrote (a lease forged with a worker's token
// would otherwise hold every real provisioner in standby).
func (p *Pool) Leases(ctx context.Context) ([]provision.Lease, error) {
	ads, err := p.Tools.Status(ctx, condor.StatusQuery{
		Kind:       "-any",
		Constraint: "MyType == " + classad.Quote(LeaseAdType) + " && EHOSPool == " + classad.Quote(p.Name),
		Attrs:      []string{"Name", "MyType", AttrIdentity, "EHOSLeaseHolder", "EHOSLeaseGeneration", "EHOSLeaseExpires"},
	})
	if err != nil {
		return nil, err
	}
	var out []provision.Lease
	for _, a := range p.fromIdentity(ads, p.Self, "the pool's lease") {
		out = append(out, provision.Lease{Pool: p.Name, Holder: a.GetString("EHOSLeaseHolder"),
			Generation: a.GetInt("EHOSLeaseGeneration", 0), Expires: time.Unix(a.GetInt("EHOSLeaseExpires", 0), 0)})
	}
	return out, nil
}

// PutLease advertises l, one ad per holder, which the collector drops once
// it has expired.
func (p *Pool) PutLease(ctx context.Context, l provision.Lease) error {
	life := max(int64(time.Until(l.Expires).Seconds()), 1)
	return p.Tools.Advertise(ctx, "UPDATE_AD_GENERIC", []classad.Ad{{
		"MyType":              classad.String(LeaseAdType),
		"Name":                classad.String(l.Pool + "@" + l.Holder),
		"EHOSPool":            classad.String(l.Pool),
		"EHOSLeaseHolder":     classad.String(l.Holder),
		"EHOSLeaseGeneration": classad.Int(l.Generation),
		"EHOSLeaseExpires":    classad.Int(l.Expires.Unix()),
		"ClassAdLifetime":     classad.Int(life),
	}})
}
