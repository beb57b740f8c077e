package planread

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	tfjson "github.com/hashicorp/terraform-json"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/plancheck"
)

// Plan is what Read takes from a saved plan's `show -json` output, or
// ReadEvents from a plan's event stream: the resource changes the checks
// read, the plan's summary and the prior state's resources.
type Plan struct {
	// FormatVersion and TerraformVersion are the plan's, as printed.
	FormatVersion, TerraformVersion string

	// Changes are the plan's resource changes in plan order, as
	// plancheck.Changes adapts them from a decoded plan, except that
	// Before, After and AfterUnknown are nil wherever plancheck.Check,
	// with the Options given to Read, does not read them.
	Changes []plancheck.Change

	// Summary counts the plan's changes of managed resources, one count
	// per resource instance: Add for a create, Change for an update,
	// Destroy for a delete or a forget (the object leaves the state),
	// Replace for delete and create in either order or forget with
	// create. No-ops, reads, data sources and other actions count nowhere.
	Summary audit.PlanSummary

	// Prior lists the resource instances of the prior state's root module
	// (prior_state.values.root_module.resources), without their values,
	// in state order; nil when the plan has none. Child modules are not
	// read.
	Prior []Resource

	// opts are the Options the plan was read with.
	opts *plancheck.Options
}

// Check is plancheck.Check(p.Changes, opts) with the Options p was read
// with; the values Read skipped are ones these Options do not read. A
// Plan not made by this package is checked with the default Options.
func (p *Plan) Check() error { return plancheck.Check(p.Changes, p.opts) }

// Resource is a resource instance of a state.
type Resource struct {
	// Address is the instance address, such as "aws_instance.lablink_vm[2]".
	Address string
	// Mode is "managed" or "data", as printed.
	Mode string
	// Type and Name are the resource type and name.
	Type, Name string
}

// Read reads the output of `tofu show -json PLANFILE` (or Terraform's)
// from r, as much of it as the checks, the summary and the prior
// resources need: the header of every resource change, and its before,
// after and after_unknown values only where plancheck.Check reads
// them. The values of the client VMs a launch creates, the bulk of the
// plan, are skipped unread, as are planned_values, configuration, the
// variables and the outputs. It returns an error naming the invalid
// options, or a read error.
//
// Read gives plancheck.Check the verdict, and Summary the counts, that
// the plan decoded whole by terraform-json (tfexec's ShowPlanFile) gives:
// it decodes with encoding/json into types that mirror terraform-json's
// for every field it reads, so that keys match alike (case-insensitively), a
// repeated key does what it does there, and a value of the wrong type is
// an error; it checks format_version (and prior_state's) by terraform-
// json's own rules; and it rejects what is not one valid JSON value.
//
// One difference is deliberate. terraform-json fails the whole plan when
// a value it stores but this package never reads has the wrong JSON type,
// or holds a number beyond float64 (a Terraform number may be that large:
// cty numbers are arbitrary-precision); Read does not look there, and
// reads such a plan. Where the checks read a value, both fail alike.
//
// Read reads r to its end and holds the document in memory while it
// works; r may be the stdout of `tofu show -json` as it runs.
func Read(r io.Reader, opts *plancheck.Options) (*Plan, error) {
	sc, err := scopeOf(opts)
	if err != nil {
		return nil, err
	}
	data, err := readAll(r)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	var raw rawPlan
	if !json.Valid(data) {
		// For encoding/json's own syntax error.
		err := json.Unmarshal(data, &raw)
		return nil, fmt.Errorf("read plan: %w", err)
	}
	rd := reduce(data)
	if err := json.Unmarshal(rd.doc, &raw); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	return newPlan(&raw, sc, rd)
}

