package console

import (
	"strconv"
	"time"
)

// The views of the schedules pages (package schedule's schedules, which
// examples/http keeps in its Calendar).

// Schedule is a schedule as the pages show it. Its times are in its
// zone.
type Schedule struct {
	ID   int64
	Name string
	// Action is "launch" or "destroy"; NumVMs is what a launch adds.
	Action string
	NumVMs int
	// Status is one of schedule.Status's values.
	Status string
	// Rule is the RRULE, "" for a schedule that fires once.
	Rule string
	// First is the first (or only) time.
	First time.Time
	// Zone is the IANA zone the times are wall-clock times of.
	Zone string
	// Grace is how late a time nobody ran at its time may still run.
	Grace     time.Duration
	CreatedBy string
	CreatedAt time.Time
	// Upcoming are the next times, none once the schedule ended.
	Upcoming []time.Time
	// LastResult says how its last settled time ended, "" before one did.
	LastResult string
	// Past are the records of its latest times, newest first.
	Past []Occurrence
	// PastMissing says why Past could not be read, "" when it was.
	PastMissing string
	CancelledBy string
	CancelledAt *time.Time
}

// Words says when the schedule fires (RuleWords).
func (s Schedule) Words() string { return RuleWords(s.Rule, s.First) }

// Active reports a schedule whose times are still to come: scheduled, or
// executing one of them. Only those are offered a cancel.
func (s Schedule) Active() bool { return s.Status == "scheduled" || s.Status == "executing" }

// What says what each of its times does: "Destroy every client VM",
// "Launch 30 VMs".
func (s Schedule) What() string {
	if s.Action == "launch" {
		return "Launch " + plural(s.NumVMs, "VM", "VMs")
	}
	return "Destroy every client VM"
}

// Occurrence is the record of one time of a schedule.
type Occurrence struct {
	Time time.Time
	// Outcome is one of schedule.Outcome's values.
	Outcome string
	// Reason says why it was missed or failed.
	Reason string
	// OperationID is the operation it became, 0 for none.
	OperationID int64
	// Count is the number of times a missed record stands for, when more
	// than one.
	Count int
}

// Schedules is the list of schedules.
type Schedules struct {
	// Active are the schedules with times to come, the soonest first.
	Active []Schedule
	// Ended are the completed, failed and cancelled ones, the latest
	// first; Hidden counts the older ones not shown.
	Ended  []Schedule
	Hidden int
	// Notice says what the operator's last action did, "" for none.
	Notice string
}

// ScheduleForm is the form that adds a schedule: the values as typed,
// and what was refused.
type ScheduleForm struct {
	Name, Action, Time, Zone, Rule, NumVMs, Grace string
	// Problems are the refused fields, in the form's order.
	Problems []FieldProblem
	// Error is a problem of the form as a whole, "" for none.
	Error string
}

// FieldProblem is one refused field of a form.
type FieldProblem struct {
	// Field is the id (and name) of the field's input.
	Field string
	// Label names the field as its label does; Message says what is
	// wrong.
	Label, Message string
}

// ErrorOf is the problem of field, "" when it was not refused.
func (f ScheduleForm) ErrorOf(field string) string {
	for _, p := range f.Problems {
		if p.Field == field {
			return p.Message
		}
	}
	return ""
}

// FormField is what the form's template needs of one field: its id, its
// problem, and whether it is the first refused one (which takes the
// focus).
type FormField struct {
	ID, Error string
	First     bool
}

// Field is field's FormField.
func (f ScheduleForm) Field(field string) FormField {
	return FormField{ID: field, Error: f.ErrorOf(field), First: len(f.Problems) > 0 && f.Problems[0].Field == field}
}

// Zones are the time zones the form suggests; any IANA zone is taken.
func (ScheduleForm) Zones() []string {
	return []string{"UTC", "America/New_York", "America/Chicago", "America/Denver", "America/Los_Angeles",
		"America/Sao_Paulo", "Europe/London", "Europe/Paris", "Europe/Berlin", "Africa/Johannesburg",
		"Asia/Kolkata", "Asia/Shanghai", "Asia/Tokyo", "Australia/Sydney", "Pacific/Auckland"}
}

// CancelSchedule is the confirmation a cancel asks for.
type CancelSchedule struct {
	Schedule Schedule
	// Error says why the cancel was refused, "" for none.
	Error string
}

// local is a time as the schedules pages show it: in its zone, to the
// minute (to the second when it has seconds).
func local(t time.Time) string {
	if t.IsZero() {
		return "—"
	}
	if t.Second() != 0 {
		return t.Format("Mon 2 Jan 2006, 15:04:05 MST")
	}
	return t.Format("Mon 2 Jan 2006, 15:04 MST")
}

// inUTC is the same instant in UTC, for a time shown in another zone.
func inUTC(t time.Time) string {
	if t.Second() != 0 {
		return t.UTC().Format("Mon 2 Jan, 15:04:05 UTC")
	}
	return t.UTC().Format("Mon 2 Jan, 15:04 UTC")
}

// isUTC reports a time shown in UTC already, which needs no second text.
func isUTC(t time.Time) bool { return t.Location() == time.UTC }

// grace says a grace period in words.
func grace(d time.Duration) string {
	if d <= 0 {
		return "None: a time nobody ran on time is recorded missed"
	}
	var parts []string
	for _, u := range []struct {
		d          time.Duration
		one, other string
	}{{24 * time.Hour, "day", "days"}, {time.Hour, "hour", "hours"}, {time.Minute, "minute", "minutes"},
		{time.Second, "second", "seconds"}} {
		if n := int(d / u.d); n > 0 {
			parts = append(parts, plural(n, u.one, u.other))
			d -= time.Duration(n) * u.d
		}
	}
	return join(parts)
}

// scheduleAnchor is the id of a schedule's entry on the list.
func scheduleAnchor(id int64) string { return "schedule-" + strconv.FormatInt(id, 10) }
