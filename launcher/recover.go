package launcher

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/tfstate"
)

// Recovery is what Recover found of a process that died: upstream marks
// the operations such a process left queued or running as interrupted, and
// so does Recover; with an S3 state it also looks for the lock the dead
// process held.
type Recovery struct {
	// Interrupted are the operations marked interrupted.
	Interrupted []audit.Op
	// Cleared is the stale state lock Recover removed, nil if none.
	Cleared *tfstate.Lock
	// Held is a state lock Recover left alone because nothing proves its
	// holder gone (another host, a live process, OpenTofu still running
	// in the working directory); nil if none.
	Held *tfstate.Lock
}

// Recover runs at start, before the first launch: it marks as interrupted
// the live operations of this environment whose process is provably gone
// (same host and boot, that pid and start time no longer running), and,
// with an S3 state (Options.State and Options.StateClient), clears a lock
// taken by OpenTofu under such a process once nothing runs in the working
// directory. The VMs a dead apply created stay in the state it saved and
// are counted by the next launch. It waits in the queue like a launch.
func (l *Launcher) Recover(ctx context.Context) (Recovery, error) {
	var rec Recovery
	err := l.q.do(ctx, func(ctx context.Context) error {
		var err error
		rec, err = l.recover(ctx)
		return err
	})
	return rec, err
}

func (l *Launcher) recover(ctx context.Context) (Recovery, error) {
	var rec Recovery
	var dead []tfstate.Owner
	gone := func(op audit.Op) bool {
		var o tfstate.Owner
		if json.Unmarshal(op.Owner, &o) != nil || !o.Gone() {
			return false
		}
		dead = append(dead, o)
		return true
	}
	var err error
	if rec.Interrupted, err = l.ops.store.Interrupt(ctx, l.environment(), gone); err != nil {
		return rec, fmt.Errorf("recover: %w", err)
	}
	if l.opts.State == nil || l.opts.State.S3 == nil || l.opts.StateClient == nil {
		return rec, nil
	}
	lock, err := tfstate.ReadLock(ctx, l.opts.StateClient, *l.opts.State.S3)
	if err != nil || lock == nil {
		return rec, err
	}
	if !l.staleLock(lock, dead) {
		rec.Held = lock
		return rec, nil
	}
	if err := l.wd.init(ctx); err != nil {
		return rec, err
	}
	if err := l.wd.tf.ForceUnlock(ctx, lock.ID); err != nil {
		return rec, fmt.Errorf("recover: clear the stale state lock %s: %w", lock.ID, err)
	}
	rec.Cleared = lock
	return rec, nil
}

// staleLock reports whether lock was taken under one of the dead
// processes: its holder names their user and host, and no process (an
// OpenTofu that outlived its allocator) has the working directory as its
// own.
func (l *Launcher) staleLock(lock *tfstate.Lock, dead []tfstate.Owner) bool {
	for _, o := range dead {
		if lock.Who == o.Who() {
			return !tfstate.Busy(l.dir)
		}
	}
	return false
}