// newPlan makes the Plan of a decoded raw plan; rd, when not nil, is the
// reduced copy raw was decoded from.
func newPlan(raw *rawPlan, sc *scope, rd *reduced) (*Plan, error) {
	if err := (&tfjson.Plan{FormatVersion: raw.FormatVersion}).Validate(); err != nil {
		return nil, fmt.Errorf("read plan: %w", err)
	}
	p := &Plan{
		FormatVersion:    raw.FormatVersion,
		TerraformVersion: raw.TerraformVersion,
		Changes:          make([]plancheck.Change, 0, len(raw.ResourceChanges)),
		opts:             sc.opts,
	}
	for _, rc := range raw.ResourceChanges {
		if rc == nil {
			continue
		}
		c := plancheck.Change{Address: rc.Address, Deposed: rc.Deposed, Mode: rc.Mode, Type: rc.Type, Name: rc.Name}
		if rc.Change != nil {
			c.Actions = rc.Change.Actions
			if c.Actions == nil {
				c.Actions = []string{}
			}
			if sc.needsValues(c) {
				if err := rc.Change.decodeValues(&c, rd); err != nil {
					return nil, fmt.Errorf("read plan: %s: %w", rc.Address, err)
				}
			}
			if rc.Mode == string(tfjson.ManagedResourceMode) {
				count(&p.Summary, c.Actions)
			}
		}
		p.Changes = append(p.Changes, c)
	}
	if st := raw.PriorState; st != nil && st.Values != nil && st.Values.RootModule != nil {
		for _, r := range st.Values.RootModule.Resources {
			if r != nil {
				p.Prior = append(p.Prior, Resource{Address: r.Address, Mode: r.Mode, Type: r.Type, Name: r.Name})
			}
		}
	}
	return p, nil
}

