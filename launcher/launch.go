package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/plancheck"
)

// Request asks for Count more client VMs.
type Request struct {
	Count int
	// Actor names who asked (an admin user name), for the audit trail.
	Actor string

	op int64 // the request's operation
}

// PlanSummary counts the resource changes of a plan. It is the audit
// trail's type, so that a Result and its audit record count alike.
type PlanSummary = audit.PlanSummary

// Result describes the apply that covered a request.
type Result struct {
	LaunchID string
	// Existing VMs before the apply, Requested by all merged requests,
	// Total = Existing + Requested (the instance_count applied).
	Existing, Requested, Total int
	// Merged is how many requests this apply covered (1 when alone).
	Merged       int
	AllocatorURL string
	GPU          gpu.Info
	TFVarsPath   string
	TFVarsSHA256 string
	Plan         PlanSummary
	// Audit is the location of the launch's audit record.
	Audit string
	// Outputs are the module's outputs after the apply, as JSON,
	// sensitive ones included: do not log them.
	Outputs map[string]json.RawMessage
	// Duration of the whole launch.
	Duration time.Duration
}

// launch runs one apply for the merged requests reqs and records it in
// the audit trail; it is the queue's run function.
func (l *Launcher) launch(ctx context.Context, reqs []Request) (Result, error) {
	start := l.opts.Now()
	res := Result{Merged: len(reqs)}
	var actors []string
	for _, r := range reqs {
		res.Requested += r.Count
		if r.Actor != "" && !slices.Contains(actors, r.Actor) {
			actors = append(actors, r.Actor)
		}
	}
	ids := opIDs(reqs)
	l.ops.start(ctx, ids)
	rec := l.newAttempt(audit.Launch, strings.Join(actors, ","), res.Requested)
	err := l.launchAttempt(ctx, rec, &res)
	res.Audit, err = rec.finish(ctx, err)
	res.LaunchID = rec.id()
	res.Duration = l.opts.Now().Sub(start)
	l.ops.finish(ctx, ids, res.LaunchID, err)
	return res, err
}

// launchAttempt adds res.Requested VMs, filling in res: it resolves the
// run-time inputs, counts the VMs, writes and plans the tfvars, refuses a
// plan that would disturb a running client VM or open its ports to the
// internet, and applies. Until the apply starts, a failure puts the
// previous runtime tfvars back. An apply that OpenTofu refuses because
// the state changed since the plan (another allocator applied in
// between; nothing was applied) supersedes the attempt, and the launch
// counts and plans again, up to maxStalePlans times.
func (l *Launcher) launchAttempt(ctx context.Context, rec *attempt, res *Result) error {
	in, info, err := l.resolve(ctx, l.gpus)
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	res.AllocatorURL, res.GPU = in.URL.String(), info
	snap, err := snapshotTFVars(l.TFVarsPath())
	if err != nil {
		return fmt.Errorf("launch: %w", err)
	}
	for stale := 0; ; stale++ {
		existing, fromState, err := l.existing(ctx)
		if err != nil {
			return snap.restore(fmt.Errorf("launch: count existing VMs: %w", err))
		}
		p, err := l.planLaunch(ctx, rec, res, in, &info, existing, fromState)
		if err != nil {
			return snap.restore(err)
		}
		started, err := l.guardAndApply(ctx, rec, res, p)
		switch {
		case started:
			return err
		case errors.Is(err, errStalePlan) && stale < maxStalePlans:
			if err := rec.supersede(ctx, fmt.Errorf("%w: %w", errSuperseded, err)); err != nil {
				return snap.restore(err)
			}
		default:
			return snap.restore(err)
		}
	}
}

// maxStalePlans bounds the re-plans of one launch after stale plans.
const maxStalePlans = 5

// guardAndApply records p's summary, refuses it if the guard does, else
// applies it and reads the outputs; it removes the plan file. started
// reports that the apply began changing things: false when the guard
// refused the plan or OpenTofu found it stale. l.known is forgotten after
// a failed apply.
func (l *Launcher) guardAndApply(ctx context.Context, rec *attempt, res *Result, p *savedPlan) (started bool, err error) {
	defer p.Remove()
	sum := p.summary()
	res.Plan = sum
	rec.setPlan(sum)
	if err := p.guard(); err != nil {
		return false, err
	}
	if err := l.wd.apply(ctx, p, rec.id(), sum.Add+sum.Change+sum.Destroy+sum.Replace); err != nil {
		l.known = -1
		return !errors.Is(err, errStalePlan), fmt.Errorf("launch: apply: %w", err)
	}
	l.known = res.Total
	res.Outputs = l.wd.outputs(ctx)
	return true, nil
}

// planLaunch plans existing + res.Requested VMs. When existing came from
// state and the plan, which holds the state lock, found another number of
// client VMs in its prior state (another process applied since), the
// attempt's record is superseded and the plan made again, once, with the
// plan's number.
func (l *Launcher) planLaunch(ctx context.Context, rec *attempt, res *Result, in Inputs, info *gpu.Info, existing int, fromState bool) (*savedPlan, error) {
	for replanned := false; ; replanned = true {
		in.InstanceCount = existing + res.Requested
		p, err := l.writeAndPlan(ctx, rec, res, in, info, existing)
		if err != nil {
			return nil, err
		}
		prior := l.state.prior(p, in.InstanceCount)
		if !fromState || prior == existing || replanned {
			res.Existing, res.Total = existing, in.InstanceCount
			return p, nil
		}
		p.Remove()
		stale := fmt.Errorf("%w: the state holds %d client VMs, not %d", errSuperseded, prior, existing)
		if err := rec.supersede(ctx, stale); err != nil {
			return nil, err
		}
		existing = prior
	}
}

// writeAndPlan renders the tfvars for in, begins the attempt's record
// with them, writes them into the working directory and plans them.
func (l *Launcher) writeAndPlan(ctx context.Context, rec *attempt, res *Result, in Inputs, info *gpu.Info, existing int) (*savedPlan, error) {
	r, err := Render(l.schema, in, l.opts.Format)
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	if err := rec.begin(ctx, r, info, existing, in.InstanceCount); err != nil {
		return nil, err
	}
	if err := writeTFVars(l.TFVarsPath(), r.Data); err != nil {
		return nil, fmt.Errorf("launch: write tfvars: %w", err)
	}
	res.TFVarsPath, res.TFVarsSHA256 = l.TFVarsPath(), r.SHA256
	if err := l.wd.init(ctx); err != nil {
		return nil, err
	}
	total := in.InstanceCount
	p, err := l.wd.plan(ctx, rec.id(), l.TFVarsPath(), false, func(pl *plancheck.Plan) bool {
		_, ok := l.state.createdTail(pl, total)
		return ok
	})
	if err != nil {
		return nil, fmt.Errorf("launch: %w", err)
	}
	return p, nil
}
