package lablink

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
)

// unknownKey is ErrUnknownKey for key in the section at path, whose
// struct type is t, with what the user most likely meant: the nearest key
// of the same section when one is close ("did you mean machine_type?"),
// else the key of that name in another section ("did you mean
// app.region?"), else the keys the section has.
func unknownKey(t reflect.Type, path, key string) error {
	keys := sectionKeys(t)
	if best, ok := nearest(key, keys); ok {
		return fmt.Errorf("%w; did you mean %s?", ErrUnknownKey, best)
	}
	var elsewhere []string
	for p := range yamlPaths() {
		if p == key || strings.HasSuffix(p, "."+key) {
			elsewhere = append(elsewhere, p)
		}
	}
	if len(elsewhere) > 0 {
		slices.Sort(elsewhere)
		return fmt.Errorf("%w; did you mean %s?", ErrUnknownKey, strings.Join(elsewhere, " or "))
	}
	var current []string
	for _, k := range keys {
		if _, dep := deprecationOf(joinPath(path, k)); !dep {
			current = append(current, k)
		}
	}
	if path == "" {
		return fmt.Errorf("%w; the top-level keys are %s", ErrUnknownKey, strings.Join(current, ", "))
	}
	return fmt.Errorf("%w; the keys of %s are %s", ErrUnknownKey, path, strings.Join(current, ", "))
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// sectionKeys lists the YAML keys of struct type t in declaration order.
func sectionKeys(t reflect.Type) []string {
	keys := make([]string, 0, t.NumField())
	for i := range t.NumField() {
		if key := yamlKey(t.Field(i)); key != "" {
			keys = append(keys, key)
		}
	}
	return keys
}

// nearest returns the candidate closest to s by edit distance (ignoring
// case, a swap of two neighbours counting once) when it is close enough
// to be a typo: at most 1 edit for words up to 4 characters, 2 up to 8,
// and 3 beyond. The first candidate wins a tie.
func nearest(s string, candidates []string) (string, bool) {
	limit := 1
	switch n := len(s); {
	case n > 8:
		limit = 3
	case n > 4:
		limit = 2
	}
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(strings.ToLower(s), c); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best, best != ""
}

// containedIn returns the longest candidate of at least 4 characters that
// s holds ("letsencrypt" in "letsencrypt-staging"), or "".
func containedIn(s string, candidates []string) string {
	best := ""
	for _, c := range candidates {
		if len(c) >= 4 && len(c) > len(best) && strings.Contains(strings.ToLower(s), c) {
			best = c
		}
	}
	return best
}

// editDistance is the optimal string alignment distance of a and b:
// insertions, deletions, substitutions and swaps of adjacent bytes.
func editDistance(a, b string) int {
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
