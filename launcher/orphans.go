package launcher

import (
	"context"
	"path/filepath"

	"github.com/lablink-go/lablink/inventory"
)

// Inventory lists the client VMs the cloud holds for the deployment,
// whatever the state says: *inventory.EC2 for the aws module (by the
// deployment's tag), *inventory.Dir for the local module's records.
type Inventory = inventory.Lister

// Orphan is a client VM the cloud holds and the state does not, created by
// an apply that was killed before it saved the state, with the command
// that imports it into the state or terminates it.
type Orphan = inventory.Orphan

// orphans lists the VMs of Options.Inventory that vms, the client VMs of
// the state as the caller read it, do not hold; nil without an inventory.
func (l *Launcher) orphans(ctx context.Context, vms []VM) ([]Orphan, error) {
	if l.opts.Inventory == nil {
		return nil, nil
	}
	inst, err := l.opts.Inventory.Instances(ctx)
	if err != nil {
		return nil, err
	}
	return l.orphansOf(inst, vms), nil
}

// orphansOf compares the inventory with the VMs of the state.
func (l *Launcher) orphansOf(inst []inventory.Instance, vms []VM) []Orphan {
	state := make([]inventory.Tracked, 0, len(vms))
	for _, vm := range vms {
		state = append(state, tracked(vm))
	}
	return inventory.Orphans(inst, state, &inventory.Options{
		Tofu: l.tofu.Path, Dir: l.dir, VarFile: filepath.Base(l.TFVarsPath()),
	})
}

// tracked is vm as the inventory compares it with the cloud's VMs.
func tracked(vm VM) inventory.Tracked {
	return inventory.Tracked{Index: vm.Index, ID: vm.ID, LaunchID: vm.LaunchID}
}
