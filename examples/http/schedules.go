package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/setup"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/schedule"
)

// A class's schedule (issue 19): upstream's scheduled destruction
// (routes/schedules.py) with its paths, JSON and status codes, and
// scheduled launches, which upstream lacks. A schedule's times are run by
// the Scheduler that run starts (startSchedules); these routes only keep
// the Calendar. Errors here are upstream's {"success": false, "message"},
// with "errors" naming each refused field.

// Upstream's words.
const (
	msgNoSchedule      = "Schedule not found"
	msgScheduleFailure = "reading or writing schedules failed; see the server log"
	// historyLimit bounds the occurrences GET of one schedule shows;
	// upcomingLimit the times to come.
	historyLimit  = 20
	upcomingLimit = 5
)

// scheduleRoutes are the routes of the schedules of s.opts.Calendar
// (see routes); without one, their paths stay unknown (404). The two
// lists and the two /{id} routes each show the schedules of one action.
func (s *server) scheduleRoutes() []route {
	if s.opts.Calendar == nil {
		return nil
	}
	var out []route
	for _, p := range []struct {
		path   string
		action schedule.Action
	}{{"/api/schedule-destruction", schedule.Destroy}, {"/api/schedule-launch", schedule.Launch}} {
		sr := scheduleRoute{s: s, cal: s.opts.Calendar, action: p.action}
		out = append(out,
			byMethod(p.path, map[string]http.HandlerFunc{
				http.MethodPost: sr.create, http.MethodGet: sr.list, http.MethodHead: sr.list}),
			byMethod(p.path+"/{id}", map[string]http.HandlerFunc{
				http.MethodGet: sr.get, http.MethodHead: sr.get, http.MethodDelete: sr.cancel}))
	}
	return out
}

// byMethod is an API route that dispatches on the method; the route
// answers others (allow).
func byMethod(pattern string, hs map[string]http.HandlerFunc) route {
	return route{pattern, api, slices.Sorted(maps.Keys(hs)), func(w http.ResponseWriter, r *http.Request) { hs[r.Method](w, r) }}
}

// scheduleRoute serves the schedules of one action.
type scheduleRoute struct {
	s      *server
	cal    *schedule.Calendar
	action schedule.Action
}

// noun names the route's schedules in messages, as upstream does.
func (sr scheduleRoute) noun() string {
	if sr.action == schedule.Launch {
		return "Scheduled launch"
	}
	return "Scheduled destruction"
}

// timeField is the request's name for the first time: upstream's
// destruction_time, or launch_time for a launch.
func (sr scheduleRoute) timeField() string {
	if sr.action == schedule.Launch {
		return "launch_time"
	}
	return "destruction_time"
}

// fieldJSON is one refused field.
type fieldJSON struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// create is POST: 200 {"success": true, "schedule_id", "message",
// "schedule"}; 400 naming every refused field; 409 for a name taken.
func (sr scheduleRoute) create(w http.ResponseWriter, r *http.Request) {
	req, ok := sr.readBody(w, r)
	if !ok {
		return
	}
	req.CreatedBy = actorOf(r)
	sched, err := sr.cal.Create(r.Context(), req)
	switch {
	case errors.Is(err, schedule.ErrDuplicateName):
		writeFailure(w, http.StatusConflict, fmt.Sprintf("a schedule named %q exists", strings.TrimSpace(req.Name)), nil)
		return
	case err != nil:
		if fields := sr.fieldErrors(err); len(fields) > 0 {
			writeFailure(w, http.StatusBadRequest, joinFields(fields), fields)
			return
		}
		sr.storeFailure(w, r, "create schedule", err)
		return
	}
	sr.s.log.InfoContext(r.Context(), "schedule created", "actor", req.CreatedBy, "schedule_id", sched.ID,
		"name", sched.Name, "action", sched.Action, "time", sched.Time, "rule", sched.RecurrenceRule)
	writeJSON(w, http.StatusOK, map[string]any{
		"success": true, "schedule_id": sched.ID, "schedule": sched,
		"message": sr.noun() + " created successfully",
	})
}

