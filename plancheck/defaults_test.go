package plancheck_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/plantest"
	"github.com/lablink-go/lablink/plancheck"
)

// TestDefaultsAreCopies: what a Default function returns belongs to the
// caller. Changing it changes neither the next call nor the verdict of
// the next Check with the default Options (issue 17: any importer could
// let a plan open 6080 to the internet with `DefaultPorts[0] = 1`).
func TestDefaultsAreCopies(t *testing.T) {
	changes := []plancheck.Change{
		{
			Address: "aws_vpc_security_group_ingress_rule.vnc", Type: "aws_vpc_security_group_ingress_rule", Name: "vnc",
			Actions: []string{"create"},
			After:   map[string]any{"ip_protocol": "tcp", "from_port": 6080.0, "to_port": 6080.0, "cidr_ipv4": "0.0.0.0/0", "cidr_ipv6": nil},
		},
		{Address: "aws_instance.lablink_vm[0]", Type: "aws_instance", Name: "lablink_vm", Actions: []string{"delete"}},
	}
	want := []string{
		"aws_vpc_security_group_ingress_rule.vnc: ingress rule (tcp 6080 from 0.0.0.0/0) refused: it lets 0.0.0.0/0 reach port 6080",
		"aws_instance.lablink_vm[0]: delete refused: it would destroy a running VM",
	}
	require.Equal(t, want, plantest.Reasons(plancheck.Check(changes, nil)), "before any change")

	tests := []struct {
		name   string
		mutate func()
	}{
		{"DefaultPorts", func() {
			p := plancheck.DefaultPorts()
			p[0], p[1] = 1, 2
		}},
		{"DefaultPublicCIDRs", func() {
			c := plancheck.DefaultPublicCIDRs()
			c[0], c[1] = "10.0.0.0/8", "fd00::/8"
		}},
		{"DefaultClientVMs", func() {
			v := plancheck.DefaultClientVMs()
			v[0], v[1] = "x.y", "x.z"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.mutate()
			assert.Equal(t, want, plantest.Reasons(plancheck.Check(changes, nil)), "%s: verdict after changing a returned default", tt.name)
			assert.Equal(t, want, plantest.Reasons(plancheck.Check(changes, &plancheck.Options{})), "%s: verdict with zero Options", tt.name)
		})
	}
	assert.Equal(t, []int{6080, 7070}, plancheck.DefaultPorts())
	assert.Equal(t, []string{"0.0.0.0/0", "::/0"}, plancheck.DefaultPublicCIDRs())
	assert.Equal(t, []string{"aws_instance.lablink_vm", "terraform_data.lablink_vm"}, plancheck.DefaultClientVMs())
}

// TestNoExportedVariables: the package exports no variable but its error
// sentinels, so no importer can change the policy for a whole process.
func TestNoExportedVariables(t *testing.T) {
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		require.NoError(t, err)
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				for i, id := range vs.Names {
					if !id.IsExported() {
						continue
					}
					assert.True(t, i < len(vs.Values) && isErrorsNew(vs.Values[i]),
						"%s: exported variable %s is not an error sentinel (errors.New)", name, id.Name)
				}
			}
		}
	}
}

func isErrorsNew(e ast.Expr) bool {
	call, ok := e.(*ast.CallExpr)
	if !ok {
		return false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	pkg, ok := sel.X.(*ast.Ident)
	return ok && pkg.Name == "errors" && sel.Sel.Name == "New"
}
