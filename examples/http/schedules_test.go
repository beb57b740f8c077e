package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/launcher/launchertest"
	"github.com/lablink-go/lablink/schedule"
)

// t0 is the schedule tests' clock at the start: a Monday.
var t0 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)

// scheduleServer is the server on the launcher double with a Calendar on
// a DirStore, read at the test's clock.
type scheduleServer struct {
	h     http.Handler
	fake  *launchertest.Fake
	cal   *schedule.Calendar
	clock *testkit.Clock
}

func newScheduleServer(t *testing.T) *scheduleServer {
	t.Helper()
	clock := testkit.NewClock(t0)
	fake := launchertest.New(&launchertest.Options{Now: clock.Now})
	t.Cleanup(fake.Close)
	cal, err := schedule.NewCalendar(audit.NewDirStore(t.TempDir()), "prod", &schedule.Options{Now: clock.Now})
	require.NoError(t, err)
	return &scheduleServer{h: newTestHandler(t, fake, serverOptions{Calendar: cal, Now: clock.Now}), fake: fake, cal: cal, clock: clock}
}

// scheduleAnswer is every field the schedule routes answer with.
type scheduleAnswer struct {
	Success     bool                  `json:"success"`
	Message     string                `json:"message"`
	Errors      []fieldJSON           `json:"errors"`
	ScheduleID  int64                 `json:"schedule_id"`
	Schedule    schedule.Schedule     `json:"schedule"`
	Schedules   []schedule.Schedule   `json:"schedules"`
	Count       int                   `json:"count"`
	Occurrences []schedule.Occurrence `json:"occurrences"`
	Upcoming    []time.Time           `json:"upcoming"`
}

// call sends an authenticated request with a JSON body (none when "")
// and returns the status and the decoded answer.
func (s *scheduleServer) call(t *testing.T, method, path, body string) (int, scheduleAnswer) {
	t.Helper()
	rq := request{method: method, path: path}
	if body != "" {
		rq.contentType, rq.body = "application/json", []byte(body)
	}
	w := do(t, s.h, rq)
	var a scheduleAnswer
	if method != http.MethodHead {
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &a), "%s %s: %s", method, path, w.Body)
	}
	return w.Code, a
}

// at is t0+d as ISO 8601 with "Z", as upstream's page sends it.
func at(d time.Duration) string { return t0.Add(d).Format("2006-01-02T15:04:05Z") }

