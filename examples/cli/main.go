// Command cli is the thin command-line adapter over the lablink packages:
// it reads flags and the allocator's environment variables, wires config,
// allocator URL, GPU detection, tfvars rendering, the OpenTofu launcher and
// the audit trail together, and turns their errors into exit statuses. It
// holds no logic of its own that a library package could hold instead.
//
// The main command renders the runtime tfvars the allocator would hand to
// OpenTofu, from the example config embedded in the binary:
//
//	go run ./examples/cli render --allocator-ip 203.0.113.10 --allocator-sg-id sg-0123456789abcdef0
//
// Off EC2 the allocator's security group must be given (--allocator-sg-id or
// ALLOCATOR_SG_ID); on EC2 it is read from instance metadata. The agent and
// register tokens come from LABLINK_AGENT_TOKEN and LABLINK_REGISTER_TOKEN,
// else from those kept in a working directory (render --workdir DIR); a
// render without either makes tokens for that file alone.
//
// Other commands validate a config (deprecated keys are warnings, on
// stderr), list where each module variable gets its value and any drift of
// its default, launch, inspect and destroy client VMs with OpenTofu in a
// working directory, read the audit trail, and keep a class's schedule
// (which an allocator on the same audit store runs):
//
//	go run ./examples/cli validate --config config.yaml
//	go run ./examples/cli defaults
//	go run ./examples/cli launch --count 2 --workdir ./run --gpu catalog --allocator-ip 203.0.113.10 --allocator-sg-id sg-0123456789abcdef0
//	go run ./examples/cli status --workdir ./run
//	go run ./examples/cli audit list --store ./run/.lablink/audit
//	go run ./examples/cli destroy --workdir ./run
//	go run ./examples/cli schedule add --store ./run/.lablink/audit --name "end of lab" --at 2026-03-06T17:30:00Z
//
// Run `go run ./examples/cli help` for every flag. Exit status is 0 on
// success, 1 on a failure (drift, a failed launch, an unreachable API) and
// 2 on invalid input (bad flags, an invalid config, an unknown instance
// type, a module variable nothing supplies).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
