// Package schedule runs a class's schedule: destroy the client VMs (or
// launch N of them) at a set time, once or on an RFC 5545 recurrence rule
// in a time zone, exactly once even when several allocators share one
// store.
//
// Upstream LabLink schedules destruction only (POST
// /api/schedule-destruction; routes/schedules.py, scheduler.py), with
// APScheduler and a Postgres job store. This package keeps upstream's
// record and statuses and changes what upstream gets wrong: the RRULE is
// evaluated by a maintained library (github.com/teambition/rrule-go) in
// the schedule's zone instead of being mapped by hand to a cron trigger
// that drops what it cannot map; a due occurrence is queued behind a
// running operation instead of being skipped and marked failed; two
// allocators never both fire one occurrence; and an occurrence missed
// while no allocator ran is recorded, never silently lost.
//
// # Pieces
//
// A Calendar creates, reads, lists and cancels the schedules of one
// environment (the HTTP routes and the CLI use it). A Scheduler runs
// them: it hands each due occurrence to a Runner, the caller's bridge to
// its launcher, and records the outcome. A Rule computes the times of a
// schedule; ParseRule is usable on its own.
//
// # Storage
//
// Schedules live in an audit.Store (audit.DirStore or audit.S3Store),
// under the environment's prefix:
//
//	{env}/client/schedules/records/{id}.json                  the schedule (Schedule's JSON), rewritten on change
//	{env}/client/schedules/names/{sha256 of name}.json         claims the name (conditional create)
//	{env}/client/schedules/cancelled/{id}.json                 the cancel (conditional create)
//	{env}/client/schedules/occurrences/{id}/{time}.json        one per time claimed or missed (conditional create)
//
// Ids are 12-digit zero-padded whole numbers, handed out in order with
// the store's conditional create; {time} is ISO 8601 basic UTC
// (20260306T223000Z). This package never deletes (audit.Store.Delete is
// not used): nothing here is ever removed, and cancelled and finished
// schedules stay listed, as upstream keeps their rows.
//
// # Exactly once
//
// Before an occurrence runs, the allocator that finds it due creates its
// occurrence record with the store's conditional create (If-None-Match
// on S3, a hard link on a directory); the record holds a random nonce,
// so of two allocators racing exactly one create succeeds, and only that
// one calls Runner.Run. It then records the operation id (outcome
// running) and, when Runner.Wait returns, completed or failed. Before
// claiming, it reads the cancel marker, which Calendar.Cancel creates
// before it rewrites the record. The record's status, counts and last
// result are a summary kept by whoever acted last; the occurrence
// records are the truth.
//
// # Missed occurrences
//
// At Start, and at every pass of the loop, each time of a schedule that
// has passed without a record is settled by this policy:
//
//   - if it is the most recent overdue time of its schedule and it is at
//     most the schedule's grace period late (DefaultGracePeriod, 300 s,
//     upstream's misfire_grace_time; Request.GracePeriodSeconds sets
//     another), it runs now;
//   - otherwise it is recorded missed, with the reason: more than the
//     grace period late, or overdue together with a later time. Of a
//     recurring schedule's times missed while no allocator ran, only the
//     most recent may run; the older ones are recorded missed.
//
// Every overdue time gets a record, so none is silently lost (after an
// outage longer than a hundred times, the older ones share one record,
// see Occurrence.Count), and as records are conditional creates none runs
// twice. An occurrence a Scheduler claimed but left running when it
// closed (or when its process died) is adopted at the next Start of any
// Scheduler on the store: it waits for the operation (Runner.Wait) and
// records its end; one claimed over a minute ago without an operation is
// recorded failed.
//
// # Timing and cost
//
// The loop sleeps until the next time of any schedule it knows, or at
// most PollInterval (30 s by default) so that it sees schedules other
// allocators (or the CLI) created; a Calendar change in the same process
// wakes it at once. Store requests are bounded:
//
//   - Start: one List of the records, one Get per schedule (and one of
//     its name claim), and per schedule that can still fire one List of
//     its occurrences and a Get of each unfinished one;
//   - a pass with nothing due: one Get (the id after the highest known,
//     absent), whatever the number of schedules;
//   - an occurrence that runs: about ten (a Get of the cancel marker, the
//     conditional create of its record, two rewrites of it, and two
//     rewrites of the schedule record of three requests each); a missed
//     one: the create and one rewrite of the schedule record;
//   - Calendar.Create: a Get, a List of the record keys and two creates;
//     Calendar.Get: one Get; Calendar.List: one List and one Get per
//     schedule; Calendar.History: one List and one Get per record
//     returned. A Calendar reads a schedule's name claim once, the first
//     time it reads the schedule.
//
// # Times and zones
//
// A schedule's destruction_time is its first time (the rule's DTSTART),
// ISO 8601 as upstream accepts it ("Z" allowed); one without an offset
// is read in the schedule's time_zone (UTC by default). The rule's times
// are wall-clock times in that zone, so
// "FREQ=WEEKLY;BYDAY=FR;BYHOUR=17;BYMINUTE=30" in America/New_York fires
// at 17:30 local before and after a daylight-saving change (22:30 UTC in
// winter, 21:30 UTC in summer).
// See Rule for times that fall in a DST gap or overlap.
package schedule
