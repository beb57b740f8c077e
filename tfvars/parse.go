package tfvars

import (
	"errors"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
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

// diagOffset orders diagnostics by position, so that errors from attributes
// (which JustAttributes returns as a map) come out in file order.
func diagOffset(err error) int {
	var d *hcl.Diagnostic
	if errors.As(err, &d) && d.Subject != nil {
		return d.Subject.Start.Byte
	}
	return -1
}
