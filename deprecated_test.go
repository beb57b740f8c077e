package lablink_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
)

// TestDeprecatedParagraphs: every Config field an upstream release removed
// carries a "Deprecated:" paragraph (the form gopls and staticcheck warn
// of) naming the release and commit of Deprecations; no other field does.
func TestDeprecatedParagraphs(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "config.go", nil, parser.ParseComments)
	require.NoError(t, err)
	// The doc comment of each field, by struct type name and field name.
	docs := map[string]map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		ts, ok := n.(*ast.TypeSpec)
		if !ok {
			return true
		}
		st, ok := ts.Type.(*ast.StructType)
		if !ok {
			return false
		}
		docs[ts.Name.Name] = map[string]string{}
		for _, field := range st.Fields.List {
			for _, name := range field.Names {
				docs[ts.Name.Name][name.Name] = field.Doc.Text()
			}
		}
		return false
	})
	removed := map[string]lablink.Deprecation{}
	for _, d := range lablink.Deprecations() {
		removed[d.Path] = d
	}
	seen := 0
	var walk func(st reflect.Type, prefix string)
	walk = func(st reflect.Type, prefix string) {
		fields, ok := docs[st.Name()]
		require.True(t, ok, "type %s is not declared in config.go", st.Name())
		for i := range st.NumField() {
			sf := st.Field(i)
			key, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
			path := prefix + key
			doc := fields[sf.Name]
			paragraph := strings.HasPrefix(doc, "Deprecated: ") || strings.Contains(doc, "\n\nDeprecated: ")
			if d, ok := removed[path]; ok {
				seen++
				assert.True(t, paragraph, "%s (%s.%s) has no Deprecated: paragraph", path, st.Name(), sf.Name)
				assert.Contains(t, doc, "allocator "+d.Release+" ("+d.Commit+", "+d.Date+")", path)
				continue // a removed section's fields go with it
			}
			assert.False(t, paragraph, "%s (%s.%s) is not removed upstream but says Deprecated:", path, st.Name(), sf.Name)
			if sf.Type.Kind() == reflect.Struct {
				walk(sf.Type, path+".")
			}
		}
	}
	walk(reflect.TypeFor[lablink.Config](), "")
	assert.Equal(t, len(removed), seen, "deprecations found on fields")
}
