package launcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/tfvars"
)

// destroy is a destroy's job in the queue: it checks the state, passes
// the runtime tfvars of the last launch as -var-file (or, in a working
// directory that launched nothing on a state that holds VMs, another
// allocator's, tfvars rendered from the config for them), plans with
// -destroy, applies the saved plan and records the attempt in the audit
// trail. A state the launcher refuses fails the attempt before anything
// is counted or written.
func (l *Launcher) destroy(ctx context.Context, req Request) (Result, error) {
	start := l.opts.Now()
	ids := []int64{req.op}
	l.startOps(ctx, ids)
	var res Result
	var r clientvars.Rendered
	existing := -1 // not counted yet
	err := l.preflight(ctx)
	if err == nil {
		r, err = l.appliedTFVars()
		if errors.Is(err, ErrNothingLaunched) {
			r, existing, err = l.tfvarsForShared(ctx)
		}
		if err != nil {
			// Nothing to destroy, nothing attempted: no audit record.
			err = fmt.Errorf("destroy: %w", err)
			l.finishOps(ctx, ids, "", err)
			return res, err
		}
	}
	rec := l.newAttempt(audit.Destroy, req.Actor, 0)
	if err == nil {
		err = l.destroyAttempt(ctx, rec, ids, r, existing, &res)
	}
	if err != nil {
		err = fmt.Errorf("destroy: %w", err)
	}
	res.Audit, err = rec.finish(ctx, err)
	res.LaunchID = rec.id()
	res.Duration = l.opts.Now().Sub(start)
	l.finishOps(ctx, ids, res.LaunchID, err)
	return res, err
}

// destroyAttempt records the start of the destroy of the VMs the applied
// tfvars describe, plans it and applies it; existing is the client VMs
// counted already, -1 if they were not.
func (l *Launcher) destroyAttempt(ctx context.Context, rec *attempt, ids []int64, r clientvars.Rendered, existing int, res *Result) error {
	if existing < 0 {
		var err error
		if existing, _, _, err = l.existing(ctx); err != nil {
			return fmt.Errorf("count existing VMs: %w", err)
		}
	}
	res.Existing = existing
	if err := rec.begin(ctx, r, nil, existing, 0); err != nil {
		return err
	}
	if err := l.wd.init(ctx); err != nil {
		return err
	}
	p, err := l.wd.plan(ctx, rec.id(), l.TFVarsPath(), true, nil)
	if err != nil {
		return err
	}
	defer p.Remove()
	sum := p.summary()
	rec.setPlan(sum)
	res.Plan = sum
	res.Destroyed = l.prior(p, 0)
	a, err := l.applyJournaled(ctx, rec, ids, p, sum.Destroy, journal{Action: "destroy"})
	if err != nil {
		e := &ApplyError{Action: "destroy", Interrupted: errors.Is(err, context.Canceled), Done: a.Done,
			Planned: sum.Destroy, InState: -1, Err: err}
		if raw, serr := l.stableState(context.WithoutCancel(ctx)); serr == nil {
			e.InState = len(l.vms(raw))
		}
		return e
	}
	l.setKnown(0)
	return nil
}

// appliedTFVars reads the runtime tfvars last applied in the working
// directory; ErrNothingLaunched when there are none.
func (l *Launcher) appliedTFVars() (clientvars.Rendered, error) {
	data, err := os.ReadFile(l.TFVarsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return clientvars.Rendered{}, ErrNothingLaunched
	}
	if err != nil {
		return clientvars.Rendered{}, err
	}
	vals, err := tfvars.Parse(data, l.opts.Format)
	if err != nil {
		return clientvars.Rendered{}, fmt.Errorf("read %s: %w", l.TFVarsPath(), err)
	}
	sum := sha256.Sum256(data)
	return clientvars.Rendered{Data: data, Format: l.opts.Format, Values: vals, SHA256: hex.EncodeToString(sum[:])}, nil
}

// tfvarsForShared renders, and writes, the runtime tfvars for the VMs of a
// state that this working directory did not launch (another allocator
// shares it), so that a destroy or a scheduled one can run here, and
// returns the client VMs it counted; with no VM in the state it is
// ErrNothingLaunched, upstream's 404.
func (l *Launcher) tfvarsForShared(ctx context.Context) (clientvars.Rendered, int, error) {
	existing, floor, _, err := l.existing(ctx)
	if err != nil {
		return clientvars.Rendered{}, 0, fmt.Errorf("count existing VMs: %w", err)
	}
	if existing == 0 || l.opts.NoLaunch {
		return clientvars.Rendered{}, 0, ErrNothingLaunched
	}
	in, _, err := l.resolve(ctx)
	if err != nil {
		return clientvars.Rendered{}, 0, err
	}
	in.InstanceCount = max(existing, floor)
	r, err := renderTFVars(l.schema, in, l.opts.Format)
	if err != nil {
		return clientvars.Rendered{}, 0, err
	}
	if err := writeTFVars(l.TFVarsPath(), r.Data); err != nil {
		return clientvars.Rendered{}, 0, fmt.Errorf("write tfvars: %w", err)
	}
	return r, existing, nil
}
