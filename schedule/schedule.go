package schedule

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/lablink-go/lablink/audit"
)

// Action is what a schedule does at each of its times: audit.Action, the
// one name of that concept across the module, so that a schedule's action
// and the operation it becomes read alike.
type Action = audit.Action

// Actions.
const (
	// Destroy destroys the environment's client VMs, as upstream's
	// scheduled destruction does. It is the default.
	Destroy = audit.Destroy
	// Launch launches Schedule.NumVMs client VMs, with the meaning of
	// num_vms in upstream's /api/launch. Upstream has no scheduled launch.
	Launch = audit.Launch
)

// Status is where a schedule is, in upstream's words.
type Status string

// Statuses. A recurring schedule is scheduled between its times (its last
// occurrence's outcome is in LastExecutionResult); it becomes completed
// or failed only after its last time (COUNT or UNTIL), from that time's
// outcome. A one-time schedule whose time was missed is failed, with the
// reason in LastExecutionResult.
const (
	StatusScheduled Status = "scheduled"
	StatusExecuting Status = "executing"
	StatusCompleted Status = "completed"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
)

// ParseStatus returns s as a Status; "" is the zero Status (no filter).
// Anything else is a *FieldError naming "status" (upstream's 400 "Invalid
// status filter").
func ParseStatus(s string) (Status, error) {
	switch st := Status(s); st {
	case "", StatusScheduled, StatusExecuting, StatusCompleted, StatusFailed, StatusCancelled:
		return st, nil
	}
	return "", fieldErr("status", fmt.Errorf("%w: %q; want scheduled, executing, completed, failed or cancelled", ErrUnsupported, s))
}

// final reports whether nothing more happens to a schedule in status s.
func (s Status) final() bool {
	return s == StatusCompleted || s == StatusFailed || s == StatusCancelled
}

// DefaultGracePeriod is how late an occurrence may still run when no
// allocator ran it at its time, unless the schedule sets its own:
// upstream's misfire_grace_time.
const DefaultGracePeriod = 300 * time.Second

// Schedule is one stored schedule. Its JSON is upstream's record (id,
// schedule_name, destruction_time, recurrence_rule, created_by, status,
// execution_count, last_execution_time, last_execution_result,
// notification_enabled, notification_hours_before, created_at,
// updated_at; absent values are null) plus action, num_vms (null for a
// destroy), time_zone, grace_period_seconds, next_occurrence and, once
// cancelled, cancelled_by and cancelled_at. Times are RFC 3339 in UTC.
//
// ID, Name, Action, NumVMs, Time, RecurrenceRule, TimeZone, GracePeriod,
// the notification fields, CreatedBy and CreatedAt never change. The
// rest is a summary kept by whoever last acted on the schedule; the
// occurrence records (Calendar.History) are the authority on what ran.
type Schedule struct {
	ID     int64
	Name   string
	Action Action
	// NumVMs is the number of VMs a Launch adds; 0 for a Destroy.
	NumVMs int
	// Time is the first time (the rule's DTSTART), JSON
	// "destruction_time" for either action (upstream's name).
	Time time.Time
	// RecurrenceRule is the normalized RRULE, "" for a one-time schedule.
	RecurrenceRule string
	// TimeZone is the IANA zone the rule is evaluated in ("UTC" unless
	// the request named one).
	TimeZone string
	// GracePeriod is how late an occurrence nobody ran at its time may
	// still run (see the package doc). JSON: whole seconds.
	GracePeriod time.Duration
	CreatedBy   string
	Status      Status
	// ExecutionCount counts the occurrences handed to the runner (not
	// the missed ones).
	ExecutionCount int
	// LastExecutionTime is when the last occurrence was claimed to run.
	LastExecutionTime *time.Time
	// LastExecutionResult says how the last settled occurrence ended:
	// "completed: operation 7", "failed: operation 7: <error>", "missed:
	// <reason>".
	LastExecutionResult string
	// NotificationEnabled and NotificationHoursBefore are upstream's
	// fields, kept and returned; nothing sends notifications (upstream
	// does not either).
	NotificationEnabled     bool
	NotificationHoursBefore int
	CreatedAt               time.Time
	UpdatedAt               time.Time
	CancelledBy             string
	CancelledAt             *time.Time
	// NextOccurrence is the rule's first time after the moment the
	// schedule was read, for a schedule neither final nor cancelled;
	// computed on read, never stored.
	NextOccurrence *time.Time
}

// Rule returns the schedule's Rule.
func (s Schedule) Rule() (*Rule, error) {
	return ParseRule(s.RecurrenceRule, s.Time, s.TimeZone)
}

// Job is an occurrence handed to a Runner: what to do, and the schedule
// and time it comes from, for the operation to link back to.
type Job struct {
	Action Action
	// NumVMs is the number of VMs of a Launch; 0 for a Destroy.
	NumVMs       int
	ScheduleID   int64
	ScheduleName string
	// Occurrence is the time the job was due, in UTC; with ScheduleID it
	// names the occurrence record.
	Occurrence time.Time
	// CreatedBy is the schedule's creator, for the operation's
	// created_by.
	CreatedBy string
}

// Outcome is where one occurrence of a schedule is.
type Outcome string

// Outcomes. Claimed and Running are live; the other three are final.
const (
	// OutcomeClaimed: an allocator claimed the occurrence and is handing
	// it to its runner.
	OutcomeClaimed Outcome = "claimed"
	// OutcomeRunning: the runner accepted it as operation OperationID,
	// queued or running.
	OutcomeRunning Outcome = "running"
	// OutcomeCompleted: the operation succeeded.
	OutcomeCompleted Outcome = "completed"
	// OutcomeFailed: the runner refused the job or the operation failed;
	// Reason says why.
	OutcomeFailed Outcome = "failed"
	// OutcomeMissed: no allocator ran it; Reason says why (past the
	// grace period, or a later occurrence was due too).
	OutcomeMissed Outcome = "missed"
)

