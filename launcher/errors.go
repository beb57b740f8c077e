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
	// ErrPlanRefused: the plan would delete or replace a client VM. A
	// launch never destroys running VMs. The error is a *PlanRefusedError.
	ErrPlanRefused = errors.New("plan would delete or replace client VMs")
	// ErrNothingLaunched: Destroy found no runtime tfvars in the working
	// directory (upstream answers 404 "no client VMs were launched").
	ErrNothingLaunched = errors.New("no client VMs were launched")
	// ErrClosed: the Launcher was closed.
	ErrClosed = errors.New("launcher closed")
)

// PlanRefusedError lists the client VM addresses a refused plan would
// have deleted or replaced.
type PlanRefusedError struct {
	Addresses []string
}

func (e *PlanRefusedError) Error() string {
	return fmt.Sprintf("%v: %s", ErrPlanRefused, strings.Join(e.Addresses, ", "))
}

func (e *PlanRefusedError) Unwrap() error { return ErrPlanRefused }

// errSuperseded closes an attempt whose tfvars were re-rendered because the
// plan found a different number of client VMs than expected.
var errSuperseded = errors.New("superseded by a new attempt")
