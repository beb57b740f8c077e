package setup

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/schedule"
)

// Runner is the schedule.Runner of a launcher: it queues each due
// occurrence with Service.Start, as an on-demand launch or destroy is
// queued, so that the occurrence becomes an operation like any other. It
// waits in the launcher's queue behind a running operation instead of
// being skipped (upstream's scheduler marks it failed), reports progress,
// has its audit record and its event stream, and its params link back to
// the schedule: "schedule": "<id>@<occurrence time>" (OccurrenceLink).
// The operation's created_by is the schedule's creator.
//
// The server runs a schedule.Scheduler with a Runner; the CLI runs none.
// A Runner is safe for concurrent use (as launcher.Service is) and holds
// nothing to close.
type Runner struct {
	svc      launcher.Service
	describe func(audit.Op) string
}

var _ schedule.Runner = (*Runner)(nil)

// NewRunner returns the Runner of svc. describe says why an operation
// that did not succeed failed, for the schedule's last_execution_result
// (an adapter that shows schedules but not OpenTofu's stderr passes the
// words it shows for the operation itself); nil means the first line of
// the operation's error, else its status.
func NewRunner(svc launcher.Service, describe func(audit.Op) string) *Runner {
	if describe == nil {
		describe = firstLine
	}
	return &Runner{svc: svc, describe: describe}
}

// OccurrenceLink is the "schedule" param of the operation that carries
// the occurrence at of schedule id: "<id>@<at in RFC 3339, UTC>", such as
// "7@2026-03-06T22:30:00Z".
func OccurrenceLink(id int64, at time.Time) string {
	return fmt.Sprintf("%d@%s", id, at.UTC().Format(time.RFC3339))
}

// Run queues job and returns its operation id at once. A launch's count is
// the schedule's num_vms; the launcher refuses one out of its range
// (launcher.ErrInvalidCount), and, once shut down, every job
// (launcher.ErrClosed).
func (r *Runner) Run(ctx context.Context, job schedule.Job) (int64, error) {
	req := launcher.Request{Actor: job.CreatedBy, Schedule: OccurrenceLink(job.ScheduleID, job.Occurrence)}
	switch job.Action {
	case schedule.Destroy:
		req.Destroy = true
	case schedule.Launch:
		req.Count = job.NumVMs
	default:
		return 0, fmt.Errorf("schedule %d: unknown action %q", job.ScheduleID, job.Action)
	}
	op, err := r.svc.Start(ctx, req)
	if err != nil {
		return 0, err
	}
	return op.ID, nil
}

// Wait waits until operation id is final, also when another process runs
// it (launcher.Wait polls the shared record then), and returns nil when it
// succeeded, an *OpError when it did not, or ctx's error.
func (r *Runner) Wait(ctx context.Context, id int64) error {
	op, err := launcher.Wait(ctx, r.svc, id)
	if err != nil {
		return err
	}
	if op.Status == audit.StatusSucceeded {
		return nil
	}
	return &OpError{Op: op, Reason: r.describe(op)}
}

// OpError is an operation a Runner waited for that did not succeed.
type OpError struct {
	Op audit.Op
	// Reason is what the Runner's describe function said of it.
	Reason string
}

// Error returns the reason, or the operation's status without one.
func (e *OpError) Error() string {
	if e.Reason != "" {
		return e.Reason
	}
	return "operation " + string(e.Op.Status)
}

func firstLine(op audit.Op) string {
	first, _, _ := strings.Cut(op.Error, "\n")
	return first
}