// Occurrence is the record of one time of a schedule, created when an
// allocator claims it (or records it missed) and never created twice.
type Occurrence struct {
	ScheduleID int64     `json:"schedule_id"`
	Time       time.Time `json:"time"`
	Outcome    Outcome   `json:"outcome"`
	// Reason says why an occurrence was missed or failed.
	Reason string `json:"reason,omitempty"`
	// OperationID is the runner's operation, once it accepted the job.
	OperationID int64 `json:"operation_id,omitempty"`
	// Count is the number of times a missed record stands for when it is
	// more than one: after a long outage the overdue times beyond the
	// hundred most recent are recorded together, at the first of them.
	Count int `json:"count,omitempty"`
	// ClaimedBy names the allocator that claimed (or recorded) it
	// (SchedulerOptions.Owner); ClaimedAt is when.
	ClaimedBy  string     `json:"claimed_by"`
	ClaimedAt  time.Time  `json:"claimed_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
}

// wire is a Schedule's JSON, stored and served; the fields after
// NextOccurrence are stored only.
type wire struct {
	ID                      int64      `json:"id"`
	Name                    string     `json:"schedule_name"`
	Time                    time.Time  `json:"destruction_time"`
	RecurrenceRule          *string    `json:"recurrence_rule"`
	CreatedBy               *string    `json:"created_by"`
	Status                  Status     `json:"status"`
	ExecutionCount          int        `json:"execution_count"`
	LastExecutionTime       *time.Time `json:"last_execution_time"`
	LastExecutionResult     *string    `json:"last_execution_result"`
	NotificationEnabled     bool       `json:"notification_enabled"`
	NotificationHoursBefore int        `json:"notification_hours_before"`
	CreatedAt               time.Time  `json:"created_at"`
	UpdatedAt               time.Time  `json:"updated_at"`
	Action                  Action     `json:"action"`
	NumVMs                  *int       `json:"num_vms"`
	TimeZone                string     `json:"time_zone"`
	GracePeriodSeconds      int64      `json:"grace_period_seconds"`
	CancelledBy             *string    `json:"cancelled_by,omitempty"`
	CancelledAt             *time.Time `json:"cancelled_at,omitempty"`
	NextOccurrence          *time.Time `json:"next_occurrence"`

	// Nonce makes each stored record's bytes unique (a Create of
	// identical bytes counts as done, see audit.Store).
	Nonce string `json:"nonce,omitempty"`
	// Discarded marks a record whose create lost the name to another
	// schedule; it is never shown.
	Discarded string `json:"discarded,omitempty"`
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func (s Schedule) wire() wire {
	w := wire{
		ID: s.ID, Name: s.Name, Time: s.Time.UTC(),
		RecurrenceRule:          nullable(s.RecurrenceRule),
		CreatedBy:               nullable(s.CreatedBy),
		Status:                  s.Status,
		ExecutionCount:          s.ExecutionCount,
		LastExecutionTime:       utc(s.LastExecutionTime),
		LastExecutionResult:     nullable(s.LastExecutionResult),
		NotificationEnabled:     s.NotificationEnabled,
		NotificationHoursBefore: s.NotificationHoursBefore,
		CreatedAt:               s.CreatedAt.UTC(),
		UpdatedAt:               s.UpdatedAt.UTC(),
		Action:                  s.Action,
		TimeZone:                s.TimeZone,
		GracePeriodSeconds:      int64(s.GracePeriod / time.Second),
		CancelledBy:             nullable(s.CancelledBy),
		CancelledAt:             utc(s.CancelledAt),
		NextOccurrence:          utc(s.NextOccurrence),
	}
	if s.Action == Launch {
		w.NumVMs = &s.NumVMs
	}
	return w
}

func (w wire) schedule() Schedule {
	s := Schedule{
		ID: w.ID, Name: w.Name, Action: w.Action, Time: w.Time,
		TimeZone:                w.TimeZone,
		GracePeriod:             time.Duration(w.GracePeriodSeconds) * time.Second,
		Status:                  w.Status,
		ExecutionCount:          w.ExecutionCount,
		LastExecutionTime:       w.LastExecutionTime,
		NotificationEnabled:     w.NotificationEnabled,
		NotificationHoursBefore: w.NotificationHoursBefore,
		CreatedAt:               w.CreatedAt,
		UpdatedAt:               w.UpdatedAt,
		CancelledAt:             w.CancelledAt,
		NextOccurrence:          w.NextOccurrence,
	}
	for dst, src := range map[*string]*string{
		&s.RecurrenceRule: w.RecurrenceRule, &s.CreatedBy: w.CreatedBy,
		&s.LastExecutionResult: w.LastExecutionResult, &s.CancelledBy: w.CancelledBy,
	} {
		if src != nil {
			*dst = *src
		}
	}
	if w.NumVMs != nil {
		s.NumVMs = *w.NumVMs
	}
	return s
}

// MarshalJSON writes the record's JSON (see Schedule).
func (s Schedule) MarshalJSON() ([]byte, error) { return json.Marshal(s.wire()) }

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Schedule) UnmarshalJSON(b []byte) error {
	var w wire
	if err := json.Unmarshal(b, &w); err != nil {
		return err
	}
	*s = w.schedule()
	return nil
}
