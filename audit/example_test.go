package audit_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/lablink-go/lablink/audit"
)

// A launch recorded in a local directory: Begin before the apply, Finish
// after it, and the newest record read back, as a status page does.
func ExampleTrail() {
	dir, err := os.MkdirTemp("", "audit-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Println(err)
		}
	}()

	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	trail := audit.NewTrail(audit.NewDirStore(dir), &audit.Options{
		Now:   func() time.Time { return now },
		NewID: func() string { return "20260301T090000Z-1a2b3c4d" },
	})
	ctx := context.Background()
	tfvars := []byte("instance_count = 3\n")

	m, err := trail.Begin(ctx, audit.Manifest{
		Environment: "prod", Action: audit.Launch, Actor: "admin",
		Requested: 2, Existing: 1, Total: 3,
	}, tfvars)
	if err != nil {
		fmt.Println(err)
		return
	}
	now = now.Add(95 * time.Second) // the apply
	m.Outcome = audit.OutcomeSucceeded
	m.Plan = &audit.PlanSummary{Add: 2}
	if _, err := trail.Finish(ctx, m, tfvars); err != nil {
		fmt.Println(err)
		return
	}

	last, err := trail.Latest(ctx, "prod")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(last.LaunchID, last.Action, last.Outcome, last.Duration, "+", last.Plan.Add)
	// Output: 20260301T090000Z-1a2b3c4d launch succeeded 1m35s + 2
}

// Operation records as the allocator's API shows them: created queued,
// updated as they run, listed newest first a page at a time.
func ExampleOpStore() {
	dir, err := os.MkdirTemp("", "audit-example-")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer func() {
		if err := os.RemoveAll(dir); err != nil {
			fmt.Println(err)
		}
	}()

	ops := audit.NewOpStore(audit.NewDirStore(dir), nil)
	ctx := context.Background()
	for _, a := range []audit.Action{audit.Launch, audit.Launch, audit.Destroy} {
		op, err := ops.Create(ctx, audit.Op{Action: a, Environment: "prod", CreatedBy: "admin"})
		if err != nil {
			fmt.Println(err)
			return
		}
		if op.ID < 3 {
			op.Status = audit.StatusSucceeded
			if err := ops.Update(ctx, op); err != nil {
				fmt.Println(err)
				return
			}
		}
	}

	q := audit.OpQuery{Limit: 2}
	for {
		page, next, err := ops.List(ctx, "prod", q)
		if err != nil {
			fmt.Println(err)
			return
		}
		for _, op := range page {
			fmt.Println(op.ID, op.Action.OpType(), op.Status)
		}
		if next == 0 {
			break
		}
		q.Before = next
	}
	live, _, err := ops.List(ctx, "prod", audit.OpQuery{Statuses: []audit.OpStatus{audit.StatusQueued, audit.StatusRunning}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("in progress:", len(live))
	// Output:
	// 3 destroy queued
	// 2 apply succeeded
	// 1 apply succeeded
	// in progress: 1
}
