// Command lablink is the thin command-line adapter over the lablink
// packages: it reads flags and the allocator's environment variables,
// wires config, allocator URL, GPU detection, tfvars rendering, the
// OpenTofu launcher and the audit trail together, and turns their errors
// into messages that name the input the user gave and into exit statuses.
// It holds no logic of its own that a library package could hold instead.
//
// Build it once (the first build downloads the modules):
//
//	go build -o bin/lablink ./examples/cli
//
// The main command renders the runtime tfvars the allocator would hand to
// OpenTofu, from the example config embedded in the binary:
//
//	lablink render --allocator-ip 203.0.113.10 --allocator-sg-id sg-0123456789abcdef0
//
// Off EC2 the allocator's security group must be given (--allocator-sg-id or
// ALLOCATOR_SG_ID); on EC2 it is read from instance metadata. The agent and
// register tokens come from LABLINK_AGENT_TOKEN and LABLINK_REGISTER_TOKEN,
// else from those kept in a working directory (render --workdir DIR); a
// render without either makes tokens for that file alone.
//
// Other commands validate a config (deprecated keys are warnings, on
// stderr), list where each module variable gets its value and any drift of
// its default, launch, list and destroy client VMs with OpenTofu in a
// working directory, restore a refused local state from its newest good
// copy, read the audit trail, and keep a class's schedule (which an
// allocator on the same audit store runs):
//
//	lablink validate --config config.yaml
//	lablink defaults
//	lablink launch --count 2 --workdir ./run --gpu catalog --allocator-ip 203.0.113.10 --allocator-sg-id sg-0123456789abcdef0
//	lablink status --workdir ./run
//	lablink audit list --store ./run/.lablink/audit
//	lablink destroy --workdir ./run
//	lablink restore-state --workdir ./run
//	lablink schedule add --store ./run/.lablink/audit --name "end of lab" --at 2026-03-06T17:30:00Z
//
// Every check of a launch runs before anything is written: a refused
// request (a bad flag, a count beyond --max-count or the module's limit,
// a missing security group) leaves no file behind. An interrupted launch
// (Ctrl-C, SIGTERM) interrupts OpenTofu once, waits for it to save the
// state, and says how many VMs it created and what the state holds.
// destroy and restore-state ask for confirmation on a terminal (--yes
// skips it; off a terminal they refuse without it).
//
// Every command takes --json and then prints exactly one JSON document
// on stdout: its result, or {"error": {"message", "field", "file", "line",
// ...}} when it fails (JSON.md documents each shape).
//
// Run `lablink help` for every command and `lablink <command> -h` for its
// flags. Exit status is 0 on success, 1 on a failure (drift, a failed or
// interrupted launch, a refused state, an unreachable API) and 2 on
// invalid input (bad flags, an invalid config, a request beyond the
// limits, an unknown instance type, a module variable nothing supplies, a
// confirmation that cannot be asked).
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
