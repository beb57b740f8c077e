package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/schedule"
)

// scheduleEnv is the environment of the schedule tests: the user the
// records name, no AWS.
var scheduleEnv = map[string]string{"USER": "ta"}

// inAnHour is a time an hour from now, ISO 8601 with "Z".
func inAnHour() string { return time.Now().Add(time.Hour).UTC().Format("2006-01-02T15:04:05Z") }

// listJSON runs "schedule list --json" on store and returns the records.
func listJSON(t *testing.T, store string, more ...string) []schedule.Schedule {
	t.Helper()
	r := runCLI(t, scheduleEnv, append([]string{"schedule", "list", "--store", store, "--json"}, more...)...)
	require.Equal(t, exitOK, r.code, "%s", r)
	var doc scheduleListDoc
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), "%s", r)
	return doc.Schedules
}

func TestScheduleAdd(t *testing.T) {
	tests := []struct {
		name   string
		args   []string
		code   int
		stderr []string // what the error names
		check  func(t *testing.T, s schedule.Schedule)
	}{
		{name: "one-off destroy", args: []string{"--name", "end of lab", "--at", inAnHour()},
			check: func(t *testing.T, s schedule.Schedule) {
				assert.Equal(t, schedule.Destroy, s.Action)
				assert.Empty(t, s.RecurrenceRule)
				assert.Equal(t, "ta", s.CreatedBy, "created_by: $USER")
				assert.Equal(t, schedule.DefaultGracePeriod, s.GracePeriod)
			}},
		{name: "weekly launch in a zone",
			args: []string{"--name", "friday lab", "--at", "2030-03-01 08:45", "--zone", "America/New_York",
				"--rule", "FREQ=WEEKLY;BYDAY=FR", "--launch", "30", "--grace", "10m"},
			check: func(t *testing.T, s schedule.Schedule) {
				assert.Equal(t, schedule.Launch, s.Action)
				assert.Equal(t, 30, s.NumVMs)
				assert.Equal(t, "FREQ=WEEKLY;BYDAY=FR", s.RecurrenceRule)
				assert.Equal(t, "America/New_York", s.TimeZone)
				assert.Equal(t, time.Date(2030, 3, 1, 13, 45, 0, 0, time.UTC), s.Time.UTC(), "08:45 EST")
				assert.Equal(t, 10*time.Minute, s.GracePeriod)
			}},
		{name: "no name", args: []string{"--at", inAnHour()}, code: exitInvalid, stderr: []string{"--name: is required"}},
		{name: "no time", args: []string{"--name", "x"}, code: exitInvalid, stderr: []string{"--at: is required"}},
		{name: "in the past", args: []string{"--name", "x", "--at", "2020-01-01T00:00:00Z"}, code: exitInvalid,
			stderr: []string{"--at: must be in the future"}},
		{name: "bad rule", args: []string{"--name", "x", "--at", inAnHour(), "--rule", "FREQ=SOMETIMES"}, code: exitInvalid,
			stderr: []string{"--rule: invalid format"}},
		{name: "unknown zone", args: []string{"--name", "x", "--at", "2030-03-01 08:45", "--zone", "Atlantis/Capital"},
			code: exitInvalid, stderr: []string{"--zone: unknown time zone"}},
		{name: "launch of none", args: []string{"--name", "x", "--at", inAnHour(), "--launch", "0"}, code: exitInvalid,
			stderr: []string{"--launch: "}},
		{name: "negative grace", args: []string{"--name", "x", "--at", inAnHour(), "--grace", "-1m"}, code: exitInvalid,
			stderr: []string{"--grace: out of range"}},
		{name: "no store", args: []string{"--name", "x", "--at", inAnHour(), "--store", ""}, code: exitInvalid,
			stderr: []string{"--store is required"}},
		{name: "stray argument", args: []string{"--name", "x", "--at", inAnHour(), "now"}, code: exitInvalid,
			stderr: []string{`unexpected argument "now"`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			store := t.TempDir()
			r := runCLI(t, scheduleEnv, append([]string{"schedule", "add", "--store", store}, tc.args...)...)
			require.Equal(t, tc.code, r.code, "%s", r)
			for _, s := range tc.stderr {
				assert.Contains(t, r.stderr, s)
			}
			list := listJSON(t, store)
			if tc.code != exitOK {
				assert.Empty(t, list, "schedules after a refused add")
				return
			}
			require.Len(t, list, 1)
			assert.Contains(t, r.stdout, fmt.Sprintf("schedule 1 %q created: ", list[0].Name))
			assert.Equal(t, schedule.StatusScheduled, list[0].Status)
			tc.check(t, list[0])
		})
	}
}

