package tfvars

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Variable is one variable block of a module.
type Variable struct {
	// Name is the block label.
	Name string
	// Type is the declared type constraint; cty.DynamicPseudoType when the
	// block has no type argument (or says "any").
	Type cty.Type
	// TypeDefaults holds the defaults of optional object attributes in Type,
	// nil when the type declares none.
	TypeDefaults *typeexpr.Defaults
	// Default is the default value already converted to Type, or cty.NilVal
	// when the variable has no default and is therefore required. Note that
	// "default = null" is a default: the variable is then optional.
	Default cty.Value
	// Sensitive reports "sensitive = true".
	Sensitive bool
	// Nullable is true unless the block says "nullable = false".
	Nullable bool
	// Description is the description argument, "" when absent.
	Description string
	// DeclRange is the range of the block header (`variable "name"`).
	DeclRange hcl.Range
}

// Required reports whether the variable has no default, so a value must be
// given for it.
func (v *Variable) Required() bool { return v.Default == cty.NilVal }

// Schema is the set of variables a module declares. It is immutable once
// loaded and safe for concurrent use.
type Schema struct {
	byName map[string]*Variable
	order  []*Variable
}

// Variables returns the variables in declaration order: files in name order,
// then by position within a file. The slice is a fresh copy; the *Variable
// values are shared and must not be modified.
func (s *Schema) Variables() []*Variable {
	out := make([]*Variable, len(s.order))
	copy(out, s.order)
	return out
}

// Lookup returns the variable called name.
func (s *Schema) Lookup(name string) (*Variable, bool) {
	v, ok := s.byName[name]
	return v, ok
}

// LoadSchema reads the variable blocks of the module in dir: every file
// whose name ends in ".tf", in name order; subdirectories are not read.
//
// JSON configuration files (*.tf.json) are ignored, and override files
// (override.tf, *_override.tf) are not merged the way OpenTofu merges them:
// they are read like any other file, so a variable they redeclare is reported
// as a duplicate.
//
// Blocks other than variable (resource, output, locals, terraform, ...) are
// ignored. HCL syntax errors, invalid variable blocks and duplicate names
// (which name both declarations) are all reported, joined with errors.Join;
// each is an *hcl.Diagnostic that carries its position.
func LoadSchema(dir string) (*Schema, error) {
	s, err := loadSchema(os.DirFS(dir), ".", func(name string) string {
		return filepath.Join(dir, name)
	})
	if err != nil {
		return nil, fmt.Errorf("load schema %s: %w", dir, err)
	}
	return s, nil
}

// LoadSchemaFS is LoadSchema for a module stored in fsys under dir (use "."
// for the root), for example one embedded with go:embed. Positions in errors
// and DeclRange use slash-separated paths relative to fsys.
func LoadSchemaFS(fsys fs.FS, dir string) (*Schema, error) {
	s, err := loadSchema(fsys, dir, func(name string) string {
		return path.Join(dir, name)
	})
	if err != nil {
		return nil, fmt.Errorf("load schema %s: %w", dir, err)
	}
	return s, nil
}

func loadSchema(fsys fs.FS, dir string, display func(string) string) (*Schema, error) {
	entries, err := fs.ReadDir(fsys, dir) // sorted by name
	if err != nil {
		return nil, err
	}
	parser := hclparse.NewParser()
	s := &Schema{byName: map[string]*Variable{}}
	var diags hcl.Diagnostics
	for _, e := range entries {
		name := e.Name()
		if !strings.HasSuffix(name, ".tf") || !isFile(fsys, path.Join(dir, name), e) {
			continue
		}
		src, err := fs.ReadFile(fsys, path.Join(dir, name))
		if err != nil {
			return nil, err
		}
		f, fdiags := parser.ParseHCL(src, display(name))
		diags = append(diags, fdiags...)
		if f == nil || fdiags.HasErrors() {
			continue
		}
		diags = append(diags, s.addFile(f)...)
	}
	if diags.HasErrors() {
		// Join rather than return hcl.Diagnostics, whose Error shows only
		// the first problem.
		return nil, errors.Join(diags.Errs()...)
	}
	return s, nil
}

// isFile reports whether e is a regular file or a symbolic link to one
// (OpenTofu follows links in a module directory).
func isFile(fsys fs.FS, name string, e fs.DirEntry) bool {
	if e.Type().IsRegular() {
		return true
	}
	if e.Type()&fs.ModeSymlink == 0 {
		return false
	}
	fi, err := fs.Stat(fsys, name)
	return err == nil && fi.Mode().IsRegular()
}

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{{Type: "variable", LabelNames: []string{"name"}}},
}