// readBody reads a create's JSON body (an empty Content-Type is taken for
// JSON) into the Request of the route's action; false when it has
// answered.
func (sr scheduleRoute) readBody(w http.ResponseWriter, r *http.Request) (schedule.Request, bool) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !isJSON(r) {
		writeFailure(w, http.StatusUnsupportedMediaType, "unsupported content type "+strconv.Quote(ct)+"; send JSON", nil)
		return schedule.Request{}, false
	}
	// The body is schedule.Request's JSON (for a destruction, upstream's
	// body plus time_zone and grace_period_seconds), and launch_time,
	// the first time of a launch, read strictly as every JSON body.
	var body struct {
		schedule.Request
		LaunchTime string `json:"launch_time"`
	}
	status, msg, err := sr.s.decodeBody(w, r, &body, false)
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr) && typeErr.Field != "":
		// The field's path goes through the embedded Request.
		f := []fieldJSON{{strings.TrimPrefix(typeErr.Field, "Request."), typeMismatch(typeErr)}}
		writeFailure(w, http.StatusBadRequest, joinFields(f), f)
		return schedule.Request{}, false
	case status != 0:
		writeFailure(w, status, msg, nil)
		return schedule.Request{}, false
	}
	req := body.Request
	if sr.action == schedule.Launch {
		req.Time = body.LaunchTime
	}
	if req.Action == "" {
		req.Action = sr.action
	}
	if req.Action != sr.action {
		f := []fieldJSON{{"action", fmt.Sprintf("%q is not this route's: destroys go to /api/schedule-destruction, "+
			"launches to /api/schedule-launch", req.Action)}}
		writeFailure(w, http.StatusBadRequest, joinFields(f), f)
		return schedule.Request{}, false
	}
	return req, true
}

// fieldErrors lists the *schedule.FieldError in err, naming the first time
// as the route's body does.
func (sr scheduleRoute) fieldErrors(err error) []fieldJSON {
	fes, _ := fieldErrorsIn(err)
	var out []fieldJSON
	for _, fe := range fes {
		field := fe.Field
		if field == "destruction_time" {
			field = sr.timeField()
		}
		out = append(out, fieldJSON{field, fe.Err.Error()})
	}
	return out
}

// fieldErrorsIn lists the *schedule.FieldError in err, errors joined at
// any depth; only is false when some of err is another error.
func fieldErrorsIn(err error) (fes []*schedule.FieldError, only bool) {
	only = true
	var walk func(error)
	walk = func(err error) {
		if joined, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range joined.Unwrap() {
				walk(e)
			}
			return
		}
		var fe *schedule.FieldError
		if errors.As(err, &fe) {
			fes = append(fes, fe)
		} else {
			only = false
		}
	}
	walk(err)
	return fes, only
}

func joinFields(fields []fieldJSON) string {
	parts := make([]string, len(fields))
	for i, f := range fields {
		parts[i] = f.Field + ": " + f.Message
	}
	return strings.Join(parts, "; ")
}

// list is GET: {"success": true, "schedules": [...], "count": N}, every
// schedule of the route's action ordered by time, of one status with
// ?status= (upstream's 400 "Invalid status filter: x" for others).
func (sr scheduleRoute) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query().Get("status")
	status, err := schedule.ParseStatus(q)
	if err != nil {
		writeFailure(w, http.StatusBadRequest, "Invalid status filter: "+q, []fieldJSON{{"status", "want scheduled, executing, completed, failed or cancelled"}})
		return
	}
	all, err := sr.cal.List(r.Context(), status)
	if err != nil {
		sr.storeFailure(w, r, "list schedules", err)
		return
	}
	out := []schedule.Schedule{}
	for _, sc := range all {
		if sc.Action == sr.action {
			out = append(out, sc)
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "schedules": out, "count": len(out)})
}

// get is GET /{id}: {"success": true, "schedule", "occurrences" (the
// newest 20 records of its times: claimed, running, completed, failed or
// missed, with the operation that carried each), "upcoming" (its next
// five times, none once cancelled or finished)}.
func (sr scheduleRoute) get(w http.ResponseWriter, r *http.Request) {
	sched, ok := sr.find(w, r)
	if !ok {
		return
	}
	hist, err := sr.cal.History(r.Context(), sched.ID, historyLimit)
	if err != nil {
		sr.storeFailure(w, r, "read schedule history", err)
		return
	}
	next := []time.Time{}
	for _, t := range upcoming(sched, upcomingLimit) {
		next = append(next, t.UTC())
	}
	writeJSON(w, http.StatusOK, map[string]any{"success": true, "schedule": sched,
		"occurrences": append([]schedule.Occurrence{}, hist...), "upcoming": next})
}

