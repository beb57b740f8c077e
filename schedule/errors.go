package schedule

import "errors"

// Conditions callers branch on. An HTTP layer answers ErrNotFound with
// 404, ErrDuplicateName with 409 (as upstream does), ErrNotCancellable
// and every *FieldError with 400.
var (
	// ErrNotFound reports a schedule id the store does not hold (or holds
	// only as a create that did not complete, see Calendar.Create).
	ErrNotFound = errors.New("schedule: no such schedule")
	// ErrDuplicateName reports a schedule_name already taken by another
	// schedule of the environment, cancelled or finished ones included
	// (upstream's UNIQUE constraint).
	ErrDuplicateName = errors.New("schedule: a schedule with this name exists")
	// ErrNotCancellable reports a Cancel of a schedule that is already
	// cancelled or completed (upstream refuses those two statuses).
	ErrNotCancellable = errors.New("schedule: schedule cannot be cancelled")
	// ErrClosed reports a Start or Tick of a Scheduler after Close, or a
	// second Start.
	ErrClosed = errors.New("schedule: scheduler closed or already started")
)

// Reasons a field is refused; every *FieldError wraps one of them.
var (
	// ErrRequired: the field is missing or empty.
	ErrRequired = errors.New("is required")
	// ErrNotFuture: the time is not after now.
	ErrNotFuture = errors.New("must be in the future")
	// ErrFormat: the value does not parse (an ISO 8601 time, an RRULE).
	ErrFormat = errors.New("invalid format")
	// ErrUnsupported: the value parses but is not something a schedule
	// does (an RRULE more frequent than hourly, a DTSTART line, an
	// unknown action or status).
	ErrUnsupported = errors.New("not supported")
	// ErrRange: a number out of its range (num_vms < 1, a negative grace
	// period), or a rule with no time at or after its start.
	ErrRange = errors.New("out of range")
	// ErrUnknownZone: the time zone is not in the IANA database.
	ErrUnknownZone = errors.New("unknown time zone")
)

// FieldError is a problem with one field of a Request (or of a List
// filter), named by its JSON name ("destruction_time", "recurrence_rule",
// "time_zone", "num_vms", "status", ...). Err wraps one of the reasons
// above and says what is wrong with the value. Validation reports every
// problem of a request at once, joined with errors.Join, so callers find
// the first with errors.As and print all with Error.
type FieldError struct {
	Field string
	Err   error
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

func fieldErr(field string, err error) *FieldError { return &FieldError{Field: field, Err: err} }
