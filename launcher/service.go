package launcher

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher/internal/queue"
)

// Request asks for a launch of Count more client VMs, or a destroy of all
// of them.
type Request struct {
	// Destroy asks for a destroy; Count is then ignored.
	Destroy bool
	// Count is how many VMs a launch adds, 1 to Options.MaxCount.
	Count int
	// Actor names who asked (an admin user name), for the records.
	Actor string
	// Schedule links the operation to the schedule that started it (its
	// id and occurrence), "" for a request made on demand.
	Schedule string

	op int64 // the request's operation
}

// action is what r does, in the records' vocabulary.
func (r Request) action() audit.Action {
	if r.Destroy {
		return audit.Destroy
	}
	return audit.Launch
}

// PlanSummary counts the resource changes of a plan. It is the audit
// trail's type, so that a Result and its audit record count alike.
type PlanSummary = audit.PlanSummary

// Result describes the apply that covered a request.
type Result struct {
	// Op is the request's operation record id.
	Op int64
	// LaunchID names the audit record of the apply.
	LaunchID string
	// Existing VMs before the apply, Requested by all merged requests,
	// Total the instance_count applied (0 for a destroy): Existing +
	// Requested, or more when numbers below the highest VM are missing
	// from the state (the plan fills them rather than delete the VMs
	// above).
	Existing, Requested, Total int
	// Merged is how many requests this apply covered (1 when alone).
	Merged int
	// Destroyed counts the client VMs a destroy removed.
	Destroyed    int
	AllocatorURL string
	GPU          gpu.Info
	TFVarsSHA256 string
	Plan         PlanSummary
	// Audit is the location of the audit record (a path or an s3:// URL).
	Audit string
	// Orphans are client VMs the inventory holds and the state does not
	// (see Options.Inventory), found after an apply that failed.
	Orphans []Orphan
	// Untainted are the client VMs an interrupted or failed earlier apply
	// left tainted that the launch kept (a plan would replace them, and a
	// running VM is never replaced); Dropped those it removed from the
	// state because the inventory does not hold them (they were never
	// created).
	Untainted, Dropped []string
	// Duration of the whole launch or destroy.
	Duration time.Duration
}

// Launch adds req.Count client VMs and returns the result of the apply
// that created them. Requests that arrive while another apply runs are
// merged into the next apply, up to Options.MaxCount VMs; each keeps its
// own operation record. Cancelling ctx interrupts OpenTofu (one SIGINT,
// never a kill) once every request merged into the same apply has been
// cancelled; the error then satisfies errors.Is(err, context.Canceled).
// After Shutdown or Close it returns ErrClosed.
func (l *Launcher) Launch(ctx context.Context, req Request) (Result, error) {
	req.Destroy = false
	return l.do(ctx, req)
}

// Destroy destroys every resource of the module, client VMs included. It
// needs the runtime tfvars of an earlier launch (ErrNothingLaunched
// without it). It waits in the queue like a launch, never merged: after
// the launches queued before it and before those queued after it.
func (l *Launcher) Destroy(ctx context.Context, req Request) (Result, error) {
	req.Destroy = true
	return l.do(ctx, req)
}

// Start queues req as Launch or Destroy do and returns its operation at
// once, queued; the work goes on under ctx (a server passes its own
// lifetime, not the request's). Follow it with Op, Watch or Wait.
func (l *Launcher) Start(ctx context.Context, req Request) (audit.Op, error) {
	op, err := l.newOp(ctx, req)
	if err != nil {
		return audit.Op{}, err
	}
	req.op = op.ID
	if !l.track() {
		l.finishOps(ctx, []int64{op.ID}, "", ErrClosed)
		return audit.Op{}, ErrClosed
	}
	go func() {
		defer l.wg.Done()
		_, _ = l.run(ctx, req)
	}()
	return op, nil
}

// track counts a goroutine of Start, unless the launcher is closing.
func (l *Launcher) track() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.stopped {
		return false
	}
	l.wg.Add(1)
	return true
}

func (l *Launcher) do(ctx context.Context, req Request) (Result, error) {
	op, err := l.newOp(ctx, req)
	if err != nil {
		return Result{}, err
	}
	req.op = op.ID
	res, err := l.run(ctx, req)
	res.Op = op.ID
	return res, err
}