// readAll is io.ReadAll, with the buffer sized at once when r knows its
// length (a bytes.Reader, strings.Reader or bytes.Buffer): a plan is
// megabytes, and growing the buffer by doubling copies it several times.
func readAll(r io.Reader) ([]byte, error) {
	l, ok := r.(interface{ Len() int })
	if !ok {
		return io.ReadAll(r)
	}
	b := make([]byte, 0, l.Len()+1)
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// PlanOf is the Plan of a plan decoded by terraform-json (tfexec's
// ShowPlanFile), for a caller that has one: the Changes of Changes(plan),
// with every value, and the Summary and Prior that Read would give. A nil
// plan is an error.
func PlanOf(plan *tfjson.Plan, opts *plancheck.Options) (*Plan, error) {
	sc, err := scopeOf(opts)
	if err != nil {
		return nil, err
	}
	if plan == nil {
		return nil, errors.New("no plan")
	}
	p := &Plan{
		FormatVersion:    plan.FormatVersion,
		TerraformVersion: plan.TerraformVersion,
		Changes:          plancheck.Changes(plan),
		opts:             sc.opts,
	}
	for _, rc := range plan.ResourceChanges {
		if rc != nil && rc.Change != nil && rc.Mode == tfjson.ManagedResourceMode {
			a := make([]string, len(rc.Change.Actions))
			for i, x := range rc.Change.Actions {
				a[i] = string(x)
			}
			count(&p.Summary, a)
		}
	}
	if st := plan.PriorState; st != nil && st.Values != nil && st.Values.RootModule != nil {
		for _, r := range st.Values.RootModule.Resources {
			if r != nil {
				p.Prior = append(p.Prior, Resource{Address: r.Address, Mode: string(r.Mode), Type: r.Type, Name: r.Name})
			}
		}
	}
	return p, nil
}

// count adds one resource change with actions a to s, as
// tfjson.Actions' predicates classify them.
func count(s *audit.PlanSummary, a []string) {
	one := func(x string) bool { return len(a) == 1 && a[0] == x }
	pair := func(x, y string) bool { return len(a) == 2 && a[0] == x && a[1] == y }
	forget := false
	create := false
	for _, x := range a {
		forget = forget || x == string(tfjson.ActionForget)
		create = create || x == string(tfjson.ActionCreate)
	}
	switch {
	case pair("delete", "create") || pair("create", "delete") || forget && create:
		s.Replace++
	case one("create"):
		s.Add++
	case one("update"):
		s.Change++
	case one("delete") || forget:
		s.Destroy++
	}
}

// The raw types mirror terraform-json's Plan, ResourceChange, Change,
// State and StateModule field by field for what Read reads, with the same
// JSON names and the same Go kinds, so that encoding/json treats the plan
// as it does for terraform-json. Fields Read does not need are left out
// (encoding/json skips their keys) or typed by a checker that accepts the
// JSON kinds terraform-json's field accepts and stores nothing.

type rawPlan struct {
	FormatVersion    string               `json:"format_version,omitempty"`
	TerraformVersion string               `json:"terraform_version,omitempty"`
	ResourceChanges  []*rawResourceChange `json:"resource_changes,omitempty"`
	PriorState       *rawState            `json:"prior_state,omitempty"`
	Complete         boolField            `json:"complete,omitempty"`
	Timestamp        stringField          `json:"timestamp,omitempty"`
}

type rawResourceChange struct {
	Address         string      `json:"address,omitempty"`
	PreviousAddress stringField `json:"previous_address,omitempty"`
	ModuleAddress   stringField `json:"module_address,omitempty"`
	Mode            string      `json:"mode,omitempty"`
	Type            string      `json:"type,omitempty"`
	Name            string      `json:"name,omitempty"`
	ProviderName    stringField `json:"provider_name,omitempty"`
	Deposed         string      `json:"deposed,omitempty"`
	Change          *rawChange  `json:"change,omitempty"`
	ActionReason    stringField `json:"action_reason,omitempty"`
}

type rawChange struct {
	Actions         []string        `json:"actions,omitempty"`
	Before          json.RawMessage `json:"before"`
	After           json.RawMessage `json:"after,omitempty"`
	AfterUnknown    json.RawMessage `json:"after_unknown,omitempty"`
	Importing       *rawImporting   `json:"importing,omitempty"`
	GeneratedConfig stringField     `json:"generated_config,omitempty"`
	ReplacePaths    []anyField      `json:"replace_paths,omitempty"`
}

type rawImporting struct {
	ID      stringField `json:"id,omitempty"`
	Unknown boolField   `json:"unknown,omitempty"`
}

// decodeValues decodes before, after and after_unknown into c as
// terraform-json does (numbers as float64), from the original bytes when
// rc was decoded from the reduced copy rd.
func (rc *rawChange) decodeValues(c *plancheck.Change, rd *reduced) error {
	for _, v := range []struct {
		raw json.RawMessage
		dst *any
	}{{rc.Before, &c.Before}, {rc.After, &c.After}, {rc.AfterUnknown, &c.AfterUnknown}} {
		if len(v.raw) == 0 {
			continue
		}
		b := []byte(v.raw)
		if rd != nil {
			var ok bool
			if b, ok = rd.value(v.raw); !ok {
				return errors.New("internal error: a value the reducer did not replace")
			}
		}
		if err := json.Unmarshal(b, v.dst); err != nil {
			return err
		}
	}
	return nil
}

// rawState mirrors tfjson.State, whose UnmarshalJSON decodes into a fresh
// value (a repeated prior_state key replaces, never merges) and then
// validates the format version.
type rawState struct {
	FormatVersion    string          `json:"format_version,omitempty"`
	TerraformVersion stringField     `json:"terraform_version,omitempty"`
	Values           *rawStateValues `json:"values,omitempty"`
}

func (s *rawState) UnmarshalJSON(b []byte) error {
	type plain rawState
	var st plain
	if err := json.Unmarshal(b, &st); err != nil {
		return err
	}
	*s = rawState(st)
	return (&tfjson.State{FormatVersion: s.FormatVersion}).Validate()
}

type rawStateValues struct {
	RootModule *rawStateModule `json:"root_module,omitempty"`
}

type rawStateModule struct {
	Resources []*rawStateResource `json:"resources,omitempty"`
	Address   stringField         `json:"address,omitempty"`
}

type rawStateResource struct {
	Address               string      `json:"address,omitempty"`
	Mode                  string      `json:"mode,omitempty"`
	Type                  string      `json:"type,omitempty"`
	Name                  string      `json:"name,omitempty"`
	ProviderName          stringField `json:"provider_name,omitempty"`
	SchemaVersion         uint64      `json:"schema_version"`
	Tainted               boolField   `json:"tainted,omitempty"`
	DeposedKey            stringField `json:"deposed_key,omitempty"`
	IdentitySchemaVersion *uint64     `json:"identity_schema_version,omitempty"`
}

// errWrongKind is what a checker returns for a value terraform-json could
// not store in the field. It does not quote the value: a plan holds the
// VMs' tokens.
var errWrongKind = errors.New("value of the wrong JSON type")

// stringField accepts what a Go string field does (a string or null) and
// stores nothing.
type stringField struct{}

func (*stringField) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && (b[0] == '"' || string(b) == "null") {
		return nil
	}
	return fmt.Errorf("%w for a string field", errWrongKind)
}

// boolField accepts what a Go bool field does (true, false or null) and
// stores nothing.
type boolField struct{}

func (*boolField) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "true", "false", "null":
		return nil
	}
	return fmt.Errorf("%w for a bool field", errWrongKind)
}

// anyField accepts any value and stores nothing.
type anyField struct{}

func (*anyField) UnmarshalJSON([]byte) error { return nil }
