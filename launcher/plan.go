package launcher

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/lablink-go/lablink/internal/planread"
	"github.com/lablink-go/lablink/launcher/internal/tofu"
)

// savedPlan is a plan saved by `plan -out` and what the launcher read of
// it: from the plan's own event stream when that proves everything the
// launch needs, else from `show -json` of the saved plan. Whoever holds
// one calls Remove when done with it.
type savedPlan struct {
	path string
	plan *planread.Plan
	// fromEvents says plan was read from the event stream, which lists
	// no prior state (plan.Prior is nil).
	fromEvents bool
}

// Remove deletes the plan file. It is safe to call more than once.
func (p *savedPlan) Remove() {
	_ = os.Remove(p.path)
}

// plan saves a plan of varFile (a destroy plan when destroy is set), named
// after id, and reads it. A destroy plan is read with `show -json` (it
// deletes, which the event stream cannot prove). A launch's plan is made
// with -json, and its event stream read as it runs (planread.ReadEvents);
// only when that stream does not prove the plan, or proven reports that
// it lacks what the caller needs, is the saved plan read with `show -json`
// as well. That saves decoding megabytes of `show -json` at hundreds of
// VMs, and one OpenTofu process, on the common launch that only creates
// VMs. On error no plan file is left behind.
func (w *workingDir) plan(ctx context.Context, id, varFile string, destroy bool, proven func(*planread.Plan) bool) (*savedPlan, error) {
	dir := filepath.Join(w.dir, ".lablink", "plans")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &savedPlan{path: filepath.Join(dir, id+".tfplan")}
	args := tofu.PlanArgs{Out: p.path, VarFile: varFile, LockTimeout: w.lockTimeout,
		Parallelism: defaultParallelism, Destroy: destroy, JSON: !destroy && readPlanEvents}
	var err error
	if !args.JSON {
		err = w.run.Run(ctx, id, tofu.Plan(args), nil)
	} else {
		p.plan, err = w.planEvents(ctx, id, args)
		p.fromEvents = err == nil
		if errors.Is(err, planread.ErrNeedsSavedPlan) || err == nil && !proven(p.plan) {
			p.plan, p.fromEvents, err = nil, false, nil
		}
	}
	if err != nil {
		p.Remove()
		return nil, fmt.Errorf("plan: %w", err)
	}
	if p.plan == nil {
		if p.plan, err = w.show(ctx, p.path); err != nil {
			p.Remove()
			return nil, fmt.Errorf("show plan: %w", err)
		}
	}
	return p, nil
}

// readPlanEvents turns the event stream reading on; tests turn it off to
// drive the saved-plan path with plans the stream would prove.
var readPlanEvents = true

// planEvents runs `plan -json -out` and reads its event stream with
// planread.ReadEvents as it comes. An error matching ErrNeedsSavedPlan
// means the plan was saved but must be read from the file. With -json,
// OpenTofu prints a failed plan's diagnostics on the stream, so
// ReadEvents' error is the one returned for them.
func (w *workingDir) planEvents(ctx context.Context, id string, args tofu.PlanArgs) (*planread.Plan, error) {
	var plan *planread.Plan
	var readErr error
	exit := w.run.Run(ctx, id, tofu.Plan(args), func(r io.Reader) error {
		plan, readErr = planread.ReadEvents(r, w.guard)
		return nil
	})
	if exit != nil && ctx.Err() == nil && readErr != nil && !errors.Is(readErr, planread.ErrNeedsSavedPlan) {
		return nil, fmt.Errorf("%w (%w)", readErr, errors.Unwrap(exit)) // the plan's diagnostics
	}
	if exit != nil {
		return nil, exit
	}
	return plan, readErr
}

// show runs `show -json` of the saved plan at path and reads what the
// guard, the summary and the state reader need with planread.Read,
// streaming, rather than decoding the whole plan (megabytes at hundreds of
// VMs).
func (w *workingDir) show(ctx context.Context, path string) (*planread.Plan, error) {
	var plan *planread.Plan
	var readErr error
	err := w.run.Run(ctx, "", tofu.Show(path), func(r io.Reader) error {
		plan, readErr = planread.Read(r, w.guard)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return plan, readErr
}

// summary counts the plan's resource changes: a forget counts as a
// destroy (the resource leaves the state) and forget+create as a replace.
func (p *savedPlan) summary() PlanSummary { return p.plan.Summary }

// guard refuses a plan that would disturb a running client VM or open its
// ports to the internet (package plancheck), with the options the plan
// was read with.
func (p *savedPlan) guard() error {
	return p.plan.Check()
}

// creates lists the client VMs the plan creates, by address, in plan
// order.
func (p *savedPlan) creates(vmResource string) []string {
	var out []string
	for _, c := range p.plan.Changes {
		if c.Mode != "data" && c.Name == vmResource && slices.Contains(c.Actions, "create") {
			out = append(out, c.Address)
		}
	}
	return out
}
