package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/launcher/internal/tofu"
	"github.com/lablink-go/lablink/tfstate"
)

// Recovery is what Open found in the working directory of an earlier
// process that died, and what it did about it. Upstream marks the
// operations such a process left queued or running as interrupted, and so
// does Open; it also finishes that process's work in the directory.
type Recovery struct {
	// Waited are the OpenTofu processes an earlier allocator left in the
	// working directory; Open waited for those still running. Open never
	// kills one and never takes its lock: it finishes its apply and saves
	// its state.
	Waited []Process
	// Unfinished are the applies earlier processes began and did not see
	// end (from their journals).
	Unfinished []Unfinished
	// Interrupted are the operations marked interrupted.
	Interrupted []audit.Op
	// Pushed reports that Open stored, with `state push`, a state that an
	// apply could not save to its S3 backend (errored.tfstate).
	Pushed bool
	// Cleared is the S3 state lock Open removed because no OpenTofu holds
	// it (tfstate.Orphaned), nil if none.
	Cleared *tfstate.Lock
	// Held is a state lock Open left alone because nothing proves its
	// holder gone (another host, a running OpenTofu); nil if none.
	Held *tfstate.Lock
	// State is the problem of the local state, a *tfstate.IntegrityError
	// (the launcher refuses to plan from it), nil when it is sound.
	State error
	// Orphans are client VMs the inventory holds and the state does not.
	Orphans []Orphan
}

// Process is an OpenTofu process an earlier allocator started.
type Process struct {
	Command string    `json:"command"`
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	// LaunchID is the launch it ran for, "" when unknown.
	LaunchID string `json:"launch_id,omitempty"`
}

// Unfinished is an apply whose process died before it ended.
type Unfinished struct {
	LaunchID string `json:"launch_id"`
	Action   string `json:"action"`
	// Created are the VMs the apply reported created (address → id), as
	// far as its output tells.
	Created map[string]string `json:"created,omitempty"`
	// Missing are the VMs it was to create that the state does not hold:
	// each may or may not exist in the cloud (see Orphans).
	Missing []Pending `json:"missing,omitempty"`
}

// recover takes over from an earlier process, as Open describes.
func (l *Launcher) recover(ctx context.Context) (Recovery, error) {
	var rec Recovery
	created, err := l.adoptLeftover(ctx, &rec)
	if err != nil {
		return rec, err
	}
	vms, read, err := l.finishJournal(ctx, &rec, created)
	if err != nil {
		return rec, err
	}
	if err := l.interruptDead(ctx, &rec); err != nil {
		return rec, err
	}
	if rec.Cleared, rec.Held, err = l.clearStaleLock(ctx); err != nil {
		return rec, err
	}
	if rec.Pushed, err = l.pushErrored(ctx); err != nil {
		return rec, err
	}
	if l.wd.localState() {
		rec.State = tfstate.Check(l.dir)
	}
	if rec.State == nil && l.opts.Inventory != nil {
		// The state finishJournal read is still the state unless an
		// errored one was pushed since.
		if !read || rec.Pushed {
			raw, err := l.stableState(ctx)
			if err != nil {
				return rec, fmt.Errorf("list the inventory: %w", err)
			}
			vms = l.vms(raw)
		}
		if rec.Orphans, err = l.orphans(ctx, vms); err != nil {
			return rec, fmt.Errorf("list the inventory: %w", err)
		}
	}
	return rec, nil
}

// adoptLeftover waits for the OpenTofu processes an earlier allocator
// left running in the directory (bounded by ctx), then reads what their
// applies created from their output.
func (l *Launcher) adoptLeftover(ctx context.Context, rec *Recovery) (map[string]string, error) {
	left, err := l.tofu.Leftovers()
	if err != nil {
		return nil, err
	}
	created := map[string]string{}
	for _, p := range left {
		rec.Waited = append(rec.Waited, Process{Command: p.Command, PID: p.Owner.PID, Started: p.Start, LaunchID: p.Label})
		if err := l.waitGone(ctx, p); err != nil {
			return nil, err
		}
		if p.Command == "apply" {
			if f, err := l.tofu.OpenStdout(&p); err == nil {
				a, _ := readApply(f, p.Label, 0, func(Progress) {})
				_ = f.Close()
				maps.Copy(created, a.Created)
			}
		}
		l.tofu.Forget(&p)
	}
	return created, nil
}

