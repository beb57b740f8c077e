// Package setup holds what both adapters (examples/cli and examples/http)
// do alike to wire the library from their flags: load the SDK's AWS
// configuration, quietly; choose the GPU detector that a --gpu flag names,
// asking the SDK once, within one timeout, whether AWS credentials are to
// be had; read the state flags (--state, --max-count); check a launch
// before anything is written, without OpenTofu or EC2: its count against
// the request limit and the module's own (CheckCount, InstanceLimit), and
// its config, run-time inputs and render (CheckLaunch); choose the
// inventory of the cloud's VMs (Inventory); and run a class's schedule
// with the launcher (Runner, the schedule.Runner that turns a due
// occurrence into an operation).
//
// Putting the client module into a working directory is
// examples/terraform's Module.Install.
package setup