// variableSchema lists the arguments OpenTofu accepts in a variable block.
// Only some matter here; validation blocks, ephemeral and deprecated are
// accepted so that valid modules load, and then ignored.
var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
		{Name: "nullable"},
		{Name: "ephemeral"},
		{Name: "deprecated"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

// reservedNames are names OpenTofu refuses for variables because module
// blocks use them as meta-arguments.
var reservedNames = map[string]bool{
	"source": true, "version": true, "providers": true, "count": true,
	"for_each": true, "lifecycle": true, "depends_on": true, "locals": true,
}

func (s *Schema) addFile(f *hcl.File) hcl.Diagnostics {
	content, _, diags := f.Body.PartialContent(fileSchema)
	for _, b := range content.Blocks {
		v, vdiags := decodeVariable(b)
		diags = append(diags, vdiags...)
		if v == nil {
			continue
		}
		if prev, dup := s.byName[v.Name]; dup {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate variable declaration",
				Detail: fmt.Sprintf("variable %q is declared at %s and again at %s.",
					v.Name, prev.DeclRange, v.DeclRange),
				Subject: v.DeclRange.Ptr(),
			})
			continue
		}
		s.byName[v.Name] = v
		s.order = append(s.order, v)
	}
	return diags
}

// decodeVariable decodes a variable block, returning nil when it has an
// error.
func decodeVariable(b *hcl.Block) (*Variable, hcl.Diagnostics) {
	v := &Variable{
		Name:      b.Labels[0],
		Type:      cty.DynamicPseudoType,
		Default:   cty.NilVal,
		Nullable:  true,
		DeclRange: b.DefRange,
	}
	var diags hcl.Diagnostics
	if !validIdentifier(v.Name) || reservedNames[v.Name] {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid variable name",
			Detail:   fmt.Sprintf("%q is not a valid variable name.", v.Name),
			Subject:  b.LabelRanges[0].Ptr(),
		})
	}
	content, cdiags := b.Body.Content(variableSchema)
	diags = append(diags, cdiags...)
	diags = append(diags, decodeArguments(v, content.Attributes)...)
	if diags.HasErrors() {
		return nil, diags
	}
	return v, diags
}

// decodeArguments sets v's fields from the arguments of its block. The
// default comes last because it is converted to the type and checked
// against nullable.
func decodeArguments(v *Variable, attrs hcl.Attributes) hcl.Diagnostics {
	var diags hcl.Diagnostics
	if attr, ok := attrs["type"]; ok {
		ty, defaults, tdiags := typeexpr.TypeConstraintWithDefaults(attr.Expr)
		diags = append(diags, tdiags...)
		if !tdiags.HasErrors() {
			v.Type, v.TypeDefaults = ty, defaults
		}
	}
	if attr, ok := attrs["description"]; ok {
		if val, ok := literal(attr, cty.String, &diags); ok && !val.IsNull() {
			v.Description = val.AsString()
		}
	}
	boolArgument(attrs, "sensitive", &v.Sensitive, &diags)
	boolArgument(attrs, "nullable", &v.Nullable, &diags)
	if attr, ok := attrs["default"]; ok {
		diags = append(diags, decodeDefault(v, attr)...)
	}
	return diags
}

// boolArgument sets *dst from the boolean argument name when the block
// has it and it is not null, appending any problem to diags.
func boolArgument(attrs hcl.Attributes, name string, dst *bool, diags *hcl.Diagnostics) {
	if attr, ok := attrs[name]; ok {
		if val, ok := literal(attr, cty.Bool, diags); ok && !val.IsNull() {
			*dst = val.True()
		}
	}
}

// decodeDefault sets v.Default from the default argument, converted to
// v.Type.
func decodeDefault(v *Variable, attr *hcl.Attribute) hcl.Diagnostics {
	val, diags := attr.Expr.Value(nil)
	if diags.HasErrors() {
		return diags
	}
	// As OpenTofu does: optional-attribute defaults apply to the default
	// value too, except to a top-level null.
	if v.TypeDefaults != nil && !val.IsNull() {
		val = v.TypeDefaults.Apply(val)
	}
	conv, err := convert.Convert(val, v.Type)
	switch {
	case err != nil:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid default value for variable",
			Detail: fmt.Sprintf("The default of %q does not match its type %s: %s.",
				v.Name, typeexpr.TypeString(v.Type), describeConvertError(err)),
			Subject: attr.Expr.Range().Ptr(),
		})
	case conv.IsNull() && !v.Nullable:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid default value for variable",
			Detail:   "A null default value is not valid when nullable = false.",
			Subject:  attr.Expr.Range().Ptr(),
		})
	default:
		v.Default = conv
	}
	return diags
}

// literal evaluates a constant argument and converts it to ty, appending any
// problem to diags.
func literal(attr *hcl.Attribute, ty cty.Type, diags *hcl.Diagnostics) (cty.Value, bool) {
	val, vdiags := attr.Expr.Value(nil)
	*diags = append(*diags, vdiags...)
	if vdiags.HasErrors() {
		return cty.NilVal, false
	}
	conv, err := convert.Convert(val, ty)
	if err != nil {
		*diags = append(*diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid argument value",
			Detail:   fmt.Sprintf("%s must be a %s: %s.", attr.Name, ty.FriendlyName(), err),
			Subject:  attr.Expr.Range().Ptr(),
		})
		return cty.NilVal, false
	}
	return conv, true
}
