package schedule_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/schedule"
)

// A cancel stops every later time, whether this process cancels (it
// wakes the loop) or another allocator does (the marker is read before
// each run).
func TestCancelStopsFutureOccurrences(t *testing.T) {
	for _, elsewhere := range []bool{false, true} {
		t.Run(fmt.Sprintf("by another allocator=%v", elsewhere), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := bubbleClock(t0)
				store := audit.NewDirStore(t.TempDir())
				h := newHarness(t, store, now, nil)
				first := t0.Add(time.Hour)
				s := h.create(schedule.Request{Name: "daily", Time: first.Format(time.RFC3339), RecurrenceRule: "FREQ=DAILY"})
				h.start()
				sleepUntil(now, first.Add(time.Hour))
				require.Len(t, h.run.Calls(), 1, "the first time ran")

				cal := h.cal
				if elsewhere {
					var err error
					cal, err = schedule.NewCalendar(store, "dev", &schedule.Options{Now: now})
					require.NoError(t, err, "NewCalendar")
				}
				got, err := cal.Cancel(t.Context(), s.ID, "teacher")
				require.NoError(t, err, "Cancel")
				assert.Equal(t, schedule.StatusCancelled, got.Status, "status")
				assert.Equal(t, "teacher", got.CancelledBy, "cancelled_by")
				assert.Nil(t, got.NextOccurrence, "next_occurrence")

				sleepUntil(now, first.Add(5*24*time.Hour))
				assert.Len(t, h.run.Calls(), 1, "no time runs after the cancel")
				assert.Len(t, h.history(s.ID), 1, "no occurrence recorded after the cancel")
				assert.Equal(t, schedule.StatusCancelled, h.get(s.ID).Status, "status stays cancelled")
				_, err = cal.Cancel(t.Context(), s.ID, "teacher")
				assert.ErrorIs(t, err, schedule.ErrNotCancellable, "a second cancel")
			})
		})
	}
}

// A runner that refuses the job, or an operation that fails: the
// occurrence is failed with the reason, and so is a one-time schedule.
func TestFailedOccurrence(t *testing.T) {
	tests := []struct {
		name   string
		setup  func(r *fakeRunner)
		op     int64
		reason string
		result string
	}{
		{
			name:   "runner refuses",
			setup:  func(r *fakeRunner) { r.runErr = errBoom },
			reason: "run: boom",
			result: "failed: run: boom",
		},
		{
			name:   "operation fails",
			setup:  func(r *fakeRunner) { r.failOps = errBoom },
			op:     1,
			reason: "boom",
			result: "failed: operation 1: boom",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := bubbleClock(t0)
				h := newHarness(t, audit.NewDirStore(t.TempDir()), now, nil)
				tt.setup(h.run)
				at := t0.Add(time.Minute)
				s := h.create(schedule.Request{Name: "lab", Time: at.Format(time.RFC3339)})
				h.start()
				sleepUntil(now, at.Add(time.Minute))
				occ := h.history(s.ID)
				require.Len(t, occ, 1, "occurrences")
				assert.Equal(t, schedule.OutcomeFailed, occ[0].Outcome, "outcome")
				assert.Equal(t, tt.reason, occ[0].Reason, "reason")
				assert.Equal(t, tt.op, occ[0].OperationID, "operation id")
				got := h.get(s.ID)
				assert.Equal(t, schedule.StatusFailed, got.Status, "status")
				assert.Equal(t, tt.result, got.LastExecutionResult, "last_execution_result")
			})
		})
	}
}

