package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/lablink-go/lablink/internal/console"
	"github.com/lablink-go/lablink/schedule"
)

// The console's schedules pages: the list, the form that adds a schedule
// and the confirmation of a cancel. They keep s.opts.Calendar, as the
// /api/schedule-* routes do (schedules.go); the Scheduler that run starts
// runs the times.

const (
	// pastShown bounds the occurrence records shown per schedule;
	// endedShown the ended schedules shown.
	pastShown  = 5
	endedShown = 10
	// maxGraceMinutes is the schedule package's bound, 30 days.
	maxGraceMinutes = 30 * 24 * 60
)

// schedulePageRoutes are the console's schedules pages; without a
// Calendar there are none (see routes).
func (s *server) schedulePageRoutes() []route {
	if s.opts.Calendar == nil {
		return nil
	}
	return []route{
		{"/schedules", page, get, s.schedulesPage},
		{"/schedules/new", page, getPost, s.scheduleAddPage},
		{"/schedules/{id}/cancel", page, getPost, s.scheduleCancelPage},
	}
}

// schedulesPage lists the schedules: those with times to come, the
// soonest first, each with its next times, then the latest that ended;
// each with the records of its latest times and the operations they
// became.
func (s *server) schedulesPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	all, err := s.opts.Calendar.List(ctx, "")
	if err != nil {
		s.failedPage(w, r, "reading the schedules", err)
		return
	}
	var active, ended []schedule.Schedule
	for _, sc := range all {
		if sc.Status == schedule.StatusScheduled || sc.Status == schedule.StatusExecuting {
			active = append(active, sc)
		} else {
			ended = append(ended, sc)
		}
	}
	slices.SortStableFunc(active, func(a, b schedule.Schedule) int { return nextTime(a).Compare(nextTime(b)) })
	slices.SortStableFunc(ended, func(a, b schedule.Schedule) int { return b.UpdatedAt.Compare(a.UpdatedAt) })
	data := console.Schedules{Notice: scheduleNotice(all, r.URL.Query())}
	if len(ended) > endedShown {
		data.Hidden, ended = len(ended)-endedShown, ended[:endedShown]
	}
	executing := false
	for _, sc := range active {
		data.Active = append(data.Active, s.withPast(r, pageSchedule(sc, upcomingLimit)))
		executing = executing || sc.Status == schedule.StatusExecuting
	}
	for _, sc := range ended {
		data.Ended = append(data.Ended, s.withPast(r, pageSchedule(sc, 0)))
	}
	s.render(w, r, http.StatusOK, "schedules", console.Page{Title: "Schedules", Nav: "schedules",
		Refresh: executing, Data: data})
}

