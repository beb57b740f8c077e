package launcher

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/planread"
	"github.com/lablink-go/lablink/plancheck"
)

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
	l.startOps(ctx, ids)
	rec := l.newAttempt(audit.Launch, strings.Join(actors, ","), res.Requested)
	err := l.launchAttempt(ctx, rec, ids, &res)
	if err != nil {
		err = fmt.Errorf("launch: %w", err)
	}
	res.Audit, err = rec.finish(ctx, err)
	res.LaunchID = rec.id()
	res.Duration = l.opts.Now().Sub(start)
	l.finishOps(ctx, ids, res.LaunchID, err)
	return res, err
}

// launchAttempt adds res.Requested VMs, filling in res: it checks the
// state, resolves the run-time inputs, counts the VMs, writes and plans
// the tfvars, refuses a plan that would disturb a running client VM or
// open its ports to the internet, and applies. Until the apply starts, a
// failure puts the previous runtime tfvars back. An apply that OpenTofu
// refuses because the state changed since the plan (another allocator
// applied in between; nothing was applied) supersedes the attempt, and
// the launch counts and plans again, up to maxStalePlans times.
func (l *Launcher) launchAttempt(ctx context.Context, rec *attempt, ops []int64, res *Result) error {
	if err := l.preflight(ctx); err != nil {
		return err
	}
	untainted, dropped, read, err := l.keepTainted(ctx, false)
	if err != nil {
		return err
	}
	res.Untainted, res.Dropped = untainted, dropped
	in, info, err := l.resolve(ctx)
	if err != nil {
		return err
	}
	res.AllocatorURL, res.GPU = in.URL.String(), info
	snap, err := snapshotTFVars(l.TFVarsPath())
	if err != nil {
		return err
	}
	for stale := 0; ; stale++ {
		// The first count starts from the state keepTainted read.
		existing, floor, fromState, err := l.existingIn(ctx, read)
		read = nil
		if err != nil {
			return snap.restore(fmt.Errorf("count existing VMs: %w", err))
		}
		p, err := l.planLaunch(ctx, rec, res, in, &info, existing, floor, fromState)
		if err != nil {
			return snap.restore(err)
		}
		started, err := l.guardAndApply(ctx, rec, ops, res, p)
		switch {
		case started:
			return err
		case errors.Is(err, errStalePlan) && stale < maxStalePlans:
			if err := rec.supersede(ctx, fmt.Errorf("%w: %w", errSuperseded, err)); err != nil {
				return snap.restore(err)
			}
		case errors.Is(err, plancheck.ErrRefused) && stale == 0 && res.Untainted == nil && res.Dropped == nil:
			// The state may hold VMs that another process's apply left
			// tainted (the scan is skipped after this process's own
			// apply): settle them and plan once more.
			untainted, dropped, _, terr := l.keepTainted(ctx, true)
			if terr != nil || untainted == nil && dropped == nil {
				return snap.restore(errors.Join(err, terr))
			}
			res.Untainted, res.Dropped = untainted, dropped
			if err := rec.supersede(ctx, fmt.Errorf("%w: kept %d tainted VMs, dropped %d", errSuperseded, len(untainted), len(dropped))); err != nil {
				return snap.restore(err)
			}
		default:
			return snap.restore(err)
		}
	}
}

// renderTFVars renders the runtime tfvars; tests replace it to make a
// render fail.
var renderTFVars = clientvars.Render

// maxStalePlans bounds the re-plans of one launch after stale plans.
const maxStalePlans = 5

// resolve is clientvars.Resolve for the launcher's config and environment.
func (l *Launcher) resolve(ctx context.Context) (clientvars.Inputs, gpu.Info, error) {
	return clientvars.Resolve(ctx, l.cfg, l.env, l.gpus)
}

// guardAndApply records p's summary, refuses it if the guard does, else
// applies it; it removes the plan file. started reports that the apply
// began changing things: false when the guard refused the plan or
// OpenTofu found it stale.
func (l *Launcher) guardAndApply(ctx context.Context, rec *attempt, ops []int64, res *Result, p *savedPlan) (started bool, err error) {
	defer p.Remove()
	sum := p.summary()
	res.Plan = sum
	rec.setPlan(sum)
	if err := p.guard(); err != nil {
		return false, err
	}
	planned := sum.Add + sum.Change + sum.Destroy + sum.Replace
	creates := l.pendingOf(p.creates(l.opts.VMResource))
	a, err := l.applyJournaled(ctx, rec, ops, p, planned, journal{Action: "launch", Creates: creates})
	if err != nil {
		if errors.Is(err, errStalePlan) {
			return false, fmt.Errorf("apply: %w", err)
		}
		return true, l.failedApply(ctx, res, a, len(creates), err)
	}
	l.setKnown(res.Total)
	return true, nil
}

