package launcher

import (
	"context"
	"fmt"
	"slices"

	"github.com/lablink-go/lablink/inventory"
	"github.com/lablink-go/lablink/launcher/internal/tofu"
)

// keepTainted settles the client VMs of the state that OpenTofu marked
// tainted: an apply that created them was interrupted (OpenTofu stops
// their provisioners) or failed after it. The next plan would replace
// them, which the guard refuses, so that every launch would be refused
// from then on. A tainted VM the cloud holds (Options.Inventory; without
// an inventory, every one: it has an id, so it was created) is kept: its
// taint is cleared, and it runs on like the others. One the inventory
// does not hold does not exist: it leaves the state, and the next launch
// creates its number again. It returns the addresses untainted and
// dropped, and the state it read when it changed nothing (nil when it
// read none), which the count of the launch can start from. Unless
// forced, it trusts a state this process's last apply saved to hold
// nothing tainted and reads nothing (launchAttempt forces it when the
// guard refuses a plan: another process may have left VMs tainted).
func (l *Launcher) keepTainted(ctx context.Context, force bool) (untainted, dropped []string, read *rawState, err error) {
	if !force && l.getKnown() >= 0 {
		return nil, nil, nil, nil
	}
	raw, err := l.stableState(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	var tainted []VM
	for _, vm := range l.vms(raw) {
		if vm.Tainted {
			tainted = append(tainted, vm)
		}
	}
	if len(tainted) == 0 {
		return nil, nil, &raw, nil
	}
	var held []inventory.Instance
	if l.opts.Inventory != nil {
		if held, err = l.opts.Inventory.Instances(ctx); err != nil {
			return nil, nil, nil, fmt.Errorf("list the inventory for %d tainted VMs: %w", len(tainted), err)
		}
	}
	for _, vm := range tainted {
		args := tofu.Untaint(vm.Address, l.opts.LockTimeout)
		if l.opts.Inventory != nil && !slices.ContainsFunc(held, tracked(vm).Holds) {
			args = tofu.StateRm(vm.Address, l.opts.LockTimeout)
			dropped = append(dropped, vm.Address)
		} else {
			untainted = append(untainted, vm.Address)
		}
		if err := l.tofu.Run(ctx, "", args, nil); err != nil {
			return untainted, dropped, nil, fmt.Errorf("settle the tainted VM %s: %w", vm.Address, err)
		}
	}
	l.setKnown(-1)
	l.opts.Logger.Warn("kept the client VMs an interrupted or failed apply left tainted, dropped those the cloud does not hold",
		"untainted", untainted, "dropped", dropped)
	return untainted, dropped, nil, nil
}
