package main

import (
	"log/slog"

	"github.com/lablink-go/lablink/launcher"
)

// logRecovery logs what launcher.Open took over from a dead predecessor:
// the OpenTofu it left running, which Open waited for; the apply it did not
// see end; its operations, now interrupted; a state lock nobody held,
// cleared, or one that may be held, left alone; a local state the launcher
// refuses to plan from; VMs the cloud holds that the state does not.
func logRecovery(rec launcher.Recovery, log *slog.Logger) {
	for _, p := range rec.Waited {
		log.Warn("waited for the OpenTofu a stopped allocator left running", "command", p.Command, "pid", p.PID, "launch_id", p.LaunchID)
	}
	for _, u := range rec.Unfinished {
		log.Warn("a stopped allocator died during an apply", "launch_id", u.LaunchID, "action", u.Action,
			"created", len(u.Created), "missing_from_state", len(u.Missing))
	}
	if len(rec.Interrupted) > 0 {
		ids := make([]int64, len(rec.Interrupted))
		for i, op := range rec.Interrupted {
			ids[i] = op.ID
		}
		log.Warn("operations of a stopped allocator marked interrupted", "job_ids", ids)
	}
	if c := rec.Cleared; c != nil {
		log.Warn("cleared a state lock no OpenTofu holds", "lock_id", c.ID, "who", c.Who,
			"operation", c.Operation, "created", c.Created)
	}
	if h := rec.Held; h != nil {
		log.Warn("the state is locked by a process not proven gone; launches wait for it up to "+
			"the lock timeout (tofu force-unlock "+h.ID+" once it is gone)", "lock_id", h.ID, "who", h.Who,
			"operation", h.Operation, "created", h.Created)
	}
	if rec.State != nil {
		log.Error("the local state cannot be planned from; launches are refused until it is restored", "err", rec.State)
	}
	for _, o := range rec.Orphans {
		log.Warn("a client VM exists that the state does not hold", "name", o.Name, "id", o.ID, "launch_id", o.LaunchID)
	}
}
