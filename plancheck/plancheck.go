package plancheck

import (
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strings"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/lablink-go/lablink/internal/planscope"
)

// ErrRefused is the condition callers branch on: the plan must not be
// applied. Check returns it as a *RefusedError.
var ErrRefused = errors.New("plan refused")

// RefusedError lists every reason a plan was refused, in plan order.
type RefusedError struct {
	Violations []Violation
}

func (e *RefusedError) Error() string {
	msgs := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		msgs[i] = v.String()
	}
	return ErrRefused.Error() + ": " + strings.Join(msgs, "; ")
}

// Unwrap returns ErrRefused.
func (e *RefusedError) Unwrap() error { return ErrRefused }

// Violation is one reason to refuse a plan.
type Violation struct {
	// Address is the resource instance address, with " (deposed KEY)"
	// appended for a deposed object.
	Address string
	// Actions are the planned actions of the resource instance.
	Actions []string
	// Reason says what is refused and why, naming attribute paths, rules
	// and ports but never values.
	Reason string
}

// String returns "address: reason".
func (v Violation) String() string { return v.Address + ": " + v.Reason }

// The policy's defaults. They are never handed out: the Default functions
// return copies, so no importer can weaken the policy for a whole process.
var (
	defaultClientVMs   = []string{"aws_instance.lablink_vm", "terraform_data.lablink_vm"}
	defaultPorts       = []int{6080, 7070}
	defaultPublicCIDRs = []string{"0.0.0.0/0", "::/0"}
)

// DefaultClientVMs returns the client VM resources Options.ClientVMs
// defaults to: the AWS module's instances and the local module's twin.
// Each call returns a new slice, which the caller may modify.
func DefaultClientVMs() []string { return slices.Clone(defaultClientVMs) }

// DefaultPorts returns the client ports Options.Ports defaults to: KasmVNC
// (6080) and the client agent (7070). Upstream lets only the allocator's
// security group reach them. Each call returns a new slice, which the
// caller may modify.
func DefaultPorts() []int { return slices.Clone(defaultPorts) }

// DefaultPublicCIDRs returns the sources Options.PublicCIDRs defaults to:
// the whole IPv4 and IPv6 internet. Each call returns a new slice, which
// the caller may modify.
func DefaultPublicCIDRs() []string { return slices.Clone(defaultPublicCIDRs) }

// Options tune the checks. A nil *Options and the zero value mean the
// defaults; an empty list means its default. Check only reads Options.
type Options struct {
	// ClientVMs names the resources whose instances are running client
	// VMs, as "TYPE.NAME"; each matches in every module and at every
	// index. Default DefaultClientVMs().
	ClientVMs []string

	// HarmlessUpdates lists the attribute paths an update in place of a
	// client VM may change, such as "tags", "tags.Name" or "tags_all".
	// Segments are separated by dots; a number selects a list element and
	// "*" matches any key or element. A path covers everything below it.
	// An attribute that becomes unknown until apply counts as changed.
	// Default none: every update in place is refused.
	HarmlessUpdates []string

	// Ports are the ports PublicCIDRs must not reach. Default
	// DefaultPorts().
	Ports []int

	// PublicCIDRs are the sources that must not reach Ports. A rule is
	// refused when one of its CIDRs contains one of these. Default
	// DefaultPublicCIDRs().
	PublicCIDRs []string
}

// Change is one resource instance change of a plan, as much of it as the
// checks read. Its fields mirror an entry of the plan JSON's
// resource_changes.
type Change struct {
	// Address is the instance address, such as
	// "module.clients.aws_instance.lablink_vm[2]".
	Address string
	// Deposed is the deposed object's key, or "" for the current object.
	Deposed string
	// Mode is "managed" or "data"; "" is read as "managed".
	Mode string
	// Type and Name are the resource type and name, without module path
	// or index.
	Type, Name string
	// Actions are the planned actions, such as ["delete", "create"].
	Actions []string
	// Before, After and AfterUnknown are the decoded JSON values of
	// change.before, change.after and change.after_unknown: nil, bool,
	// float64 or json.Number, string, []any and map[string]any. OpenTofu
	// prints every attribute of the schema, null when unset, and omits
	// from After only what AfterUnknown marks unknown; an attribute the
	// security-group policy reads that is neither is taken as unknown.
	Before, After, AfterUnknown any
}

