package provision

import (
	"context"
	"fmt"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/scale"
)

// Cloud is one cloud entry (one clouds.yaml entry, several regions).
type Cloud interface {
	// List returns the servers in region whose metadata says they belong to
	// pool (and, when owner is not empty, to that owner).
	List(ctx context.Context, region, pool, owner string) ([]cloud.VM, error)
	Create(ctx context.Context, region string, req cloud.CreateRequest) (cloud.VM, error)
	// Delete is idempotent: a server that is already gone is not an error.
	Delete(ctx context.Context, region, id string) error
	Flavors(ctx context.Context, region string) ([]cloud.Flavor, error)
	Limits(ctx context.Context, region string) (cloud.Limits, error)
}

// Worker is one worker's startd as the collector sees it, identified by the
// attributes its startd cron hook publishes.
type Worker struct {
	Name       string // EHOSName: the VM's ehos name
	InstanceID string // EHOSInstanceID: the cloud server id, when the hook knows it
	Machine    string // Machine attribute
	Address    string // MyAddress: its startd's address (with its broker's, when brokered)
	Slot       string // name of a slot to pass to condor_drain
	Claimed    int    // claimed slots (running jobs)
	// Started is when each claimed slot took its job (its
	// EnteredCurrentActivity, Busy or Idle): the schedd marks a matched job
	// running in the queue as soon as it holds the claim, before its
	// shadow starts it (measured on 23.9, docs/ha.md), so a demand count
	// taken after this time no longer counts that job idle.
	Started   []time.Time
	Free      scale.Resources
	IdleSince time.Time // when it last became idle; zero when claimed
	Draining  bool      // a drain is in progress or done
	Healthy   bool
	Reason    string // EHOSHealthReason
}

// Pool is what provision needs from HTCondor.
type Pool interface {
	// Demand returns the idle job groups from EHOSDemand ads, with the offers
	// HTCondor's negotiator matched them to.
	Demand(ctx context.Context) ([]scale.Demand, error)
	// Workers returns the startd ads of this pool's workers.
	Workers(ctx context.Context) ([]Worker, error)
	// Offer advertises one offline startd ad per offer, so the negotiator
	// tells which flavors idle jobs could run on.
	Offer(ctx context.Context, offers []scale.Offer) error
	// Drain asks a worker to finish its jobs and accept no more.
	Drain(ctx context.Context, w Worker) error
	// Reschedule asks the schedds that hold the idle jobs of demand for a
	// negotiation now (condor_reschedule), so workers that just joined get
	// jobs in seconds instead of at the negotiator's next interval.
	Reschedule(ctx context.Context, demand []scale.Demand) error
	// Publish advertises the provisioner's own ad.
	Publish(ctx context.Context, ad classad.Ad) error
}

// LazyPublisher is an optional Pool ability: a pool that may not need the
// provisioner's ad takes the function that builds it instead of the ad, so
// the ad is built only if used. The simulator's pool keeps no ad, and
// building it (the whole report as JSON) was most of a simulated cycle.
// ad, if called, must be called before PublishLazy returns.
type LazyPublisher interface {
	PublishLazy(ctx context.Context, ad func() classad.Ad) error
}

// Refusal is an ad that claimed to speak for one of the pool's VMs or
// offers and was not believed: it was not written by the identity that
// alone may write it (a worker only for its own VM, the provisioner for the
// offline flavor ads). Nothing is done on its word.
type Refusal struct {
	Ad       string `json:"ad"`       // the ad's Name
	Identity string `json:"identity"` // the AuthenticatedIdentity the collector stamped on it; "" when none
	Claimed  string `json:"claimed"`  // what it claimed, e.g. EHOSName="ehos-p-1" EHOSRetire=true
	Why      string `json:"why"`
}

func (r Refusal) String() string {
	id := r.Identity
	if id == "" {
		id = "(no identity)"
	}
	return fmt.Sprintf("ad %q from %s claimed %s: %s", r.Ad, id, r.Claimed, r.Why)
}

// Refuser is a Pool that checks who wrote the ads it reads; Refused returns
// what the last Workers and Demand calls refused.
type Refuser interface {
	Refused() []Refusal
}

// Recaller is an optional Pool ability: the EHOSProvisioner ads of this
// pool that the collector holds (Name, EHOSLastCycle, EHOSStandby and
// AttrUnmatched), read once at start so that the unmatched marks of the
// pool's last acting provisioner survive a restart.
type Recaller interface {
	ProvisionerAds(ctx context.Context) ([]classad.Ad, error)
}

// RunningJobs is an optional Pool ability: which jobs the schedds say run on
// which worker. A worker's startd ad can vanish (its token expired, the ad
// was invalidated) while its job runs on; before deleting such a VM the
// provisioner asks the schedds. A Pool without it makes every VM whose ad
// vanished stay until it has one.
type RunningJobs interface {
	// RunningJobs returns, by ehos name (the startd's name up to its first
	// "@"), the jobs running there as "schedd S job C.P". An error means
	// some schedd could not be asked: the map then holds what the others
	// said.
	RunningJobs(ctx context.Context) (map[string][]string, error)
}

// RevokedToken is a deleted VM's token, by id: revoked until it expires.
type RevokedToken struct {
	VM      string
	JTI     string
	Expires time.Time // zero: never expires
}

// TokenRevoker is an optional Pool ability: once a VM is deleted, its
// token must not let anyone who copied it speak for a worker any more.
type TokenRevoker interface {
	RevokeTokens(ctx context.Context, now time.Time, toks []RevokedToken) error
}

// TokenIDs is an optional Bootstrap ability: the id of the token it
// minted into a VM's user-data (recorded in the VM's metadata, so that it
// can be revoked when the VM is deleted, even by a restarted provisioner).
type TokenIDs interface {
	TokenID(vm string) (jti string, expires time.Time, ok bool)
}

// NewVM describes a worker about to be created, for Bootstrap.
type NewVM struct {
	Name   string
	Offer  scale.OfferKey
	Flavor cloud.Flavor
}

// Bootstrap produces a worker's user-data: its rendered cloud-init with its
// own freshly minted token. It is called once per VM, just before create.
type Bootstrap interface {
	UserData(ctx context.Context, vm NewVM) ([]byte, error)
}
