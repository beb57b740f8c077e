package main

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/lablink-go/lablink/schedule"
)

const scheduleUsage = `usage: lablink schedule add --store SPEC --name NAME --at TIME [--rule RRULE] [--zone ZONE] [--launch N] [--grace D]
       lablink schedule list --store SPEC [--status STATUS] [--json]
       lablink schedule cancel --store SPEC ID

Every subcommand takes --environment ENV and --region REGION, as audit does.
SPEC is the allocator's audit store: s3://BUCKET[/PREFIX] or a directory.

add destroys the client VMs at --at (ISO 8601; "2026-03-06T17:30:00Z", or a
wall time in --zone such as "2026-03-06 17:30"), or, with --rule, at every
time of an RFC 5545 RRULE starting there ("FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;
BYMINUTE=30" with --zone America/New_York is 17:30 New York time all year).
--launch N launches N VMs instead. --grace is how late a time nobody ran may
still run (default 5m).

The CLI only writes schedules into the store; it runs none. An allocator
(examples/http) on the same store and environment runs them: it sees a new or
cancelled schedule within its --schedule-poll (30s by default), runs each time
once however many allocators share the store, and records what happened
(schedule list shows it).
`

// scheduleFields names a schedule's JSON fields by the flags that set
// them, for the errors add prints.
var scheduleFields = map[string]string{
	"schedule_name": "--name", "destruction_time": "--at", "recurrence_rule": "--rule",
	"time_zone": "--zone", "num_vms": "--launch", "grace_period_seconds": "--grace",
}

// calendar opens the Calendar of the flags' store and environment.
func (c *cli) calendar(ctx context.Context, s *storeFlags) (*schedule.Calendar, error) {
	store, env, err := c.openStoreFlags(ctx, s)
	if err != nil {
		return nil, err
	}
	return schedule.NewCalendar(store, env, nil)
}

func (c *cli) schedule(ctx context.Context, args []string) error {
	sub, args, err := c.subcommand("schedule", scheduleUsage, args, "add", "list", "cancel")
	switch sub {
	case "add":
		return c.scheduleAdd(ctx, args)
	case "list":
		return c.scheduleList(ctx, args)
	case "cancel":
		return c.scheduleCancel(ctx, args)
	}
	return err
}

func (c *cli) scheduleAdd(ctx context.Context, args []string) error {
	fs := c.newFlags("schedule add", "--store SPEC --name NAME --at TIME [--rule RRULE] [--zone ZONE] [--launch N] [--grace D]")
	sf := addStoreFlags(fs)
	var req schedule.Request
	fs.StringVar(&req.Name, "name", "", "the schedule's name, unique in the environment (required)")
	fs.StringVar(&req.Time, "at", "", "the first (or only) time, ISO 8601; without an offset, wall time in --zone (required)")
	fs.StringVar(&req.RecurrenceRule, "rule", "", "an RFC 5545 RRULE, such as FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30 (default: once)")
	fs.StringVar(&req.TimeZone, "zone", "", "IANA time zone of --at and --rule, such as America/New_York (default UTC)")
	launch := fs.Int("launch", 0, "launch this many client VMs instead of destroying them")
	grace := fs.Duration("grace", schedule.DefaultGracePeriod, "how late a time that no allocator ran may still run")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	cal, err := c.calendar(ctx, sf)
	if err != nil {
		return err
	}
	req.Action, req.CreatedBy = schedule.Destroy, cmp.Or(c.getenv("USER"), "cli")
	if isSet(fs, "launch") {
		req.Action, req.NumVMs = schedule.Launch, *launch
	}
	if isSet(fs, "grace") {
		secs := int(grace.Seconds())
		req.GracePeriodSeconds = &secs
	}
	s, err := cal.Create(ctx, req)
	if errors.Is(err, schedule.ErrDuplicateName) {
		return badInput("--name", "--name: a schedule named %q exists", strings.TrimSpace(req.Name))
	}
	if err != nil {
		return flagErrors(err)
	}
	if c.json {
		c.writeJSON(scheduleDoc{Store: sf.spec, Schedule: s})
		return nil
	}
	fmt.Fprintf(c.stdout, "schedule %d %q created: %s\n", s.ID, s.Name, describe(s))
	return nil
}

