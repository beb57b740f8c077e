package tfvars

import (
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Parse reads a variable-definitions file the way OpenTofu reads a
// -var-file: every top-level attribute is evaluated with no evaluation
// context. Consequently, in HCL, references and function calls (including
// "${x}") are errors while template directives without references are
// evaluated: "%{if true}x%{endif}" yields "x". Render never produces such a
// directive, because hclwrite escapes "%{" as "%%{". In JSON every string is
// taken literally.
//
// Blocks, or anything that is not an attribute, are errors. Values keep the
// types of their literals (tuples and objects); convert them with the schema.
// Syntax and evaluation errors are joined with errors.Join, each an
// *hcl.Diagnostic with its position in a file named "<tfvars>".
func Parse(src []byte, format Format) (map[string]cty.Value, error) {
	if format == HCL {
		// The usual file, one primitive per line, is read without building
		// a syntax tree; parseFlat gives the values hclsyntax gives, and
		// anything else is parsed by hclsyntax.
		if vals, ok := parseFlat(src); ok {
			return vals, nil
		}
	}
	return parseFull(src, format)
}

// parseFull is Parse through hclsyntax or the HCL JSON parser.
func parseFull(src []byte, format Format) (map[string]cty.Value, error) {
	const filename = "<tfvars>"
	var (
		file  *hcl.File
		diags hcl.Diagnostics
	)
	switch format {
	case HCL:
		file, diags = hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
	case JSON:
		file, diags = hcljson.Parse(src, filename)
	default:
		return nil, fmt.Errorf("parse tfvars: unknown format %v", format)
	}
	if diags.HasErrors() {
		return nil, fmt.Errorf("parse tfvars: %w", errors.Join(diags.Errs()...))
	}
	attrs, diags := file.Body.JustAttributes()
	if diags.HasErrors() {
		return nil, fmt.Errorf("parse tfvars: %w", errors.Join(diags.Errs()...))
	}
	out := make(map[string]cty.Value, len(attrs))
	var all hcl.Diagnostics
	for name, attr := range attrs {
		val, vdiags := attr.Expr.Value(nil)
		all = append(all, vdiags...)
		if !vdiags.HasErrors() {
			out[name] = val
		}
	}
	if all.HasErrors() {
		errs := all.Errs()
		sort.SliceStable(errs, func(i, j int) bool { return diagOffset(errs[i]) < diagOffset(errs[j]) })
		return nil, fmt.Errorf("parse tfvars: %w", errors.Join(errs...))
	}
	return out, nil
}

// MismatchError says that a variable in a file does not hold the value it
// should.
type MismatchError struct {
	// Variable is the name in the file.
	Variable string
	// Source names where the wanted value comes from, such as a
	// configuration field ("machine.machine_type"); "" when there is none.
	Source string
	// Got is the parsed value; cty.NilVal when Missing.
	Got cty.Value
	// Want is the intended value; cty.NilVal when the file holds a variable
	// that was not wanted at all.
	Want cty.Value
	// Missing reports that the variable is absent from the file.
	Missing bool
}

// Error reads like `machine_type = "x" but machine.machine_type = "y"`, with
// values in HCL literal syntax on one line.
func (e *MismatchError) Error() string {
	src := e.Source
	if src == "" {
		src = "want"
	} else {
		src += " ="
	}
	switch {
	case e.Missing:
		return fmt.Sprintf("%s is missing but %s %s", e.Variable, src, compactLiteral(e.Want))
	case e.Want == cty.NilVal:
		return fmt.Sprintf("%s = %s is not wanted", e.Variable, compactLiteral(e.Got))
	}
	return fmt.Sprintf("%s = %s but %s %s", e.Variable, compactLiteral(e.Got), src, compactLiteral(e.Want))
}

// Verify parses src in format and requires that it holds exactly the names of
// want, each with a value that, converted to the type of the wanted value,
// equals it (numbers compare by value, so 5 and 5.0 are equal; marks are
// ignored). It returns a parse error, or every mismatch at once: an
// errors.Join of *MismatchError sorted by name.
//
// Messages include the values; do not log them for sensitive variables.
func Verify(src []byte, format Format, want map[string]cty.Value) error {
	got, err := Parse(src, format)
	if err != nil {
		return fmt.Errorf("verify tfvars: %w", err)
	}
	return Compare(got, want)
}

// Compare is Verify for values already parsed (by Parse): got must hold
// exactly the names of want, with equal values. A caller that needs the
// parsed values too (for VerifyBound) parses once and calls Compare.
func Compare(got, want map[string]cty.Value) error {
	var errs []error
	for _, name := range unionNames(got, want) {
		g, inFile := got[name]
		w, wanted := want[name]
		switch {
		case !inFile:
			errs = append(errs, &MismatchError{Variable: name, Want: w, Missing: true})
		case !wanted:
			errs = append(errs, &MismatchError{Variable: name, Got: g})
		case !sameValue(g, w):
			errs = append(errs, &MismatchError{Variable: name, Got: g, Want: w})
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("verify tfvars: %w", errors.Join(errs...))
	}
	return nil
}

func unionNames(a, b map[string]cty.Value) []string {
	names := make([]string, 0, len(a))
	for n := range a {
		names = append(names, n)
	}
	for n := range b {
		if _, ok := a[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names
}

// unmarked is v without marks; an unmarked primitive is returned as it is,
// sparing UnmarkDeep's allocations.
func unmarked(v cty.Value) cty.Value {
	if v.Type().IsPrimitiveType() && !v.IsMarked() {
		return v
	}
	v, _ = v.UnmarkDeep()
	return v
}

// sameValue converts got to want's type and compares the two exactly.
func sameValue(got, want cty.Value) bool {
	if got == cty.NilVal || want == cty.NilVal {
		return got == want
	}
	got, want = unmarked(got), unmarked(want)
	conv, err := convert.Convert(got, want.Type())
	if err != nil {
		return false
	}
	return conv.RawEquals(want)
}

// Expectation binds a variable to the value it must hold and says where
// that value comes from, for messages.
type Expectation struct {
	// Variable is the variable name.
	Variable string
	// Source names the origin, e.g. "machine.machine_type".
	Source string
	// Value is the value the variable must equal.
	Value cty.Value
}

// VerifyBound checks parsed values (from Parse) against expectations. A
// value must equal its expectation after conversion to the expectation's
// type; an absent variable is a mismatch too. Variables in got without an
// expectation are not checked. Every mismatch is reported, in the order of
// exp, as an errors.Join of *MismatchError reading like
//
//	machine_type = "x" but machine.machine_type = "y"
func VerifyBound(got map[string]cty.Value, exp []Expectation) error {
	var errs []error
	for _, e := range exp {
		g, ok := got[e.Variable]
		switch {
		case !ok:
			errs = append(errs, &MismatchError{Variable: e.Variable, Source: e.Source, Want: e.Value, Missing: true})
		case !sameValue(g, e.Value):
			errs = append(errs, &MismatchError{Variable: e.Variable, Source: e.Source, Got: g, Want: e.Value})
		}
	}
	return errors.Join(errs...)
}

// diagOffset orders diagnostics by position, so that errors from attributes
// (which JustAttributes returns as a map) come out in file order.
func diagOffset(err error) int {
	var d *hcl.Diagnostic
	if errors.As(err, &d) && d.Subject != nil {
		return d.Subject.Start.Byte
	}
	return -1
}
