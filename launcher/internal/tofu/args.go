package tofu

import (
	"fmt"
	"strconv"
	"time"
)

// InitArgs are the options of `init`.
type InitArgs struct {
	// BackendConfig are -backend-config settings (key=value); with any,
	// init also reconfigures: a backend the launcher chose starts from
	// its own state rather than migrating the old one.
	BackendConfig []string
}

// Init is the command line of `init`, as terraform-exec's Init builds it
// for OpenTofu.
func Init(a InitArgs) []string {
	args := []string{"init", "-no-color", "-input=false", "-backend=true", "-get=true", "-upgrade=false"}
	if len(a.BackendConfig) > 0 {
		args = append(args, "-reconfigure")
		for _, kv := range a.BackendConfig {
			args = append(args, "-backend-config="+kv)
		}
	}
	return args
}

// PlanArgs are the options of `plan`.
type PlanArgs struct {
	// Out is the file the plan is saved to (required).
	Out string
	// VarFile is the runtime tfvars file (required).
	VarFile string
	// LockTimeout is how long to wait for the state lock.
	LockTimeout time.Duration
	// Parallelism bounds concurrent operations; the refresh of a plan.
	Parallelism int
	// Destroy plans the destruction of everything.
	Destroy bool
	// JSON prints the machine-readable event stream.
	JSON bool
}

// Plan is the command line of `plan`, with terraform-exec's arguments.
func Plan(a PlanArgs) []string {
	args := []string{"plan"}
	if a.JSON {
		args = append(args, "-json")
	}
	args = append(args, "-no-color", "-input=false", "-lock-timeout="+duration(a.LockTimeout),
		"-out="+a.Out, "-var-file="+a.VarFile, "-lock=true", "-parallelism="+strconv.Itoa(a.Parallelism), "-refresh=true")
	if a.Destroy {
		args = append(args, "-destroy")
	}
	return args
}

// ApplyArgs are the options of `apply` of a saved plan.
type ApplyArgs struct {
	// Plan is the saved plan file (required).
	Plan        string
	LockTimeout time.Duration
	Parallelism int
	// JSON prints the machine-readable event stream, which the launcher
	// reads for progress and for the ids of what is created.
	JSON bool
}

// Apply is the command line of `apply` of a saved plan.
func Apply(a ApplyArgs) []string {
	args := []string{"apply"}
	if a.JSON {
		args = append(args, "-json")
	}
	return append(args, "-no-color", "-auto-approve", "-input=false", "-lock-timeout="+duration(a.LockTimeout),
		"-lock=true", "-parallelism="+strconv.Itoa(a.Parallelism), a.Plan)
}

// Show is the command line that prints a saved plan as JSON.
func Show(plan string) []string { return []string{"show", "-json", "-no-color", plan} }

// Version is the command line that prints the version as JSON.
func Version() []string { return []string{"version", "-json"} }

// StatePull is the command line that prints the raw state of the backend.
func StatePull() []string { return []string{"state", "pull"} }

// StatePush is the command line that writes file as the backend's state,
// taking the lock; OpenTofu refuses a state of another lineage or a lower
// serial.
func StatePush(file string, lockTimeout time.Duration) []string {
	return []string{"state", "push", "-lock=true", "-lock-timeout=" + duration(lockTimeout), file}
}

// ForceUnlock is the command line that removes the state lock id.
func ForceUnlock(id string) []string { return []string{"force-unlock", "-no-color", "-force", id} }

// duration formats d as OpenTofu reads it ("0s", "2m0s").
func duration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	return fmt.Sprint(d)
}

// Untaint is the command line that clears the taint of the resource
// instance at addr, taking the lock.
func Untaint(addr string, lockTimeout time.Duration) []string {
	return []string{"untaint", "-no-color", "-lock=true", "-lock-timeout=" + duration(lockTimeout), addr}
}

// StateRm is the command line that removes the resource instance at addr
// from the state, taking the lock; OpenTofu keeps a backup of a local
// state.
func StateRm(addr string, lockTimeout time.Duration) []string {
	return []string{"state", "rm", "-lock=true", "-lock-timeout=" + duration(lockTimeout), addr}
}
