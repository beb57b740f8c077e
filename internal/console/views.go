package console

import (
	"strconv"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/launcher"
)

// Op is an operation as the pages show it. Error is the text the server
// may show (never OpenTofu's output).
type Op struct {
	ID int64
	// Action is "launch" or "destroy".
	Action string
	// Status is one of audit.OpStatus's values.
	Status string
	// NumVMs is what a launch asked for, 0 for a destroy.
	NumVMs int
	// CreatedBy is who asked; Schedule names the schedule's time that
	// started it ("7@2026-03-06T22:30:00Z"), "" for a request made on
	// demand, and ScheduleID that schedule, 0 for none.
	CreatedBy, Schedule string
	ScheduleID          int64
	CreatedAt           time.Time
	StartedAt           *time.Time
	FinishedAt          *time.Time
	Error               string
	// Total and Completed are the resource changes of the apply that
	// carries the operation.
	Total, Completed int
	// LaunchID names the audit record of that apply, "" before it begins.
	LaunchID string
}

// Live reports an operation that is queued or running.
func (o Op) Live() bool { return o.Status == "queued" || o.Status == "running" }

// Label names the operation in a sentence: "Launch 4".
func (o Op) Label() string {
	return actionText(o.Action) + " " + strconv.FormatInt(o.ID, 10)
}

// SignIn is the sign-in page.
type SignIn struct {
	User string
	// Next is the local path to go to once signed in.
	Next string
	// Error says why the last attempt failed, "" for none.
	Error string
}

// Overview is the front page.
type Overview struct {
	// VMs counts the client VMs in the state; Stale those created with
	// another config than the current one.
	VMs, Stale int
	// Orphans counts client VMs the cloud holds and the state does not.
	Orphans int
	// InventoryProblem: the cloud's inventory could not be read, so
	// Orphans is unknown.
	InventoryProblem bool
	// StateProblem: the local state cannot be planned from.
	StateProblem bool
	Running      []Op
	Recent       []Op
	// Last is the newest audit record, nil if none.
	Last *audit.Manifest
	// Next is the schedule that fires soonest, with that time alone in
	// its Upcoming; nil when none is scheduled.
	Next *Schedule
	// SchedulesProblem: the schedules could not be read.
	SchedulesProblem bool
}

// LaunchForm is the first step of a launch: how many VMs.
type LaunchForm struct {
	NumVMs string
	Error  string
	// VMs counts the client VMs there are now.
	VMs int
}

// Preview is the second step of a launch: what it would do, before the
// operator confirms.
type Preview struct {
	launcher.Preview
	// GPU describes the instance type's GPUs in words.
	GPU string
	// First: no launch was applied yet, so every variable is new.
	First bool
}

// DestroyForm is the destroy page: what a destroy removes, and the typed
// confirmation it needs.
type DestroyForm struct {
	VMs int
	// Nothing: no launch was ever applied, so there is nothing to destroy.
	Nothing bool
	// Busy: a launch or destroy runs or waits; the destroy runs after it.
	Busy bool
	// Expected is the text to type: the deployment's name.
	Expected string
	Typed    string
	Error    string
}

// OpsList is a page of operations, newest first.
type OpsList struct {
	Ops []Op
	// Next is the Before of the next (older) page, 0 after the last.
	Next int64
	// Before is this page's Before, 0 for the newest.
	Before int64
}

// OpDetail is one operation and the audit record of the apply that
// carried it.
type OpDetail struct {
	Op     Op
	Record *Record
	// RecordMissing says why there is no record to show, "" when there is.
	RecordMissing string
}

// Record is an audit record: its manifest, without the error text (which
// can hold OpenTofu's output), and the runtime tfvars stored with it,
// sensitive values redacted.
type Record struct {
	audit.Manifest
	TFVars string
	// Error is the text the server may show about a failed attempt.
	Error string
}

// VMs is the VMs page.
type VMs struct {
	VMs []launcher.VM
	// Stale counts the VMs whose config is older than the current one.
	Stale int
	// Digest is the current config's digest.
	Digest string
	// Orphans are the client VMs the cloud holds and the state does not,
	// each with the commands that resolve it.
	Orphans      []launcher.Orphan
	StateProblem bool
	// InventoryProblem is a sentence saying that the cloud's inventory
	// could not be read, so Orphans are unknown; "" when it was.
	InventoryProblem string
}

// ErrorPage is a page that could not be shown, or a request the server
// refused.
type ErrorPage struct {
	Heading, Message string
}
