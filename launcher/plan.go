package launcher

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"

	"github.com/lablink-go/lablink/internal/planread"
	"github.com/lablink-go/lablink/plancheck"
)

// savedPlan is a plan saved by `plan -out` and what the launcher read of
// it: from the plan's own event stream when that proves everything the
// launch needs, else from `show -json` of the saved plan. Whoever holds
// one calls Remove when done with it.
type savedPlan struct {
	path string
	plan *planread.Plan
	// fromEvents says plan was read from the event stream, which lists
	// no prior state (plan.Prior is nil).
	fromEvents bool
}

// Remove deletes the plan file. It is safe to call more than once.
func (p *savedPlan) Remove() {
	os.Remove(p.path)
}

// plan saves a plan of varFile (a destroy plan when destroy is set), named
// after id, and reads it. A destroy plan is made by terraform-exec and
// read with `show -json` (it deletes, which the event stream cannot
// prove). A launch's plan is made with -json, and its event stream read
// as it runs (planread.ReadEvents); only when that stream does not prove
// the plan, or proven reports that it lacks what the caller needs, is the
// saved plan read with `show -json` as well. That saves decoding
// megabytes of `show -json` at hundreds of VMs, and one OpenTofu process,
// on the common launch that only creates VMs. On error no plan file is
// left behind.
func (w *workingDir) plan(ctx context.Context, id, varFile string, destroy bool, proven func(*planread.Plan) bool) (*savedPlan, error) {
	dir := filepath.Join(w.dir, ".lablink", "plans")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	p := &savedPlan{path: filepath.Join(dir, id+".tfplan")}
	var err error
	if destroy || !readPlanEvents {
		err = w.planSaved(ctx, p.path, varFile, destroy)
	} else {
		p.plan, err = w.planEvents(ctx, p.path, varFile)
		p.fromEvents = err == nil
		if errors.Is(err, planread.ErrNeedsSavedPlan) || err == nil && !proven(p.plan) {
			p.plan, p.fromEvents, err = nil, false, nil
		}
	}
	if err != nil {
		p.Remove()
		return nil, fmt.Errorf("plan: %w", err)
	}
	if p.plan == nil {
		if p.plan, err = w.show(ctx, p.path); err != nil {
			p.Remove()
			return nil, fmt.Errorf("show plan: %w", err)
		}
	}
	return p, nil
}

// readPlanEvents turns the event stream reading on; tests turn it off to
// drive the saved-plan path with plans the stream would prove.
var readPlanEvents = true

// planSaved runs `plan -out` through terraform-exec, with -destroy when
// destroy is set.
func (w *workingDir) planSaved(ctx context.Context, out, varFile string, destroy bool) error {
	_, err := w.tf.Plan(ctx, tfexec.Out(out), tfexec.VarFile(varFile), tfexec.Lock(true),
		tfexec.LockTimeout(w.lockTimeout.String()), tfexec.Refresh(true), tfexec.Destroy(destroy))
	return err
}

// planEvents runs `plan -json -out` itself, with the arguments terraform-
// exec would give it, and reads its event stream with planread.ReadEvents.
// terraform-exec's PlanJSON would first ask OpenTofu for its version (a
// process more on a cold start) and collects the stream rather than
// handing it over as it comes. An error matching ErrNeedsSavedPlan means
// the plan was saved but must be read from the file. With -json, OpenTofu
// prints a failed plan's diagnostics on the stream, so ReadEvents'
// error is the one returned for them.
func (w *workingDir) planEvents(ctx context.Context, out, varFile string) (*planread.Plan, error) {
	cmd := w.command(ctx, "plan", "-json", "-no-color", "-input=false",
		"-lock-timeout="+w.lockTimeout.String(), "-out="+out, "-var-file="+varFile,
		"-lock=true", fmt.Sprintf("-parallelism=%d", defaultParallelism), "-refresh=true")
	var plan *planread.Plan
	exit, err := w.run(cmd, func(r io.Reader) (err error) {
		plan, err = planread.ReadEvents(r, w.guard)
		return err
	})
	if ctx.Err() == nil && exit != nil && err != nil && !errors.Is(err, planread.ErrNeedsSavedPlan) {
		return nil, fmt.Errorf("%w (%w)", err, exit) // the plan's diagnostics
	}
	if err := settle(ctx, exit, err); err != nil {
		return nil, err
	}
	return plan, nil
}

// show runs `show -json` of the saved plan at path and reads what the
// guard, the summary and the state reader need with planread.Read,
// streaming, rather than decoding the whole plan (megabytes at hundreds of
// VMs) as terraform-exec's ShowPlanFile does; terraform-exec's version
// check before show is skipped with it, one OpenTofu process fewer on a
// cold start.
func (w *workingDir) show(ctx context.Context, path string) (*planread.Plan, error) {
	var plan *planread.Plan
	exit, err := w.run(w.command(ctx, "show", "-json", "-no-color", path), func(r io.Reader) (err error) {
		plan, err = planread.Read(r, w.guard)
		return err
	})
	if err := settle(ctx, exit, err); err != nil {
		return nil, err
	}
	return plan, nil
}

// waitDelay bounds how long an OpenTofu process the launcher runs itself
// may take to exit once interrupted, and how long its output may stay open
// after it exited (a child it left behind holds it), as terraform-exec's
// default does.
const waitDelay = time.Minute

// command is an OpenTofu process the launcher runs itself, set up as
// terraform-exec sets up its own: in the module directory, in automation
// mode, in a process group of its own that dies with the launcher (on
// Linux), and interrupted rather than killed when ctx is done, so that
// it can release the state lock.
func (w *workingDir) command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, w.tf.ExecPath(), args...)
	cmd.Dir, cmd.Env = w.dir, w.env
	cmd.SysProcAttr = sysProcAttr()
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = waitDelay
	return cmd
}

// run runs cmd, handing its stdout to read as it comes. It returns how
// the process failed, with its stderr, and read's error. read may stop
// early; the rest of the output is drained.
func (w *workingDir) run(cmd *exec.Cmd, read func(io.Reader) error) (exit, readErr error) {
	pr, pw := io.Pipe()
	cmd.Stdout = pw
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	done := make(chan error, 1)
	go func() {
		err := read(pr)
		_, _ = io.Copy(io.Discard, pr)
		done <- err
	}()
	if err := cmd.Run(); err != nil {
		exit = fmt.Errorf("%w\n%s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	pw.Close()
	return exit, <-done
}

// settle is the error that explains how a process run by run ended:
// the context's, else how it exited, else its reader's.
func settle(ctx context.Context, exit, readErr error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case exit != nil:
		return exit
	}
	return readErr
}

// summary counts the plan's resource changes: a forget counts as a
// destroy (the resource leaves the state) and forget+create as a replace.
func (p *savedPlan) summary() PlanSummary { return p.plan.Summary }

// guard refuses a plan that would disturb a running client VM or open its
// ports to the internet (package plancheck), with the options the plan
// was read with.
func (p *savedPlan) guard() error {
	err := p.plan.Check()
	var refused *plancheck.RefusedError
	if !errors.As(err, &refused) {
		return err
	}
	var addrs []string
	for _, v := range refused.Violations {
		if !slices.Contains(addrs, v.Address) {
			addrs = append(addrs, v.Address)
		}
	}
	return &PlanRefusedError{Addresses: addrs, Err: refused}
}
