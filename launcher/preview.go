package launcher

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/tfvars"
)

// Preview is what a launch of Requested VMs would do now, worked out
// without OpenTofu: the VMs it would add to, the instance type and its GPU
// answer, and the module variables whose values differ from the runtime
// tfvars last applied (a changed config reaches only the new VMs).
type Preview struct {
	Existing, Requested, Total int
	InstanceType               string
	GPU                        gpu.Info
	// Changes are the variables that differ from the last apply, in the
	// file's order; all of them before a first launch. instance_count and
	// launch_id, which change at every launch, are left out.
	Changes []Change
}

// Change is one module variable that a launch would set differently than
// the last apply did. Old and New are HCL literals; a sensitive
// variable's values read "(sensitive)".
type Change struct {
	Variable  string `json:"variable"`
	Old       string `json:"old"`
	New       string `json:"new"`
	Sensitive bool   `json:"sensitive,omitempty"`
}

// Preview works out what a launch of count VMs would do: it resolves the
// inputs (asking the GPU detector, which caches), counts the VMs in the
// state and renders the runtime tfvars in memory, writing nothing and
// running no OpenTofu. The plan decides in the end: the count may change
// before the launch runs.
func (l *Launcher) Preview(ctx context.Context, count int) (Preview, error) {
	if l.opts.NoLaunch {
		return Preview{}, ErrNoLaunch
	}
	if count < 1 || count > l.opts.MaxCount {
		return Preview{}, fmt.Errorf("%w: %d; want 1 to %d", ErrInvalidCount, count, l.opts.MaxCount)
	}
	in, info, err := l.resolve(ctx)
	if err != nil {
		return Preview{}, err
	}
	existing, floor, _, err := l.existing(ctx)
	if err != nil {
		return Preview{}, fmt.Errorf("count existing VMs: %w", err)
	}
	in.InstanceCount = max(existing+count, floor)
	r, err := renderTFVars(l.schema, in, l.opts.Format)
	if err != nil {
		return Preview{}, err
	}
	p := Preview{Existing: existing, Requested: count, Total: in.InstanceCount,
		InstanceType: l.cfg.Machine.MachineType, GPU: info}
	var old map[string]cty.Value
	if applied, err := l.appliedTFVars(); err == nil {
		old = applied.Values
	}
	for _, o := range r.Origins() {
		if o.Variable == "instance_count" || o.Variable == "launch_id" {
			continue
		}
		nv := r.Values[o.Variable]
		ov, had := old[o.Variable]
		if had && ov.Type().Equals(nv.Type()) && ov.Equals(nv).True() {
			continue
		}
		c := Change{Variable: o.Variable, New: tfvars.Literal(nv)}
		if had {
			c.Old = tfvars.Literal(ov)
		}
		if v, ok := l.schema.Lookup(o.Variable); ok && v.Sensitive {
			c.Sensitive = true
			c.New = tfvars.Literal(tfvars.Redacted())
			if had {
				c.Old = c.New
			}
		}
		p.Changes = append(p.Changes, c)
	}
	return p, nil
}

// Record returns the audit record of launch or destroy id of the
// launcher's environment, and the runtime tfvars it stored (sensitive
// values redacted unless Options.KeepSensitive).
func (l *Launcher) Record(ctx context.Context, id string) (audit.Manifest, []byte, error) {
	return l.trail.Show(ctx, l.environment(), id)
}

// Environment is the normalized environment name the launcher's records
// and resources carry.
func (l *Launcher) Environment() string { return l.environment() }