// Changes adapts a plan decoded by terraform-json (tfexec's ShowPlanFile)
// to Check. It returns nil for a nil plan. The values are shared with the
// plan, not copied.
func Changes(plan *tfjson.Plan) []Change {
	if plan == nil {
		return nil
	}
	out := make([]Change, 0, len(plan.ResourceChanges))
	for _, rc := range plan.ResourceChanges {
		if rc == nil {
			continue
		}
		c := Change{
			Address: rc.Address,
			Deposed: rc.DeposedKey,
			Mode:    string(rc.Mode),
			Type:    rc.Type,
			Name:    rc.Name,
		}
		if rc.Change != nil {
			c.Actions = make([]string, len(rc.Change.Actions))
			for i, a := range rc.Change.Actions {
				c.Actions[i] = string(a)
			}
			c.Before, c.After, c.AfterUnknown = rc.Change.Before, rc.Change.After, rc.Change.AfterUnknown
		}
		out = append(out, c)
	}
	return out
}

// Check runs the client-VM guard and the security-group policy over
// changes. It returns nil when the plan may be applied, a *RefusedError
// (errors.Is(err, ErrRefused)) listing every violation, or an error naming
// the invalid options. It is safe for concurrent use and does not modify
// changes.
func Check(changes []Change, opts *Options) error {
	o, err := compile(opts)
	if err != nil {
		return err
	}
	return o.check(changes)
}

func (o *checker) check(changes []Change) error {
	var vs []Violation
	for _, c := range changes {
		if o.isVM(c) {
			vs = append(vs, o.guard(c)...)
		}
		if o.isSGRule(c) {
			vs = append(vs, o.securityGroup(c)...)
		}
	}
	if len(vs) > 0 {
		return &RefusedError{Violations: vs}
	}
	return nil
}

// checker is Options with the defaults applied and the values parsed.
type checker struct {
	vms      planscope.VMs
	harmless [][]string
	ports    []int
	public   []netip.Prefix
}

func compile(opts *Options) (*checker, error) {
	if opts == nil {
		opts = &Options{}
	}
	o := &checker{}
	vms := opts.ClientVMs
	if len(vms) == 0 {
		vms = defaultClientVMs
	}
	var errs []error
	o.vms, errs = planscope.ParseVMs(vms)
	for _, p := range opts.HarmlessUpdates {
		segs := strings.Split(p, ".")
		if slices.Contains(segs, "") {
			errs = append(errs, fmt.Errorf("harmless update %q: empty path segment", p))
			continue
		}
		o.harmless = append(o.harmless, segs)
	}
	o.ports = opts.Ports
	if len(o.ports) == 0 {
		o.ports = defaultPorts
	}
	for _, p := range o.ports {
		if p < 0 || p > 65535 {
			errs = append(errs, fmt.Errorf("port %d: out of range", p))
		}
	}
	cidrs := opts.PublicCIDRs
	if len(cidrs) == 0 {
		cidrs = defaultPublicCIDRs
	}
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			errs = append(errs, fmt.Errorf("public CIDR: %w", err))
			continue
		}
		o.public = append(o.public, p.Masked())
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("plancheck: invalid options: %w", err)
	}
	return o, nil
}

func (o *checker) isVM(c Change) bool { return o.vms.Has(c.Type, c.Name) }

func address(c Change) string {
	if c.Deposed != "" {
		return c.Address + " (deposed " + c.Deposed + ")"
	}
	return c.Address
}
