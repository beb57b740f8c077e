package tfvars

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// renderable returns why val cannot be written faithfully, nil if it can.
func renderable(name string, val cty.Value) error {
	if !validIdentifier(name) {
		return errors.New("name is not a valid identifier")
	}
	if val == cty.NilVal {
		return errors.New("no value (cty.NilVal)")
	}
	if val.Type().IsPrimitiveType() {
		// What the walk below does for one value, without its allocations.
		if msg := problemOf(val); msg != "" {
			return errors.New(msg)
		}
		return nil
	}
	return cty.Walk(val, func(p cty.Path, v cty.Value) (bool, error) {
		if v.IsKnown() && !v.IsMarked() && v.IsNull() {
			return false, nil
		}
		if msg := problemOf(v); msg != "" {
			if len(p) > 0 {
				msg = "at " + formatPath(p) + ": " + msg
			}
			return false, errors.New(msg)
		}
		return true, nil
	})
}

// problemOf returns why v itself, not its elements, cannot be written
// faithfully, "" if it can.
func problemOf(v cty.Value) string {
	switch {
	case v.IsMarked():
		return fmt.Sprintf("value is marked (%s)", markNames(v))
	case !v.IsKnown():
		return "value is unknown"
	case v.IsNull():
		return ""
	case v.Type() == cty.String && !utf8.ValidString(v.AsString()):
		return "string is not valid UTF-8"
	case v.Type() == cty.Number && v.AsBigFloat().IsInf():
		return "number is infinite"
	case v.Type().IsCapsuleType():
		return "capsule type " + v.Type().FriendlyName()
	case v.Type().IsMapType() || v.Type().IsObjectType():
		for it := v.ElementIterator(); it.Next(); {
			k, _ := it.Element()
			if !utf8.ValidString(k.AsString()) {
				return "key is not valid UTF-8"
			}
		}
	}
	return ""
}

// validIdentifier reports whether name can be written bare: it is
// hclsyntax.ValidIdentifier, answered without running the lexer for the
// usual ASCII name, except that a leading byte-order mark is refused.
// hclsyntax's scanner strips a BOM at the start of its input, so it calls
// "\ufeffx" an identifier, yet written inside a file the BOM is an invalid
// character (and first in a file it would be dropped, naming "x").
func validIdentifier(name string) bool {
	for i := range len(name) {
		c := name[i]
		switch {
		case c == '_' || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z':
		case i > 0 && (c == '-' || '0' <= c && c <= '9'):
		default:
			return !strings.HasPrefix(name, "\ufeff") && hclsyntax.ValidIdentifier(name)
		}
	}
	return name != ""
}

func markNames(v cty.Value) string {
	var names []string
	for m := range v.Marks() {
		names = append(names, fmt.Sprint(m))
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}
