package schedule_test

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/schedule"
)

// The Scheduler's tests run inside a synctest bubble: its clock (Options.
// Now) and its sleeps (time.After) are the bubble's fake time, so a test
// sleeps to an instant and checks what ran at exactly that instant.

func TestOneOffFiresOnceAtItsTime(t *testing.T) {
	at := t0.Add(90 * time.Minute)
	tests := []struct {
		name string
		req  schedule.Request
		want schedule.Job
	}{
		{
			name: "destroy",
			req:  schedule.Request{Name: "end of lab", Time: at.Format(time.RFC3339), CreatedBy: "admin"},
			want: schedule.Job{Action: schedule.Destroy, ScheduleName: "end of lab", Occurrence: at, CreatedBy: "admin"},
		},
		{
			name: "launch",
			req:  schedule.Request{Name: "before the lab", Action: schedule.Launch, NumVMs: 30, Time: at.Format(time.RFC3339)},
			want: schedule.Job{Action: schedule.Launch, NumVMs: 30, ScheduleName: "before the lab", Occurrence: at},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := bubbleClock(t0)
				h := newHarness(t, audit.NewDirStore(t.TempDir()), now, nil)
				s := h.create(tt.req)
				h.start()
				sleepUntil(now, at.Add(-time.Second))
				assert.Empty(t, h.run.Calls(), "nothing runs before its time")

				sleepUntil(now, at)
				tt.want.ScheduleID = s.ID
				assert.Equal(t, []runCall{{Job: tt.want, At: at, Op: 1}}, h.run.Calls(), "handed to the runner at its time")

				sleepUntil(now, at.Add(72*time.Hour))
				assert.Len(t, h.run.Calls(), 1, "a one-time schedule fires once")
				got := h.get(s.ID)
				assert.Equal(t, schedule.StatusCompleted, got.Status, "status")
				assert.Equal(t, 1, got.ExecutionCount, "execution_count")
				assert.Equal(t, "completed: operation 1", got.LastExecutionResult, "last_execution_result")
				assert.Equal(t, &at, got.LastExecutionTime, "last_execution_time")
				assert.Nil(t, got.NextOccurrence, "next_occurrence")
				occ := h.history(s.ID)
				require.Len(t, occ, 1, "occurrences")
				assert.Equal(t, schedule.Occurrence{
					ScheduleID: s.ID, Time: at, Outcome: schedule.OutcomeCompleted, OperationID: 1,
					ClaimedBy: "test", ClaimedAt: at, FinishedAt: &at,
				}, occ[0], "occurrence record")
			})
		})
	}
}

// A weekly rule in New York fires at 17:30 local on both sides of a
// daylight-saving change: 22:30 UTC in winter, 21:30 UTC in summer.
func TestWeeklyKeepsLocalTimeAcrossDST(t *testing.T) {
	tests := []struct {
		name  string
		clock time.Time // where the test's clock starts
		first string    // destruction_time; the rule sets the clock time
		want  []time.Time
	}{
		{
			name:  "spring forward (2026-03-08)",
			clock: time.Date(2026, 2, 23, 12, 0, 0, 0, time.UTC),
			first: "2026-02-25T12:00:00Z",
			want: []time.Time{
				time.Date(2026, 2, 27, 22, 30, 0, 0, time.UTC),
				time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC),
				time.Date(2026, 3, 13, 21, 30, 0, 0, time.UTC),
				time.Date(2026, 3, 20, 21, 30, 0, 0, time.UTC),
			},
		},
		{
			name:  "fall back (2026-11-01)",
			clock: time.Date(2026, 10, 19, 12, 0, 0, 0, time.UTC),
			first: "2026-10-23T17:30:00", // local: no offset, read in time_zone
			want: []time.Time{
				time.Date(2026, 10, 23, 21, 30, 0, 0, time.UTC),
				time.Date(2026, 10, 30, 21, 30, 0, 0, time.UTC),
				time.Date(2026, 11, 6, 22, 30, 0, 0, time.UTC),
				time.Date(2026, 11, 13, 22, 30, 0, 0, time.UTC),
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := bubbleClock(tt.clock)
				h := newHarness(t, audit.NewDirStore(t.TempDir()), now, &schedule.SchedulerOptions{PollInterval: time.Hour})
				s := h.create(schedule.Request{
					Name: "friday lab", Time: tt.first, TimeZone: "America/New_York",
					RecurrenceRule: "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30",
				})
				h.start()
				for i, at := range tt.want {
					sleepUntil(now, at)
					calls := h.run.Calls()
					require.Len(t, calls, i+1, "runs by %s", at)
					got := calls[i]
					assert.Equal(t, at, got.At, "run %d fired at its time", i)
					assert.Equal(t, at, got.Job.Occurrence, "run %d occurrence", i)
					local := got.Job.Occurrence.In(newYork)
					assert.Equal(t, [3]int{int(time.Friday), 17, 30}, [3]int{int(local.Weekday()), local.Hour(), local.Minute()}, "run %d is Friday 17:30 in New York", i)
				}
				sleepUntil(now, tt.want[len(tt.want)-1].Add(time.Hour))
				assert.Equal(t, schedule.StatusScheduled, h.get(s.ID).Status, "a recurring schedule stays scheduled between its times")
				assert.Equal(t, []schedule.Outcome{"completed", "completed", "completed", "completed"}, outcomes(h.history(s.ID)), "outcomes")
			})
		})
	}
}