func TestScheduleCreate(t *testing.T) {
	const destruction, launch = "/api/schedule-destruction", "/api/schedule-launch"
	tests := []struct {
		name, path, body string
		code             int
		fields           []string // refused fields, in order
		check            func(t *testing.T, s schedule.Schedule)
	}{
		{name: "one-off destroy", path: destruction, code: http.StatusOK,
			body: `{"schedule_name": "Friday Tutorial End", "destruction_time": "` + at(time.Hour) + `", "recurrence_rule": null}`,
			check: func(t *testing.T, s schedule.Schedule) {
				assert.Equal(t, schedule.Destroy, s.Action)
				assert.Equal(t, t0.Add(time.Hour), s.Time.UTC())
				assert.Equal(t, schedule.StatusScheduled, s.Status)
				assert.Equal(t, testUser, s.CreatedBy, "created_by is the authenticated user")
				assert.Equal(t, schedule.DefaultGracePeriod, s.GracePeriod)
				assert.Equal(t, 1, s.NotificationHoursBefore, "upstream's default")
			}},
		{name: "weekly in a zone", path: destruction, code: http.StatusOK,
			body: `{"schedule_name": "fridays", "destruction_time": "2026-03-06T17:30:00", "time_zone": "America/New_York",
				"recurrence_rule": "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30", "grace_period_seconds": 60,
				"notification_enabled": true, "notification_hours_before": 2}`,
			check: func(t *testing.T, s schedule.Schedule) {
				assert.Equal(t, "America/New_York", s.TimeZone)
				assert.Equal(t, time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC), s.Time.UTC(), "17:30 EST")
				assert.Equal(t, time.Minute, s.GracePeriod)
				assert.True(t, s.NotificationEnabled)
				assert.Equal(t, 2, s.NotificationHoursBefore)
				require.NotNil(t, s.NextOccurrence)
			}},
		{name: "launch", path: launch, code: http.StatusOK,
			body: `{"schedule_name": "before the lab", "launch_time": "` + at(time.Hour) + `", "num_vms": 30}`,
			check: func(t *testing.T, s schedule.Schedule) {
				assert.Equal(t, schedule.Launch, s.Action)
				assert.Equal(t, 30, s.NumVMs)
				assert.Equal(t, t0.Add(time.Hour), s.Time.UTC())
			}},
		{name: "no name", path: destruction, code: http.StatusBadRequest, fields: []string{"schedule_name"},
			body: `{"destruction_time": "` + at(time.Hour) + `"}`},
		{name: "no time", path: destruction, code: http.StatusBadRequest, fields: []string{"destruction_time"},
			body: `{"schedule_name": "x"}`},
		{name: "time in the past", path: destruction, code: http.StatusBadRequest, fields: []string{"destruction_time"},
			body: `{"schedule_name": "x", "destruction_time": "` + at(-time.Minute) + `"}`},
		{name: "bad time", path: destruction, code: http.StatusBadRequest, fields: []string{"destruction_time"},
			body: `{"schedule_name": "x", "destruction_time": "next friday"}`},
		{name: "bad rule", path: destruction, code: http.StatusBadRequest, fields: []string{"recurrence_rule"},
			body: `{"schedule_name": "x", "destruction_time": "` + at(time.Hour) + `", "recurrence_rule": "FREQ=FORTNIGHTLY"}`},
		{name: "unknown zone", path: destruction, code: http.StatusBadRequest, fields: []string{"time_zone"},
			body: `{"schedule_name": "x", "destruction_time": "2026-03-06T17:30:00", "time_zone": "Mars/Olympus_Mons"}`},
		{name: "every problem at once", path: destruction, code: http.StatusBadRequest,
			fields: []string{"schedule_name", "num_vms", "destruction_time"},
			body:   `{"destruction_time": "soon", "num_vms": 2}`},
		{name: "launch without num_vms", path: launch, code: http.StatusBadRequest, fields: []string{"num_vms"},
			body: `{"schedule_name": "x", "launch_time": "` + at(time.Hour) + `"}`},
		{name: "launch without a time", path: launch, code: http.StatusBadRequest, fields: []string{"launch_time"},
			body: `{"schedule_name": "x", "num_vms": 3}`},
		{name: "num_vms not a number", path: launch, code: http.StatusBadRequest, fields: []string{"num_vms"},
			body: `{"schedule_name": "x", "launch_time": "` + at(time.Hour) + `", "num_vms": "many"}`},
		{name: "destroy with num_vms", path: destruction, code: http.StatusBadRequest, fields: []string{"num_vms"},
			body: `{"schedule_name": "x", "destruction_time": "` + at(time.Hour) + `", "num_vms": 3}`},
		{name: "launch on the destruction route", path: destruction, code: http.StatusBadRequest, fields: []string{"action"},
			body: `{"schedule_name": "x", "destruction_time": "` + at(time.Hour) + `", "action": "launch"}`},
		{name: "not JSON", path: destruction, code: http.StatusBadRequest, body: `schedule_name=x`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := newScheduleServer(t)
			code, a := s.call(t, http.MethodPost, tc.path, tc.body)
			require.Equal(t, tc.code, code, "status; answer %+v", a)
			if tc.code != http.StatusOK {
				assert.False(t, a.Success, "success")
				var fields []string
				for _, f := range a.Errors {
					fields = append(fields, f.Field)
					assert.Contains(t, a.Message, f.Field+": "+f.Message, "message names each field")
				}
				assert.Equal(t, tc.fields, fields, "refused fields; message %q", a.Message)
				list, err := s.cal.List(t.Context(), "")
				require.NoError(t, err)
				assert.Empty(t, list, "schedules after a refused create")
				return
			}
			assert.True(t, a.Success, "success")
			assert.Equal(t, int64(1), a.ScheduleID, "schedule_id")
			assert.Contains(t, a.Message, "created successfully")
			stored, err := s.cal.Get(t.Context(), a.ScheduleID)
			require.NoError(t, err)
			assert.Equal(t, stored.Name, a.Schedule.Name, "the answer's schedule is the stored one")
			tc.check(t, stored)
		})
	}
}

