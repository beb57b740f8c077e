package schedule_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/schedule"
)

// Each refused request names its field (the HTTP layer's 400) and the
// reason; several problems are reported at once.
func TestRequestValidation(t *testing.T) {
	future := t0.Add(time.Hour).Format(time.RFC3339)
	type problem struct {
		field  string
		reason error
	}
	tests := []struct {
		name string
		req  schedule.Request
		want []problem
	}{
		{"missing name", schedule.Request{Time: future}, []problem{{"schedule_name", schedule.ErrRequired}}},
		{"blank name", schedule.Request{Name: "  ", Time: future}, []problem{{"schedule_name", schedule.ErrRequired}}},
		{"missing time", schedule.Request{Name: "a"}, []problem{{"destruction_time", schedule.ErrRequired}}},
		{"time in the past", schedule.Request{Name: "a", Time: "2026-03-01T09:00:00Z"}, []problem{{"destruction_time", schedule.ErrNotFuture}}},
		{"time now", schedule.Request{Name: "a", Time: t0.Format(time.RFC3339)}, []problem{{"destruction_time", schedule.ErrNotFuture}}},
		{"time not ISO 8601", schedule.Request{Name: "a", Time: "next friday"}, []problem{{"destruction_time", schedule.ErrFormat}}},
		{"time with a bad month", schedule.Request{Name: "a", Time: "2026-13-01T09:00:00Z"}, []problem{{"destruction_time", schedule.ErrFormat}}},
		{"rule: unknown frequency", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=SOMETIMES"}, []problem{{"recurrence_rule", schedule.ErrFormat}}},
		{"rule: no FREQ", schedule.Request{Name: "a", Time: future, RecurrenceRule: "BYDAY=FR"}, []problem{{"recurrence_rule", schedule.ErrFormat}}},
		{"rule: not NAME=VALUE", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=DAILY;BYHOUR"}, []problem{{"recurrence_rule", schedule.ErrFormat}}},
		{"rule: unknown part", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=YEARLY;BYEASTER=0"}, []problem{{"recurrence_rule", schedule.ErrFormat}}},
		{"rule: part twice", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=DAILY;BYHOUR=9;BYHOUR=10"}, []problem{{"recurrence_rule", schedule.ErrFormat}}},
		{"rule: COUNT=0", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=DAILY;COUNT=0"}, []problem{{"recurrence_rule", schedule.ErrFormat}}},
		{"rule: INTERVAL=0", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=DAILY;INTERVAL=0"}, []problem{{"recurrence_rule", schedule.ErrFormat}}},
		{"rule: COUNT and UNTIL", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=DAILY;COUNT=2;UNTIL=20270101T000000Z"}, []problem{{"recurrence_rule", schedule.ErrFormat}}},
		{"rule: BYHOUR=24", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=DAILY;BYHOUR=24"}, []problem{{"recurrence_rule", schedule.ErrFormat}}},
		{"rule: bad weekday", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=WEEKLY;BYDAY=XX"}, []problem{{"recurrence_rule", schedule.ErrFormat}}},
		{"rule: every minute", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=MINUTELY"}, []problem{{"recurrence_rule", schedule.ErrUnsupported}}},
		{"rule: every second", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=SECONDLY"}, []problem{{"recurrence_rule", schedule.ErrUnsupported}}},
		{"rule: DTSTART part", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=DAILY;DTSTART=20260401T090000Z"}, []problem{{"recurrence_rule", schedule.ErrUnsupported}}},
		{"rule: two lines", schedule.Request{Name: "a", Time: future, RecurrenceRule: "DTSTART:20260401T090000Z\nRRULE:FREQ=DAILY"}, []problem{{"recurrence_rule", schedule.ErrUnsupported}}},
		{"rule: never", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30"}, []problem{{"recurrence_rule", schedule.ErrRange}}},
		{"rule: UNTIL before the start", schedule.Request{Name: "a", Time: future, RecurrenceRule: "FREQ=DAILY;UNTIL=20260101T000000Z"}, []problem{{"recurrence_rule", schedule.ErrRange}}},
		{"unknown zone", schedule.Request{Name: "a", Time: future, TimeZone: "Mars/Olympus_Mons"}, []problem{{"time_zone", schedule.ErrUnknownZone}}},
		{"host zone", schedule.Request{Name: "a", Time: future, TimeZone: "Local"}, []problem{{"time_zone", schedule.ErrUnknownZone}}},
		{"launch without num_vms", schedule.Request{Name: "a", Time: future, Action: schedule.Launch}, []problem{{"num_vms", schedule.ErrRange}}},
		{"launch of -1", schedule.Request{Name: "a", Time: future, Action: schedule.Launch, NumVMs: -1}, []problem{{"num_vms", schedule.ErrRange}}},
		{"destroy with num_vms", schedule.Request{Name: "a", Time: future, NumVMs: 3}, []problem{{"num_vms", schedule.ErrUnsupported}}},
		{"unknown action", schedule.Request{Name: "a", Time: future, Action: "reboot"}, []problem{{"action", schedule.ErrUnsupported}}},
		{"negative grace period", schedule.Request{Name: "a", Time: future, GracePeriodSeconds: ptr(-1)}, []problem{{"grace_period_seconds", schedule.ErrRange}}},
		{"negative notification hours", schedule.Request{Name: "a", Time: future, NotificationHoursBefore: ptr(-2)}, []problem{{"notification_hours_before", schedule.ErrRange}}},
		{
			name: "several at once",
			req:  schedule.Request{Time: "2026-03-01T09:00:00Z", Action: schedule.Launch, TimeZone: "Nowhere"},
			want: []problem{{"schedule_name", schedule.ErrRequired}, {"num_vms", schedule.ErrRange}, {"time_zone", schedule.ErrUnknownZone}},
		},
		{
			name: "past time and bad rule",
			req:  schedule.Request{Name: "a", Time: "2026-03-01T09:00:00Z", RecurrenceRule: "FREQ=MINUTELY"},
			want: []problem{{"destruction_time", schedule.ErrNotFuture}, {"recurrence_rule", schedule.ErrUnsupported}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate(t0)
			require.Error(t, err, "Validate")
			var got []problem
			for _, e := range flatten(err) {
				var fe *schedule.FieldError
				require.ErrorAs(t, e, &fe, "every problem is a *FieldError: %v", e)
				got = append(got, problem{fe.Field, nil})
			}
			var want []problem
			for _, p := range tt.want {
				want = append(want, problem{p.field, nil})
			}
			assert.Equal(t, want, got, "fields named, in order: %v", err)
			for _, p := range tt.want {
				assert.ErrorIs(t, err, p.reason, "reason for %s", p.field)
				assert.Contains(t, err.Error(), p.field+": ", "the message names %s", p.field)
			}
			store := audit.NewDirStore(t.TempDir())
			cal, cerr := schedule.NewCalendar(store, "dev", &schedule.Options{Now: func() time.Time { return t0 }})
			require.NoError(t, cerr, "NewCalendar")
			_, cerr = cal.Create(t.Context(), tt.req)
			assert.Equal(t, err.Error(), cerr.Error(), "Create refuses it the same way")
			keys, lerr := store.List(t.Context(), "", audit.ListOptions{})
			require.NoError(t, lerr, "List")
			assert.Empty(t, keys, "nothing stored")
		})
	}
}

func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// The times and rules upstream's route accepts (ISO 8601 as Python's
// fromisoformat reads it, "Z" allowed), and the schedule they make.
func TestRequestAccepted(t *testing.T) {
	tests := []struct {
		name     string
		req      schedule.Request
		wantTime time.Time
		wantRule string
		wantZone string
		wantNext time.Time
	}{
		{"Z", schedule.Request{Time: "2026-03-06T22:30:00Z"}, time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC), "", "UTC", time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC)},
		{"lower-case z and t", schedule.Request{Time: "2026-03-06t22:30:00z"}, time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC), "", "UTC", time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC)},
		{"offset", schedule.Request{Time: "2026-03-06T23:30:00+01:00"}, time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC), "", "UTC", time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC)},
		{"offset without colon", schedule.Request{Time: "2026-03-06T17:30-0500"}, time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC), "", "UTC", time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC)},
		{"fractional seconds dropped", schedule.Request{Time: "2026-03-06T22:30:00.987654Z"}, time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC), "", "UTC", time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC)},
		{"space, no offset, UTC", schedule.Request{Time: "2026-03-06 22:30"}, time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC), "", "UTC", time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC)},
		{"no offset, read in the zone", schedule.Request{Time: "2026-03-06T17:30:00", TimeZone: "America/New_York"}, time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC), "", "America/New_York", time.Date(2026, 3, 6, 22, 30, 0, 0, time.UTC)},
		{"date only: midnight", schedule.Request{Time: "2026-03-07"}, time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC), "", "UTC", time.Date(2026, 3, 7, 0, 0, 0, 0, time.UTC)},
		{
			"upstream's weekly pattern takes the clock time from destruction_time",
			schedule.Request{Time: "2026-03-04T17:30:00Z", RecurrenceRule: "FREQ=WEEKLY;BYDAY=FR"},
			time.Date(2026, 3, 4, 17, 30, 0, 0, time.UTC), "FREQ=WEEKLY;BYDAY=FR", "UTC", time.Date(2026, 3, 6, 17, 30, 0, 0, time.UTC),
		},
		{
			"RRULE: prefix, lower case",
			schedule.Request{Time: "2026-03-04T09:00:00Z", RecurrenceRule: " rrule:freq=daily;byhour=8 "},
			time.Date(2026, 3, 4, 9, 0, 0, 0, time.UTC), "FREQ=DAILY;BYHOUR=8", "UTC", time.Date(2026, 3, 5, 8, 0, 0, 0, time.UTC),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cal, err := schedule.NewCalendar(audit.NewDirStore(t.TempDir()), "dev", &schedule.Options{Now: func() time.Time { return t0 }})
			require.NoError(t, err, "NewCalendar")
			req := tt.req
			req.Name = "lab"
			s, err := cal.Create(t.Context(), req)
			require.NoError(t, err, "Create")
			assert.Equal(t, tt.wantTime, s.Time, "destruction_time")
			assert.Equal(t, tt.wantRule, s.RecurrenceRule, "recurrence_rule")
			assert.Equal(t, tt.wantZone, s.TimeZone, "time_zone")
			require.NotNil(t, s.NextOccurrence, "next_occurrence")
			assert.Equal(t, tt.wantNext, *s.NextOccurrence, "next_occurrence")
			assert.Equal(t, schedule.DefaultGracePeriod, s.GracePeriod, "grace period")
			assert.Equal(t, schedule.Destroy, s.Action, "action")
		})
	}
}
