package setup

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/launcher/launchertest"
	"github.com/lablink-go/lablink/schedule"
)

// waitBound bounds the waits for the double's operations: a safety net
// against a hang, not a timing assertion.
const waitBound = 30 * time.Second

var occurrence = time.Date(2026, 3, 6, 17, 30, 0, 0, time.FixedZone("EST", -5*3600))

func newFake(t *testing.T) *launchertest.Fake {
	t.Helper()
	f := launchertest.New(nil)
	t.Cleanup(f.Close)
	return f
}

func TestOccurrenceLink(t *testing.T) {
	assert.Equal(t, "7@2026-03-06T22:30:00Z", OccurrenceLink(7, occurrence))
}

// TestRunnerRun: each job becomes the request of its action, made by the
// schedule's creator and linked to the occurrence in its params; a job
// the launcher refuses is an error and no operation.
func TestRunnerRun(t *testing.T) {
	tests := []struct {
		name    string
		job     schedule.Job
		want    launcher.Request
		params  map[string]any
		wantErr error
	}{
		{
			name:   "destroy",
			job:    schedule.Job{Action: schedule.Destroy, ScheduleID: 7, Occurrence: occurrence, CreatedBy: "admin"},
			want:   launcher.Request{Destroy: true, Actor: "admin", Schedule: "7@2026-03-06T22:30:00Z"},
			params: map[string]any{"schedule": "7@2026-03-06T22:30:00Z"},
		},
		{
			name:   "launch",
			job:    schedule.Job{Action: schedule.Launch, NumVMs: 3, ScheduleID: 12, Occurrence: occurrence, CreatedBy: "ta"},
			want:   launcher.Request{Count: 3, Actor: "ta", Schedule: "12@2026-03-06T22:30:00Z"},
			params: map[string]any{"num_vms": 3, "schedule": "12@2026-03-06T22:30:00Z"},
		},
		{
			name:    "launch of no VMs",
			job:     schedule.Job{Action: schedule.Launch, ScheduleID: 1, Occurrence: occurrence},
			wantErr: launcher.ErrInvalidCount,
		},
		{
			name:    "unknown action",
			job:     schedule.Job{Action: "reboot", ScheduleID: 1, Occurrence: occurrence},
			wantErr: errors.New(`schedule 1: unknown action "reboot"`),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			id, err := NewRunner(f, nil).Run(t.Context(), tt.job)
			if tt.wantErr != nil {
				if errors.Is(err, tt.wantErr) {
					return
				}
				require.EqualError(t, err, tt.wantErr.Error())
				assert.Empty(t, f.Requests(), "requests")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, []launcher.Request{tt.want}, f.Requests(), "requests")
			op, err := f.Op(t.Context(), id)
			require.NoError(t, err)
			assert.Equal(t, tt.job.Action, op.Action, "op_type")
			assert.Equal(t, tt.job.CreatedBy, op.CreatedBy, "created_by")
			assert.Equal(t, tt.params, op.Params, "params")
		})
	}
}

// TestRunnerWait: nil for an operation that succeeded; an *OpError saying
// why for one that failed, in the words of describe; ctx's error while
// it runs on.
func TestRunnerWait(t *testing.T) {
	public := func(op audit.Op) string { return "destroy failed; see the server log" }
	tests := []struct {
		name     string
		fail     error
		describe func(audit.Op) string
		cancel   bool
		want     string // "" for nil
	}{
		{name: "succeeded"},
		{name: "failed", fail: errors.New("destroy: exit status 1\nError: provider said something"),
			want: "destroy: exit status 1"},
		{name: "failed, described", fail: errors.New("destroy: exit status 1"), describe: public,
			want: "destroy failed; see the server log"},
		{name: "failed without text", fail: errors.New(""), want: "operation failed"},
		{name: "cancelled wait", cancel: true, want: context.Canceled.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t)
			if tt.fail != nil {
				f.Fail(tt.fail)
			}
			if tt.cancel {
				t.Cleanup(f.Hold())
			}
			r := NewRunner(f, tt.describe)
			id, err := r.Run(t.Context(), schedule.Job{Action: schedule.Destroy, ScheduleID: 1, Occurrence: occurrence})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(t.Context(), waitBound)
			defer cancel()
			if tt.cancel {
				ctx, cancel = context.WithCancel(t.Context())
				cancel()
			}
			err = r.Wait(ctx, id)
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.want)
			if tt.cancel {
				assert.ErrorIs(t, err, context.Canceled)
				return
			}
			var oe *OpError
			require.ErrorAs(t, err, &oe)
			assert.Equal(t, id, oe.Op.ID, "OpError.Op")
			assert.Equal(t, audit.StatusFailed, oe.Op.Status, "OpError.Op")
		})
	}
}

// TestRunnerQueuesBehindLaunch: a destroy that falls due while a launch
// runs is queued behind it (upstream skips it and marks it failed), runs
// when the launch ends, and completes the schedule.
func TestRunnerQueuesBehindLaunch(t *testing.T) {
	clk := testkit.NewClock(occurrence.Add(-time.Hour))
	f := newFake(t)
	cal, err := schedule.NewCalendar(audit.NewDirStore(t.TempDir()), "prod", &schedule.Options{Now: clk.Now})
	require.NoError(t, err)
	sched := schedule.NewScheduler(cal, NewRunner(f, nil), &schedule.SchedulerOptions{Owner: "test", Logger: slog.New(slog.DiscardHandler)})
	t.Cleanup(func() { _ = sched.Close() })
	s, err := cal.Create(t.Context(), schedule.Request{Name: "end of lab", Time: occurrence.Format(time.RFC3339), CreatedBy: "admin"})
	require.NoError(t, err)

	release := f.Hold()
	defer release()
	launch, err := f.Start(t.Context(), launcher.Request{Count: 2, Actor: "admin"})
	require.NoError(t, err)
	clk.Set(occurrence.Add(time.Second))
	require.NoError(t, sched.Tick(t.Context()))

	// Tick hands the occurrence to the runner in the background.
	require.Eventually(t, func() bool { return len(f.Requests()) == 2 }, waitBound, 5*time.Millisecond,
		"the launch, then the scheduled destroy")
	destroyID := launch.ID + 1
	op, err := f.Op(t.Context(), destroyID)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusQueued, op.Status, "the destroy while the launch runs")
	assert.Equal(t, OccurrenceLink(s.ID, occurrence), op.Params["schedule"], "link to the schedule")
	got, err := cal.Get(t.Context(), s.ID)
	require.NoError(t, err)
	assert.Equal(t, schedule.StatusExecuting, got.Status, "schedule while its destroy waits")

	release()
	ctx, cancel := context.WithTimeout(t.Context(), waitBound)
	defer cancel()
	final, err := launcher.Wait(ctx, f, destroyID)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusSucceeded, final.Status, "the destroy after the launch")
	require.Eventually(t, func() bool {
		got, err = cal.Get(t.Context(), s.ID)
		return err == nil && got.Status == schedule.StatusCompleted
	}, waitBound, 10*time.Millisecond, "schedule: %+v", got)
	assert.Equal(t, "completed: operation 2", got.LastExecutionResult)
	st, err := f.Status(t.Context())
	require.NoError(t, err)
	assert.Empty(t, st.VMs, "VMs after the scheduled destroy")
}
