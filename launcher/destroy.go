package launcher

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/tfvars"
)

// DestroyResult describes a destroy.
type DestroyResult struct {
	LaunchID  string
	Destroyed int
	Audit     string
	Duration  time.Duration
}

// Destroy destroys every resource of the module, client VMs included. It
// needs the runtime tfvars of an earlier launch (ErrNothingLaunched
// without it), which it passes as -var-file, plans with -destroy, applies
// the saved plan and records the attempt in the audit trail. It waits in
// the launcher's queue like a launch: it runs after the launches queued
// before it and before those queued after it, and is never merged with
// them. Cancelling ctx interrupts OpenTofu as for Launch. After Close it
// returns ErrClosed.
func (l *Launcher) Destroy(ctx context.Context, actor string) (DestroyResult, error) {
	op, err := l.ops.create(ctx, audit.Destroy, actor, map[string]any{})
	if err != nil {
		return DestroyResult{}, err
	}
	return l.runDestroy(ctx, actor, op.ID)
}

// StartDestroy queues a destroy as Destroy does and returns its operation
// at once; the destroy goes on under ctx.
func (l *Launcher) StartDestroy(ctx context.Context, actor string) (audit.Op, error) {
	op, err := l.ops.create(ctx, audit.Destroy, actor, map[string]any{})
	if err != nil {
		return audit.Op{}, err
	}
	go l.runDestroy(ctx, actor, op.ID)
	return op, nil
}

func (l *Launcher) runDestroy(ctx context.Context, actor string, op int64) (DestroyResult, error) {
	var res DestroyResult
	err := l.q.do(ctx, func(ctx context.Context) error {
		l.ops.start(ctx, []int64{op})
		var err error
		res, err = l.destroy(ctx, actor)
		return err
	})
	l.ops.finish(ctx, []int64{op}, res.LaunchID, err)
	return res, err
}

// destroy is Destroy's job in the queue.
func (l *Launcher) destroy(ctx context.Context, actor string) (DestroyResult, error) {
	start := l.opts.Now()
	r, err := l.appliedTFVars()
	if err != nil {
		return DestroyResult{}, err
	}
	existing, _, err := l.existing(ctx)
	if err != nil {
		return DestroyResult{}, fmt.Errorf("destroy: count existing VMs: %w", err)
	}
	var res DestroyResult
	rec := l.newAttempt(audit.Destroy, actor, 0)
	err = l.destroyAttempt(ctx, rec, r, existing, &res)
	res.Audit, err = rec.finish(ctx, err)
	res.LaunchID = rec.id()
	res.Duration = l.opts.Now().Sub(start)
	return res, err
}

// destroyAttempt records the start of the destroy of the VMs that r, the
// applied tfvars, describe, plans it and applies it.
func (l *Launcher) destroyAttempt(ctx context.Context, rec *attempt, r Rendered, existing int, res *DestroyResult) error {
	if err := rec.begin(ctx, r, nil, existing, 0); err != nil {
		return err
	}
	if err := l.wd.init(ctx); err != nil {
		return err
	}
	p, err := l.wd.plan(ctx, rec.id(), l.TFVarsPath(), true, nil)
	if err != nil {
		return fmt.Errorf("destroy: %w", err)
	}
	defer p.Remove()
	sum := p.summary()
	rec.setPlan(sum)
	res.Destroyed = l.state.prior(p, 0)
	if err := l.wd.apply(ctx, p, rec.id(), sum.Destroy); err != nil {
		l.known = -1
		return fmt.Errorf("destroy: apply: %w", err)
	}
	l.known = 0
	return nil
}

// appliedTFVars reads the runtime tfvars last applied in the working
// directory; ErrNothingLaunched when there are none.
func (l *Launcher) appliedTFVars() (Rendered, error) {
	data, err := os.ReadFile(l.TFVarsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return Rendered{}, ErrNothingLaunched
	}
	if err != nil {
		return Rendered{}, fmt.Errorf("destroy: %w", err)
	}
	vals, err := tfvars.Parse(data, l.opts.Format)
	if err != nil {
		return Rendered{}, fmt.Errorf("destroy: read %s: %w", l.TFVarsPath(), err)
	}
	sum := sha256.Sum256(data)
	return Rendered{Data: data, Format: l.opts.Format, Values: vals, SHA256: hex.EncodeToString(sum[:])}, nil
}
