package launcher

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/tfstate"
)

// Status describes the working directory.
type Status struct {
	// VMs are the client VMs in the state, by index.
	VMs []VM
	// Orphans are client VMs the inventory holds and the state does not
	// (see Options.Inventory).
	Orphans []Orphan
	// TFVars reports whether a runtime tfvars file exists.
	TFVars bool
	// Busy reports that a launch or destroy of this Launcher runs or
	// waits; VMs are then those before it.
	Busy bool
	// Last is the newest audit record of this environment, nil if none.
	Last *audit.Manifest
	// State is the problem of the local state, a *tfstate.IntegrityError
	// (the launcher refuses to plan from it), nil when it is sound.
	State error
	// InventoryError is why Options.Inventory could not list the cloud's
	// VMs (an EC2 outage, expired credentials), as its Instances returned
	// it; Orphans are then unknown and nil. It is nil when the inventory
	// answered, when there is none, and when State is set (the
	// inventory is not asked).
	InventoryError error
}

// Status reports the client VMs in the state, those the cloud holds and
// the state does not, and the last launch. It reads files only, except
// with a backend, where it asks OpenTofu (`state pull`, no lock). It does
// not wait for a running apply: a status page must answer while VMs are
// being created. An inventory that cannot be listed does not fail it: the
// error is Status.InventoryError, and the rest is reported.
func (l *Launcher) Status(ctx context.Context) (Status, error) {
	st := Status{Busy: l.q.Busy()}
	if l.wd.localState() && !st.Busy {
		st.State = tfstate.Check(l.dir)
	}
	if st.State == nil {
		raw, err := l.stableState(ctx)
		if err != nil {
			return st, fmt.Errorf("status: %w", err)
		}
		st.VMs = l.vms(raw)
		l.describe(ctx, st.VMs)
		if st.Orphans, err = l.orphans(ctx, st.VMs); err != nil {
			st.Orphans, st.InventoryError = nil, err
		}
	}
	if _, err := os.Stat(l.TFVarsPath()); err == nil {
		st.TFVars = true
	}
	last, err := l.trail.Latest(ctx, l.environment())
	switch {
	case errors.Is(err, audit.ErrNotFound):
	case err != nil:
		return st, fmt.Errorf("status: %w", err)
	default:
		st.Last = &last
	}
	return st, nil
}

// describe fills in the config digest each VM booted with, from its
// launch's audit record (read once per launch: records do not change).
func (l *Launcher) describe(ctx context.Context, vms []VM) {
	for i := range vms {
		id := vms[i].LaunchID
		if id == "" {
			continue
		}
		l.mu.Lock()
		d, ok := l.digests[id]
		l.mu.Unlock()
		if !ok {
			m, _, err := l.trail.Show(ctx, l.environment(), id)
			if errors.Is(err, audit.ErrNotFound) || err == nil {
				d = m.ConfigDigest
				l.mu.Lock()
				l.digests[id] = d
				l.mu.Unlock()
			}
		}
		vms[i].ConfigDigest = d
		vms[i].Stale = d != "" && d != l.digest
	}
}
