package launcher

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/lablink-go/lablink/launcher/internal/tofu"
)

// Progress reports apply progress: Done of Planned resource changes have
// completed.
type Progress struct {
	LaunchID      string
	Done, Planned int
	// Resource is the address that just completed, "" for the first event.
	Resource string
}

// applied is what an apply's event stream told: every resource change
// that completed, with the id of each created resource, and the
// diagnostics of a failure.
type applied struct {
	// Created maps the address of each created resource to its id.
	Created map[string]string
	// Done counts the completed resource changes.
	Done int
	// Errors are the summaries and details of error diagnostics.
	Errors []string
}

// applyEvent is the part of an `apply -json` message the launcher reads.
type applyEvent struct {
	Type string `json:"type"`
	Hook struct {
		Resource struct {
			Addr string `json:"addr"`
		} `json:"resource"`
		Action  string `json:"action"`
		IDValue string `json:"id_value"`
	} `json:"hook"`
	Diagnostic struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
		Detail   string `json:"detail"`
	} `json:"diagnostic"`
}

// readApply reads an apply's event stream from r, calling progress after
// each completed change.
func readApply(r io.Reader, id string, planned int, progress func(Progress)) (applied, error) {
	a := applied{Created: map[string]string{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		var ev applyEvent
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue // a line a wrapper or provider printed
		}
		switch ev.Type {
		case "apply_complete":
			a.Done++
			if ev.Hook.Action == "create" {
				a.Created[ev.Hook.Resource.Addr] = ev.Hook.IDValue
			}
			planned = max(planned, a.Done)
			progress(Progress{LaunchID: id, Done: a.Done, Planned: planned, Resource: ev.Hook.Resource.Addr})
		case "diagnostic":
			if ev.Diagnostic.Severity == "error" {
				a.Errors = append(a.Errors, strings.TrimSpace(ev.Diagnostic.Summary+": "+ev.Diagnostic.Detail))
			}
		}
	}
	return a, sc.Err()
}

// apply applies a saved plan of planned resource changes under the launch
// ID id, reporting progress. OpenTofu refusing a stale plan (another
// process applied since) is errStalePlan: it checks that before it
// changes anything.
func (w *workingDir) apply(ctx context.Context, p *savedPlan, id string, planned int, progress func(Progress)) (applied, error) {
	progress(Progress{LaunchID: id, Planned: planned})
	var a applied
	var readErr error
	err := w.run.Run(ctx, id, tofu.Apply(tofu.ApplyArgs{Plan: p.path, LockTimeout: w.lockTimeout,
		Parallelism: w.parallelism(planned), JSON: true}), func(r io.Reader) error {
		a, readErr = readApply(r, id, planned, progress)
		return nil
	})
	if err == nil {
		return a, readErr
	}
	msg := strings.Join(a.Errors, "\n")
	if strings.Contains(msg, staleMessage) {
		return a, fmt.Errorf("%w: %s (%w)", errStalePlan, msg, err)
	}
	if msg != "" {
		return a, fmt.Errorf("%s (%w)", msg, err)
	}
	return a, err
}

// errStalePlan: OpenTofu refused to apply a saved plan because the state
// changed since the plan was made (another process applied in between).
var errStalePlan = errors.New("the saved plan is stale")

// staleMessage is the summary of OpenTofu's (and Terraform's) diagnostic
// for a stale saved plan (internal/backend/local/backend_local.go).
const staleMessage = "Saved plan is stale"
