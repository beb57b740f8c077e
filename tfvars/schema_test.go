package tfvars

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"
)

// varSummary is what the tests compare about a Variable: cty types and
// values are shown in source syntax so diffs stay readable.
type varSummary struct {
	Name, Type, Default string
	Required            bool
	Sensitive, Nullable bool
	HasTypeDefaults     bool
	Description         string
	At                  string
}

func summarize(vs []*Variable) []varSummary {
	var out []varSummary
	for _, v := range vs {
		def := "(none)"
		if !v.Required() {
			def = compactLiteral(v.Default)
		}
		out = append(out, varSummary{
			Name:            v.Name,
			Type:            typeexpr.TypeString(v.Type),
			Default:         def,
			Required:        v.Required(),
			Sensitive:       v.Sensitive,
			Nullable:        v.Nullable,
			HasTypeDefaults: v.TypeDefaults != nil,
			Description:     v.Description,
			At:              fmt.Sprintf("%s:%d", filepath.Base(v.DeclRange.Filename), v.DeclRange.Start.Line),
		})
	}
	return out
}

func mustLoad(t testing.TB, module string) *Schema {
	t.Helper()
	s, err := LoadSchema(filepath.Join("testdata", "modules", module))
	require.NoError(t, err, "LoadSchema(%s)", module)
	return s
}

func TestLoadSchema(t *testing.T) {
	s := mustLoad(t, "basic")
	want := []varSummary{
		// main.tf sorts before variables.tf, so its variable comes first;
		// main.tf.json and sub/ are not read.
		{Name: "zz_last", Type: "string", Default: "(none)", Required: true, At: "main.tf:30"},
		{Name: "name", Type: "string", Default: "(none)", Required: true, Nullable: true, Description: "A required string.", At: "variables.tf:1"},
		{Name: "count_of", Type: "number", Default: "3", Nullable: true, At: "variables.tf:6"},
		{Name: "enabled", Type: "bool", Default: "true", Nullable: true, At: "variables.tf:11"},
		{Name: "tags", Type: "map(string)", Default: "{}", Nullable: true, At: "variables.tf:16"},
		{Name: "zones", Type: "list(string)", Default: `["a", "b"]`, Nullable: true, At: "variables.tf:21"},
		{
			Name:            "settings",
			Type:            "object({inner=object({depth=number}),label=string,size=number,verbose=bool})",
			Default:         `{ inner = { depth = 1 }, label = "none", size = 1, verbose = null }`,
			Nullable:        true,
			HasTypeDefaults: true,
			At:              "variables.tf:26",
		},
		{Name: "token", Type: "string", Default: "(none)", Required: true, Sensitive: true, Nullable: true, At: "variables.tf:38"},
		{Name: "region", Type: "string", Default: `"us-west-2"`, At: "variables.tf:43"},
		{Name: "anything", Type: "any", Default: "(none)", Required: true, Nullable: true, Description: "No type: any value.", At: "variables.tf:49"},
		{Name: "maybe", Type: "string", Default: "null", Nullable: true, At: "variables.tf:53"},
		{Name: "validated", Type: "string", Default: `"ok"`, Nullable: true, At: "variables.tf:58"},
	}
	assert.Equal(t, want, summarize(s.Variables()), "Variables() of basic")

	v, ok := s.Lookup("zones")
	require.True(t, ok, "Lookup(zones)")
	assert.Equal(t, "zones", v.Name, "Lookup(zones)")
	_, ok = s.Lookup("ignored_json")
	assert.False(t, ok, "Lookup(ignored_json) found a variable from a .tf.json file")
	_, ok = s.Lookup("in_subdir")
	assert.False(t, ok, "Lookup(in_subdir) found a variable from a subdirectory")
	settings, _ := s.Lookup("settings")
	for attr, want := range map[string]bool{"size": false, "label": true, "verbose": true, "inner": true} {
		assert.Equal(t, want, settings.Type.AttributeOptional(attr), "settings.%s optional", attr)
	}
	assert.True(t, v.Default.Type().Equals(cty.List(cty.String)),
		"zones default has type %#v, want list(string)", v.Default.Type())
}

func TestLoadSchemaErrors(t *testing.T) {
	tests := []struct {
		module string
		want   []string // substrings of the error, in order
	}{
		{"dup", []string{
			`variable "region" is declared at testdata/modules/dup/a.tf:1,1-18 and again at testdata/modules/dup/b.tf:2,1-18`,
		}},
		{"syntax", []string{"testdata/modules/syntax/variables.tf:7,"}},
		{"baddefault", []string{
			`variables.tf:3,13-21: Invalid default value for variable; The default of "port" does not match its type number: a number is required`,
			`variables.tf:9,14-18: Invalid default value for variable; A null default value is not valid when nullable = false`,
			`variables.tf:14,3-10: Unsupported argument`,
		}},
		{"does-not-exist", []string{"no such file or directory"}},
	}
	for _, tt := range tests {
		t.Run(tt.module, func(t *testing.T) {
			_, err := LoadSchema(filepath.Join("testdata", "modules", tt.module))
			require.Error(t, err, "LoadSchema(%s)", tt.module)
			msg := err.Error()
			rest := msg
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				require.GreaterOrEqual(t, i, 0, "error does not contain %q (in order):\n%s", w, msg)
				rest = rest[i+len(w):]
			}
			if tt.module != "does-not-exist" {
				var d *hcl.Diagnostic
				if assert.ErrorAs(t, err, &d, "LoadSchema(%s)", tt.module) {
					assert.NotNil(t, d.Subject, "position of the first *hcl.Diagnostic in %v", err)
				}
			}
		})
	}
}

func TestLoadSchemaFS(t *testing.T) {
	fsys := fstest.MapFS{
		"mod/b.tf":        {Data: []byte(`variable "second" { type = number }`)},
		"mod/a.tf":        {Data: []byte(`variable "first" { default = "x" }` + "\n" + `resource "x" "y" {}`)},
		"mod/notes.txt":   {Data: []byte(`variable "nope" {}`)},
		"mod/c.tf.json":   {Data: []byte(`{"variable": {"nope2": {}}}`)},
		"mod/deeper/d.tf": {Data: []byte(`variable "nope3" {}`)},
	}
	s, err := LoadSchemaFS(fsys, "mod")
	require.NoError(t, err)
	want := []varSummary{
		{Name: "first", Type: "any", Default: `"x"`, Nullable: true, At: "a.tf:1"},
		{Name: "second", Type: "number", Default: "(none)", Required: true, Nullable: true, At: "b.tf:1"},
	}
	assert.Equal(t, want, summarize(s.Variables()), "Variables() of the MapFS module")
	assert.Equal(t, "mod/a.tf", s.order[0].DeclRange.Filename, "DeclRange.Filename")

	// The same module from disk through os.DirFS.
	s2, err := LoadSchemaFS(os.DirFS("testdata/modules"), "client")
	require.NoError(t, err)
	assert.Len(t, s2.Variables(), 17, "variables of the client module")
}

func TestLoadSchemaFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	target, err := filepath.Abs("testdata/modules/dup/a.tf")
	require.NoError(t, err)
	if err := os.Symlink(target, filepath.Join(dir, "linked.tf")); err != nil {
		t.Skip("symlinks unavailable:", err)
	}
	require.NoError(t, os.Mkdir(filepath.Join(dir, "adir.tf"), 0o755)) // a directory named like a file
	s, err := LoadSchema(dir)
	require.NoError(t, err)
	_, ok := s.Lookup("region")
	assert.True(t, ok && len(s.Variables()) == 1,
		"Variables() = %v, want only region from the linked file", summarize(s.Variables()))
}
