package main

import (
	"context"
	"log/slog"

	"github.com/lablink-go/lablink/launcher"
)

// recoverWorkdir runs l.Recover and logs what it found: the operations a
// dead allocator left queued or running, now interrupted, and a state lock
// it cleared or, unable to prove its holder gone, left alone. Only an
// error of Recover stops the server.
func recoverWorkdir(ctx context.Context, l *launcher.Launcher, log *slog.Logger) error {
	rec, err := l.Recover(ctx)
	if err != nil {
		return err
	}
	if len(rec.Interrupted) > 0 {
		ids := make([]int64, len(rec.Interrupted))
		for i, op := range rec.Interrupted {
			ids[i] = op.ID
		}
		log.Warn("operations of a stopped allocator marked interrupted", "job_ids", ids)
	}
	if c := rec.Cleared; c != nil {
		log.Warn("cleared the stale state lock of a stopped allocator", "lock_id", c.ID, "who", c.Who,
			"operation", c.Operation, "created", c.Created)
	}
	if h := rec.Held; h != nil {
		log.Warn("the state is locked by a process not proven gone; launches wait for it up to "+
			"the lock timeout (tofu force-unlock "+h.ID+" once it is gone)", "lock_id", h.ID, "who", h.Who,
			"operation", h.Operation, "created", h.Created)
	}
	return nil
}