// TestScheduleCreateRefusals: a name taken (upstream's 409, also by a
// cancelled schedule or one of the other action) and a body that is not
// JSON by its content type (415).
func TestScheduleCreateRefusals(t *testing.T) {
	s := newScheduleServer(t)
	body := `{"schedule_name": "lab", "destruction_time": "` + at(time.Hour) + `"}`
	code, a := s.call(t, http.MethodPost, "/api/schedule-destruction", body)
	require.Equal(t, http.StatusOK, code, "%+v", a)
	code, a = s.call(t, http.MethodPost, "/api/schedule-destruction", body)
	assert.Equal(t, http.StatusConflict, code, "%+v", a)
	assert.Equal(t, `a schedule named "lab" exists`, a.Message)
	code, _ = s.call(t, http.MethodDelete, "/api/schedule-destruction/1", "")
	require.Equal(t, http.StatusOK, code)
	code, a = s.call(t, http.MethodPost, "/api/schedule-launch",
		`{"schedule_name": "lab", "launch_time": "`+at(time.Hour)+`", "num_vms": 1}`)
	assert.Equal(t, http.StatusConflict, code, "a launch named as a cancelled destroy: %+v", a)

	w := do(t, s.h, request{path: "/api/schedule-destruction", contentType: formCT, body: form("schedule_name", "x")})
	assert.Equal(t, http.StatusUnsupportedMediaType, w.Code, "%s", w.Body)
}

// TestScheduleReadAndCancel: each route lists and shows the schedules
// of its action, filters by status, answers 404 for an id it does not
// hold, and cancels once.
func TestScheduleReadAndCancel(t *testing.T) {
	s := newScheduleServer(t)
	for _, rq := range []struct{ path, body string }{
		{"/api/schedule-destruction", `{"schedule_name": "late", "destruction_time": "` + at(2*time.Hour) + `"}`},
		{"/api/schedule-destruction", `{"schedule_name": "early", "destruction_time": "` + at(time.Hour) + `"}`},
		{"/api/schedule-launch", `{"schedule_name": "morning", "launch_time": "` + at(time.Hour) + `", "num_vms": 2}`},
	} {
		code, a := s.call(t, http.MethodPost, rq.path, rq.body)
		require.Equal(t, http.StatusOK, code, "%+v", a)
	}
	names := func(list []schedule.Schedule) []string {
		var out []string
		for _, sc := range list {
			out = append(out, sc.Name)
		}
		return out
	}
	tests := []struct {
		name, method, path string
		code               int
		want               []string // names listed, or the one shown
		message            string
	}{
		{name: "destructions by time", method: http.MethodGet, path: "/api/schedule-destruction", code: 200, want: []string{"early", "late"}},
		{name: "launches", method: http.MethodGet, path: "/api/schedule-launch", code: 200, want: []string{"morning"}},
		{name: "by status", method: http.MethodGet, path: "/api/schedule-destruction?status=scheduled", code: 200, want: []string{"early", "late"}},
		{name: "none cancelled", method: http.MethodGet, path: "/api/schedule-destruction?status=cancelled", code: 200},
		{name: "bad status", method: http.MethodGet, path: "/api/schedule-destruction?status=done", code: 400, message: "Invalid status filter: done"},
		{name: "one", method: http.MethodGet, path: "/api/schedule-destruction/2", code: 200, want: []string{"early"}},
		{name: "a launch", method: http.MethodGet, path: "/api/schedule-launch/3", code: 200, want: []string{"morning"}},
		{name: "a launch on the destruction route", method: http.MethodGet, path: "/api/schedule-destruction/3", code: 404, message: msgNoSchedule},
		{name: "unknown id", method: http.MethodGet, path: "/api/schedule-destruction/99", code: 404, message: msgNoSchedule},
		{name: "not an id", method: http.MethodGet, path: "/api/schedule-destruction/abc", code: 404, message: msgNoSchedule},
		{name: "cancel", method: http.MethodDelete, path: "/api/schedule-destruction/1", code: 200,
			message: "Scheduled destruction 1 cancelled successfully"},
		{name: "cancel again", method: http.MethodDelete, path: "/api/schedule-destruction/1", code: 400,
			message: "Cannot cancel schedule with status 'cancelled'"},
		{name: "cancel unknown", method: http.MethodDelete, path: "/api/schedule-destruction/99", code: 404, message: msgNoSchedule},
		{name: "cancelled", method: http.MethodGet, path: "/api/schedule-destruction?status=cancelled", code: 200, want: []string{"late"}},
		{name: "cancel a launch", method: http.MethodDelete, path: "/api/schedule-launch/3", code: 200,
			message: "Scheduled launch 3 cancelled successfully"},
	}
	for _, tc := range tests { // in order: the cancels change what follows
		code, a := s.call(t, tc.method, tc.path, "")
		require.Equal(t, tc.code, code, "%s: %+v", tc.name, a)
		assert.Equal(t, tc.code == 200, a.Success, "%s: success", tc.name)
		if tc.message != "" {
			assert.Equal(t, tc.message, a.Message, tc.name)
		}
		switch {
		case tc.code != 200 || tc.method == http.MethodDelete:
		case strings.Contains(tc.path, "/api/schedule-destruction/") || strings.Contains(tc.path, "/api/schedule-launch/"):
			assert.Equal(t, tc.want, []string{a.Schedule.Name}, tc.name)
			assert.Empty(t, a.Occurrences, "%s: occurrences", tc.name)
			assert.Len(t, a.Upcoming, 1, "%s: the time of a one-off schedule", tc.name)
		default:
			assert.Equal(t, tc.want, names(a.Schedules), tc.name)
			assert.Equal(t, len(tc.want), a.Count, "%s: count", tc.name)
		}
	}
	got, err := s.cal.Get(t.Context(), 1)
	require.NoError(t, err)
	assert.Equal(t, testUser, got.CancelledBy, "cancelled_by")
}