// nextTime orders schedules by their next time, those without one last.
func nextTime(sc schedule.Schedule) time.Time {
	if sc.NextOccurrence == nil {
		return time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	return *sc.NextOccurrence
}

// withPast adds the records of v's latest times; a store that cannot
// give them is logged and said on the page.
func (s *server) withPast(r *http.Request, v console.Schedule) console.Schedule {
	hist, err := s.opts.Calendar.History(r.Context(), v.ID, pastShown)
	if err != nil {
		s.log.ErrorContext(r.Context(), "read schedule history", "schedule_id", v.ID, "err", err)
		v.PastMissing = "The records of its past times cannot be read now; the server log says why."
		return v
	}
	loc := v.First.Location()
	for _, o := range hist {
		v.Past = append(v.Past, console.Occurrence{Time: o.Time.In(loc), Outcome: string(o.Outcome),
			Reason: strings.TrimPrefix(o.Reason, string(o.Outcome)+": "), OperationID: o.OperationID, Count: o.Count})
	}
	return v
}

// scheduleNotice says what the action that redirected here did:
// ?added=ID or ?cancelled=ID, one of the schedules all.
func scheduleNotice(all []schedule.Schedule, q url.Values) string {
	for _, n := range []struct{ key, format string }{
		{"added", "The schedule “%s” was added."},
		{"cancelled", "The schedule “%s” was cancelled: none of its times will run."},
	} {
		id, err := strconv.ParseInt(q.Get(n.key), 10, 64)
		if err != nil {
			continue
		}
		if i := slices.IndexFunc(all, func(sc schedule.Schedule) bool { return sc.ID == id }); i >= 0 {
			return fmt.Sprintf(n.format, all[i].Name)
		}
	}
	return ""
}

// pageSchedule is sc as the pages show it, its times in its zone, with
// its next n times.
func pageSchedule(sc schedule.Schedule, n int) console.Schedule {
	loc := time.UTC
	if rule, err := sc.Rule(); err == nil {
		loc = rule.Location()
	}
	v := console.Schedule{ID: sc.ID, Name: sc.Name, Action: string(sc.Action), NumVMs: sc.NumVMs,
		Status: string(sc.Status), Rule: sc.RecurrenceRule, First: sc.Time.In(loc), Zone: sc.TimeZone,
		Grace: sc.GracePeriod, CreatedBy: sc.CreatedBy, CreatedAt: sc.CreatedAt,
		LastResult: sc.LastExecutionResult, CancelledBy: sc.CancelledBy, CancelledAt: sc.CancelledAt}
	for _, t := range upcoming(sc, n) {
		v.Upcoming = append(v.Upcoming, t.In(loc))
	}
	return v
}

// upcoming is sc's next n times, from its NextOccurrence on: none once
// it ended or was cancelled.
func upcoming(sc schedule.Schedule, n int) []time.Time {
	rule, err := sc.Rule()
	if err != nil || sc.NextOccurrence == nil || n < 1 {
		return nil
	}
	return rule.Upcoming(sc.NextOccurrence.Add(-time.Second), n)
}

// nextScheduled is the schedule that fires soonest, with that time, for
// the overview; nil when none is scheduled or there is no Calendar.
func (s *server) nextScheduled(ctx context.Context) (*console.Schedule, error) {
	if s.opts.Calendar == nil {
		return nil, nil
	}
	all, err := s.opts.Calendar.List(ctx, "")
	if err != nil {
		return nil, err
	}
	var next *schedule.Schedule
	for i, sc := range all {
		if sc.NextOccurrence != nil && (next == nil || sc.NextOccurrence.Before(*next.NextOccurrence)) {
			next = &all[i]
		}
	}
	if next == nil {
		return nil, nil
	}
	v := pageSchedule(*next, 1)
	return &v, nil
}

// scheduleCancelPage asks to confirm a cancel (GET) and cancels (POST),
// then goes back to the list.
func (s *server) scheduleCancelPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil || id < 1 {
		s.errorPage(w, r, http.StatusNotFound, "No such schedule", "There is no schedule "+r.PathValue("id")+".")
		return
	}
	sc, err := s.opts.Calendar.Get(ctx, id)
	if errors.Is(err, schedule.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "No such schedule", "There is no schedule "+itoa(id)+".")
		return
	}
	if err != nil {
		s.failedPage(w, r, "reading the schedule", err)
		return
	}
	v := console.CancelSchedule{Schedule: pageSchedule(sc, 1)}
	status := http.StatusOK
	if r.Method == http.MethodPost {
		_, err = s.opts.Calendar.Cancel(ctx, sc.ID, actorOf(r))
		switch {
		case err == nil:
			s.log.InfoContext(ctx, "schedule cancelled", "actor", actorOf(r), "schedule_id", sc.ID, "name", sc.Name)
			http.Redirect(w, r, "/schedules?cancelled="+itoa(sc.ID), http.StatusSeeOther)
			return
		case !errors.Is(err, schedule.ErrNotCancellable):
			s.failedPage(w, r, "cancelling the schedule", err)
			return
		}
		// Cancelled or completed, perhaps since the read above.
		if again, err := s.opts.Calendar.Get(ctx, id); err == nil {
			sc, v.Schedule = again, pageSchedule(again, 1)
		}
		status = http.StatusBadRequest
	}
	if !v.Schedule.Active() {
		v.Error = fmt.Sprintf("This schedule is %s: nothing of it is left to cancel.", sc.Status)
	}
	s.render(w, r, status, "schedule-cancel", console.Page{Title: "Cancel the schedule " + sc.Name, Nav: "schedules", Data: v})
}

// scheduleAddPage is the form that adds a schedule (GET), and its post:
// the schedule is added and the list shown, or the form comes back with
// each refused field said next to its input.
func (s *server) scheduleAddPage(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		s.scheduleForm(w, r, http.StatusOK, console.ScheduleForm{Action: string(schedule.Destroy), Zone: "UTC",
			Grace: strconv.Itoa(int(schedule.DefaultGracePeriod / time.Minute))})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, s.opts.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		status := http.StatusBadRequest
		if tooLarge(err) {
			status = http.StatusRequestEntityTooLarge
		}
		s.scheduleForm(w, r, status, console.ScheduleForm{Error: "The form could not be read; nothing was added."})
		return
	}
	pf := r.PostForm
	f := console.ScheduleForm{Name: pf.Get("name"), Action: pf.Get("action"), Time: pf.Get("time"),
		Zone: pf.Get("zone"), Rule: pf.Get("rule"), NumVMs: pf.Get("num_vms"), Grace: pf.Get("grace")}
	req, problems := scheduleRequest(f)
	req.CreatedBy = actorOf(r)
	var sc schedule.Schedule
	var err error
	if len(problems) > 0 {
		err = req.Validate(s.opts.Now()) // the problems of the other fields, all at once
	} else {
		sc, err = s.opts.Calendar.Create(r.Context(), req)
	}
	switch {
	case errors.Is(err, schedule.ErrDuplicateName):
		problems = append(problems, console.FieldProblem{Field: "name", Label: formLabels["name"],
			Message: fmt.Sprintf("A schedule named %q exists; ended and cancelled schedules keep their names. Choose another.",
				strings.TrimSpace(f.Name))})
	case err != nil:
		more, ok := formProblems(err)
		if !ok {
			s.failedPage(w, r, "adding the schedule", err)
			return
		}
		problems = append(problems, more...)
	}
	if len(problems) > 0 {
		f.Problems = sortProblems(problems)
		s.scheduleForm(w, r, http.StatusBadRequest, f)
		return
	}
	s.log.InfoContext(r.Context(), "schedule created", "actor", req.CreatedBy, "schedule_id", sc.ID,
		"name", sc.Name, "action", sc.Action, "time", sc.Time, "rule", sc.RecurrenceRule)
	http.Redirect(w, r, "/schedules?added="+itoa(sc.ID), http.StatusSeeOther)
}

