package schedule

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Request asks for a new schedule. Its JSON is the body of upstream's
// POST /api/schedule-destruction plus action, num_vms, time_zone and
// grace_period_seconds; a null or absent recurrence_rule is a one-time
// schedule.
type Request struct {
	Name string `json:"schedule_name"`
	// Action defaults to Destroy.
	Action Action `json:"action,omitempty"`
	// NumVMs is required, positive, for a Launch and must be 0 for a
	// Destroy.
	NumVMs int `json:"num_vms,omitempty"`
	// Time is the first (or only) time, ISO 8601 as Python's
	// datetime.fromisoformat reads it: "2026-03-06T17:30:00Z",
	// "2026-03-06T17:30:00.5+01:00", "2026-03-06 17:30", "2026-03-06"
	// (midnight). A time without an offset is wall time in TimeZone.
	// Sub-second parts are dropped. It must be in the future.
	Time           string `json:"destruction_time"`
	RecurrenceRule string `json:"recurrence_rule,omitempty"`
	// TimeZone is an IANA zone name; "" means UTC.
	TimeZone string `json:"time_zone,omitempty"`
	// GracePeriodSeconds is how late (in seconds, 0 or more) an
	// occurrence nobody ran at its time may still run; nil means
	// DefaultGracePeriod.
	GracePeriodSeconds *int `json:"grace_period_seconds,omitempty"`
	// NotificationEnabled and NotificationHoursBefore are stored and
	// returned only; NotificationHoursBefore nil means 1 (upstream's
	// default).
	NotificationEnabled     bool `json:"notification_enabled,omitempty"`
	NotificationHoursBefore *int `json:"notification_hours_before,omitempty"`
	// CreatedBy is the authenticated user, set by the caller (never from
	// the request body).
	CreatedBy string `json:"-"`
}

// maxGrace bounds GracePeriodSeconds (30 days), far beyond any use, so
// that the duration cannot overflow.
const maxGrace = 30 * 24 * 3600

// Validate checks r at time now and returns nil or every problem at once
// (errors.Join of *FieldError), as Calendar.Create does before it writes.
func (r Request) Validate(now time.Time) error {
	_, err := r.schedule(now)
	return err
}

// schedule validates r and returns the schedule it asks for, without id,
// status or times of its own.
func (r Request) schedule(now time.Time) (Schedule, error) {
	var errs []error
	s := Schedule{
		Name: strings.TrimSpace(r.Name), Action: r.Action, NumVMs: r.NumVMs,
		TimeZone: r.TimeZone, GracePeriod: DefaultGracePeriod, CreatedBy: r.CreatedBy,
		NotificationEnabled: r.NotificationEnabled, NotificationHoursBefore: 1,
	}
	if s.Name == "" {
		errs = append(errs, fieldErr("schedule_name", ErrRequired))
	} else if len(s.Name) > 255 {
		errs = append(errs, fieldErr("schedule_name", fmt.Errorf("%w: %d bytes, at most 255", ErrRange, len(s.Name))))
	}
	errs = append(errs, s.checkAction()...)
	if s.TimeZone == "" {
		s.TimeZone = "UTC"
	}
	loc, err := loadZone(s.TimeZone)
	if err != nil {
		errs = append(errs, err)
	}
	if g := r.GracePeriodSeconds; g != nil {
		if *g < 0 || *g > maxGrace {
			errs = append(errs, fieldErr("grace_period_seconds", fmt.Errorf("%w: %d; want 0 to %d", ErrRange, *g, maxGrace)))
		}
		s.GracePeriod = time.Duration(*g) * time.Second
	}
	if h := r.NotificationHoursBefore; h != nil {
		if *h < 0 {
			errs = append(errs, fieldErr("notification_hours_before", fmt.Errorf("%w: %d; want 0 or more", ErrRange, *h)))
		}
		s.NotificationHoursBefore = *h
	}
	if loc == nil {
		return s, errors.Join(errs...) // the time and the rule need the zone
	}
	t, err := parseTime(r.Time, loc)
	if err != nil {
		return s, errors.Join(append(errs, err)...)
	}
	if !t.After(now) {
		errs = append(errs, fieldErr("destruction_time", fmt.Errorf("%w: %s is not after %s", ErrNotFuture, t.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339))))
	}
	rule, err := ParseRule(r.RecurrenceRule, t, s.TimeZone)
	if err != nil {
		return s, errors.Join(append(errs, err)...)
	}
	s.Time, s.RecurrenceRule = rule.Start().UTC(), rule.String()
	return s, errors.Join(errs...)
}

func (s *Schedule) checkAction() []error {
	switch s.Action {
	case "":
		s.Action = Destroy
		fallthrough
	case Destroy:
		if s.NumVMs != 0 {
			return []error{fieldErr("num_vms", fmt.Errorf("%w: %d; a destroy takes no num_vms", ErrUnsupported, s.NumVMs))}
		}
	case Launch:
		if s.NumVMs < 1 {
			return []error{fieldErr("num_vms", fmt.Errorf("%w: %d; a launch needs a positive num_vms", ErrRange, s.NumVMs))}
		}
	default:
		return []error{fieldErr("action", fmt.Errorf("%w: %q; want destroy or launch", ErrUnsupported, s.Action))}
	}
	return nil
}

// timeLayouts are the ISO 8601 forms Python's datetime.fromisoformat
// reads (the date, then "T" and a time of minutes, seconds or fractions,
// then an offset or none), after a space separator became "T".
var timeLayouts = func() []string {
	var out []string
	for _, clock := range []string{"T15:04", "T15:04:05", "T15:04:05.999999999"} {
		for _, zone := range []string{"Z07:00", "-0700", "-07", ""} {
			out = append(out, "2006-01-02"+clock+zone)
		}
	}
	return append(out, "2006-01-02")
}()

// parseTime reads an ISO 8601 time; one without an offset is wall time
// in loc.
func parseTime(s string, loc *time.Location) (time.Time, error) {
	v := strings.TrimSpace(s)
	if v == "" {
		return time.Time{}, fieldErr("destruction_time", ErrRequired)
	}
	if len(v) > 10 && (v[10] == ' ' || v[10] == 't') {
		v = v[:10] + "T" + v[11:]
	}
	if strings.HasSuffix(v, "z") {
		v = v[:len(v)-1] + "Z"
	}
	for _, layout := range timeLayouts {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fieldErr("destruction_time", fmt.Errorf("%w: %q is not an ISO 8601 time such as 2026-03-06T17:30:00Z", ErrFormat, s))
}
