package tfvars

import (
	"fmt"
	"sort"
	"strings"

	"github.com/zclconf/go-cty/cty"
)

// Format is the syntax of a variable-definitions file.
type Format int

const (
	// HCL is the native syntax of .tfvars files.
	HCL Format = iota
	// JSON is the syntax of .tfvars.json files.
	JSON
)

func (f Format) String() string {
	switch f {
	case HCL:
		return "HCL"
	case JSON:
		return "JSON"
	}
	return fmt.Sprintf("Format(%d)", int(f))
}

// FormatOf returns the format OpenTofu assumes for a -var-file name: JSON
// when it ends in ".json" (case-sensitive, as in OpenTofu), HCL otherwise.
func FormatOf(filename string) Format {
	if strings.HasSuffix(filename, ".json") {
		return JSON
	}
	return HCL
}

// Options tunes Render. The zero value, and a nil *Options, mean the
// defaults.
type Options struct {
	// Format is the output syntax. Default HCL.
	Format Format
	// Order lists names to render first, in this order; the other names
	// follow sorted by name. Names in Order without a value are skipped, and
	// a repeated name is rendered once. Default: all names sorted.
	Order []string
	// Header is comment text written at the top of HCL output, each line
	// prefixed with "# " (an empty line gets "#"). It is ignored for JSON,
	// which has no comments. It must be valid UTF-8 without control
	// characters other than newline and tab. Default: no header.
	Header string
}

// Render writes values as a variable-definitions file. The output is
// deterministic: the same values and options give the same bytes.
//
// HCL output is produced by hclwrite, which escapes quotes, backslashes,
// control characters and the template introducers "${" and "%{", and then
// formatted canonically. JSON output is one object mapping each name to the
// cty JSON encoding of its value, indented by two spaces, with a trailing
// newline; as encoding/json does, "<", ">" and "&" are written as \u
// escapes, and so are non-printable runes, as in the HCL output. In both
// formats, sets are written as lists and maps as objects; convert them back
// with the schema (Check, Verify) rather than expecting the same cty type
// from Parse.
//
// A value that cannot be written faithfully is an error: unknown values,
// marked values (for example sensitive marks), strings or keys that are not
// valid UTF-8, infinite numbers, capsule types, cty.NilVal, and names that
// are not HCL identifiers. All such problems are reported at once, sorted by
// name, each a *VariableError wrapping ErrUnrenderable.
func Render(values map[string]cty.Value, opts *Options) ([]byte, error) {
	if opts == nil {
		opts = &Options{}
	}
	var errs []*VariableError
	for name, val := range values {
		if err := renderable(name, val); err != nil {
			errs = append(errs, &VariableError{Name: name, Err: fmt.Errorf("%w: %s", ErrUnrenderable, err)})
		}
	}
	if err := joinSorted(errs); err != nil {
		return nil, fmt.Errorf("render tfvars: %w", err)
	}
	names := orderNames(values, opts.Order)
	switch opts.Format {
	case HCL:
		return renderHCL(values, names, opts.Header)
	case JSON:
		return renderJSON(values, names)
	}
	return nil, fmt.Errorf("render tfvars: unknown format %v", opts.Format)
}

func orderNames(values map[string]cty.Value, order []string) []string {
	names := make([]string, 0, len(values))
	seen := make(map[string]bool, len(values))
	for _, n := range order {
		if _, ok := values[n]; ok && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	rest := make([]string, 0, len(values)-len(names))
	for n := range values {
		if !seen[n] {
			rest = append(rest, n)
		}
	}
	sort.Strings(rest)
	return append(names, rest...)
}
