package launcher

import (
	"bytes"
	"regexp"
	"sync"
)

// Progress reports apply progress: Done of Planned resource changes have
// completed.
type Progress struct {
	LaunchID      string
	Done, Planned int
	// Resource is the address that just completed, "" for the first event.
	Resource string
}

// completeLine matches OpenTofu's per-resource completion lines, such as
// `terraform_data.lablink_vm[0]: Creation complete after 1m2s [id=...]`.
var completeLine = regexp.MustCompile(`^(\S+): (?:Creation|Modifications|Destruction) complete after `)

// ansi matches terminal escape sequences; OpenTofu is run with -no-color,
// but a wrapper script may still add them.
var ansi = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// progressWriter turns an apply's streamed output into Progress events.
type progressWriter struct {
	mu      sync.Mutex
	id      string
	planned int
	done    int
	fn      func(Progress)
	partial []byte
}

func newProgressWriter(id string, planned int, fn func(Progress)) *progressWriter {
	return &progressWriter{id: id, planned: planned, fn: fn}
}

func (w *progressWriter) start() {
	if w.fn != nil {
		w.fn(Progress{LaunchID: w.id, Planned: w.planned})
	}
}

func (w *progressWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.partial = append(w.partial, p...)
	for {
		i := bytes.IndexByte(w.partial, '\n')
		if i < 0 {
			break
		}
		w.line(w.partial[:i])
		w.partial = w.partial[i+1:]
	}
	return len(p), nil
}

func (w *progressWriter) line(b []byte) {
	b = ansi.ReplaceAll(bytes.TrimRight(b, "\r"), nil)
	m := completeLine.FindSubmatch(b)
	if m == nil {
		return
	}
	w.done++
	if w.done > w.planned {
		w.planned = w.done
	}
	if w.fn != nil {
		w.fn(Progress{LaunchID: w.id, Done: w.done, Planned: w.planned, Resource: string(m[1])})
	}
}
