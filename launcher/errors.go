package launcher

import (
	"errors"
	"fmt"
	"strings"
)

// Conditions callers branch on.
var (
	// ErrInvalidCount: the request asks for fewer than 1 or more than
	// Options.MaxCount VMs.
	ErrInvalidCount = errors.New("invalid number of VMs")
	// ErrPlanRefused: the plan would disturb a running client VM (update
	// it in place, replace, delete or forget it) or open its KasmVNC or
	// agent port to the internet; see package plancheck. The error is a
	// *PlanRefusedError.
	ErrPlanRefused = errors.New("plan refused")
	// ErrNothingLaunched: Destroy found no runtime tfvars in the working
	// directory (upstream answers 404 "no client VMs were launched").
	ErrNothingLaunched = errors.New("no client VMs were launched")
	// ErrClosed: the Launcher was closed.
	ErrClosed = errors.New("launcher closed")
)

// PlanRefusedError lists what a refused plan would have done: each
// address with its reason, and plancheck's own error, which errors.As
// finds as a *plancheck.RefusedError.
type PlanRefusedError struct {
	// Addresses are the resources at fault, in plan order.
	Addresses []string
	// Err is the *plancheck.RefusedError naming every violation.
	Err error
}

func (e *PlanRefusedError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return fmt.Sprintf("%v: %s", ErrPlanRefused, strings.Join(e.Addresses, ", "))
}

// Unwrap returns ErrPlanRefused and Err, so that errors.Is finds both it
// and plancheck.ErrRefused.
func (e *PlanRefusedError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrPlanRefused}
	}
	return []error{ErrPlanRefused, e.Err}
}

// errSuperseded closes an attempt whose tfvars were re-rendered because the
// plan found a different number of client VMs than expected.
var errSuperseded = errors.New("superseded by a new attempt")
