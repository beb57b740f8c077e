package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lablink-go/lablink/internal/atomicfile"
	"github.com/lablink-go/lablink/launcher/internal/tofu"
	"github.com/lablink-go/lablink/tfstate"
)

// erroredState is the file OpenTofu writes in the working directory when
// it cannot save the state to its backend at the end of an apply (S3 down):
// the only record of what that apply created.
const erroredState = "errored.tfstate"

// preflight makes sure the state a plan starts from is whole: it stores a
// state OpenTofu could not save to S3, and refuses a local state that is
// empty, truncated, missing or older than its last good copy (see
// tfstate.Check), which a plan would take for "no VMs" and plan them all
// again.
func (l *Launcher) preflight(ctx context.Context) error {
	if _, _, err := l.clearStaleLock(ctx); err != nil {
		return err
	}
	if _, err := l.pushErrored(ctx); err != nil {
		return err
	}
	if l.wd.localState() {
		return tfstate.Check(l.dir)
	}
	return nil
}

// pushErrored writes errored.tfstate, when OpenTofu left one, to the
// backend with `state push` (which takes the lock, and refuses a state of
// another lineage or a lower serial), and then moves it aside. It reports
// whether it pushed one.
func (l *Launcher) pushErrored(ctx context.Context) (bool, error) {
	p := filepath.Join(l.dir, erroredState)
	if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err := l.wd.init(ctx); err != nil {
		return false, err
	}
	if err := l.tofu.Run(ctx, "", tofu.StatePush(erroredState, l.opts.LockTimeout), nil); err != nil {
		return false, fmt.Errorf("%s holds the state of an apply OpenTofu could not save to its backend, and pushing it failed (it is tried again before the next plan): %w", p, err)
	}
	kept := filepath.Join(l.dir, ".lablink", "state-copies", "pushed-"+l.opts.Now().UTC().Format("20060102T150405Z")+"-"+erroredState)
	if err := os.MkdirAll(filepath.Dir(kept), 0o700); err != nil {
		return true, err
	}
	l.opts.Logger.Info("stored the state an earlier apply could not save", "file", p, "kept", kept)
	return true, os.Rename(p, kept)
}

// stateMark is what the state was before an apply: a copy of a local
// state, or the serial of a backend's.
type stateMark struct {
	local  bool
	serial uint64
	known  bool
}

// markState keeps a copy of a local state before an apply (tfstate.Keep),
// or reads the serial of a backend's.
func (l *Launcher) markState(ctx context.Context) (stateMark, error) {
	if l.wd.localState() {
		c, err := tfstate.Keep(l.dir, l.opts.Now())
		if err != nil {
			return stateMark{}, err
		}
		m := stateMark{local: true}
		if c != nil {
			m.serial, m.known = c.Info.Serial, true
		}
		return m, nil
	}
	out, err := l.tofu.Output(ctx, tofu.StatePull())
	if err != nil {
		return stateMark{}, fmt.Errorf("read the state before the apply: %w", err)
	}
	var head struct {
		Serial  uint64 `json:"serial"`
		Lineage string `json:"lineage"`
	}
	if len(strings.TrimSpace(string(out))) == 0 || json.Unmarshal(out, &head) != nil || head.Lineage == "" {
		// No state in the backend yet (OpenTofu prints nothing, or a
		// state without a lineage).
		return stateMark{}, nil
	}
	return stateMark{serial: head.Serial, known: true}, nil
}

// checkApplied reads the state back after an apply that changed something
// and requires it to be whole and newer than before: a local file is made
// 0600 and parsed; a backend's is pulled and its serial compared.
func (l *Launcher) checkApplied(ctx context.Context, m stateMark) error {
	var data []byte
	var err error
	if m.local {
		p := filepath.Join(l.dir, tfstate.LocalFile)
		if err := os.Chmod(p, 0o600); err != nil {
			return err
		}
		data, err = os.ReadFile(p)
	} else {
		data, err = l.tofu.Output(ctx, tofu.StatePull())
	}
	if err != nil {
		return fmt.Errorf("read the state back: %w", err)
	}
	head, err := tfstate.ParseHead(data)
	if err != nil {
		return fmt.Errorf("the state after the apply: %w", err)
	}
	if m.known && head.Serial <= m.serial {
		return fmt.Errorf("the state after the apply has serial %d, not above %d: the apply's changes were not saved", head.Serial, m.serial)
	}
	return nil
}

// journal is the record of an apply that has begun, kept in the working
// directory until it ends: which client VMs it creates. When the process
// dies first, the next Open finds it and reports those VMs that the state
// does not hold (see Recovery).
type journal struct {
	LaunchID string        `json:"launch_id"`
	Action   string        `json:"action"`
	Ops      []int64       `json:"ops,omitempty"`
	Creates  []Pending     `json:"creates,omitempty"`
	Started  time.Time     `json:"started"`
	Owner    tfstate.Owner `json:"owner"`
}

// Pending is a client VM an apply was to create.
type Pending struct {
	Address string `json:"address"`
	Name    string `json:"name"`
}

func (l *Launcher) journalPath(id string) string {
	return filepath.Join(l.dir, ".lablink", "journal", id+".json")
}

// writeJournal records j before its apply starts.
func (l *Launcher) writeJournal(j journal) error {
	j.Owner = tfstate.Self()
	b, err := json.MarshalIndent(j, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(l.journalPath(j.LaunchID)), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(l.journalPath(j.LaunchID), b)
}

// deadJournals returns the journals of applies whose process is gone,
// oldest first.
func (l *Launcher) deadJournals() ([]journal, error) {
	names, err := filepath.Glob(l.journalPath("*"))
	if err != nil {
		return nil, err
	}
	var out []journal
	for _, n := range names {
		b, err := os.ReadFile(n)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var j journal
		if err := json.Unmarshal(b, &j); err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if j.Owner.Gone() {
			out = append(out, j)
		}
	}
	slices.SortFunc(out, func(a, b journal) int { return a.Started.Compare(b.Started) })
	return out, nil
}

func (l *Launcher) clearJournal(id string) { _ = os.Remove(l.journalPath(id)) }

// pendingOf names the client VMs at addrs.
func (l *Launcher) pendingOf(addrs []string) []Pending {
	prefix := l.cfg.ResourcePrefix(l.environment())
	out := make([]Pending, 0, len(addrs))
	for _, a := range addrs {
		p := Pending{Address: a}
		if i := indexOf(a); i >= 0 {
			p.Name = fmt.Sprintf("%s-vm-%d", prefix, i+1)
		}
		out = append(out, p)
	}
	return out
}

// indexOf is the count index of an address such as x.y[3], or -1.
func indexOf(addr string) int {
	open := strings.LastIndexByte(addr, '[')
	if open < 0 || !strings.HasSuffix(addr, "]") {
		return -1
	}
	var i int
	if _, err := fmt.Sscanf(addr[open:], "[%d]", &i); err != nil {
		return -1
	}
	return i
}
