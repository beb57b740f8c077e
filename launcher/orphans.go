package launcher

import (
	"context"
	"slices"
)

// Inventory lists the client VMs the cloud holds for the deployment,
// whatever the state says.
type Inventory interface {
	Instances(ctx context.Context) ([]Instance, error)
}

// Instance is a client VM as the cloud lists it.
type Instance struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	LaunchID string `json:"launch_id,omitempty"`
}

// Orphan is a client VM the cloud holds and the state does not: created
// by an apply that was killed before it saved the state. It is billed
// like any other: import it into the state or terminate it.
type Orphan struct {
	Instance
}

// orphans lists the VMs of Options.Inventory whose id the state does not
// hold; nil without an inventory.
func (l *Launcher) orphans(ctx context.Context) ([]Orphan, error) {
	if l.opts.Inventory == nil {
		return nil, nil
	}
	raw, err := l.stableState(ctx)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, vm := range l.vms(raw) {
		ids = append(ids, vm.ID)
	}
	inst, err := l.opts.Inventory.Instances(ctx)
	if err != nil {
		return nil, err
	}
	var out []Orphan
	for _, in := range inst {
		if !slices.Contains(ids, in.ID) {
			out = append(out, Orphan{Instance: in})
		}
	}
	return out, nil
}