// TestScheduleListAndCancel: list shows every schedule (a table, or the
// records as JSON) and filters by status; cancel cancels once; a name is
// taken once; the records are those an allocator's Calendar reads.
func TestScheduleListAndCancel(t *testing.T) {
	store := t.TempDir()
	for _, args := range [][]string{
		{"--name", "late", "--at", time.Now().Add(2 * time.Hour).UTC().Format(time.RFC3339)},
		{"--name", "early", "--at", inAnHour(), "--launch", "4"},
	} {
		r := runCLI(t, scheduleEnv, append([]string{"schedule", "add", "--store", store}, args...)...)
		require.Equal(t, exitOK, r.code, "%s", r)
	}
	r := runCLI(t, scheduleEnv, "schedule", "add", "--store", store, "--name", "early", "--at", inAnHour())
	assert.Equal(t, exitInvalid, r.code, "%s", r)
	assert.Contains(t, r.stderr, `--name: a schedule named "early" exists`)

	r = runCLI(t, scheduleEnv, "schedule", "list", "--store", store)
	require.Equal(t, exitOK, r.code, "%s", r)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	require.Len(t, lines, 3, "header and two rows:\n%s", r.stdout)
	assert.Regexp(t, `^ID\s+NAME\s+ACTION\s+STATUS\s+FIRST\s+RULE\s+ZONE\s+NEXT\s+RUNS\s+LAST RESULT$`, lines[0])
	assert.Regexp(t, `^2\s+early\s+launch 4\s+scheduled\s+\S+Z\s+-\s+UTC\s+\S+Z\s+0\s+-$`, lines[1], "by time")
	assert.Regexp(t, `^1\s+late\s+destroy\s+scheduled\s`, lines[2])

	tests := []struct {
		name   string
		args   []string
		code   int
		stdout string
		stderr string
	}{
		{name: "cancel", args: []string{"cancel", "1"}, stdout: `schedule 1 "late" cancelled`},
		{name: "cancel again", args: []string{"cancel", "1"}, code: exitFailure, stderr: "cannot be cancelled"},
		{name: "cancel unknown", args: []string{"cancel", "9"}, code: exitFailure, stderr: "no such schedule"},
		{name: "cancel not an id", args: []string{"cancel", "late"}, code: exitInvalid, stderr: `schedule ID "late"`},
		{name: "cancel nothing", args: []string{"cancel"}, code: exitInvalid, stderr: "want exactly one schedule ID"},
		{name: "bad status", args: []string{"list", "--status", "done"}, code: exitInvalid, stderr: `--status "done"`},
		{name: "unknown subcommand", args: []string{"run"}, code: exitInvalid, stderr: `unknown schedule command "run"`},
		{name: "help", args: []string{"help"}, stderr: "The CLI only writes schedules into the store; it runs none."},
	}
	for _, tc := range tests { // in order: the first cancel changes what follows
		r := runCLI(t, scheduleEnv, append(append([]string{"schedule"}, tc.args...), "--store", store)...)
		if tc.name == "help" || tc.name == "unknown subcommand" {
			r = runCLI(t, scheduleEnv, append([]string{"schedule"}, tc.args...)...)
		}
		assert.Equal(t, tc.code, r.code, "%s: %s", tc.name, r)
		assert.Contains(t, r.stdout, tc.stdout, tc.name)
		assert.Contains(t, r.stderr, tc.stderr, tc.name)
	}

	cancelled := listJSON(t, store, "--status", "cancelled")
	require.Len(t, cancelled, 1)
	assert.Equal(t, "late", cancelled[0].Name)
	assert.Equal(t, "ta", cancelled[0].CancelledBy)
	cal, err := schedule.NewCalendar(audit.NewDirStore(store), "prod", nil)
	require.NoError(t, err)
	s, err := cal.Get(t.Context(), 2)
	require.NoError(t, err)
	assert.Equal(t, "early", s.Name, "the allocator's Calendar reads what the CLI wrote")
}

