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

// entry is a schedule the Scheduler watches: its times not yet settled.
type entry struct {
	sched Schedule
	next  func() (time.Time, bool) // the rule's times after those below
	peek  time.Time                // the first time not yet due
	more  bool                     // peek is valid
	// due are overdue times not yet settled (kept when a store error
	// interrupted their settling); lump counts older overdue times
	// beyond maxOverdue, recorded as one missed record.
	due  []time.Time
	lump lump
	// claim is the claim of the last time being fired, reused when the
	// claim's write must be retried so that its bytes are the same.
	claim *occRecord
}

type lump struct {
	first, last time.Time
	n           int
}

// maxOverdue bounds the overdue times kept one by one (an hourly schedule
// after four days down); older ones are recorded as one missed record.
const maxOverdue = 100

func (e *entry) advance() { e.peek, e.more = e.next() }

// tick runs one pass: the first reads every schedule (load), later ones
// only new records (discover); then each schedule's due times are
// settled. It returns the next time any schedule is due (zero for none).
func (s *Scheduler) tick(ctx context.Context) (time.Time, error) {
	s.pass.Lock()
	defer s.pass.Unlock()
	if s.isClosed() {
		return time.Time{}, ErrClosed
	}
	var errs []error
	if !s.loaded {
		if err := s.load(ctx); err != nil {
			return time.Time{}, err
		}
		s.loaded = true
	} else if err := s.discover(ctx); err != nil {
		errs = append(errs, err)
	}
	now := s.cal.now()
	if err := s.recheck(ctx, now); err != nil {
		errs = append(errs, err)
	}
	var next time.Time
	for _, id := range slices.Sorted(maps.Keys(s.entries)) {
		e := s.entries[id]
		if err := s.settle(ctx, e, now); err != nil {
			errs = append(errs, fmt.Errorf("schedule %d: %w", id, err))
			continue
		}
		if !e.more {
			delete(s.entries, id)
		} else if next.IsZero() || e.peek.Before(next) {
			next = e.peek
		}
	}
	return next, errors.Join(errs...)
}

