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
	"github.com/lablink-go/lablink/gpu"
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
// the saved plan and records the attempt in the audit trail. It waits for
// a running launch to finish first.
func (l *Launcher) Destroy(ctx context.Context, actor string) (res DestroyResult, err error) {
	l.applyMu.Lock()
	defer l.applyMu.Unlock()
	start := l.opts.Now()
	l.warmVersion(ctx)

	data, err := os.ReadFile(l.TFVarsPath())
	if errors.Is(err, fs.ErrNotExist) {
		return res, ErrNothingLaunched
	}
	if err != nil {
		return res, fmt.Errorf("destroy: %w", err)
	}
	vals, err := tfvars.Parse(data, l.opts.Format)
	if err != nil {
		return res, fmt.Errorf("destroy: read %s: %w", l.TFVarsPath(), err)
	}
	sum := sha256.Sum256(data)
	r := Rendered{Data: data, Format: l.opts.Format, Values: vals, SHA256: hex.EncodeToString(sum[:])}

	existing, _, err := l.existing(ctx)
	if err != nil {
		return res, fmt.Errorf("destroy: count existing VMs: %w", err)
	}
	in := Inputs{Config: l.cfg, Environment: l.environment()}
	m := l.manifest("destroy", actor, in, gpu.Info{}, r, 0, existing)
	m.GPU = nil
	m, err = l.trail.Begin(ctx, m, l.auditCopy(r))
	if err != nil {
		return res, fmt.Errorf("destroy: audit the attempt: %w", err)
	}
	res.LaunchID = m.LaunchID
	defer func() {
		res.Duration = l.opts.Now().Sub(start)
		res.Audit, err = l.finish(ctx, m, nil, err)
	}()

	if err := l.init(ctx); err != nil {
		return res, err
	}
	plan, planFile, err := l.plan(ctx, m.LaunchID, true)
	defer os.Remove(planFile)
	if err != nil {
		return res, fmt.Errorf("destroy: %w", err)
	}
	s, _ := l.summarize(plan)
	m.Plan = &audit.PlanSummary{Add: s.Create, Change: s.Update, Destroy: s.Delete, Replace: s.Replace}
	res.Destroyed = l.countVMs(plan.PriorState)
	if err := l.apply(ctx, m.LaunchID, planFile, s.Delete); err != nil {
		l.known = -1
		return res, fmt.Errorf("destroy: apply: %w", err)
	}
	l.known = 0
	return res, nil
}

// Status describes the working directory.
type Status struct {
	// VMs is the number of client VMs in the state.
	VMs int
	// TFVars reports whether a runtime tfvars file exists.
	TFVars bool
	// Busy reports that a launch or destroy of this Launcher is running or
	// waiting; VMs is then the count before it.
	Busy bool
	// Last is the newest audit record of this environment, nil if none.
	Last *audit.Manifest
}

// Status reports the client VMs in the state and the last launch. It reads
// files only, except with a non-local backend, where it asks OpenTofu. It
// does not wait for a running apply: a status page must answer while VMs
// are being created.
func (l *Launcher) Status(ctx context.Context) (Status, error) {
	var st Status
	l.mu.Lock()
	st.Busy = l.running
	l.mu.Unlock()
	if !l.applyMu.TryLock() {
		st.Busy = true
	} else {
		l.applyMu.Unlock()
	}
	n, err := l.stableStateVMs(ctx)
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	st.VMs = n
	if _, err := os.Stat(l.TFVarsPath()); err == nil {
		st.TFVars = true
	}
	env := l.environment()
	list, err := l.trail.List(ctx, env)
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	if len(list) > 0 {
		st.Last = &list[0]
	}
	return st, nil
}

// stableStateVMs is stateVMs, read again for up to a second while
// OpenTofu is caught rewriting the local state file (it truncates and
// writes it in place). A file that stays empty for 100ms is the one
// OpenTofu creates for its lock before it has saved anything: no VMs yet.
func (l *Launcher) stableStateVMs(ctx context.Context) (int, error) {
	for try := 0; ; try++ {
		n, err := l.stateVMs(ctx)
		if errors.Is(err, errStateEmpty) && try >= 5 {
			return 0, nil
		}
		if !errors.Is(err, errStateBusy) || try == 50 {
			return n, err
		}
		select {
		case <-ctx.Done():
			return 0, errors.Join(err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// environment is the normalized environment name, the audit trail's key.
func (l *Launcher) environment() string {
	return l.cfg.EnvironmentName(l.env.Environment)
}