// TestScheduleRoutesGuarded: the routes need the admin's credentials,
// answer 405 with Allow to other methods, and do not exist without a
// Calendar.
func TestScheduleRoutesGuarded(t *testing.T) {
	s := newScheduleServer(t)
	tests := []struct {
		name  string
		rq    request
		code  int
		allow string
	}{
		{name: "no credentials", rq: request{method: http.MethodGet, path: "/api/schedule-destruction", noAuth: true}, code: 401},
		{name: "wrong password", rq: request{method: http.MethodDelete, path: "/api/schedule-destruction/1", user: testUser, password: "guess"}, code: 401},
		{name: "no credentials to create", rq: request{path: "/api/schedule-launch", contentType: "application/json",
			body: []byte(`{"schedule_name": "x", "launch_time": "` + at(time.Hour) + `", "num_vms": 1}`), noAuth: true}, code: 401},
		{name: "PUT", rq: request{method: http.MethodPut, path: "/api/schedule-destruction"}, code: 405, allow: "GET, HEAD, POST"},
		{name: "POST to one", rq: request{path: "/api/schedule-destruction/1"}, code: 405, allow: "DELETE, GET, HEAD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			w := do(t, s.h, tc.rq)
			assert.Equal(t, tc.code, w.Code, "%s", w.Body)
			assert.Equal(t, tc.allow, w.Header().Get("Allow"))
		})
	}
	list, err := s.cal.List(t.Context(), "")
	require.NoError(t, err)
	assert.Empty(t, list, "schedules created without credentials")

	none := newTestHandler(t, newFake(t))
	w := do(t, none, request{method: http.MethodGet, path: "/api/schedule-destruction"})
	assert.Equal(t, http.StatusNotFound, w.Code, "without a Calendar")
}

