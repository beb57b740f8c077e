package launcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	tfjson "github.com/hashicorp/terraform-json"

	"github.com/lablink-go/lablink/internal/planread"
)

// Counter reports how many client VMs exist. The default counts the
// client VMs in the OpenTofu state; the upstream allocator counts the rows
// of its VM table.
type Counter interface {
	Count(ctx context.Context) (int, error)
}

// CounterFunc adapts a function to Counter.
type CounterFunc func(ctx context.Context) (int, error)

// Count calls f.
func (f CounterFunc) Count(ctx context.Context) (int, error) { return f(ctx) }

// existing returns the client VM count: from Options.Counter, else from
// what this process last applied, else from the local state file. The
// second result says the count came from state, so the plan's prior state
// may correct it.
func (l *Launcher) existing(ctx context.Context) (int, bool, error) {
	if l.opts.Counter != nil {
		n, err := l.opts.Counter.Count(ctx)
		return n, false, err
	}
	if l.known >= 0 {
		return l.known, true, nil
	}
	n, err := l.state.count(ctx)
	if errors.Is(err, errStateBusy) {
		// Another process is writing the state. The count is only a first
		// guess: the plan, which holds the state lock, reports the real
		// prior state, and launch re-plans when the two disagree.
		return 0, true, nil
	}
	return n, true, err
}

// errStateBusy: the local state file was caught half-written (OpenTofu
// truncates and rewrites it), which happens while another process holds
// the state lock.
var errStateBusy = errors.New("terraform.tfstate is being written by another OpenTofu process; try again")

// errStateEmpty: the local state file is empty. OpenTofu creates it empty
// when it locks a directory that has no state yet, and leaves it so until
// the first resource is saved; a rewrite also empties it for an instant.
var errStateEmpty = fmt.Errorf("%w: terraform.tfstate is empty", errStateBusy)

// stateReader counts the client VMs (managed resources named vmResource in
// the root module) of the state of the module in dir. It never takes the
// state lock: the local state file is read directly; with another backend
// OpenTofu is asked through tf.
type stateReader struct {
	dir        string
	vmResource string
	tf         *tfexec.Terraform
}

// count counts client VMs in the state.
func (s stateReader) count(ctx context.Context) (int, error) {
	raw, err := readLocalState(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		if !hasBackend(s.dir) {
			return 0, nil
		}
		st, err := s.tf.Show(ctx)
		if err != nil {
			return 0, err
		}
		return s.in(st), nil
	}
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range raw.Resources {
		if r.Mode == "managed" && r.Name == s.vmResource && r.Module == "" {
			n += len(r.Instances)
		}
	}
	return n, nil
}

// stableCount is count, read again for up to a second while OpenTofu is
// caught rewriting the local state file (it truncates and writes it in
// place). A file that stays empty for 100ms is the one OpenTofu creates
// for its lock before it has saved anything: no VMs yet.
func (s stateReader) stableCount(ctx context.Context) (int, error) {
	for try := 0; ; try++ {
		n, err := s.count(ctx)
		if errors.Is(err, errStateEmpty) && try >= 5 {
			return 0, nil
		}
		if !errors.Is(err, errStateBusy) || try == 50 {
			return n, err
		}
		select {
		case <-ctx.Done():
			return 0, errors.Join(err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// in counts the client VMs in st, such as a plan's prior state.
func (s stateReader) in(st *tfjson.State) int {
	if st == nil || st.Values == nil || st.Values.RootModule == nil {
		return 0
	}
	n := 0
	for _, r := range st.Values.RootModule.Resources {
		if r.Mode == tfjson.ManagedResourceMode && r.Name == s.vmResource {
			n++
		}
	}
	return n
}

// prior counts the client VMs in the prior state of p, a plan of total
// client VMs: listed when p was read from the saved plan, else (p was read
// from its event stream) inferred by createdTail, which the plan proved.
func (s stateReader) prior(p *savedPlan, total int) int {
	if p.fromEvents {
		n, _ := s.createdTail(p.plan, total)
		return n
	}
	n := 0
	for _, r := range p.plan.Prior {
		if r.Mode == string(tfjson.ManagedResourceMode) && r.Name == s.vmResource {
			n++
		}
	}
	return n
}

// createdTail infers the client VMs of the prior state from a plan of
// total VMs that only creates resources (one read from its event stream,
// which lists no prior state): when the client VMs it creates are the
// instances [n, total) of one counted resource of the root module, n < total,
// the prior state held the n instances [0, n) and the plan keeps them. That
// holds for a module that counts its VMs with count = var.instance_count,
// as upstream's and ours do: such a plan keeps every instance below
// total, since it deletes none, and creates the rest. The second result
// is false for any other plan, which the saved plan must then answer: one
// that creates no client VM (the stream cannot tell a full count from a
// module without that resource), client VMs in a child module (the state
// reader counts the root module's), a gap (as when a VM was removed out
// of band), an index at or beyond total, a key, or two resource types.
func (s stateReader) createdTail(p *planread.Plan, total int) (int, bool) {
	created := make(map[int]bool)
	typ := ""
	for _, c := range p.Changes {
		if c.Mode == "data" || c.Name != s.vmResource {
			continue
		}
		if strings.HasPrefix(c.Address, "module.") || typ != "" && c.Type != typ {
			return 0, false
		}
		typ = c.Type
		i, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(c.Address, c.Type+"."+c.Name+"["), "]"))
		if err != nil || c.Address != fmt.Sprintf("%s.%s[%d]", c.Type, c.Name, i) || i < 0 || i >= total || created[i] {
			return 0, false
		}
		created[i] = true
	}
	if len(created) == 0 {
		return 0, false
	}
	n := total - len(created)
	for i := n; i < total; i++ {
		if !created[i] {
			return 0, false
		}
	}
	return n, true
}

// rawState is the part of a local state file (format version 4) that the
// launcher reads without starting OpenTofu.
type rawState struct {
	Resources []struct {
		Module    string            `json:"module"`
		Mode      string            `json:"mode"`
		Name      string            `json:"name"`
		Instances []json.RawMessage `json:"instances"`
	} `json:"resources"`
	Outputs map[string]struct {
		Value json.RawMessage `json:"value"`
	} `json:"outputs"`
}

// readLocalState reads dir/terraform.tfstate. A missing file is an error
// matching fs.ErrNotExist; an empty or unparsable one matches
// errStateBusy.
func readLocalState(dir string) (rawState, error) {
	data, err := os.ReadFile(filepath.Join(dir, "terraform.tfstate"))
	if err != nil {
		return rawState{}, err
	}
	if len(data) == 0 {
		return rawState{}, errStateEmpty
	}
	var raw rawState
	if err := json.Unmarshal(data, &raw); err != nil {
		return rawState{}, fmt.Errorf("read terraform.tfstate: %w: %w", errStateBusy, err)
	}
	return raw, nil
}

// hasBackend reports whether the module in dir configures a non-local
// backend, in which case terraform.tfstate in the directory is not the
// state.
func hasBackend(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, ".terraform", "terraform.tfstate"))
	return err == nil
}