// An occurrence left running when its Scheduler closed is adopted by the
// next one to start: it waits for the operation and records its end. A
// claim without an operation is failed once it is over a minute old: at
// start, or at a later pass for one that was younger.
func TestRestartAdoptsUnfinishedOccurrences(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := bubbleClock(t0)
		store := audit.NewDirStore(t.TempDir())
		h := newHarness(t, store, now, nil)
		h.run.gate = make(chan struct{})
		at := t0.Add(time.Minute)
		s := h.create(schedule.Request{Name: "lab", Time: at.Format(time.RFC3339)})
		h.start()
		sleepUntil(now, at)
		require.NoError(t, h.sched.Close(), "Close while the operation runs")
		assert.Equal(t, []schedule.Outcome{"running"}, outcomes(h.history(s.ID)), "left running")

		// Claims whose claimants died before Run, on two other schedules.
		staleAt, youngAt := at.Add(time.Hour), at.Add(time.Hour+time.Minute)
		stale := h.create(schedule.Request{Name: "stale", Time: staleAt.Format(time.RFC3339)})
		young := h.create(schedule.Request{Name: "young", Time: youngAt.Format(time.RFC3339)})
		writeClaim(t, store, stale.ID, staleAt, staleAt, "gone:1")
		writeClaim(t, store, young.ID, youngAt, youngAt.Add(50*time.Second), "gone:2")

		sleepUntil(now, youngAt.Add(time.Minute))
		again := h.scheduler(nil)
		require.NoError(t, again.Start(t.Context()), "Start")
		synctest.Wait()
		assert.Equal(t, []schedule.Outcome{"running"}, outcomes(h.history(s.ID)), "adopted, still running")
		assert.Equal(t, []schedule.Outcome{"failed"}, outcomes(h.history(stale.ID)), "stale claim at start")
		assert.Equal(t, []schedule.Outcome{"claimed"}, outcomes(h.history(young.ID)), "young claim at start")
		close(h.run.gate)
		synctest.Wait()

		assert.Len(t, h.run.Calls(), 1, "no operation was run again")
		assert.Equal(t, []schedule.Outcome{"completed"}, outcomes(h.history(s.ID)), "the adopter recorded the end")
		assert.Equal(t, schedule.StatusCompleted, h.get(s.ID).Status, "status")
		assert.Equal(t, "gone:1 claimed it at 2026-03-02T10:01:00Z and stopped before handing it to its runner",
			h.history(stale.ID)[0].Reason, "stale claim's reason")

		sleepUntil(now, youngAt.Add(3*time.Minute))
		occ := h.history(young.ID)
		require.Len(t, occ, 1, "young claim")
		assert.Equal(t, schedule.OutcomeFailed, occ[0].Outcome, "young claim, once stale")
		assert.Equal(t, "gone:2 claimed it at 2026-03-02T10:02:50Z and stopped before handing it to its runner", occ[0].Reason, "its reason")
		assert.Equal(t, schedule.StatusFailed, h.get(young.ID).Status, "its schedule")
	})
}

// writeClaim stores the claim of time at of schedule id, as an allocator
// that died before handing it to its runner leaves it.
func writeClaim(t *testing.T, store audit.Store, id int64, at, claimedAt time.Time, by string) {
	t.Helper()
	claim := fmt.Sprintf(`{"schedule_id": %d, "time": %q, "outcome": "claimed", "claimed_by": %q, "claimed_at": %q, "nonce": "x"}`,
		id, at.Format(time.RFC3339), by, claimedAt.Format(time.RFC3339))
	key := fmt.Sprintf("dev/client/schedules/occurrences/%012d/%s.json", id, at.Format("20060102T150405Z"))
	require.NoError(t, store.Create(t.Context(), key, []byte(claim), audit.ContentTypeJSON), "write a claim")
}

