package launcher

import (
	"errors"
	"fmt"
)

// Conditions callers branch on. A plan the guard refuses is
// plancheck.ErrRefused (a *plancheck.RefusedError naming every violation);
// a local state the launcher will not plan from is a
// *tfstate.IntegrityError.
var (
	// ErrInvalidCount: the request asks for fewer than 1 or more than
	// Options.MaxCount (DefaultMaxCount) VMs.
	ErrInvalidCount = errors.New("invalid number of VMs")
	// ErrNothingLaunched: a destroy found no runtime tfvars in the working
	// directory (upstream answers 404 "no client VMs were launched").
	ErrNothingLaunched = errors.New("no client VMs were launched")
	// ErrClosed: the Launcher was shut down or closed.
	ErrClosed = errors.New("launcher closed")
	// ErrInvalidInput: Open found the config, the run-time inputs or the
	// module's variables unusable for a launch; the error is an
	// *InputError naming each problem.
	ErrInvalidInput = errors.New("invalid input")
	// ErrNoLaunch: Launch on a launcher opened with Options.NoLaunch.
	ErrNoLaunch = errors.New("opened without launch inputs (Options.NoLaunch)")
)

// InputError holds every problem Open found with what a launch needs:
// the config (each naming its YAML path and line), the run-time inputs
// (each naming its variable) and the module's variables (each naming what
// would supply it). It matches ErrInvalidInput.
type InputError struct {
	Err error
}

func (e *InputError) Error() string { return e.Err.Error() }

// Unwrap returns ErrInvalidInput and the problems.
func (e *InputError) Unwrap() []error { return []error{ErrInvalidInput, e.Err} }

// DefaultMaxCount is Options.MaxCount's default: the most VMs one request
// may ask for, and one apply add.
const DefaultMaxCount = 500

// errSuperseded closes an attempt whose tfvars were re-rendered because the
// plan found a different number of client VMs than expected.
var errSuperseded = errors.New("superseded by a new attempt")

// ApplyError is an apply (of a launch or a destroy) that failed or was
// interrupted after it began: what it did, as far as OpenTofu said, and
// what the state holds now. Unwrap gives OpenTofu's failure (and, when
// interrupted, context.Canceled).
type ApplyError struct {
	// Action is "launch" or "destroy".
	Action string
	// Interrupted reports that the apply stopped on the interrupt the
	// launcher sent (its context ended); else it failed.
	Interrupted bool
	// Done counts the resource changes that completed, Planned those the
	// plan held; Created counts the client VMs created.
	Done, Planned, Created int
	// InState is the number of client VMs the state holds after it, -1
	// when it could not be read.
	InState int
	Err     error
}

func (e *ApplyError) Error() string {
	what := "failed"
	if e.Interrupted {
		what = "was interrupted"
	}
	msg := fmt.Sprintf("apply %s after creating %d of %d VMs", what, e.Created, e.Planned)
	if e.Action == "destroy" {
		msg = fmt.Sprintf("destroy %s after %d of %d changes", what, e.Done, e.Planned)
	}
	if e.InState >= 0 {
		msg += fmt.Sprintf("; the state holds %d client VMs", e.InState)
	}
	return msg + ": " + e.Err.Error()
}

func (e *ApplyError) Unwrap() error { return e.Err }
