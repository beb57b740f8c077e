package plancheck

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// maxPaths bounds the attribute paths one message names.
const maxPaths = 8

// guard refuses every action on a client VM that it does not know to be
// harmless.
func (o *checker) guard(c Change) []Violation {
	refuse := func(reason string) []Violation {
		return []Violation{{Address: address(c), Actions: slices.Clone(c.Actions), Reason: reason}}
	}
	key := strings.Join(c.Actions, ",")
	if slices.ContainsFunc(c.Actions, func(a string) bool { return strings.Contains(a, ",") }) {
		key = "" // no action OpenTofu knows; never mistaken for a pair
	}
	switch key {
	case "create", "no-op", "read":
		return nil
	case "update":
		if reason := o.update(c); reason != "" {
			return refuse(reason)
		}
		return nil
	case "delete":
		return refuse("delete refused: it would destroy a running VM")
	case "delete,create":
		return refuse("replace (delete, then create) refused: it would destroy a running VM")
	case "create,delete":
		return refuse("replace (create, then delete) refused: it would destroy a running VM")
	case "forget":
		// A removed block or lifecycle { destroy = false } (OpenTofu 1.12)
		// drops the VM from the state and leaves it running, untracked
		// and still billed.
		return refuse("forget refused: the VM would keep running outside the state")
	case "forget,create", "create,forget":
		return refuse("forget and create refused: the VM would keep running outside the state next to its replacement")
	}
	what := "no actions"
	if len(c.Actions) > 0 {
		what = "actions " + strconv.Quote(strings.Join(c.Actions, ","))
	}
	return refuse(what + " refused: only create, no-op and read are known to be harmless")
}

// update returns why an update in place is refused, or "" when every
// attribute it changes is declared harmless.
func (o *checker) update(c Change) string {
	const stops = "a running VM may be stopped"
	if c.Before == nil || c.After == nil {
		return "update in place refused: the plan does not show the values it changes; " + stops
	}
	changed := diff(nil, c.Before, c.After, c.AfterUnknown)
	if len(changed) == 0 {
		// Nothing visible differs, so nothing shows the update harmless
		// (a change of private provider data, say).
		return "update in place (no attribute shown to change) refused: " + stops
	}
	var uncovered []string
	for _, p := range changed {
		if !o.covered(p) {
			uncovered = append(uncovered, pathString(p))
		}
	}
	if len(uncovered) == 0 {
		return ""
	}
	list := uncovered
	if len(list) > maxPaths {
		list = append(slices.Clone(list[:maxPaths]), fmt.Sprintf("and %d more", len(uncovered)-maxPaths))
	}
	return "update in place (changes " + strings.Join(list, ", ") + ") refused: " + stops
}

// covered reports whether a declared harmless path is p or above it.
func (o *checker) covered(p []string) bool {
	for _, h := range o.harmless {
		if len(h) > len(p) {
			continue
		}
		ok := true
		for i, seg := range h {
			if seg != "*" && seg != p[i] {
				ok = false
				break
			}
		}
		if ok {
			return true
		}
	}
	return false
}

func pathString(p []string) string {
	if len(p) == 0 {
		return "the whole object"
	}
	return strings.Join(p, ".")
}

// diff returns the paths below path at which before and after differ, the
// deepest ones that do. A value that is unknown until apply (true in
// after_unknown) counts as changed.
func diff(path []string, before, after, unknown any) [][]string {
	if unknown == true {
		return [][]string{path}
	}
	child := func(seg string) []string { return append(slices.Clip(path), seg) }
	switch b := before.(type) {
	case map[string]any:
		a, ok := after.(map[string]any)
		if !ok {
			break
		}
		um, _ := unknown.(map[string]any)
		keys := map[string]bool{}
		for _, m := range []map[string]any{b, a, um} {
			for k := range m {
				keys[k] = true
			}
		}
		var out [][]string
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			out = append(out, diff(child(k), b[k], a[k], um[k])...)
		}
		return out
	case []any:
		a, ok := after.([]any)
		if !ok || len(a) != len(b) {
			break
		}
		ul, _ := unknown.([]any)
		var out [][]string
		for i := range b {
			var u any
			if i < len(ul) {
				u = ul[i]
			}
			out = append(out, diff(child(strconv.Itoa(i)), b[i], a[i], u)...)
		}
		return out
	}
	if jsonEqual(before, after) {
		return nil
	}
	return [][]string{path}
}

// jsonEqual compares decoded JSON values; numbers compare by value whether
// decoded as float64 or json.Number.
func jsonEqual(a, b any) bool {
	switch a := a.(type) {
	case map[string]any:
		b, ok := b.(map[string]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for k, av := range a {
			bv, ok := b[k]
			if !ok || !jsonEqual(av, bv) {
				return false
			}
		}
		return true
	case []any:
		b, ok := b.([]any)
		if !ok || len(a) != len(b) {
			return false
		}
		for i := range a {
			if !jsonEqual(a[i], b[i]) {
				return false
			}
		}
		return true
	case float64, json.Number, int, int64:
		x, ok1 := number(a)
		y, ok2 := number(b)
		if n1, ok := a.(json.Number); ok {
			if n2, ok := b.(json.Number); ok && n1 == n2 {
				return true
			}
		}
		return ok1 && ok2 && x == y
	case string, bool, nil:
		return a == b
	}
	return false
}

// number returns the value of a decoded JSON number, or of an int in a
// Change built by hand.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}
