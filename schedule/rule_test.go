package schedule_test

import (
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/schedule"
)

// Wall-clock rules in a zone with daylight saving, including the local
// times that happen twice or not at all (RFC 5545 §3.3.5).
func TestRuleTimesInZone(t *testing.T) {
	ny := func(d, h, m int, month time.Month) time.Time { return time.Date(2026, month, d, h, m, 0, 0, newYork) }
	utc := func(d, h, m int, month time.Month) time.Time { return time.Date(2026, month, d, h, m, 0, 0, time.UTC) }
	tests := []struct {
		name  string
		rule  string
		start time.Time
		zone  string
		n     int
		want  []time.Time // as instants
	}{
		{
			name: "daily 02:30 across spring forward: the missing 02:30 is 03:30 EDT",
			rule: "FREQ=DAILY", start: ny(7, 2, 30, time.March), zone: "America/New_York", n: 3,
			want: []time.Time{utc(7, 7, 30, time.March), utc(8, 7, 30, time.March), utc(9, 6, 30, time.March)},
		},
		{
			name: "daily 01:30 across fall back: the first of the two 01:30s",
			rule: "FREQ=DAILY", start: ny(31, 1, 30, time.October), zone: "America/New_York", n: 3,
			want: []time.Time{utc(31, 5, 30, time.October), utc(1, 5, 30, time.November), utc(2, 6, 30, time.November)},
		},
		{
			name: "hourly across spring forward: no time twice",
			rule: "FREQ=HOURLY;COUNT=4", start: ny(8, 0, 30, time.March), zone: "America/New_York", n: 10,
			want: []time.Time{utc(8, 5, 30, time.March), utc(8, 6, 30, time.March), utc(8, 7, 30, time.March)},
		},
		{
			name: "start on the second 01:30: the rule's first 01:30 is before it",
			rule: "FREQ=DAILY", start: time.Date(2026, 11, 1, 6, 30, 0, 0, time.UTC), zone: "America/New_York", n: 2,
			want: []time.Time{utc(2, 6, 30, time.November), utc(3, 6, 30, time.November)},
		},
		{
			name: "monthly on the last Friday, in Europe/Berlin",
			rule: "FREQ=MONTHLY;BYDAY=-1FR;BYHOUR=18;BYMINUTE=0", start: utc(1, 0, 0, time.March), zone: "Europe/Berlin", n: 2,
			want: []time.Time{utc(27, 17, 0, time.March), utc(24, 16, 0, time.April)},
		},
		{
			name: "every other week, UNTIL in local time",
			rule: "FREQ=WEEKLY;INTERVAL=2;UNTIL=20260403T090000", start: ny(6, 9, 0, time.March), zone: "America/New_York", n: 10,
			want: []time.Time{utc(6, 14, 0, time.March), utc(20, 13, 0, time.March), utc(3, 13, 0, time.April)},
		},
		{
			name: "one time",
			rule: "", start: utc(6, 22, 30, time.March), zone: "America/New_York", n: 5,
			want: []time.Time{utc(6, 22, 30, time.March)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := schedule.ParseRule(tt.rule, tt.start, tt.zone)
			require.NoError(t, err, "ParseRule")
			var got []time.Time
			for u := range r.Times() {
				if len(got) == tt.n {
					break
				}
				assert.Equal(t, r.Location(), u.Location(), "times are in the rule's zone")
				got = append(got, u.UTC())
			}
			assert.Equal(t, tt.want, got, "times")
			assert.Equal(t, tt.rule != "", r.Recurring(), "Recurring")
		})
	}
}

func TestRuleNextAndUpcoming(t *testing.T) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	r, err := schedule.ParseRule("FREQ=DAILY;COUNT=3", start, "")
	require.NoError(t, err, "ParseRule")
	next, ok := r.Next(start)
	assert.True(t, ok, "Next after the first time")
	assert.Equal(t, start.Add(24*time.Hour), next, "Next is strictly after")
	next, ok = r.Next(start.Add(-time.Second))
	assert.True(t, ok, "Next before the start")
	assert.Equal(t, start, next, "the start itself")
	_, ok = r.Next(start.Add(48 * time.Hour))
	assert.False(t, ok, "no time after the last (COUNT=3)")
	assert.Equal(t, []time.Time{start.Add(24 * time.Hour), start.Add(48 * time.Hour)}, r.Upcoming(start, 5), "Upcoming stops at the rule's end")
	assert.Len(t, slices.Collect(r.Times()), 3, "COUNT=3 times")
	assert.Equal(t, "FREQ=DAILY;COUNT=3", r.String(), "String")
}

// Next walks the rule from its start, so its cost grows with the times
// before t: Calendar.Get and List pay it once per schedule read.
func BenchmarkRuleNext(b *testing.B) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	for _, bm := range []struct {
		name string
		rule string
		at   time.Time
	}{
		{"weekly, a year in", "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30", start.AddDate(1, 0, 0)},
		{"hourly, a year in", "FREQ=HOURLY", start.AddDate(1, 0, 0)},
	} {
		b.Run(bm.name, func(b *testing.B) {
			r, err := schedule.ParseRule(bm.rule, start, "America/New_York")
			require.NoError(b, err, "ParseRule")
			for b.Loop() {
				if _, ok := r.Next(bm.at); !ok {
					b.Fatal("no next time")
				}
			}
		})
	}
}

// A Calendar reading an hourly schedule a year old: the first read walks
// the rule, later ones move on from where it stopped.
func BenchmarkCalendarGetHourly(b *testing.B) {
	start := time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC)
	now := start.Add(-time.Hour)
	cal, err := schedule.NewCalendar(audit.NewDirStore(b.TempDir()), "dev", &schedule.Options{Now: func() time.Time { return now }})
	require.NoError(b, err, "NewCalendar")
	s, err := cal.Create(b.Context(), schedule.Request{Name: "hourly", Time: start.Format(time.RFC3339), RecurrenceRule: "FREQ=HOURLY"})
	require.NoError(b, err, "Create")
	now = start.AddDate(1, 0, 0)
	for b.Loop() {
		now = now.Add(time.Minute)
		if _, err := cal.Get(b.Context(), s.ID); err != nil {
			b.Fatal(err)
		}
	}
}
