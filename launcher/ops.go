package launcher

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/tfstate"
)

// owner identifies this process in its operation records, so that a later
// process can prove them orphaned (see Recovery).
func (l *Launcher) owner() json.RawMessage {
	b, _ := json.Marshal(tfstate.Self()) // a struct of strings and numbers
	return b
}

// startOps marks ids running.
func (l *Launcher) startOps(ctx context.Context, ids []int64) {
	now := l.opts.Now().UTC()
	for _, id := range ids {
		l.ops.Update(ctx, id, func(op *audit.Op) { op.Status, op.StartedAt = audit.StatusRunning, &now })
	}
}

// progressOps records p for the operations ids: the planned total as soon
// as the plan is read, then each completed change.
func (l *Launcher) progressOps(ids []int64, p Progress) {
	if l.opts.Progress != nil {
		l.opts.Progress(p)
	}
	for _, id := range ids {
		l.ops.Update(context.Background(), id, func(op *audit.Op) {
			op.ResourcesTotal, op.ResourcesCompleted = p.Planned, p.Done
			op.LaunchID = p.LaunchID
		})
	}
}

// finishOps records the outcome of ids: succeeded, interrupted when the
// request was cancelled (a shutdown), else failed with err.
func (l *Launcher) finishOps(ctx context.Context, ids []int64, launchID string, err error) {
	now := l.opts.Now().UTC()
	for _, id := range ids {
		l.ops.Update(ctx, id, func(op *audit.Op) {
			op.FinishedAt = &now
			if launchID != "" {
				op.LaunchID = launchID
			}
			switch {
			case err == nil:
				op.Status = audit.StatusSucceeded
				op.ResourcesCompleted = op.ResourcesTotal
			case errors.Is(err, context.Canceled), errors.Is(err, ErrClosed):
				op.Status, op.Error = audit.StatusInterrupted, err.Error()
			default:
				op.Status, op.Error = audit.StatusFailed, err.Error()
			}
		})
	}
}

// opIDs lists the operations of reqs.
func opIDs(reqs []Request) []int64 {
	var ids []int64
	for _, r := range reqs {
		if r.op > 0 {
			ids = append(ids, r.op)
		}
	}
	return ids
}
