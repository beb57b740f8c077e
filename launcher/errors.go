package launcher

import "errors"

// Conditions callers branch on. A plan the guard refuses is
// plancheck.ErrRefused (a *plancheck.RefusedError naming every violation);
// a local state the launcher will not plan from is a
// *tfstate.IntegrityError.
var (
	// ErrInvalidCount: the request asks for fewer than 1 or more than
	// Options.MaxCount VMs.
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

// errSuperseded closes an attempt whose tfvars were re-rendered because the
// plan found a different number of client VMs than expected.
var errSuperseded = errors.New("superseded by a new attempt")