// The loop sleeps until the next time, not a fixed fast poll: a schedule
// created in this process wakes it at once and fires at its time, even
// one closer than the poll interval; one created by another allocator is
// seen within the poll interval.
func TestNewSchedulesAreSeen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := bubbleClock(t0)
		store := audit.NewDirStore(t.TempDir())
		h := newHarness(t, store, now, nil)
		h.start()
		soon := t0.Add(10 * time.Second)
		h.create(schedule.Request{Name: "soon", Time: soon.Format(time.RFC3339)})
		other, err := schedule.NewCalendar(store, "dev", &schedule.Options{Now: now})
		require.NoError(t, err, "NewCalendar")
		later := t0.Add(2 * time.Minute)
		_, err = other.Create(t.Context(), schedule.Request{Name: "later", Time: later.Format(time.RFC3339)})
		require.NoError(t, err, "Create through another Calendar")

		sleepUntil(now, later.Add(time.Minute))
		var at []time.Time
		for _, c := range h.run.Calls() {
			at = append(at, c.At)
		}
		assert.Equal(t, []time.Time{soon, later}, at, "each fired at its time")
	})
}

// countingStore counts the requests a Scheduler makes of its store.
type countingStore struct {
	audit.Store
	gets, lists, writes atomic.Int64
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *countingStore) List(ctx context.Context, prefix string, opts audit.ListOptions) ([]string, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix, opts)
}

func (c *countingStore) Put(ctx context.Context, key string, body []byte, ct string) error {
	c.writes.Add(1)
	return c.Store.Put(ctx, key, body, ct)
}

func (c *countingStore) Create(ctx context.Context, key string, body []byte, ct string) error {
	c.writes.Add(1)
	return c.Store.Create(ctx, key, body, ct)
}

// The store requests the package doc promises: an idle pass costs one
// Get, whatever the number of schedules; a time that runs costs ten
// more: five Gets (the cancel marker, and a record and a marker for each
// of two summary rewrites) and five writes (the claim, running, final,
// and the two summary rewrites).
func TestStoreRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := bubbleClock(t0)
		store := &countingStore{Store: audit.NewDirStore(t.TempDir())}
		h := newHarness(t, store, now, nil)
		for i := range 5 {
			h.create(schedule.Request{Name: fmt.Sprint("weekly ", i), Time: t0.Add(time.Duration(i+1) * 24 * time.Hour).Format(time.RFC3339), RecurrenceRule: "FREQ=WEEKLY"})
		}
		h.start()
		synctest.Wait()
		count := func() [3]int64 { return [3]int64{store.gets.Load(), store.lists.Load(), store.writes.Load()} }
		diff := func(a, b [3]int64) [3]int64 { return [3]int64{b[0] - a[0], b[1] - a[1], b[2] - a[2]} }

		before := count()
		sleepUntil(now, t0.Add(10*schedule.DefaultPollInterval))
		assert.Equal(t, [3]int64{10, 0, 0}, diff(before, count()), "Gets, Lists, writes of 10 idle polls")

		before = count()
		sleepUntil(now, t0.Add(24*time.Hour)) // the first time, also a poll tick
		assert.Len(t, h.run.Calls(), 1, "runs")
		polls := int64((24*time.Hour - 10*schedule.DefaultPollInterval) / schedule.DefaultPollInterval)
		assert.Equal(t, [3]int64{polls + 5, 0, 5}, diff(before, count()), "Gets, Lists, writes up to and of one run")
	})
}