// TestScheduledOperations: a Scheduler on the routes' Calendar, with the
// Runner of the launcher double, turns a due destroy into an operation
// that waits behind a running launch, links back to its schedule and
// completes the schedule; a failed one fails it with the operations API's
// words, never the launcher's error text.
func TestScheduledOperations(t *testing.T) {
	s := newScheduleServer(t)
	sched := schedule.NewScheduler(s.cal, setup.NewRunner(s.fake, publicError),
		&schedule.SchedulerOptions{Owner: "test", Logger: testLogger(t)})
	t.Cleanup(func() { _ = sched.Close() })
	code, a := s.call(t, http.MethodPost, "/api/schedule-destruction",
		`{"schedule_name": "end of lab", "destruction_time": "`+at(time.Hour)+`"}`)
	require.Equal(t, http.StatusOK, code, "%+v", a)

	release := s.fake.Hold()
	defer release()
	w := do(t, s.h, request{path: "/api/launch", contentType: "application/json", body: []byte(`{"num_vms": 2}`)})
	require.Equal(t, http.StatusAccepted, w.Code, "%s", w.Body)
	s.clock.Set(t0.Add(time.Hour + time.Second))
	require.NoError(t, sched.Tick(t.Context()))
	require.Eventually(t, func() bool { return len(s.fake.Requests()) == 2 }, 10*time.Second, 5*time.Millisecond,
		"the scheduled destroy reaches the launcher")

	var ops []opJSON
	w = do(t, s.h, request{method: http.MethodGet, path: "/api/operations"})
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &ops))
	require.Len(t, ops, 2)
	assert.Equal(t, "destroy", ops[0].Type)
	assert.Equal(t, audit.StatusQueued, ops[0].Status, "the destroy waits behind the launch")
	assert.Equal(t, "1@"+at(time.Hour), ops[0].Params["schedule"], "the operation's link to its occurrence")
	assert.Equal(t, testUser, ops[0].CreatedBy, "created_by: the schedule's creator")
	_, a = s.call(t, http.MethodGet, "/api/schedule-destruction/1", "")
	assert.Equal(t, schedule.StatusExecuting, a.Schedule.Status)

	release()
	a = waitSchedule(t, s, "/api/schedule-destruction/1", schedule.StatusCompleted)
	assert.Equal(t, fmt.Sprintf("completed: operation %d", ops[0].ID), a.Schedule.LastExecutionResult)
	require.Len(t, a.Occurrences, 1)
	assert.Equal(t, schedule.OutcomeCompleted, a.Occurrences[0].Outcome)
	assert.Equal(t, ops[0].ID, a.Occurrences[0].OperationID)
	assert.Empty(t, a.Upcoming, "upcoming times of a completed schedule")

	// A destroy that fails: the schedule says so in the API's words.
	code, a = s.call(t, http.MethodPost, "/api/schedule-destruction",
		`{"schedule_name": "second", "destruction_time": "`+at(2*time.Hour)+`"}`)
	require.Equal(t, http.StatusOK, code, "%+v", a)
	s.fake.Fail(errors.New("destroy: exit status 1\nError: secret provider output"))
	s.clock.Set(t0.Add(2*time.Hour + time.Second))
	require.NoError(t, sched.Tick(t.Context()))
	a = waitSchedule(t, s, "/api/schedule-destruction/2", schedule.StatusFailed)
	id := ops[0].ID + 1
	assert.Equal(t, fmt.Sprintf("failed: operation %d: destroy failed; see the server log and the audit record of fake-%d", id, id),
		a.Schedule.LastExecutionResult)
	assert.NotContains(t, a.Schedule.LastExecutionResult, "secret")
}

// waitSchedule polls GET path until the schedule has status (a safety
// net of ten seconds against a hang) and returns the last answer.
func waitSchedule(t *testing.T, s *scheduleServer, path string, status schedule.Status) scheduleAnswer {
	t.Helper()
	var a scheduleAnswer
	require.Eventually(t, func() bool {
		var code int
		code, a = s.call(t, http.MethodGet, path, "")
		return code == http.StatusOK && a.Schedule.Status == status
	}, 10*time.Second, 5*time.Millisecond, "schedule %s never %s: %+v", path, status, a.Schedule)
	return a
}

// shutdownFunc is a shutdowner made of a function.
type shutdownFunc func(context.Context) error

func (f shutdownFunc) Shutdown(ctx context.Context) error { return f(ctx) }

// TestSchedulerFirst: the Scheduler stops when shutdown begins (ctx
// ends), and in any case before the launcher's Shutdown, which is still
// called once.
func TestSchedulerFirst(t *testing.T) {
	for _, name := range []string{"signal", "serve error"} {
		t.Run(name, func(t *testing.T) {
			s := newScheduleServer(t)
			sched := schedule.NewScheduler(s.cal, setup.NewRunner(s.fake, nil), &schedule.SchedulerOptions{Logger: testLogger(t)})
			require.NoError(t, sched.Start(t.Context()))
			var shutdowns int
			var closedFirst bool
			l := shutdownFunc(func(context.Context) error {
				shutdowns++
				closedFirst = errors.Is(sched.Tick(t.Context()), schedule.ErrClosed)
				return nil
			})
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			sl := schedulerFirst(ctx, l, sched)
			if name == "signal" {
				cancel()
				require.Eventually(t, func() bool { return errors.Is(sched.Tick(t.Context()), schedule.ErrClosed) },
					10*time.Second, 5*time.Millisecond, "the Scheduler after the signal")
			}
			require.NoError(t, sl.Shutdown(t.Context()))
			assert.Equal(t, 1, shutdowns, "launcher shutdowns")
			assert.True(t, closedFirst, "Scheduler closed before the launcher's Shutdown")
		})
	}
}
