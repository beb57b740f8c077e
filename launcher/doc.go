// Package launcher turns a launch request into applied OpenTofu: it
// resolves the run-time values (allocator URL, GPU support), renders and
// verifies terraform.runtime.tfvars through the binding table, plans,
// refuses any plan that would disturb a running client VM or open its
// ports to the internet (package plancheck), applies the saved plan, and records every attempt in the audit trail.
//
// It drives OpenTofu or Terraform through hashicorp/terraform-exec. One
// Launcher owns one working directory, and one queue runs all its work
// there, one job at a time: launch requests that wait together are merged
// into one apply (up to Options.MaxCount VMs), and every caller gets the
// result of the apply that covered its VMs; a destroy waits for its turn
// and runs alone. A second process on the same directory is serialized by
// OpenTofu's own state lock (see Options.LockTimeout).
//
// A launch, in launch.go, is one sequence: resolve the inputs (render.go),
// count the VMs already there (state.go), keep the runtime tfvars last
// applied (snapshot.go), render the new file, begin its audit record
// (attempt.go), write it, plan it (plan.go: the plan's own event stream
// when it proves the plan, else `show -json` of the saved plan) and, when
// the plan's prior state counts other VMs than expected, supersede the
// record and plan once more; then refuse or apply (workdir.go), and
// finish the record. An apply OpenTofu refuses as stale (another process
// applied since the plan) supersedes the record, and the launch counts
// and plans again.
//
// The binding table (bindings.go) is the single list of the module's
// variables and their sources; Render, its verification, Drift, Sources
// and the audit manifest all read it.
package launcher
