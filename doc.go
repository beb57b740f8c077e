// Package lablink holds the allocator's typed configuration and tells the
// story of how LabLink hands it to OpenTofu.
//
// # The runtime tfvars pattern
//
// LabLink's allocator launches client VMs for students through an
// OpenTofu (or Terraform) module. Some of the module's inputs come straight
// from config.yaml (the instance type, the AMI, the container image);
// others exist only while the allocator runs: its own public URL, which
// depends on DNS and TLS settings and on the address it was given, and
// whether the chosen instance type has NVIDIA GPUs, which only the EC2 API
// knows. The module could read config.yaml itself through locals, but then
// it would have to re-implement the URL rules and could not ask EC2, and
// the two implementations would drift. So the allocator computes every
// value in Go and passes them all in one file, terraform.runtime.tfvars,
// with `-var-file`.
//
// config.yaml stays the single source of truth: the tfvars file is a
// serialization of it, never a second source. That is what this module
// makes checkable:
//
//   - Config, loaded strictly by LoadConfig and checked by Validate, is the
//     typed config. A value that would reach the VM's boot script must match
//     a strict format, so a quote, newline or `${` can neither break the
//     file nor run in the VM's shell.
//   - Package allocurl derives the allocator URL and port.
//   - Package gpu asks EC2 whether the instance type has NVIDIA GPUs; an API
//     failure is an error, never "no GPU".
//   - Package tfvars renders typed values with hclwrite, checks them against
//     the module's variables.tf, parses the file back and requires it to
//     equal both the intended values and the config fields they came from.
//   - Package clientvars binds every variable of the client module to its
//     source (the binding table) and renders, verifies and audits the file.
//   - Package audit keeps what was applied: the latest file where upstream
//     LabLink kept it, an immutable record of every attempt, and the
//     operation record of every request, in a directory or S3, read in
//     pages whatever the history holds.
//   - Package plancheck refuses a plan that would disturb a running VM or
//     open its ports to the internet; package tfstate knows where the
//     state lives, its lock, and whether a local state may be planned
//     from; package inventory lists the VMs the cloud holds, so that none
//     an interrupted apply created is forgotten.
//   - Package launcher wires these together: request, tfvars, plan, apply,
//     audit, one OpenTofu at a time per working directory, never killed;
//     package schedule runs launches and destroys at set times, once, on
//     any number of allocators.
//
// # Errors and secrets
//
// LoadConfig reports every problem of a file at once, each as
// "FILE:LINE: PATH: MESSAGE" (*FieldError, or *SyntaxError for YAML that
// does not parse), where MESSAGE says what the file holds and what to
// write instead; an unknown key names the nearest known one, and a rule
// that a default value triggers says that the file leaves the key out.
// Validate gives the same messages without file and line.
//
// The two passwords of config.yaml are of type Secret: fmt, log/slog and
// encoding/json show "[redacted]" in their place, so a Config can be
// logged or printed whole. Secret.Reveal returns a password where one is
// needed; Config.Digest names a config in an audit record without them.
//
// # Where each value comes from
//
// The binding table of package clientvars names the source of every
// variable: a
// config path such as machine.machine_type, a derived value (allocator URL
// and port, GPU support), the environment (allocator IP, environment name,
// CloudWatch log group), or the request (instance_count, which is the
// requested VMs plus the VMs already running, so an apply never shrinks
// the fleet). The same table renders the file, verifies it, checks the
// module's defaults against DefaultConfig, and fills the audit manifest.
//
// # What the audit copy is for
//
// The audited file alone reproduces an apply: instance_count is written
// into it rather than passed as -var. Anyone can see what a launch asked
// OpenTofu for, when, and with which outcome, including attempts that
// failed. Sensitive variables are redacted in the stored copy unless the
// caller opts out.
package lablink
