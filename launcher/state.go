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
	"strconv"
	"strings"
	"time"

	"github.com/lablink-go/lablink/internal/planread"
	"github.com/lablink-go/lablink/inventory"
	"github.com/lablink-go/lablink/launcher/internal/tofu"
	"github.com/lablink-go/lablink/tfstate"
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

// VM is a client VM in the OpenTofu state.
type VM struct {
	// Address is its resource address, such as aws_instance.lablink_vm[2].
	Address string `json:"address"`
	// Index is its count index; its name ends in -vm-{Index+1}.
	Index int `json:"index"`
	// ID is the cloud's id of it (an EC2 instance id).
	ID string `json:"id"`
	// Name is the name it registers under, {resource_prefix}-vm-{Index+1}.
	Name string `json:"name"`
	// LaunchID is the launch that created it, "" when the module does not
	// record it (before launch_id existed).
	LaunchID string `json:"launch_id,omitempty"`
	// ConfigDigest is the config digest of that launch's audit record, ""
	// when unknown; Stale reports it differs from the launcher's config:
	// a changed config reaches only VMs created after the change.
	ConfigDigest string `json:"config_digest,omitempty"`
	Stale        bool   `json:"stale,omitempty"`
	// Tainted reports that OpenTofu marked the VM for replacement (an
	// apply that created it failed or was interrupted after). The next
	// launch keeps it (see Result.Untainted).
	Tainted bool `json:"tainted,omitempty"`
}

// errStateBusy: the local state file was caught half-written (OpenTofu
// truncates and rewrites it), which happens while another process holds
// the state lock.
var errStateBusy = errors.New("terraform.tfstate is being written by another OpenTofu process; try again")

// rawState is the part of a state (format version 4) the launcher reads.
type rawState struct {
	Serial    uint64 `json:"serial"`
	Lineage   string `json:"lineage"`
	Resources []struct {
		Module    string `json:"module"`
		Mode      string `json:"mode"`
		Type      string `json:"type"`
		Name      string `json:"name"`
		Instances []struct {
			IndexKey   any                        `json:"index_key"`
			Status     string                     `json:"status"`
			Attributes map[string]json.RawMessage `json:"attributes"`
		} `json:"instances"`
	} `json:"resources"`
}

// readState reads the state: the local file without starting OpenTofu,
// else `state pull`, which takes no lock. No state yet is an empty one.
// A local file caught empty or half-written matches errStateBusy.
func (l *Launcher) readState(ctx context.Context) (rawState, error) {
	var data []byte
	var err error
	if l.wd.localState() {
		data, err = os.ReadFile(filepath.Join(l.dir, tfstate.LocalFile))
		if errors.Is(err, fs.ErrNotExist) {
			return rawState{}, nil
		}
		if err == nil && len(data) == 0 {
			return rawState{}, fmt.Errorf("%w: terraform.tfstate is empty", errStateBusy)
		}
	} else {
		data, err = l.tofu.Output(ctx, tofu.StatePull())
		if err == nil && len(strings.TrimSpace(string(data))) == 0 {
			return rawState{}, nil
		}
	}
	if err != nil {
		return rawState{}, err
	}
	var raw rawState
	if err := json.Unmarshal(data, &raw); err != nil {
		return rawState{}, fmt.Errorf("read the state: %w: %w", errStateBusy, err)
	}
	return raw, nil
}

