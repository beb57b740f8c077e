package tfvars

import (
	"fmt"
	"sort"

	"github.com/zclconf/go-cty/cty"
)

// Drift is a disagreement between the default a module declares for a
// variable and the default the caller expects (typically its own
// configuration default).
type Drift struct {
	// Variable is the variable name.
	Variable string
	// Source names where Want comes from, e.g. "machine.machine_type".
	Source string
	// Default is the module's default, converted to the declared type;
	// cty.NilVal when HasDefault is false.
	Default cty.Value
	// HasDefault is false when the module declares no default (the
	// variable is required).
	HasDefault bool
	// Want is the expected default.
	Want cty.Value
}

// String reads like
//
//	variable "machine_type" defaults to "t2.medium" but machine.machine_type defaults to "g4dn.xlarge"
//
// or, when the module has no default,
//
//	variable "machine_type" has no default but machine.machine_type defaults to "g4dn.xlarge"
func (d Drift) String() string {
	src := d.Source
	if src == "" {
		src = "the expected value"
	}
	if !d.HasDefault {
		return fmt.Sprintf("variable %q has no default but %s defaults to %s", d.Variable, src, compactLiteral(d.Want))
	}
	return fmt.Sprintf("variable %q defaults to %s but %s defaults to %s",
		d.Variable, compactLiteral(d.Default), src, compactLiteral(d.Want))
}

// Drift compares each expectation's Value with the default of its variable
// and returns one Drift per disagreement, sorted by variable name: the
// variable has no default, or its default differs from the expected value
// converted to the declared type (a value that does not convert differs).
// Expectations naming variables the module does not declare are skipped;
// Check reports those. It returns nil when everything agrees.
func (s *Schema) Drift(exp []Expectation) []Drift {
	var out []Drift
	for _, e := range exp {
		v, ok := s.byName[e.Variable]
		if !ok {
			continue
		}
		d := Drift{Variable: e.Variable, Source: e.Source, Want: e.Value}
		if v.Required() {
			out = append(out, d)
			continue
		}
		d.Default, d.HasDefault = v.Default, true
		want, err := v.convert(unmark(e.Value))
		if err != nil || !unmark(v.Default).RawEquals(want) {
			out = append(out, d)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Variable < out[j].Variable })
	return out
}

func unmark(v cty.Value) cty.Value {
	if v == cty.NilVal {
		return v
	}
	v, _ = v.UnmarkDeep()
	return v
}
