package launcher

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/plancheck"
)

// attempt owns the audit record of one launch or destroy from Begin to
// Finish, so that every attempt is recorded exactly once: finish records
// the attempt in whatever state it is. A begun record is finished with the
// outcome of the attempt's error. An attempt that failed before it had a
// tfvars file to audit (an invalid config or environment, a failed GPU
// lookup or render) is begun with an empty tfvars copy and finished at
// once. One the trail refused to begin or to supersede is not written
// again: the trail's error is the attempt's error.
//
// supersede finishes the begun record and leaves the attempt ready to
// begin a new one, for a launch that re-renders its tfvars.
type attempt struct {
	l *Launcher
	// base is the manifest of the attempt before any tfvars exist.
	base audit.Manifest
	// m is the record begun last, and stored the tfvars copy it holds.
	m      audit.Manifest
	stored []byte
	state  attemptState
	// next is the launch ID the next begin records, chosen before the
	// tfvars that hold it are rendered.
	next string
}

type attemptState int

const (
	unbegun attemptState = iota // nothing written yet
	begun                       // attempt.json written, manifest.json not
	closed                      // nothing more to write
)

// newAttempt starts the attempt of operation op (an audit.Action*
// constant) for actor, asking for requested more VMs. Nothing is written
// until begin or finish.
func (l *Launcher) newAttempt(op audit.Action, actor string, requested int) *attempt {
	return &attempt{l: l, base: audit.Manifest{
		Environment:  l.environment(),
		Action:       op,
		Actor:        actor,
		Requested:    requested,
		ConfigDigest: l.digest,
	}}
}

// id is the launch ID of the record begun last, "" before any.
func (a *attempt) id() string { return a.m.LaunchID }

// nextID is the launch ID the next begin records.
func (a *attempt) nextID() string {
	if a.next == "" {
		a.next = newLaunchID(a.l.opts.Now())
	}
	return a.next
}

// newLaunchID is a launch ID as audit.Trail makes them: the UTC time and 8
// random hex digits, so that IDs sort by time.
func newLaunchID(now time.Time) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b) // crypto/rand.Read never fails
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b)
}

// begin records the start of the attempt: r is the tfvars file for
// existing VMs plus the requested ones, total in all; info, when not nil,
// is the GPU answer r holds. The stored copy is redacted unless
// Options.KeepSensitive.
func (a *attempt) begin(ctx context.Context, r clientvars.Rendered, info *gpu.Info, existing, total int) error {
	if a.state != unbegun {
		return fmt.Errorf("%s: audit: the attempt is already recorded", a.base.Action)
	}
	m := a.l.manifest(a.base, r, info)
	m.LaunchID, a.next = a.nextID(), ""
	m.Existing, m.Total = existing, total
	stored := a.l.auditCopy(r)
	m, err := a.l.trail.Begin(ctx, m, stored)
	if err != nil {
		a.state = closed
		return fmt.Errorf("audit the attempt: %w", err)
	}
	a.m, a.stored, a.state = m, stored, begun
	return nil
}

// setPlan records the summary of the plan the begun record's tfvars gave.
func (a *attempt) setPlan(s PlanSummary) { a.m.Plan = &s }

// supersede finishes the begun record as superseded, for the reason why,
// so that a new record can be begun for re-rendered tfvars: history
// records are immutable, and each holds the file it describes.
func (a *attempt) supersede(ctx context.Context, why error) error {
	if a.state != begun {
		return fmt.Errorf("%s: audit: no attempt to supersede", a.base.Action)
	}
	m := a.m
	m.Outcome, m.Error = audit.OutcomeSuperseded, why.Error()
	if _, err := a.l.trail.Finish(context.WithoutCancel(ctx), m, nil); err != nil {
		a.state = closed
		return fmt.Errorf("audit the superseded attempt: %w", err)
	}
	a.stored, a.state = nil, unbegun
	return nil
}

// finish records the outcome err of the attempt (and, after a successful
// launch, its tfvars as the trail's latest copy). It returns the record's
// location and err joined with any error of the audit trail. It runs
// detached from ctx's cancellation, so canceled attempts are recorded too.
func (a *attempt) finish(ctx context.Context, err error) (string, error) {
	ctx = context.WithoutCancel(ctx)
	var latest []byte
	switch a.state {
	case closed:
		return "", err
	case unbegun:
		// Failed before there were tfvars to audit: the record holds an
		// empty copy.
		m, aerr := a.l.trail.Begin(ctx, a.base, []byte{})
		if aerr != nil {
			a.state = closed
			return "", errors.Join(err, fmt.Errorf("audit the attempt: %w", aerr))
		}
		a.m = m
	case begun:
		if err == nil {
			latest = a.stored
		}
	}
	a.state = closed
	m := a.m
	m.Outcome = outcome(err)
	if err != nil {
		m.Error = err.Error()
	}
	loc, aerr := a.l.trail.Finish(ctx, m, latest)
	if aerr != nil {
		err = errors.Join(err, fmt.Errorf("audit the outcome: %w", aerr))
	}
	return loc, err
}

// outcome is the audit outcome of an attempt that ended with err.
func outcome(err error) audit.Outcome {
	switch {
	case err == nil:
		return audit.OutcomeSucceeded
	case errors.Is(err, plancheck.ErrRefused):
		return audit.OutcomeRefused
	case errors.Is(err, errSuperseded):
		return audit.OutcomeSuperseded
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return audit.OutcomeCanceled
	}
	return audit.OutcomeFailed
}

// manifest is base with what the tfvars r say: their digest, where each
// variable came from, and the GPU answer info when not nil.
func (l *Launcher) manifest(base audit.Manifest, r clientvars.Rendered, info *gpu.Info) audit.Manifest {
	m := base
	m.TFVarsSHA256 = r.SHA256
	if info != nil {
		m.GPU = &audit.GPUAnswer{InstanceType: l.cfg.Machine.MachineType, NVIDIA: info.HasNVIDIA(), Source: string(info.Source)}
	}
	for _, o := range r.Origins() {
		v, _ := l.schema.Lookup(o.Variable)
		sensitive := v != nil && v.Sensitive
		m.Variables = append(m.Variables, audit.VariableSource{
			Name: o.Variable, Source: o.Source,
			Sensitive: sensitive, Redacted: sensitive && !l.opts.KeepSensitive,
		})
	}
	return m
}

// auditCopy is the tfvars as stored in the audit trail: sensitive
// variables redacted unless Options.KeepSensitive.
func (l *Launcher) auditCopy(r clientvars.Rendered) []byte {
	if l.opts.KeepSensitive {
		return r.Data
	}
	data, _, err := r.Redacted(l.schema)
	if err != nil {
		// Redacted values are plain strings; rendering them cannot fail
		// where rendering the originals succeeded.
		return nil
	}
	return data
}
