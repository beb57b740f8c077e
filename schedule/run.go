package schedule

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/lablink-go/lablink/audit"
)

func isExists(err error) bool { return errors.Is(err, audit.ErrExists) }

// staleClaim is how old a claim without an operation must be before an
// allocator starting up takes its claimant for dead: a claimant hands
// the job to its runner right after claiming.
const staleClaim = time.Minute

// fire claims time t of e and hands it to the runner. A claim another
// allocator made first is success: the occurrence is theirs.
func (s *Scheduler) fire(ctx context.Context, e *entry, t, now time.Time) error {
	if e.claim == nil || !e.claim.Time.Equal(t.UTC()) {
		nonce, err := newNonce()
		if err != nil {
			return err
		}
		e.claim = &occRecord{Occurrence: Occurrence{
			ScheduleID: e.sched.ID, Time: t.UTC(), Outcome: OutcomeClaimed,
			ClaimedBy: s.owner, ClaimedAt: now.UTC(),
		}, Nonce: nonce}
	}
	o := *e.claim
	err := s.cal.claim(ctx, o)
	if isExists(err) {
		e.claim = nil
		return nil
	}
	if err != nil {
		return err // retried with the same bytes at the next pass
	}
	e.claim = nil
	s.log.Info("schedule: occurrence claimed", "schedule", e.sched.ID, "name", e.sched.Name, "time", o.Time, "late", now.Sub(t))
	_, err = s.cal.modify(ctx, e.sched.ID, func(sc *Schedule) {
		if sc.Status != StatusCancelled {
			sc.Status = StatusExecuting
		}
		sc.ExecutionCount++
		at := now.UTC()
		sc.LastExecutionTime = &at
	})
	if err != nil {
		s.log.Warn("schedule: summary not updated", "schedule", e.sched.ID, "error", err)
	}
	sched, runCtx := e.sched, context.WithoutCancel(ctx)
	s.spawn(func() { s.execute(runCtx, o, sched) })
	return nil
}

// execute hands claimed occurrence o to the runner and records its end.
func (s *Scheduler) execute(ctx context.Context, o occRecord, sched Schedule) {
	job := Job{
		Action: sched.Action, NumVMs: sched.NumVMs, ScheduleID: sched.ID, ScheduleName: sched.Name,
		Occurrence: o.Time, CreatedBy: sched.CreatedBy,
	}
	opID, err := s.runner.Run(ctx, job)
	if err != nil {
		s.finish(ctx, o, sched, fmt.Errorf("run: %w", err))
		return
	}
	o.Outcome, o.OperationID = OutcomeRunning, opID
	if err := s.cal.putOccurrence(ctx, o); err != nil {
		s.log.Warn("schedule: occurrence not updated", "schedule", sched.ID, "time", o.Time, "error", err)
	}
	s.await(ctx, o, sched)
}

// await waits for o's operation and records its end; when the Scheduler
// closes first, o stays running for the next start to adopt.
func (s *Scheduler) await(ctx context.Context, o occRecord, sched Schedule) {
	err := s.runner.Wait(s.waitCtx, o.OperationID)
	if s.waitCtx.Err() != nil {
		return
	}
	s.finish(ctx, o, sched, err)
}

// finish records o completed (runErr nil) or failed, and the schedule's
// summary: scheduled while the rule has later times, else final.
func (s *Scheduler) finish(ctx context.Context, o occRecord, sched Schedule, runErr error) {
	fin := s.cal.now().UTC()
	o.FinishedAt = &fin
	result := fmt.Sprintf("completed: operation %d", o.OperationID)
	status := StatusCompleted
	if o.Outcome, o.Reason = OutcomeCompleted, ""; runErr != nil {
		o.Outcome, o.Reason, status = OutcomeFailed, runErr.Error(), StatusFailed
		result = "failed: " + o.Reason
		if o.OperationID != 0 {
			result = fmt.Sprintf("failed: operation %d: %s", o.OperationID, o.Reason)
		}
	}
	log := s.log.With("schedule", sched.ID, "name", sched.Name, "time", o.Time, "operation", o.OperationID)
	if runErr != nil {
		log.Warn("schedule: occurrence failed", "error", runErr)
	} else {
		log.Info("schedule: occurrence completed")
	}
	if err := s.cal.putOccurrence(ctx, o); err != nil {
		log.Warn("schedule: occurrence not updated", "error", err)
	}
	more := false
	if r, err := sched.Rule(); err == nil {
		_, more = r.Next(o.Time)
	}
	_, err := s.cal.modify(ctx, sched.ID, func(sc *Schedule) {
		sc.LastExecutionResult = result
		switch {
		case sc.Status == StatusCancelled:
		case more:
			sc.Status = StatusScheduled
		default:
			sc.Status = status
		}
	})
	if err != nil {
		log.Warn("schedule: summary not updated", "error", err)
	}
}

func staleClaimError(o occRecord) error {
	return fmt.Errorf("%s claimed it at %s and stopped before handing it to its runner", o.ClaimedBy, stamp(o.ClaimedAt))
}

// youngClaim is a claim without an operation that adopt found too recent
// to call stale.
type youngClaim struct {
	o     occRecord
	sched Schedule
}

// recheck reads again each young claim once it is staleClaim old, and
// fails it if it is still the same claim without an operation.
func (s *Scheduler) recheck(ctx context.Context, now time.Time) error {
	for _, key := range slices.Sorted(maps.Keys(s.young)) {
		y := s.young[key]
		if now.Sub(y.o.ClaimedAt) <= staleClaim {
			continue
		}
		o, err := s.cal.occurrence(ctx, key)
		if err != nil {
			return err
		}
		delete(s.young, key)
		if o.Outcome == OutcomeClaimed && o.Nonce == y.o.Nonce {
			s.finish(context.WithoutCancel(ctx), o, y.sched, staleClaimError(o))
		}
	}
	return nil
}

// adopt takes over the unfinished occurrences of a schedule found at
// load (keys are its occurrence keys, oldest first): it waits for those
// running, and fails those claimed longer than staleClaim ago without an
// operation (their claimant stopped before handing them to its runner;
// younger claims are read again by recheck once they are that old). It
// reads from the newest back to the first finished one.
func (s *Scheduler) adopt(ctx context.Context, e *entry, keys []string) error {
	now := s.cal.now()
	for i := len(keys) - 1; i >= 0; i-- {
		o, err := s.cal.occurrence(ctx, keys[i])
		if err != nil {
			return err
		}
		sched, runCtx := e.sched, context.WithoutCancel(ctx)
		switch {
		case o.Outcome == OutcomeRunning && o.OperationID != 0:
			s.log.Info("schedule: adopting running occurrence", "schedule", o.ScheduleID, "time", o.Time, "operation", o.OperationID)
			s.spawn(func() { s.await(runCtx, o, sched) })
		case o.Outcome == OutcomeClaimed && now.Sub(o.ClaimedAt) > staleClaim:
			s.finish(runCtx, o, sched, staleClaimError(o))
		case o.Outcome == OutcomeClaimed:
			// Being handed over by a live allocator, or not: see recheck.
			s.young[keys[i]] = youngClaim{o: o, sched: sched}
		case o.Outcome == OutcomeRunning:
			// Being handed over by a live allocator: theirs.
		default:
			return nil
		}
	}
	return nil
}