// stableState is readState, read again for up to a second while OpenTofu
// is caught rewriting the local state file. A file that stays empty for
// 100ms is the one OpenTofu creates for its lock before it has saved
// anything: no VMs yet.
func (l *Launcher) stableState(ctx context.Context) (rawState, error) {
	for try := 0; ; try++ {
		raw, err := l.readState(ctx)
		if errors.Is(err, errStateBusy) && strings.Contains(err.Error(), "is empty") && try >= 5 {
			return rawState{}, nil
		}
		if !errors.Is(err, errStateBusy) || try == 50 {
			return raw, err
		}
		select {
		case <-ctx.Done():
			return rawState{}, errors.Join(err, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// vms lists the client VMs of the root module in raw, by index.
func (l *Launcher) vms(raw rawState) []VM {
	var out []VM
	prefix := l.cfg.ResourcePrefix(l.environment())
	for _, r := range raw.Resources {
		if r.Mode != "managed" || r.Name != l.opts.VMResource || r.Module != "" {
			continue
		}
		for _, in := range r.Instances {
			i, ok := in.IndexKey.(float64)
			if !ok {
				continue
			}
			vm := VM{Address: fmt.Sprintf("%s.%s[%d]", r.Type, r.Name, int(i)), Index: int(i),
				Name: prefix + "-vm-" + strconv.Itoa(int(i)+1)}
			_ = json.Unmarshal(in.Attributes["id"], &vm.ID)
			vm.LaunchID = launchIDOf(in.Attributes)
			vm.Tainted = in.Status == "tainted"
			out = append(out, vm)
		}
	}
	slices.SortFunc(out, func(a, b VM) int { return a.Index - b.Index })
	return out
}

// launchIDOf reads the launch a VM's attributes record: the
// lablink:launch-id tag of an EC2 instance, or launch_id in the input of
// the local module's terraform_data.
func launchIDOf(attrs map[string]json.RawMessage) string {
	var tags map[string]string
	if json.Unmarshal(attrs["tags"], &tags) == nil && tags[inventory.TagLaunchID] != "" {
		return tags[inventory.TagLaunchID]
	}
	var input struct {
		Value map[string]any `json:"value"`
	}
	if json.Unmarshal(attrs["input"], &input) == nil {
		if s, ok := input.Value["launch_id"].(string); ok {
			return s
		}
	}
	return ""
}

// existing returns the client VM count: from Options.Counter, else from
// what this process last applied, else from the state; and the least
// instance_count that keeps every VM of the state: its highest index + 1,
// above the count when numbers are missing (a VM dropped from the state,
// see keepTainted), so that a plan fills those numbers rather than delete
// the VMs above them. The third result says the count came from state, so
// the plan's prior state may correct it.
func (l *Launcher) existing(ctx context.Context) (n, floor int, fromState bool, err error) {
	return l.existingIn(ctx, nil)
}

// existingIn is existing, counting the state read when it is not nil: a
// state the caller has just read (keepTainted's), which it need not read
// again.
func (l *Launcher) existingIn(ctx context.Context, read *rawState) (n, floor int, fromState bool, err error) {
	if l.opts.Counter != nil {
		n, err := l.opts.Counter.Count(ctx)
		return n, 0, false, err
	}
	if n := l.getKnown(); n >= 0 {
		return n, n, true, nil
	}
	var raw rawState
	if read != nil {
		raw = *read
	} else if raw, err = l.readState(ctx); errors.Is(err, errStateBusy) {
		// Another process is writing the state. The count is only a first
		// guess: the plan, which holds the state lock, reports the real
		// prior state, and launch re-plans when the two disagree.
		return 0, 0, true, nil
	}
	vms := l.vms(raw)
	for _, vm := range vms {
		floor = max(floor, vm.Index+1)
	}
	return len(vms), floor, true, err
}

// prior counts the client VMs in the prior state of p, a plan of total
// client VMs: listed when p was read from the saved plan, else (p was read
// from its event stream) inferred by createdTail, which the plan proved.
func (l *Launcher) prior(p *savedPlan, total int) int {
	if p.fromEvents {
		n, _ := createdTail(p.plan, total, l.opts.VMResource)
		return n
	}
	n := 0
	for _, r := range p.plan.Prior {
		if r.Mode == "managed" && r.Name == l.opts.VMResource {
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
func createdTail(p *planread.Plan, total int, vmResource string) (int, bool) {
	created := make(map[int]bool)
	typ := ""
	for _, c := range p.Changes {
		if c.Mode == "data" || c.Name != vmResource {
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
