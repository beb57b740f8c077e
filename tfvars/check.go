package tfvars

import (
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Sentinel errors. They are wrapped in a *VariableError that names the
// variable; test for them with errors.Is.
var (
	// ErrUndeclared: a value is given for a name the module does not declare.
	ErrUndeclared = errors.New("not declared by the module")
	// ErrMissing: a required variable (no default) has no value.
	ErrMissing = errors.New("required but not set")
	// ErrType: a value cannot be converted to the declared type.
	ErrType = errors.New("wrong type")
	// ErrNull: a null value for a variable declared with nullable = false.
	ErrNull = errors.New("null not allowed (nullable = false)")
	// ErrUnrenderable: Render cannot write the value faithfully (unknown,
	// marked, infinite, not valid UTF-8, an unsupported type, or the name is
	// not an identifier).
	ErrUnrenderable = errors.New("cannot render")
)

// VariableError is a problem with one variable. Err wraps one of the
// sentinels above and carries the details.
type VariableError struct {
	Name string
	Err  error
}

func (e *VariableError) Error() string { return fmt.Sprintf("variable %q: %v", e.Name, e.Err) }

// Unwrap returns e.Err.
func (e *VariableError) Unwrap() error { return e.Err }

// Check reports whether values are acceptable to the module, the way
// OpenTofu would judge them when they come from a variable-definitions file.
// It reports every problem at once, joined with errors.Join and sorted by
// variable name, each a *VariableError wrapping ErrUndeclared, ErrMissing,
// ErrType or ErrNull. It returns nil when there is no problem.
//
// Conversion follows OpenTofu: optional-attribute defaults are applied
// first, then cty/convert, so the string "true" satisfies a bool variable
// and the string "5" a number variable.
//
// Check is stricter than OpenTofu in one respect: OpenTofu silently
// replaces a null given for a non-nullable variable with its default (when
// it has one), whereas Check reports ErrNull, because a Go program that
// computes null for such a variable almost certainly has a bug.
//
// Messages about sensitive variables never include the value.
func (s *Schema) Check(values map[string]cty.Value) error {
	var errs []*VariableError
	for name, val := range values {
		v, ok := s.byName[name]
		if !ok {
			errs = append(errs, &VariableError{Name: name, Err: ErrUndeclared})
			continue
		}
		if err := v.check(val); err != nil {
			errs = append(errs, &VariableError{Name: name, Err: err})
		}
	}
	for _, v := range s.order {
		if _, ok := values[v.Name]; !ok && v.Required() {
			errs = append(errs, &VariableError{
				Name: v.Name,
				Err:  fmt.Errorf("%w (declared at %s)", ErrMissing, v.DeclRange),
			})
		}
	}
	return joinSorted(errs)
}

func joinSorted(errs []*VariableError) error {
	if len(errs) == 0 {
		return nil
	}
	sort.SliceStable(errs, func(i, j int) bool { return errs[i].Name < errs[j].Name })
	out := make([]error, len(errs))
	for i, e := range errs {
		out[i] = e
	}
	return errors.Join(out...)
}

// check returns the problem with val for v, nil if none.
func (v *Variable) check(val cty.Value) error {
	if val == cty.NilVal {
		return fmt.Errorf("%w: no value (cty.NilVal)", ErrType)
	}
	if val.IsNull() {
		if !v.Nullable {
			return ErrNull
		}
		return nil
	}
	if _, err := v.convert(val); err != nil {
		got := val.Type().FriendlyName()
		if !v.Sensitive && val.IsKnown() && val.Type().IsPrimitiveType() {
			got += " " + truncate(compactLiteral(val), 60)
		}
		return fmt.Errorf("%w: want %s, got %s: %s",
			ErrType, typeexpr.TypeString(v.Type), got, describeConvertError(err))
	}
	return nil
}

// convert converts val to the declared type as OpenTofu does: defaults of
// optional attributes first (never to a top-level null), then cty/convert.
func (v *Variable) convert(val cty.Value) (cty.Value, error) {
	if v.TypeDefaults != nil && !val.IsNull() {
		val = v.TypeDefaults.Apply(val)
	}
	return convert.Convert(val, v.Type)
}

// Redacted returns the value Redact puts in place of a sensitive
// variable, the string "(sensitive)". It is a function so that no importer
// can change what every audit copy shows.
func Redacted() cty.Value { return cty.StringVal("(sensitive)") }

// Redact returns a copy of values in which the value of every variable the
// schema marks sensitive is replaced by Redacted(), and the sorted names it
// replaced. Undeclared names are copied unchanged. values is not modified;
// a nil map gives a nil map.
//
// The copy is meant for audit records, not for OpenTofu: a redacted number
// variable no longer passes Check.
func (s *Schema) Redact(values map[string]cty.Value) (map[string]cty.Value, []string) {
	if values == nil {
		return nil, nil
	}
	out := make(map[string]cty.Value, len(values))
	var names []string
	for name, val := range values {
		if v, ok := s.byName[name]; ok && v.Sensitive {
			out[name] = Redacted()
			names = append(names, name)
			continue
		}
		out[name] = val
	}
	sort.Strings(names)
	return out, names
}
