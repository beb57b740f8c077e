// Package launcher turns launch and destroy requests into applied
// OpenTofu, safely enough to run as a service: a Launcher owns one working
// directory, runs one OpenTofu at a time there, never kills it, and never
// plans from a state it cannot trust.
//
// Open makes a Launcher ready: it checks everything a launch needs that
// exists before one (config, run-time inputs, the module's variables, the
// binary), writes the working directory's tokens and backend only then,
// takes over from a process that died there (see Recovery) and
// initializes. Launch and Destroy run a request and wait for it; Start
// queues one and returns its operation record at once, which Op, Ops,
// Watch and the function Wait follow (the Service interface, which the
// double in package launchertest implements too). Status lists the client
// VMs of the state, those the cloud holds that the state does not
// (Options.Inventory), and the last audit record. Shutdown and Close end
// it.
//
// One queue runs all the work of the directory, one job at a time: launch
// requests that wait together are merged into one apply (up to
// Options.MaxCount VMs), and every caller gets the result of the apply
// that covered its VMs; a destroy runs alone, in its turn. Another
// process on the same state is serialized by OpenTofu's own state lock.
//
// A launch (launch.go) checks the state (integrity.go), resolves the
// run-time values, renders and verifies the runtime tfvars through the
// binding table of package clientvars, begins its audit record
// (attempt.go), plans (plan.go: from the plan's own event stream when it
// proves the plan, else `show -json` of the saved plan), refuses a plan
// the guard of package plancheck refuses, keeps a copy of the state and a
// journal of the VMs it will create, applies (apply.go, reading the
// apply's event stream for progress and for the id of each VM created),
// reads the state back, and finishes its record. A plan whose prior state
// holds other VMs than counted, or an apply OpenTofu refuses as stale,
// supersedes the record and plans again.
//
// OpenTofu runs through internal/tofu: in a process group of its own,
// with one SIGINT when its context ends and no kill, ever, not even when
// the launcher's process dies; its output goes to files, so that it
// finishes an apply alone and saves its state. A later Open finds such a
// process, waits for it, and reads what it did.
package launcher