// After an outage of 241 hourly times: the hundred most recent get a
// record each (the last, a minute late, runs); the 141 older ones share
// one record at the first of them, whose Count says how many it holds.
func TestLongOutageRecordsEveryMissedTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := bubbleClock(t0)
		h := newHarness(t, audit.NewDirStore(t.TempDir()), now, nil)
		first := t0.Add(time.Hour)
		s := h.create(schedule.Request{Name: "hourly", Time: first.Format(time.RFC3339), RecurrenceRule: "FREQ=HOURLY"})
		last := first.Add(240 * time.Hour)
		sleepUntil(now, last.Add(time.Minute))
		h.start()
		synctest.Wait()

		occ := h.history(s.ID)
		require.Len(t, occ, 101, "records")
		assert.Equal(t, first, occ[0].Time, "the shared record is at the first missed time")
		assert.Equal(t, 141, occ[0].Count, "times it stands for")
		assert.Equal(t, "missed: 141 times from 2026-03-02T10:00:00Z to 2026-03-08T06:00:00Z, overdue at 2026-03-12T10:01:00Z with later times; only the most recent overdue time runs", occ[0].Reason, "its reason")
		for i, o := range occ[1:100] {
			assert.Equal(t, schedule.OutcomeMissed, o.Outcome, "record %d", i+1)
			assert.Zero(t, o.Count, "record %d stands for one time", i+1)
		}
		assert.Equal(t, first.Add(141*time.Hour), occ[1].Time, "the first record of its own")
		assert.Equal(t, last, occ[100].Time, "the most recent time")
		assert.Equal(t, schedule.OutcomeCompleted, occ[100].Outcome, "the most recent time ran")
		assert.Len(t, h.run.Calls(), 1, "runs")
	})
}

// hangStore stops answering once hung, as an S3 endpoint that takes
// requests and never replies: each request waits until its context ends.
type hangStore struct {
	audit.Store
	hung atomic.Bool
}

func (s *hangStore) wait(ctx context.Context) error {
	if !s.hung.Load() {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *hangStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, key)
}

func (s *hangStore) List(ctx context.Context, prefix string, opts audit.ListOptions) ([]string, error) {
	if err := s.wait(ctx); err != nil {
		return nil, err
	}
	return s.Store.List(ctx, prefix, opts)
}

func (s *hangStore) Create(ctx context.Context, key string, body []byte, ct string) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.Create(ctx, key, body, ct)
}

func (s *hangStore) Put(ctx context.Context, key string, body []byte, ct string) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.Put(ctx, key, body, ct)
}

func (s *hangStore) Delete(ctx context.Context, key string) error {
	if err := s.wait(ctx); err != nil {
		return err
	}
	return s.Store.Delete(ctx, key)
}

// hangingRunner hangs its store when it is handed a job, and returns err.
type hangingRunner struct {
	store *hangStore
	err   error
}

func (r hangingRunner) Run(context.Context, schedule.Job) (int64, error) {
	r.store.hung.Store(true)
	if r.err != nil {
		return 0, r.err
	}
	return 1, nil
}

func (hangingRunner) Wait(ctx context.Context, _ int64) error {
	<-ctx.Done()
	return ctx.Err()
}

// A store that stops answering while an occurrence is being recorded
// cannot hold Close: the records of a claimed occurrence are written on a
// context Close does not cancel (so that they outlive it), and each
// request made on such a context is bounded (the writes as an audit
// Trail's).
func TestCloseWithHungStore(t *testing.T) {
	tests := []struct {
		name   string
		runErr error // Run fails: its failure is recorded at once
	}{
		{"run", nil},
		{"run fails", errBoom},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := bubbleClock(t0)
				store := &hangStore{Store: audit.NewDirStore(t.TempDir())}
				h := newHarness(t, store, now, nil)
				at := t0.Add(time.Minute)
				s := h.create(schedule.Request{Name: "lab", Time: at.Format(time.RFC3339)})
				sched := schedule.NewScheduler(h.cal, hangingRunner{store: store, err: tt.runErr},
					&schedule.SchedulerOptions{Owner: "test", Logger: testLogger(t)})
				require.NoError(t, sched.Start(t.Context()), "Start")
				sleepUntil(now, at)
				require.True(t, store.hung.Load(), "the occurrence was handed to the runner")

				assert.NoError(t, sched.Close(), "Close")
				occ, err := schedule.NewCalendar(store.Store, "dev", nil)
				require.NoError(t, err, "NewCalendar")
				hist, err := occ.History(t.Context(), s.ID, 0)
				require.NoError(t, err, "History")
				assert.Equal(t, []schedule.Outcome{"claimed"}, outcomes(hist), "what the hung store got")
			})
		})
	}
}