// applyJournaled applies p with its journal kept until it ends: the state
// is kept (a copy of a local state, the serial of a backend's) before,
// and read back after, so that a lost or stale state shows at once.
func (l *Launcher) applyJournaled(ctx context.Context, rec *attempt, ops []int64, p *savedPlan, planned int, j journal) (applied, error) {
	mark, err := l.markState(ctx)
	if err != nil {
		return applied{}, err
	}
	j.LaunchID, j.Ops, j.Started = rec.id(), ops, l.opts.Now().UTC()
	if err := l.writeJournal(j); err != nil {
		return applied{}, err
	}
	defer l.clearJournal(j.LaunchID)
	progress := func(pr Progress) { l.progressOps(ops, pr) }
	a, err := l.wd.apply(ctx, p, rec.id(), planned, progress)
	if err != nil {
		l.setKnown(-1)
		return a, err
	}
	if planned > 0 {
		if err := l.checkApplied(ctx, mark); err != nil {
			l.setKnown(-1)
			return a, err
		}
	}
	return a, nil
}

// failedApply explains an apply that failed or was interrupted (an
// *ApplyError): how many of the planned VMs it created, what the state
// now holds, and the VMs the inventory holds that the state does not.
func (l *Launcher) failedApply(ctx context.Context, res *Result, a applied, planned int, err error) error {
	e := &ApplyError{Action: "launch", Interrupted: errors.Is(err, context.Canceled), Done: a.Done,
		Planned: planned, Created: len(a.Created), InState: -1, Err: err}
	raw, serr := l.stableState(context.WithoutCancel(ctx))
	if serr != nil {
		return e
	}
	vms := l.vms(raw)
	e.InState = len(vms)
	if orphans, oerr := l.orphans(context.WithoutCancel(ctx), vms); oerr == nil && len(orphans) > 0 {
		res.Orphans = orphans
	}
	return e
}

// planLaunch plans existing + res.Requested VMs, and at least floor (the
// numbers the state's VMs take). When existing came from state and the
// plan, which holds the state lock, found another number of client VMs in
// its prior state (another process applied since), the attempt's record
// is superseded and the plan made again, once, with the plan's number.
func (l *Launcher) planLaunch(ctx context.Context, rec *attempt, res *Result, in clientvars.Inputs, info *gpu.Info, existing, floor int, fromState bool) (*savedPlan, error) {
	for replanned := false; ; replanned = true {
		in.InstanceCount = max(existing+res.Requested, floor)
		p, err := l.writeAndPlan(ctx, rec, res, in, info, existing)
		if err != nil {
			return nil, err
		}
		prior := l.prior(p, in.InstanceCount)
		if !fromState || prior == existing || replanned {
			res.Existing, res.Total = existing, in.InstanceCount
			return p, nil
		}
		p.Remove()
		stale := fmt.Errorf("%w: the state holds %d client VMs, not %d", errSuperseded, prior, existing)
		if err := rec.supersede(ctx, stale); err != nil {
			return nil, err
		}
		existing, floor = prior, 0
	}
}

// writeAndPlan renders the tfvars for in, begins the attempt's record
// with them, writes them into the working directory and plans them.
func (l *Launcher) writeAndPlan(ctx context.Context, rec *attempt, res *Result, in clientvars.Inputs, info *gpu.Info, existing int) (*savedPlan, error) {
	in.LaunchID = rec.nextID()
	r, err := renderTFVars(l.schema, in, l.opts.Format)
	if err != nil {
		return nil, err
	}
	if err := rec.begin(ctx, r, info, existing, in.InstanceCount); err != nil {
		return nil, err
	}
	if err := writeTFVars(l.TFVarsPath(), r.Data); err != nil {
		return nil, fmt.Errorf("write tfvars: %w", err)
	}
	res.TFVarsSHA256 = r.SHA256
	if err := l.wd.init(ctx); err != nil {
		return nil, err
	}
	total := in.InstanceCount
	return l.wd.plan(ctx, rec.id(), l.TFVarsPath(), false, func(pl *planread.Plan) bool {
		_, ok := createdTail(pl, total, l.opts.VMResource)
		return ok
	})
}