// A Scheduler that stops between two times and a new one on the same
// store: the new one runs the later times and never the earlier one, even
// when it starts within the earlier one's grace period.
func TestRestartBetweenOccurrences(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := bubbleClock(t0)
		h := newHarness(t, audit.NewDirStore(t.TempDir()), now, nil)
		first := t0.Add(time.Hour)
		s := h.create(schedule.Request{Name: "daily", Time: first.Format(time.RFC3339), RecurrenceRule: "FREQ=DAILY;COUNT=3"})
		h.start()
		sleepUntil(now, first.Add(time.Minute))
		require.NoError(t, h.sched.Close(), "Close")

		sleepUntil(now, first.Add(2*time.Minute))
		again := h.scheduler(nil)
		require.NoError(t, again.Start(t.Context()), "Start of the second Scheduler")
		sleepUntil(now, first.Add(72*time.Hour))

		var at []time.Time
		for _, c := range h.run.Calls() {
			at = append(at, c.At)
		}
		assert.Equal(t, []time.Time{first, first.Add(24 * time.Hour), first.Add(48 * time.Hour)}, at, "each time ran once, at its time")
		assert.Equal(t, []schedule.Outcome{"completed", "completed", "completed"}, outcomes(h.history(s.ID)), "outcomes")
		assert.Equal(t, schedule.StatusCompleted, h.get(s.ID).Status, "status after the last time (COUNT=3)")
	})
}

