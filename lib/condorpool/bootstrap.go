package condorpool

import (
	"context"
	"fmt"

	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/config"
	"github.com/ehos-project/ehos/lib/provision"
	"github.com/ehos-project/ehos/lib/tmpl"
)

// WorkerAuthz is all a worker's token allows: advertising its startd and
// master, and reading.
var WorkerAuthz = []string{"ADVERTISE_STARTD", "ADVERTISE_MASTER", "READ"}

// Minter mints IDTOKENs; *condor.Client satisfies it.
type Minter interface {
	TokenCreate(ctx context.Context, r condor.TokenRequest) (string, error)
}

// Bootstrap satisfies provision.Bootstrap: each worker gets its own token,
// minted when it is created, in the worker template rendered for it.
type Bootstrap struct {
	Minter   Minter
	Config   *config.Config
	Template *tmpl.Template // parsed once; rendering checks YAML and size each time
}

var _ provision.Bootstrap = (*Bootstrap)(nil)

// NewBootstrap checks the template once with placeholder values, so a broken
// template is found at start-up and not at the first create.
func NewBootstrap(m Minter, cfg *config.Config, file string, src []byte) (*Bootstrap, error) {
	b := &Bootstrap{Minter: m, Config: cfg, Template: tmpl.Parse(file, src)}
	vals, err := tmpl.Values(cfg, tmpl.VMValues{
		InstanceName: "ehos-check-0", Cloud: "check", Region: "check", Flavor: "check",
		WorkerToken: "eyJhbGciOiJIUzI1NiJ9.check.check", Cpus: 1, MemoryMB: 1024,
	})
	if err != nil {
		return nil, err
	}
	if _, err := b.Template.Render(vals); err != nil {
		return nil, err
	}
	return b, nil
}

// UserData mints the VM's token and renders its cloud-init.
func (b *Bootstrap) UserData(ctx context.Context, vm provision.NewVM) ([]byte, error) {
	w := b.Config.Worker
	tok, err := b.Minter.TokenCreate(ctx, condor.TokenRequest{
		Identity: w.IdentityOf(vm.Name), Key: w.TokenKey, Authz: WorkerAuthz, Lifetime: w.TokenLifetime,
	})
	if err != nil {
		return nil, fmt.Errorf("mint token for %s: %w", vm.Name, err)
	}
	size := provision.WorkerSize(vm.Flavor)
	vals, err := tmpl.Values(b.Config, tmpl.VMValues{
		InstanceName: vm.Name, Cloud: vm.Offer.Loc.Cloud, Region: vm.Offer.Loc.Region, Flavor: vm.Offer.Flavor,
		WorkerToken: tok, Cpus: size.Cpus, MemoryMB: size.MemoryMB,
	})
	if err != nil {
		return nil, err
	}
	return b.Template.Render(vals)
}