// waitGone waits until p has exited.
func (l *Launcher) waitGone(ctx context.Context, p tofu.Process) error {
	if p.Owner.Gone() {
		return nil
	}
	l.opts.Logger.Warn("waiting for the OpenTofu an earlier allocator left running in the working directory; it is never interrupted or killed",
		"command", p.Command, "pid", p.Owner.PID, "launch_id", p.Label)
	for !p.Owner.Gone() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("OpenTofu %s (pid %d), left running by an earlier allocator, still runs in %s: %w",
				p.Command, p.Owner.PID, l.dir, ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
	return nil
}

// finishJournal reports the applies earlier processes began and did not
// see end: the VMs each was to create that the state does not hold. It
// returns the client VMs of the state when it read it (read is false when
// there was no journal or the state could not be read).
func (l *Launcher) finishJournal(ctx context.Context, rec *Recovery, created map[string]string) (vms []VM, read bool, err error) {
	js, err := l.deadJournals()
	if err != nil || len(js) == 0 {
		return nil, false, err
	}
	in := map[string]bool{}
	raw, serr := l.stableState(ctx)
	vms = l.vms(raw)
	for _, vm := range vms {
		in[vm.Address] = true
	}
	for _, j := range js {
		u := Unfinished{LaunchID: j.LaunchID, Action: j.Action}
		for _, p := range j.Creates {
			if id, ok := created[p.Address]; ok {
				if u.Created == nil {
					u.Created = map[string]string{}
				}
				u.Created[p.Address] = id
			}
			if serr != nil || !in[p.Address] {
				u.Missing = append(u.Missing, p)
			}
		}
		rec.Unfinished = append(rec.Unfinished, u)
		l.opts.Logger.Warn("an earlier allocator died during an apply", "launch_id", j.LaunchID,
			"created", len(u.Created), "missing_from_state", len(u.Missing))
		if err := l.finishDeadAttempt(ctx, j, u); err != nil {
			return nil, false, err
		}
		l.clearJournal(j.LaunchID)
	}
	return vms, serr == nil, nil
}

// interruptDead marks the live operations of this environment whose
// process is provably gone (same host and boot, that pid and start time no
// longer running) as interrupted.
func (l *Launcher) interruptDead(ctx context.Context, rec *Recovery) error {
	gone := func(op audit.Op) bool {
		var o tfstate.Owner
		return json.Unmarshal(op.Owner, &o) == nil && o.Gone()
	}
	var err error
	if rec.Interrupted, err = l.opsDB.Interrupt(ctx, l.environment(), gone); err != nil {
		return fmt.Errorf("mark the operations of a dead allocator interrupted: %w", err)
	}
	return nil
}

// clearStaleLock clears, with an S3 state (Options.State and
// Options.StateClient), a lock nobody holds: one taken on this host while
// an OpenTofu of this directory ran that then ended without releasing it
// (killed, or unable to reach S3; see lockWindows), or one no running
// OpenTofu of this host can hold (tfstate.Orphaned). A lock that may be
// held is left alone and returned as held.
func (l *Launcher) clearStaleLock(ctx context.Context) (cleared, held *tfstate.Lock, err error) {
	if l.opts.State == nil || l.opts.State.S3 == nil || l.opts.StateClient == nil {
		return nil, nil, nil
	}
	lock, err := tfstate.ReadLock(ctx, l.opts.StateClient, *l.opts.State.S3)
	if err != nil {
		return nil, nil, err
	}
	if lock == nil {
		l.windows.clear()
		return nil, nil, nil
	}
	if !l.windows.left(lock) && !tfstate.Orphaned(lock, l.tofu.Path) {
		return nil, lock, nil
	}
	if err := l.wd.init(ctx); err != nil {
		return nil, lock, err
	}
	if err := l.tofu.Run(ctx, "", tofu.ForceUnlock(lock.ID), nil); err != nil {
		return nil, lock, fmt.Errorf("clear the stale state lock %s: %w", lock.ID, err)
	}
	l.opts.Logger.Warn("cleared a state lock no OpenTofu holds", "id", lock.ID, "who", lock.Who, "created", lock.Created)
	return lock, nil, nil
}

// finishDeadAttempt records the end of the audit record of an attempt
// whose process died during its apply (interrupted), unless it has one.
func (l *Launcher) finishDeadAttempt(ctx context.Context, j journal, u Unfinished) error {
	m, _, err := l.trail.Show(ctx, l.environment(), j.LaunchID)
	if errors.Is(err, audit.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the audit record of %s: %w", j.LaunchID, err)
	}
	if m.Outcome != audit.OutcomeStarted {
		return nil
	}
	m.Outcome = audit.OutcomeInterrupted
	m.Error = fmt.Sprintf("interrupted: the allocator stopped during the apply; it created %d of the %d VMs it planned, %d of them missing from the state",
		len(u.Created), len(j.Creates), len(u.Missing))
	if _, err := l.trail.Finish(ctx, m, nil); err != nil && !errors.Is(err, audit.ErrExists) {
		return fmt.Errorf("record the end of %s: %w", j.LaunchID, err)
	}
	return nil
}