// cancel is DELETE /{id}: 200 {"success": true, "message"}; 400 for a
// schedule already cancelled or completed, as upstream.
func (sr scheduleRoute) cancel(w http.ResponseWriter, r *http.Request) {
	sched, ok := sr.find(w, r)
	if !ok {
		return
	}
	actor := actorOf(r)
	_, err := sr.cal.Cancel(r.Context(), sched.ID, actor)
	switch {
	case errors.Is(err, schedule.ErrNotCancellable):
		writeFailure(w, http.StatusBadRequest, fmt.Sprintf("Cannot cancel schedule with status '%s'", sched.Status), nil)
		return
	case err != nil:
		sr.storeFailure(w, r, "cancel schedule", err)
		return
	}
	sr.s.log.InfoContext(r.Context(), "schedule cancelled", "actor", actor, "schedule_id", sched.ID, "name", sched.Name)
	writeJSON(w, http.StatusOK, map[string]any{"success": true,
		"message": fmt.Sprintf("%s %d cancelled successfully", sr.noun(), sched.ID)})
}

// find reads the schedule of the path's {id}; a number that is not the id
// of a schedule of the route's action is upstream's 404.
func (sr scheduleRoute) find(w http.ResponseWriter, r *http.Request) (schedule.Schedule, bool) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		writeFailure(w, http.StatusNotFound, msgNoSchedule, nil)
		return schedule.Schedule{}, false
	}
	sched, err := sr.cal.Get(r.Context(), id)
	switch {
	case errors.Is(err, schedule.ErrNotFound) || (err == nil && sched.Action != sr.action):
		writeFailure(w, http.StatusNotFound, msgNoSchedule, nil)
		return schedule.Schedule{}, false
	case err != nil:
		sr.storeFailure(w, r, "read schedule", err)
		return schedule.Schedule{}, false
	}
	return sched, true
}

func (sr scheduleRoute) storeFailure(w http.ResponseWriter, r *http.Request, what string, err error) {
	sr.s.log.ErrorContext(r.Context(), what, "err", err)
	writeFailure(w, http.StatusInternalServerError, msgScheduleFailure, nil)
}

// writeFailure answers upstream's {"success": false, "message"}, with
// "errors" when fields were refused.
func writeFailure(w http.ResponseWriter, status int, msg string, fields []fieldJSON) {
	body := map[string]any{"success": false, "message": msg}
	if len(fields) > 0 {
		body["errors"] = fields
	}
	writeJSON(w, status, body)
}

// startSchedules runs the schedules of environment env kept in store
// (nil: the launcher's default, a directory under workdir, where its
// trail and operations are): it returns the Calendar the routes keep
// and a Scheduler, started, that hands each due occurrence to l through
// setup.Runner, naming the reason an operation failed as the operations
// API does (publicError). owner names this server in the occurrences it
// claims; poll is how often it reads the store for what other
// allocators and the CLI changed. The caller must close the Scheduler
// (see schedulerFirst).
func startSchedules(ctx context.Context, l launcher.Service, store audit.Store, env, workdir, owner string,
	poll time.Duration, log *slog.Logger) (*schedule.Calendar, *schedule.Scheduler, error) {
	if store == nil {
		store = audit.NewDirStore(filepath.Join(workdir, ".lablink", "audit"))
	}
	cal, err := schedule.NewCalendar(store, env, nil)
	if err != nil {
		return nil, nil, err
	}
	sched := schedule.NewScheduler(cal, setup.NewRunner(l, publicError),
		&schedule.SchedulerOptions{PollInterval: poll, Owner: owner, Logger: log})
	if err := sched.Start(ctx); err != nil {
		_ = sched.Close()
		return nil, nil, fmt.Errorf("start schedules: %w", err)
	}
	return cal, sched, nil
}

// schedulerOwner names this server in the occurrence records it writes:
// host, process and listen address (two servers of one process, as in
// tests, differ by address).
func schedulerOwner(addr string) string {
	host, _ := os.Hostname() // "" still leaves the pid and address
	return fmt.Sprintf("%s:%d/%s", host, os.Getpid(), addr)
}

// schedulerFirst returns l for serve with sched closed before l shuts
// down: at once when ctx ends (shutdown begins), so that no occurrence
// falls due while requests drain, and in any case before l.Shutdown, so
// that none is handed to a launcher that takes no work. Occurrences whose
// operations are interrupted stay running in the store; the next start
// of any allocator on the store adopts them.
func schedulerFirst(ctx context.Context, l shutdowner, sched *schedule.Scheduler) shutdowner {
	closeSched := sync.OnceValue(sched.Close)
	context.AfterFunc(ctx, func() { _ = closeSched() })
	return closingFirst{l, closeSched}
}

type closingFirst struct {
	shutdowner
	first func() error
}

func (c closingFirst) Shutdown(ctx context.Context) error {
	_ = c.first() // Scheduler.Close always returns nil
	return c.shutdowner.Shutdown(ctx)
}