func (s *server) scheduleForm(w http.ResponseWriter, r *http.Request, status int, f console.ScheduleForm) {
	s.render(w, r, status, "schedule-add", console.Page{Title: "Add a schedule", Nav: "schedules", Data: f})
}

// formFields are the form's inputs in its order, by the schedule
// package's name of each field.
var formFields = []struct{ input, field string }{
	{"name", "schedule_name"}, {"action", "action"}, {"num_vms", "num_vms"}, {"time", "destruction_time"},
	{"zone", "time_zone"}, {"rule", "recurrence_rule"}, {"grace", "grace_period_seconds"},
}

// formLabels name the inputs as their labels do.
var formLabels = map[string]string{"name": "Name", "action": "What to do", "num_vms": "Number of VMs to launch",
	"time": "First time", "zone": "Time zone", "rule": "Recurrence rule", "grace": "Grace period"}

// scheduleRequest reads the form into a Request, with the problems of the
// fields the schedule package takes as numbers (a launch's number of VMs,
// with the launch form's words; the grace period, in minutes here). A
// destroy ignores the number of VMs, which the form shows for launches.
func scheduleRequest(f console.ScheduleForm) (schedule.Request, []console.FieldProblem) {
	req := schedule.Request{Name: f.Name, Action: schedule.Action(f.Action), Time: f.Time,
		TimeZone: strings.TrimSpace(f.Zone), RecurrenceRule: strings.TrimSpace(f.Rule)}
	var problems []console.FieldProblem
	refuse := func(input, msg string) {
		problems = append(problems, console.FieldProblem{Field: input, Label: formLabels[input], Message: msg})
	}
	if req.Action == schedule.Launch {
		n, status, msg := parseNumVMs(f.NumVMs, true)
		req.NumVMs = n
		if status != 0 {
			refuse("num_vms", msg)
			req.NumVMs = 1 // for the other fields' checks
		}
	}
	if g := strings.TrimSpace(f.Grace); g != "" {
		m, err := strconv.Atoi(g)
		switch {
		case err != nil && !errors.Is(err, strconv.ErrRange):
			refuse("grace", "Give a whole number of minutes.")
		case err != nil || m < 0 || m > maxGraceMinutes:
			refuse("grace", fmt.Sprintf("Give 0 to %d minutes (30 days).", maxGraceMinutes))
		default:
			secs := m * 60
			req.GracePeriodSeconds = &secs
		}
	}
	return req, problems
}

// formProblems turns the schedule package's refusal into the form's
// problems; false when err is not only *schedule.FieldError.
func formProblems(err error) ([]console.FieldProblem, bool) {
	fes, only := fieldErrorsIn(err)
	if !only {
		return nil, false
	}
	var out []console.FieldProblem
	for _, fe := range fes {
		i := slices.IndexFunc(formFields, func(f struct{ input, field string }) bool { return f.field == fe.Field })
		if i < 0 {
			return nil, false // a field the form does not have
		}
		msg := capitalize(fe.Err.Error())
		if errors.Is(fe.Err, schedule.ErrRequired) {
			msg = "Required."
		} else if !strings.HasSuffix(msg, ".") {
			msg += "."
		}
		input := formFields[i].input
		out = append(out, console.FieldProblem{Field: input, Label: formLabels[input], Message: msg})
	}
	return out, true
}

// sortProblems puts problems in the form's order, one per field (the
// first found).
func sortProblems(problems []console.FieldProblem) []console.FieldProblem {
	order := func(p console.FieldProblem) int {
		return slices.IndexFunc(formFields, func(f struct{ input, field string }) bool { return f.input == p.Field })
	}
	slices.SortStableFunc(problems, func(a, b console.FieldProblem) int { return cmp.Compare(order(a), order(b)) })
	return slices.CompactFunc(problems, func(a, b console.FieldProblem) bool { return a.Field == b.Field })
}
