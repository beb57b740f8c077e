package schedule_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/schedule"
)

func newCalendar(t *testing.T, now func() time.Time) (*schedule.Calendar, audit.Store) {
	t.Helper()
	store := audit.NewDirStore(t.TempDir())
	cal, err := schedule.NewCalendar(store, "dev", &schedule.Options{Now: now})
	require.NoError(t, err, "NewCalendar")
	return cal, store
}

func TestCalendarCreateGetList(t *testing.T) {
	cal, _ := newCalendar(t, func() time.Time { return t0 })
	ctx := t.Context()
	later, err := cal.Create(ctx, schedule.Request{Name: "later", Time: "2026-03-09T09:00:00Z", CreatedBy: "admin"})
	require.NoError(t, err, "Create later")
	sooner, err := cal.Create(ctx, schedule.Request{Name: "sooner", Action: schedule.Launch, NumVMs: 30, Time: "2026-03-05T08:45:00Z", RecurrenceRule: "FREQ=WEEKLY"})
	require.NoError(t, err, "Create sooner")
	assert.Equal(t, []int64{1, 2}, []int64{later.ID, sooner.ID}, "ids in order")

	got, err := cal.Get(ctx, later.ID)
	require.NoError(t, err, "Get")
	assert.Equal(t, later, got, "Get returns what Create returned")
	assert.Equal(t, schedule.StatusScheduled, got.Status, "status")
	assert.Equal(t, "admin", got.CreatedBy, "created_by")
	assert.Equal(t, t0, got.CreatedAt, "created_at")

	_, err = cal.Create(ctx, schedule.Request{Name: "later", Time: "2026-04-09T09:00:00Z"})
	assert.ErrorIs(t, err, schedule.ErrDuplicateName, "a taken name")
	_, err = cal.Get(ctx, 3)
	assert.ErrorIs(t, err, schedule.ErrNotFound, "Get of an unknown id")

	all, err := cal.List(ctx, "")
	require.NoError(t, err, "List")
	assert.Equal(t, []int64{sooner.ID, later.ID}, ids(all), "ordered by time (upstream's ORDER BY destruction_time)")

	_, err = cal.Cancel(ctx, later.ID, "admin")
	require.NoError(t, err, "Cancel")
	for status, want := range map[schedule.Status][]int64{
		schedule.StatusScheduled: {sooner.ID},
		schedule.StatusCancelled: {later.ID},
		schedule.StatusCompleted: nil,
	} {
		got, err := cal.List(ctx, status)
		require.NoError(t, err, "List %s", status)
		assert.Equal(t, want, ids(got), "List %s", status)
	}
	_, err = cal.List(ctx, "done")
	var fe *schedule.FieldError
	require.ErrorAs(t, err, &fe, "List of an unknown status")
	assert.Equal(t, "status", fe.Field, "field")

	_, err = cal.Cancel(ctx, 7, "admin")
	assert.ErrorIs(t, err, schedule.ErrNotFound, "Cancel of an unknown id")
	_, err = cal.History(ctx, 7, 0)
	assert.ErrorIs(t, err, schedule.ErrNotFound, "History of an unknown id")
	occ, err := cal.History(ctx, sooner.ID, 0)
	require.NoError(t, err, "History")
	assert.Empty(t, occ, "no occurrence yet")
}

func ids(ss []schedule.Schedule) []int64 {
	var out []int64
	for _, s := range ss {
		out = append(out, s.ID)
	}
	return out
}

func TestNewCalendarRefusesEnvironments(t *testing.T) {
	for _, env := range []string{"", ".", "..", "a/b", `a\b`, "a\nb"} {
		_, err := schedule.NewCalendar(audit.NewDirStore(t.TempDir()), env, nil)
		assert.Error(t, err, "environment %q", env)
	}
}

// A Schedule's JSON is upstream's record, nulls included, plus our
// fields; it reads back to the same Schedule.
func TestScheduleJSON(t *testing.T) {
	cal, _ := newCalendar(t, func() time.Time { return t0 })
	s, err := cal.Create(t.Context(), schedule.Request{
		Name: "Friday Tutorial End", Time: "2026-03-06T17:30:00", TimeZone: "America/New_York",
		RecurrenceRule: "FREQ=WEEKLY;BYDAY=FR", NotificationEnabled: true,
	})
	require.NoError(t, err, "Create")
	b, err := json.Marshal(s)
	require.NoError(t, err, "Marshal")
	assert.JSONEq(t, `{
		"id": 1,
		"schedule_name": "Friday Tutorial End",
		"destruction_time": "2026-03-06T22:30:00Z",
		"recurrence_rule": "FREQ=WEEKLY;BYDAY=FR",
		"created_by": null,
		"status": "scheduled",
		"execution_count": 0,
		"last_execution_time": null,
		"last_execution_result": null,
		"notification_enabled": true,
		"notification_hours_before": 1,
		"created_at": "2026-03-02T09:00:00Z",
		"updated_at": "2026-03-02T09:00:00Z",
		"action": "destroy",
		"num_vms": null,
		"time_zone": "America/New_York",
		"grace_period_seconds": 300,
		"next_occurrence": "2026-03-06T22:30:00Z"
	}`, string(b), "JSON")
	var back schedule.Schedule
	require.NoError(t, json.Unmarshal(b, &back), "Unmarshal")
	assert.Equal(t, s, back, "round trip")

	launch, err := cal.Create(t.Context(), schedule.Request{Name: "morning", Action: schedule.Launch, NumVMs: 30, Time: "2026-03-06T08:45:00Z"})
	require.NoError(t, err, "Create launch")
	b, err = json.Marshal(launch)
	require.NoError(t, err, "Marshal launch")
	var m map[string]any
	require.NoError(t, json.Unmarshal(b, &m), "Unmarshal launch")
	assert.Equal(t, map[string]any{"action": "launch", "num_vms": 30.0, "recurrence_rule": nil},
		map[string]any{"action": m["action"], "num_vms": m["num_vms"], "recurrence_rule": m["recurrence_rule"]}, "launch fields")
}
