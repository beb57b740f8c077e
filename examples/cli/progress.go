package main

import (
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/lablink-go/lablink/launcher"
)

const barWidth = 30

// progressPrinter shows apply progress on stderr: a bar redrawn in place
// on a terminal, one plain line per completed resource otherwise (logs,
// CI, tests).
type progressPrinter struct {
	mu    sync.Mutex
	w     io.Writer
	tty   bool
	drawn bool // a bar line is open and needs a final newline
}

func newProgressPrinter(w io.Writer) *progressPrinter {
	return &progressPrinter{w: w, tty: isTerminal(w)}
}

func (p *progressPrinter) update(pr launcher.Progress) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.tty {
		if pr.Resource == "" {
			fmt.Fprintf(p.w, "progress: 0/%d applying %s\n", pr.Planned, pr.LaunchID)
		} else {
			fmt.Fprintf(p.w, "progress: %d/%d %s\n", pr.Done, pr.Planned, pr.Resource)
		}
		return
	}
	filled := barWidth
	if pr.Planned > 0 {
		filled = pr.Done * barWidth / pr.Planned
	}
	// \x1b[K clears what a longer previous resource name left behind.
	fmt.Fprintf(p.w, "\r[%s%s] %d/%d %s\x1b[K", strings.Repeat("#", filled), strings.Repeat(".", barWidth-filled),
		pr.Done, pr.Planned, pr.Resource)
	p.drawn = true
}

// finish ends an open bar line.
func (p *progressPrinter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprintln(p.w)
		p.drawn = false
	}
}
