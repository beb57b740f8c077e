// Package planread reads, fast, what the launcher needs of an OpenTofu (or
// Terraform) plan: the resource changes package plancheck checks, the
// plan's summary (audit.PlanSummary) and the prior state's resources. It
// is a speed-up, not an interface: what it returns is exactly what
// plancheck.Changes of the plan decoded whole by terraform-json gives,
// with the values plancheck does not read left out.
//
// Two readers return a *Plan. Read takes `tofu show -json` output and
// skips, unread, the values plancheck.Check does not read: at 500 VMs of
// the local module, 14 MB of JSON of which the checks need a few
// kilobytes, it costs a fifth of decoding the plan into tfjson.Plan.
// ReadEvents takes the event stream of `tofu plan -json` and needs no
// `show` at all, but only for a plan that creates resources the checks
// need no values of (and reads data sources); for any other plan it
// returns ErrNeedsSavedPlan and the caller reads the saved plan. It
// depends on what OpenTofu 1.12 prints (see ReadEvents). Both give exactly
// the verdict and the summary of the whole decoded plan; the tests and
// fuzz targets hold them to it, on plans a real OpenTofu made
// (testdata/events here and plancheck's testdata).
//
// Which values the checks read is internal/planscope's to say, for both
// plancheck and this package.
package planread