// scheduleDoc is the JSON document of schedule add and cancel: the
// schedule's record as the allocator's API gives it.
type scheduleDoc struct {
	Store    string            `json:"store"`
	Schedule schedule.Schedule `json:"schedule"`
}

// scheduleListDoc is the JSON document of schedule list.
type scheduleListDoc struct {
	Store     string              `json:"store"`
	Schedules []schedule.Schedule `json:"schedules"`
}

// flagErrors turns a Create's field errors into invalid input naming
// their flags, one problem each; other errors pass.
func flagErrors(err error) error {
	var problems []error
	for _, e := range leaves(err) {
		var fe *schedule.FieldError
		if !errors.As(e, &fe) {
			return err
		}
		flag := cmp.Or(scheduleFields[fe.Field], fe.Field)
		problems = append(problems, &inputError{field: flag, msg: flag + ": " + fe.Err.Error()})
	}
	return invalid(errors.Join(problems...))
}

// describe says what a schedule does and when, in one line.
func describe(s schedule.Schedule) string {
	what := "destroy the client VMs"
	if s.Action == schedule.Launch {
		what = fmt.Sprintf("launch %d client VMs", s.NumVMs)
	}
	when := "at " + s.Time.UTC().Format(time.RFC3339)
	if s.RecurrenceRule != "" {
		when = fmt.Sprintf("%s (%s) from %s", s.RecurrenceRule, s.TimeZone, s.Time.UTC().Format(time.RFC3339))
	}
	next := ""
	if s.NextOccurrence != nil {
		next = "; next " + s.NextOccurrence.UTC().Format(time.RFC3339)
	}
	return what + " " + when + next
}

func (c *cli) scheduleList(ctx context.Context, args []string) error {
	fs := c.newFlags("schedule list", "--store SPEC [--status STATUS] [--json]")
	sf := addStoreFlags(fs)
	statusFlag := fs.String("status", "", "only schedules in this status: scheduled, executing, completed, failed or cancelled")
	if err := noArgs(fs, args); err != nil {
		return err
	}
	status, err := schedule.ParseStatus(*statusFlag)
	if err != nil {
		return badInput("--status", "--status %q: want scheduled, executing, completed, failed or cancelled", *statusFlag)
	}
	cal, err := c.calendar(ctx, sf)
	if err != nil {
		return err
	}
	list, err := cal.List(ctx, status)
	if err != nil {
		return err
	}
	if c.json {
		c.writeJSON(scheduleListDoc{Store: sf.spec, Schedules: append([]schedule.Schedule{}, list...)})
		return nil
	}
	if len(list) == 0 {
		fmt.Fprintf(c.stderr, "schedule list: no schedules in %s\n", sf.spec)
		return nil
	}
	tw := tabwriter.NewWriter(c.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tACTION\tSTATUS\tFIRST\tRULE\tZONE\tNEXT\tRUNS\tLAST RESULT")
	for _, s := range list {
		next := "-"
		if s.NextOccurrence != nil {
			next = s.NextOccurrence.UTC().Format(time.RFC3339)
		}
		action := string(s.Action)
		if s.Action == schedule.Launch {
			action += " " + strconv.Itoa(s.NumVMs)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", s.ID, s.Name, action, s.Status,
			s.Time.UTC().Format(time.RFC3339), cmp.Or(s.RecurrenceRule, "-"), s.TimeZone, next,
			s.ExecutionCount, cmp.Or(s.LastExecutionResult, "-"))
	}
	return tw.Flush()
}

func (c *cli) scheduleCancel(ctx context.Context, args []string) error {
	fs := c.newFlags("schedule cancel", "--store SPEC ID")
	sf := addStoreFlags(fs)
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return badInput("ID", "want exactly one schedule ID, got %d arguments", len(pos))
	}
	id, err := strconv.ParseInt(pos[0], 10, 64)
	if err != nil || id < 1 {
		return badInput("ID", "schedule ID %q: want a whole number from 1", pos[0])
	}
	cal, err := c.calendar(ctx, sf)
	if err != nil {
		return err
	}
	s, err := cal.Cancel(ctx, id, cmp.Or(c.getenv("USER"), "cli"))
	if err != nil {
		return err
	}
	if c.json {
		c.writeJSON(scheduleDoc{Store: sf.spec, Schedule: s})
		return nil
	}
	fmt.Fprintf(c.stdout, "schedule %d %q cancelled\n", s.ID, s.Name)
	return nil
}
