package launcher

import (
	"context"
	"fmt"
	"os"

	"github.com/lablink-go/lablink/audit"
)

// Status describes the working directory.
type Status struct {
	// VMs is the number of client VMs in the state.
	VMs int
	// TFVars reports whether a runtime tfvars file exists.
	TFVars bool
	// Busy reports that a launch, destroy or Prepare of this Launcher is
	// running or waiting; VMs is then the count before it.
	Busy bool
	// Last is the newest audit record of this environment, nil if none.
	Last *audit.Manifest
}

// Status reports the client VMs in the state and the last launch. It reads
// files only, except with a non-local backend, where it asks OpenTofu. It
// does not wait for a running apply: a status page must answer while VMs
// are being created.
func (l *Launcher) Status(ctx context.Context) (Status, error) {
	st := Status{Busy: l.q.busy()}
	if s := l.opts.State; s != nil && s.S3 != nil && !hasBackend(l.dir) {
		// A fresh working directory on a shared state: init, in the
		// queue, so that OpenTofu can read the state.
		if err := l.q.do(ctx, l.wd.init); err != nil {
			return st, fmt.Errorf("status: %w", err)
		}
	}
	n, err := l.state.stableCount(ctx)
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	st.VMs = n
	if _, err := os.Stat(l.TFVarsPath()); err == nil {
		st.TFVars = true
	}
	list, _, err := l.trail.List(ctx, l.environment(), audit.HistoryQuery{Limit: 1})
	if err != nil {
		return st, fmt.Errorf("status: %w", err)
	}
	if len(list) > 0 {
		st.Last = &list[0]
	}
	return st, nil
}
