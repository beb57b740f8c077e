// Package launcher turns a launch request into applied OpenTofu: it
// resolves the run-time values (allocator URL, GPU support), renders and
// verifies terraform.runtime.tfvars through the binding table, plans,
// refuses any plan that would delete or replace a client VM, applies the
// saved plan, and records every attempt in the audit trail.
//
// It drives OpenTofu or Terraform through hashicorp/terraform-exec. One
// Launcher owns one working directory: applies there never overlap.
// Requests that arrive while an apply runs are merged into the next apply,
// and every caller gets the result of the apply that covered its VMs. A
// second process on the same directory is serialized by OpenTofu's own
// state lock (see Options.LockTimeout).
//
// The binding table (Bindings) is the single list of the module's
// variables and their sources; Render, Verify, Drift and the audit
// manifest all read it.
package launcher
