package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ehos-project/ehos/lib/classad"
	"github.com/ehos-project/ehos/lib/cloud"
	"github.com/ehos-project/ehos/lib/condor"
	"github.com/ehos-project/ehos/lib/openstack"
)

// Worker is a worker's startd as the collector knows it.
type Worker struct {
	Name     string       // EHOSName
	Machine  string       //
	Pool     string       // EHOSPool
	Identity string       // the VM's own identity: only its ads count
	Slots    []classad.Ad // its slot ads
}

// ErrNotOurs is returned for a node ehos does not own.
var ErrNotOurs = errors.New("not an ehos worker of this pool")

var workerAttrs = []string{"MyType", "Name", "Machine", "EHOSName", "EHOSPool", "State", "Activity", "PartitionableSlot", "DynamicSlot", "SlotType", "AuthenticatedIdentity"}

// ownAds keeps the ads the collector stamped with the identity of the VM
// they name (identityOf(EHOSName)): another worker's token cannot make a
// busy VM look empty, or retire one that is not its own. identityOf nil
// keeps every ad.
func ownAds(ads []classad.Ad, identityOf func(string) string) (own []classad.Ad, foreign []string) {
	for _, a := range ads {
		if identityOf == nil || a.GetString("AuthenticatedIdentity") == identityOf(a.GetString("EHOSName")) {
			own = append(own, a)
		} else {
			foreign = append(foreign, fmt.Sprintf("%s from %q", a.GetString("Name"), a.GetString("AuthenticatedIdentity")))
		}
	}
	return own, foreign
}

// FindWorker finds the slot ads of node (its EHOSName, Machine or a slot's
// Name) and refuses a startd that is not an ehos worker of pool. Only ads
// from the VM's own identity (identityOf, config.Worker.IdentityOf) count.
func FindWorker(ctx context.Context, c *condor.Client, node, pool string, identityOf func(string) string) (Worker, error) {
	q := classad.Quote(node)
	ads, err := c.Status(ctx, condor.StatusQuery{Attrs: workerAttrs, // default kind: slot ads (-startd gives the StartD daemon ads in 23.x)

		Constraint: fmt.Sprintf(`SlotID =!= undefined && (EHOSName =?= %s || Machine =?= %s || Name =?= %s)`, q, q, q)})
	if err != nil {
		return Worker{}, err
	}
	ads, foreign := ownAds(ads, identityOf)
	if len(ads) == 0 && len(foreign) > 0 {
		return Worker{}, fmt.Errorf("node %q: %w: its slot ads are not from the identity of the VM they name (%s): refusing (docs/security.md)", node, ErrNotOurs, strings.Join(foreign, ", "))
	}
	if len(ads) == 0 {
		return Worker{}, fmt.Errorf("node %q: no startd in the collector with that EHOSName, Machine or Name (ehos nodes lists them)", node)
	}
	w := Worker{Name: ads[0].GetString("EHOSName"), Machine: ads[0].GetString("Machine"), Pool: ads[0].GetString("EHOSPool"), Slots: ads}
	for _, a := range ads {
		if a.GetString("EHOSName") != w.Name || a.GetString("Machine") != w.Machine {
			return Worker{}, fmt.Errorf("node %q matches several startds (%s and %s): give the EHOSName", node, w.Machine, a.GetString("Machine"))
		}
	}
	if w.Name == "" {
		return Worker{}, fmt.Errorf("node %q (%s): %w: its startd has no EHOSName (not started by ehos): refusing", node, w.Machine, ErrNotOurs)
	}
	if w.Pool != pool {
		return Worker{}, fmt.Errorf("node %q: %w: EHOSPool is %q, this pool is %q: refusing", node, ErrNotOurs, w.Pool, pool)
	}
	if identityOf != nil {
		w.Identity = identityOf(w.Name)
	}
	return w, nil
}

// DrainName is the name condor_drain wants: a slot's Name (23.x wants the
// slot1@... form for a partitionable startd).
func (w Worker) DrainName() string {
	for _, a := range w.Slots {
		if a.GetBool("PartitionableSlot", false) {
			return a.GetString("Name")
		}
	}
	return w.Slots[0].GetString("Name")
}

// Claimed counts the worker's claimed slots now, in the ads of its own
// identity (w.Identity, when set). With none of its ads in the collector
// (gone, or withdrawn by someone else) it is an error, never "empty".
func Claimed(ctx context.Context, c *condor.Client, w Worker) (int, error) {
	ads, err := c.Status(ctx, condor.StatusQuery{Attrs: workerAttrs, // default kind: slot ads (-startd gives the StartD daemon ads in 23.x)

		Constraint: fmt.Sprintf(`SlotID =!= undefined && EHOSName =?= %s && Machine =?= %s`, classad.Quote(w.Name), classad.Quote(w.Machine))})
	if err != nil {
		return 0, err
	}
	if w.Identity != "" {
		ads, _ = ownAds(ads, func(string) string { return w.Identity })
		if len(ads) == 0 {
			return 0, fmt.Errorf("node %s: no slot ad from %s in the collector (its startd is gone, or another identity withdrew its ads): not counted as empty", w.Name, w.Identity)
		}
	}
	n := 0
	for _, a := range ads {
		if a.GetString("State") == "Claimed" {
			n++
		}
	}
	return n, nil
}

// WaitEmpty polls until the worker has no claimed slot, or ctx ends.
func WaitEmpty(ctx context.Context, c *condor.Client, w Worker, poll time.Duration) error {
	for {
		n, err := Claimed(ctx, c, w)
		if err == nil && n == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			if err != nil {
				return fmt.Errorf("node %s still busy: %w (last error: %v)", w.Name, ctx.Err(), err)
			}
			return fmt.Errorf("node %s still has %d claimed slot(s): %w", w.Name, n, ctx.Err())
		case <-time.After(poll):
		}
	}
}

// OwnedVM is a VM found by its ehos_name.
type OwnedVM struct {
	Cloud *openstack.Cloud
	VM    cloud.VM
}

// FindVM finds the VM named name (ehos_name metadata) of pool in the
// clouds, and refuses one another provisioner owns (owner "" accepts any).
func FindVM(ctx context.Context, clouds []*openstack.Cloud, pool, owner, name string) (OwnedVM, error) {
	var errs []string
	for _, c := range clouds {
		for _, r := range c.Regions() {
			vms, err := c.List(ctx, r, pool, "")
			if err != nil {
				errs = append(errs, err.Error())
				continue
			}
			for _, vm := range vms {
				if vm.Metadata[cloud.MetaName] != name && vm.Name != name {
					continue
				}
				if owner != "" && vm.Metadata[cloud.MetaOwner] != owner {
					return OwnedVM{}, fmt.Errorf("VM %s (%s in %s/%s): %w: owned by provisioner %q, not %q: refusing", name, vm.ID, c.Name(), r, ErrNotOurs, vm.Metadata[cloud.MetaOwner], owner)
				}
				return OwnedVM{Cloud: c, VM: vm}, nil
			}
		}
	}
	msg := fmt.Sprintf("no VM with ehos_name %q of pool %q in the configured clouds", name, pool)
	if len(errs) > 0 {
		msg += " (some regions could not be listed: " + strings.Join(errs, "; ") + ")"
	}
	return OwnedVM{}, errors.New(msg)
}