// Times that passed while no Scheduler ran: the most recent runs at
// start if it is within the grace period, every other one is recorded
// missed with its reason.
func TestMissedOccurrencesAtStart(t *testing.T) {
	due := t0.Add(time.Hour)
	day := 24 * time.Hour
	tests := []struct {
		name    string
		req     schedule.Request
		startAt time.Time
		runs    []time.Time // when the runner was called, up to due+3 days
		want    []schedule.Outcome
		reason  []string // reason of each occurrence, "" for none
		status  schedule.Status
	}{
		{
			name:    "one-time, within the default grace period",
			req:     schedule.Request{},
			startAt: due.Add(4 * time.Minute),
			runs:    []time.Time{due.Add(4 * time.Minute)},
			want:    []schedule.Outcome{"completed"},
			reason:  []string{""},
			status:  schedule.StatusCompleted,
		},
		{
			name:    "one-time, past the default grace period",
			startAt: due.Add(5*time.Minute + time.Second),
			want:    []schedule.Outcome{"missed"},
			reason:  []string{"missed: 5m1s late at 2026-03-02T10:05:01Z, beyond the grace period of 5m0s (no allocator ran it at its time)"},
			status:  schedule.StatusFailed,
		},
		{
			name:    "one-time, within its own grace period",
			req:     schedule.Request{GracePeriodSeconds: ptr(3600)},
			startAt: due.Add(59 * time.Minute),
			runs:    []time.Time{due.Add(59 * time.Minute)},
			want:    []schedule.Outcome{"completed"},
			reason:  []string{""},
			status:  schedule.StatusCompleted,
		},
		{
			name:    "one-time, no grace period",
			req:     schedule.Request{GracePeriodSeconds: ptr(0)},
			startAt: due.Add(time.Second),
			want:    []schedule.Outcome{"missed"},
			reason:  []string{"missed: 1s late at 2026-03-02T10:00:01Z, beyond the grace period of 0s (no allocator ran it at its time)"},
			status:  schedule.StatusFailed,
		},
		{
			name:    "daily, the most recent within the grace period",
			req:     schedule.Request{RecurrenceRule: "FREQ=DAILY"},
			startAt: due.Add(2*day + time.Minute),
			runs:    []time.Time{due.Add(2*day + time.Minute), due.Add(3 * day)},
			want:    []schedule.Outcome{"missed", "missed", "completed", "completed"},
			reason: []string{
				"missed: overdue at 2026-03-04T10:01:00Z with a later time (2026-03-04T10:00:00Z); only the most recent overdue time runs",
				"missed: overdue at 2026-03-04T10:01:00Z with a later time (2026-03-04T10:00:00Z); only the most recent overdue time runs",
				"", "",
			},
			status: schedule.StatusScheduled,
		},
		{
			name:    "daily, all past the grace period",
			req:     schedule.Request{RecurrenceRule: "FREQ=DAILY"},
			startAt: due.Add(2*day + time.Hour),
			runs:    []time.Time{due.Add(3 * day)},
			want:    []schedule.Outcome{"missed", "missed", "missed", "completed"},
			reason: []string{
				"missed: overdue at 2026-03-04T11:00:00Z with a later time (2026-03-04T10:00:00Z); only the most recent overdue time runs",
				"missed: overdue at 2026-03-04T11:00:00Z with a later time (2026-03-04T10:00:00Z); only the most recent overdue time runs",
				"missed: 1h0m0s late at 2026-03-04T11:00:00Z, beyond the grace period of 5m0s (no allocator ran it at its time)",
				"",
			},
			status: schedule.StatusScheduled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				now := bubbleClock(t0)
				h := newHarness(t, audit.NewDirStore(t.TempDir()), now, nil)
				req := tt.req
				req.Name, req.Time = "lab", due.Format(time.RFC3339)
				s := h.create(req)
				sleepUntil(now, tt.startAt)
				h.start()
				sleepUntil(now, due.Add(3*24*time.Hour+time.Minute))

				var runs []time.Time
				for _, c := range h.run.Calls() {
					runs = append(runs, c.At)
				}
				assert.Equal(t, tt.runs, runs, "runner calls")
				occ := h.history(s.ID)
				assert.Equal(t, tt.want, outcomes(occ), "outcomes")
				for i, o := range occ {
					if i < len(tt.reason) {
						assert.Equal(t, tt.reason[i], o.Reason, "reason of occurrence %d", i)
					}
				}
				got := h.get(s.ID)
				assert.Equal(t, tt.status, got.Status, "status")
				assert.Equal(t, len(tt.runs), got.ExecutionCount, "execution_count counts runs, not misses")
			})
		})
	}
}

// A destroy due while an on-demand launch runs is handed to the runner
// at its time and waits in its queue; it runs after the launch instead
// of failing (upstream skips it and marks it failed).
func TestDestroyDueDuringLaunchWaitsInTheQueue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		now := bubbleClock(t0)
		h := newHarness(t, audit.NewDirStore(t.TempDir()), now, nil)
		release := make(chan struct{})
		launch := h.run.hold(release)
		at := t0.Add(10 * time.Minute)
		s := h.create(schedule.Request{Name: "end of lab", Time: at.Format(time.RFC3339)})
		h.start()

		sleepUntil(now, at)
		calls := h.run.Calls()
		require.Len(t, calls, 1, "the destroy is handed to the runner at its time")
		sleepUntil(now, at.Add(30*time.Minute))
		occ := h.history(s.ID)
		require.Len(t, occ, 1, "occurrences")
		assert.Equal(t, schedule.OutcomeRunning, occ[0].Outcome, "the destroy waits behind the launch")
		assert.Equal(t, calls[0].Op, occ[0].OperationID, "operation id recorded")
		assert.Equal(t, schedule.StatusExecuting, h.get(s.ID).Status, "status while it waits")

		close(release)
		synctest.Wait()
		assert.Equal(t, []int64{launch, calls[0].Op}, h.run.Order(), "the destroy ran after the launch")
		assert.Equal(t, []schedule.Outcome{"completed"}, outcomes(h.history(s.ID)), "outcome")
		assert.Equal(t, schedule.StatusCompleted, h.get(s.ID).Status, "status")
	})
}
