package tfvars

import (
	"errors"
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

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

// Verify parses src in format, as Parse does, and proves that it says
// what was meant. Each expectation of bound must hold: the variable is in
// the file, with a value equal to the expectation's, and a mismatch names
// the expectation's Source (`machine_type = "x" but machine.machine_type =
// "y"`). And the file must hold exactly the names of want, each with a
// value equal to the wanted one; a nil want is an empty file. Values are
// equal when the file's, converted to the type of the other, equals it
// (numbers compare by value, so 5 and 5.0 are equal; marks are ignored).
//
// It returns a parse error, or every mismatch at once: an errors.Join of
// *MismatchError, those of bound first in the order of bound, then the
// others sorted by name; a variable is reported once. Messages include
// the values; do not log them for sensitive variables.
func Verify(src []byte, format Format, want map[string]cty.Value, bound []Expectation) error {
	got, err := Parse(src, format)
	if err != nil {
		return fmt.Errorf("verify tfvars: %w", err)
	}
	var errs []error
	var reported map[string]bool // made at the first mismatch, which is rare
	for _, e := range bound {
		g, ok := got[e.Variable]
		switch {
		case !ok:
			errs = append(errs, &MismatchError{Variable: e.Variable, Source: e.Source, Want: e.Value, Missing: true})
		case !sameValue(g, e.Value):
			errs = append(errs, &MismatchError{Variable: e.Variable, Source: e.Source, Got: g, Want: e.Value})
		default:
			continue
		}
		if reported == nil {
			reported = make(map[string]bool)
		}
		reported[e.Variable] = true
	}
	for _, name := range unionNames(got, want) {
		g, inFile := got[name]
		w, wanted := want[name]
		switch {
		case reported[name]:
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
