package condorpool

import (
	"context"
	"errors"
	"fmt"

	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/provision"
)

// reacher is the Tools ability Reach needs; *condor.Client has it.
type reacher interface {
	Reach(ctx context.Context, addr string) error
}

var _ provision.Reacher = (*Pool)(nil)

// Reach opens a connection to w's startd at the address its ad gives
// (condor.Client.Reach). Tools without the ability cannot tell.
func (p *Pool) Reach(ctx context.Context, w provision.Worker) error {
	r, ok := p.Tools.(reacher)
	if !ok {
		return errors.New("these HTCondor tools cannot probe a worker")
	}
	err := r.Reach(ctx, w.Address)
	if errors.Is(err, condor.ErrUnreachable) {
		return fmt.Errorf("%w: %v", provision.ErrUnreachable, err)
	}
	return err
}