// newOp validates req and records its operation, queued.
func (l *Launcher) newOp(ctx context.Context, req Request) (audit.Op, error) {
	if l.isStopped() {
		return audit.Op{}, ErrClosed
	}
	params := map[string]any{}
	if !req.Destroy && l.opts.NoLaunch {
		return audit.Op{}, ErrNoLaunch
	}
	if !req.Destroy {
		if req.Count < 1 || req.Count > l.opts.MaxCount {
			return audit.Op{}, fmt.Errorf("%w: %d; want 1 to %d", ErrInvalidCount, req.Count, l.opts.MaxCount)
		}
		params["num_vms"] = req.Count
	}
	if req.Schedule != "" {
		params["schedule"] = req.Schedule
	}
	return l.ops.Create(context.WithoutCancel(ctx), audit.Op{
		Action: req.action(), CreatedBy: req.Actor, Params: params, Owner: l.owner(),
	})
}

// run queues req; an error before its job ran (the launcher closed, the
// request cancelled) finishes its operation here.
func (l *Launcher) run(ctx context.Context, req Request) (Result, error) {
	var res Result
	var err error
	if req.Destroy {
		err = l.q.Do(ctx, func(ctx context.Context) error {
			res, err = l.destroy(ctx, req)
			return err
		})
	} else {
		res, err = l.q.Join(ctx, req)
	}
	if errors.Is(err, queue.ErrClosed) {
		err = ErrClosed
	}
	if err != nil && res.LaunchID == "" {
		l.finishOps(ctx, []int64{req.op}, "", err)
	}
	return res, err
}

// Op returns operation id of the launcher's environment: this process's
// latest view of it while it runs here, else the stored record.
func (l *Launcher) Op(ctx context.Context, id int64) (audit.Op, error) {
	if op, ok := l.ops.Live(id); ok {
		return op, nil
	}
	return l.opsDB.Get(ctx, l.environment(), id)
}

// Ops returns a page of the operations of the launcher's environment,
// newest first, and the Before of the next page (0 after the last); it
// reads about q.Limit records whatever the history holds.
func (l *Launcher) Ops(ctx context.Context, q audit.OpQuery) ([]audit.Op, int64, error) {
	return l.opsDB.List(ctx, l.environment(), q)
}

// Watch returns a channel of the changes of operation id, closed after
// its final state (at once, with the stored record, for an operation this
// process does not run). Call cancel when no longer reading.
func (l *Launcher) Watch(ctx context.Context, id int64) (changes <-chan audit.Op, cancel func(), err error) {
	return l.ops.Watch(ctx, id)
}

// Service is what an adapter needs of a launcher to serve operations:
// *Launcher implements it, and so does the double in package
// launchertest.
type Service interface {
	Start(ctx context.Context, req Request) (audit.Op, error)
	Op(ctx context.Context, id int64) (audit.Op, error)
	Ops(ctx context.Context, q audit.OpQuery) ([]audit.Op, int64, error)
	Watch(ctx context.Context, id int64) (changes <-chan audit.Op, cancel func(), err error)
	Status(ctx context.Context) (Status, error)
	Preview(ctx context.Context, count int) (Preview, error)
	Record(ctx context.Context, launchID string) (audit.Manifest, []byte, error)
}

var _ Service = (*Launcher)(nil)

// Wait returns operation id of s once it is final, or ctx's error with
// the last state seen. An operation another process runs is polled.
func Wait(ctx context.Context, s Service, id int64) (audit.Op, error) {
	c, cancel, err := s.Watch(ctx, id)
	if err != nil {
		return audit.Op{}, err
	}
	defer cancel()
	var last audit.Op
	for {
		select {
		case op, ok := <-c:
			if !ok {
				if last.Status.Live() {
					return poll(ctx, s, id)
				}
				return last, nil
			}
			last = op
		case <-ctx.Done():
			return last, ctx.Err()
		}
	}
}

// pollEvery is how often Wait reads an operation another process runs.
const pollEvery = 500 * time.Millisecond

func poll(ctx context.Context, s Service, id int64) (audit.Op, error) {
	for {
		op, err := s.Op(ctx, id)
		if err != nil || !op.Status.Live() {
			return op, err
		}
		select {
		case <-ctx.Done():
			return op, ctx.Err()
		case <-time.After(pollEvery):
		}
	}
}