// load reads every record of the environment. Cost: one List, one Get
// per schedule (and its name claim), and for each schedule that can
// still fire a List of its occurrences and a Get of each unfinished one.
func (s *Scheduler) load(ctx context.Context) error {
	ids, err := s.cal.ids(ctx)
	if err != nil {
		return err
	}
	for _, id := range ids {
		s.maxID = max(s.maxID, id)
		if err := s.track(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// discover reads the records created since the last pass: it tries the
// ids after the highest it knows until one is absent (ids are handed out
// in order), and those whose create was in progress. Cost when nothing
// changed: one Get.
func (s *Scheduler) discover(ctx context.Context) error {
	for _, id := range slices.Sorted(maps.Keys(s.pending)) {
		if err := s.track(ctx, id); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	for {
		err := s.track(ctx, s.maxID+1)
		if errors.Is(err, errNoRecord) {
			return nil
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		s.maxID++
	}
}

// track starts watching schedule id unless it is watched, final or not a
// schedule. It returns the error of reading it, errNoRecord when there
// is no record.
func (s *Scheduler) track(ctx context.Context, id int64) error {
	sched, _, err := s.cal.load(ctx, id)
	delete(s.pending, id)
	if errors.Is(err, errPending) {
		s.pending[id] = true
	}
	if err != nil {
		return err
	}
	if _, ok := s.entries[id]; ok || sched.Status.final() {
		return nil
	}
	rule, err := sched.Rule()
	if err != nil { // a record edited by hand: say so once, skip it
		s.log.Error("schedule: unusable stored rule; schedule ignored", "schedule", id, "error", err)
		return nil
	}
	keys, err := s.cal.store.List(ctx, s.cal.keys.occurrences(id), audit.ListOptions{})
	if err != nil {
		return fmt.Errorf("schedule %d: list occurrences: %w", id, err)
	}
	e := &entry{sched: sched, next: rule.cursor()}
	e.advance()
	if len(keys) > 0 {
		if last, ok := occurrenceTime(keys[len(keys)-1]); ok {
			for e.more && !e.peek.After(last) {
				e.advance()
			}
		}
	}
	if err := s.adopt(ctx, e, keys); err != nil {
		return err
	}
	s.entries[id] = e
	return nil
}

// settle records or fires e's times due at now. Of several overdue
// times only the most recent may run, within the grace period; the
// others are recorded missed. The cancel marker is read first.
func (s *Scheduler) settle(ctx context.Context, e *entry, now time.Time) error {
	for e.more && !e.peek.After(now) {
		e.due = append(e.due, e.peek)
		if len(e.due) > maxOverdue {
			if e.lump.n == 0 {
				e.lump.first = e.due[0]
			}
			e.lump.last, e.lump.n = e.due[0], e.lump.n+1
			e.due = e.due[1:]
		}
		e.advance()
	}
	if len(e.due) == 0 {
		return nil
	}
	id := e.sched.ID
	if _, cancelled, err := s.cal.cancelled(ctx, id); err != nil {
		return err
	} else if cancelled {
		e.more, e.due = false, nil
		return nil
	}
	last := e.due[len(e.due)-1]
	if e.lump.n > 0 {
		reason := fmt.Sprintf("missed: %d times from %s to %s, overdue at %s with later times; only the most recent overdue time runs",
			e.lump.n, stamp(e.lump.first), stamp(e.lump.last), stamp(now))
		if err := s.miss(ctx, e, e.lump.first, now, reason, e.lump.n, true); err != nil {
			return err
		}
		e.lump = lump{}
	}
	for _, t := range e.due[:len(e.due)-1] {
		reason := fmt.Sprintf("missed: overdue at %s with a later time (%s); only the most recent overdue time runs", stamp(now), stamp(last))
		if err := s.miss(ctx, e, t, now, reason, 1, true); err != nil {
			return err
		}
	}
	e.due = e.due[len(e.due)-1:]
	late := now.Sub(last)
	retry := e.claim != nil && e.claim.Time.Equal(last.UTC())
	if late > e.sched.GracePeriod && !retry {
		reason := fmt.Sprintf("missed: %s late at %s, beyond the grace period of %s (no allocator ran it at its time)", late.Round(time.Second), stamp(now), e.sched.GracePeriod)
		if err := s.miss(ctx, e, last, now, reason, 1, e.more); err != nil {
			return err
		}
	} else if err := s.fire(ctx, e, last, now); err != nil {
		return err
	}
	e.due = nil
	return nil
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// miss records time t of e missed, unless it has a record already. n is
// the number of times the record stands for; more whether e has a time
// after t.
func (s *Scheduler) miss(ctx context.Context, e *entry, t, now time.Time, reason string, n int, more bool) error {
	nonce, err := newNonce()
	if err != nil {
		return err
	}
	fin := now.UTC()
	o := occRecord{Occurrence: Occurrence{
		ScheduleID: e.sched.ID, Time: t.UTC(), Outcome: OutcomeMissed, Reason: reason, Count: n,
		ClaimedBy: s.owner, ClaimedAt: fin, FinishedAt: &fin,
	}, Nonce: nonce}
	if n == 1 {
		o.Count = 0
	}
	err = s.cal.claim(ctx, o)
	if isExists(err) {
		return nil // settled by another allocator
	}
	if err != nil {
		return err
	}
	s.log.Warn("schedule: occurrence missed", "schedule", e.sched.ID, "name", e.sched.Name, "time", o.Time, "reason", reason)
	_, err = s.cal.modify(ctx, e.sched.ID, func(sc *Schedule) {
		sc.LastExecutionResult = reason
		switch {
		case sc.Status == StatusCancelled || sc.Status == StatusExecuting:
		case more:
			sc.Status = StatusScheduled
		default:
			sc.Status = StatusFailed
		}
	})
	if err != nil {
		s.log.Warn("schedule: summary not updated", "schedule", e.sched.ID, "error", err)
	}
	return nil
}