// TestScheduleS3: the CLI keeps schedules in an S3 audit store (MinIO),
// under a prefix, where an allocator's Calendar on that store and
// environment reads them.
func TestScheduleS3(t *testing.T) {
	srv := minioAWS(t)
	bucket := srv.NewBucket(t)
	spec := "s3://" + bucket + "/lablink/audit"
	r := runCLI(t, scheduleEnv, "schedule", "add", "--store", spec, "--environment", "Staging",
		"--name", "end of lab", "--at", inAnHour())
	require.Equal(t, exitOK, r.code, "%s", r)
	r = runCLI(t, scheduleEnv, "schedule", "cancel", "--store", spec, "--environment", "staging", "1")
	require.Equal(t, exitOK, r.code, "%s", r)

	store := audit.NewS3Store(srv.S3Client(t), bucket, &audit.S3Options{Prefix: "lablink/audit"})
	cal, err := schedule.NewCalendar(store, "staging", nil)
	require.NoError(t, err)
	list, err := cal.List(t.Context(), "")
	require.NoError(t, err)
	require.Len(t, list, 1)
	assert.Equal(t, "end of lab", list[0].Name)
	assert.Equal(t, schedule.StatusCancelled, list[0].Status)
}

// TestScheduleGroupJSON: the command groups keep the --json contract (one
// document on stdout, none for -h), and add's problems each name their
// flag.
func TestScheduleGroupJSON(t *testing.T) {
	t.Parallel()
	errorOf := func(t *testing.T, r result) errorBody {
		t.Helper()
		require.Equal(t, exitInvalid, r.code, "%s", r)
		var doc errorDoc
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &doc), "stdout is one JSON document:\n%s", r.stdout)
		require.NotNil(t, doc.Error, "%s", r.stdout)
		return *doc.Error
	}
	for _, tc := range []struct {
		args  []string
		field string
	}{
		{[]string{"schedule", "--json"}, "schedule"},
		{[]string{"schedule", "--json", "--store", "x"}, "schedule"},
		{[]string{"schedule", "sometimes", "--json"}, "sometimes"},
		{[]string{"audit", "--json"}, "audit"},
		{[]string{"audit", "shw", "--json"}, "shw"},
	} {
		e := errorOf(t, runCLI(t, scheduleEnv, tc.args...))
		assert.Equal(t, tc.field, e.Field, "%v", tc.args)
	}
	for _, group := range []string{"schedule", "audit"} {
		for _, h := range []string{"-h", "help"} {
			r := runCLI(t, scheduleEnv, group, h, "--json")
			assert.Equal(t, exitOK, r.code, "%s", r)
			assert.Empty(t, r.stdout, "%s %s: help goes to stderr", group, h)
			assert.True(t, strings.HasPrefix(r.stderr, "usage: lablink "+group+" "), "%s %s:\n%s", group, h, r.stderr)
		}
	}

	store := t.TempDir()
	e := errorOf(t, runCLI(t, scheduleEnv, "schedule", "add", "--json", "--store", store, "--name", "x",
		"--at", "2030-03-01 08:45", "--zone", "Atlantis/Capital"))
	assert.Equal(t, "--zone", e.Field, "%+v", e)
	e = errorOf(t, runCLI(t, scheduleEnv, "schedule", "add", "--json", "--store", store,
		"--at", "2020-01-01T00:00:00Z", "--launch", "0"))
	var fields []string
	for _, p := range e.Problems {
		fields = append(fields, p.Field)
	}
	assert.ElementsMatch(t, []string{"--name", "--at", "--launch"}, fields, "%+v", e)
	assert.Empty(t, listJSON(t, store), "schedules after refused adds")
}
