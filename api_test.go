package lablink_test

import (
	"go/ast"
	"go/importer"
	"go/parser"
	"go/token"
	"go/types"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/tools/go/packages"
)

// TestNoExportedMutableState (issue 17 item 1): no public package of the
// module exports a package-level variable an importer could change for
// the whole process: one whose type is or holds a slice, map, pointer,
// function, channel or interface. Errors (variables of type error, such
// as those made by errors.New or fmt.Errorf) are the exception. Public
// packages are every directory of the module with Go files, but internal/,
// examples/ and testdata/; test files are not read.
func TestNoExportedMutableState(t *testing.T) {
	if testing.Short() {
		t.Skip("type-checks every public package")
	}
	dirs := publicPackageDirs(t)
	require.Contains(t, dirs, ".", "the walk must find the root package")
	require.Contains(t, dirs, "./plancheck", "the walk must find the subpackages")
	pkgs, err := packages.Load(&packages.Config{
		Mode: packages.NeedName | packages.NeedSyntax | packages.NeedTypes | packages.NeedTypesInfo,
	}, dirs...)
	require.NoError(t, err)
	require.Len(t, pkgs, len(dirs))
	for _, pkg := range pkgs {
		require.Empty(t, pkg.Errors, "loading %s", pkg.PkgPath)
		for _, v := range exportedMutableVars(pkg.Fset, pkg.Syntax, pkg.TypesInfo) {
			name := pkg.PkgPath + "." + v.name
			t.Errorf("%s: exported variable %s is %s: an importer can change it for every user of the package; "+
				"make it a function returning a fresh value, or unexported", v.pos, name, v.why)
		}
	}
}

// publicPackageDirs walks the module from its root (this package's
// directory) and returns "./dir" patterns for every directory with
// non-test Go files outside internal/, examples/ and testdata/.
func publicPackageDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch name := d.Name(); {
			case path == ".":
			case name == "internal" || name == "examples" || name == "testdata",
				strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_"):
				return filepath.SkipDir
			default:
				if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil {
					return filepath.SkipDir // another module
				}
			}
			return nil
		}
		if strings.HasSuffix(path, ".go") && !strings.HasSuffix(path, "_test.go") {
			dir := "./" + filepath.ToSlash(filepath.Dir(path))
			if dir == "./." {
				dir = "."
			}
			if !slices.Contains(dirs, dir) {
				dirs = append(dirs, dir)
			}
		}
		return nil
	})
	require.NoError(t, err)
	return dirs
}

// mutableVar is an exported variable and why it is mutable state.
type mutableVar struct {
	name, why string
	pos       token.Position
}

// exportedMutableVars finds the exported package-level variables of files
// whose type is or holds a reference an importer could change through.
func exportedMutableVars(fset *token.FileSet, files []*ast.File, info *types.Info) []mutableVar {
	var out []mutableVar
	for _, f := range files {
		for _, decl := range f.Decls {
			gd, ok := decl.(*ast.GenDecl)
			if !ok || gd.Tok != token.VAR {
				continue
			}
			for _, spec := range gd.Specs {
				for _, id := range spec.(*ast.ValueSpec).Names {
					obj, ok := info.Defs[id].(*types.Var)
					if !id.IsExported() || !ok {
						continue
					}
					if why := mutable(obj.Type(), map[types.Type]bool{}); why != "" {
						out = append(out, mutableVar{name: id.Name, why: why, pos: fset.Position(id.Pos())})
					}
				}
			}
		}
	}
	return out
}

var errorType = types.Universe.Lookup("error").Type()

// mutable says what reference type t is or holds, or "" for a value an
// importer can only replace whole. The error type is exempt.
func mutable(t types.Type, seen map[types.Type]bool) string {
	if types.Identical(t, errorType) || seen[t] {
		return ""
	}
	seen[t] = true
	switch u := t.Underlying().(type) {
	case *types.Slice:
		return "a slice"
	case *types.Map:
		return "a map"
	case *types.Pointer:
		return "a pointer"
	case *types.Signature:
		return "a func"
	case *types.Chan:
		return "a channel"
	case *types.Interface:
		return "an interface, which may hold a pointer"
	case *types.Array:
		if why := mutable(u.Elem(), seen); why != "" {
			return "an array of " + why
		}
	case *types.Struct:
		for i := range u.NumFields() {
			if why := mutable(u.Field(i).Type(), seen); why != "" {
				return "a struct holding " + why + " (field " + u.Field(i).Name() + ")"
			}
		}
	}
	return ""
}

// TestMutableFinds holds the checker itself to every kind it must find
// and every kind it must let pass.
func TestMutableFinds(t *testing.T) {
	const src = `package p

import (
	"errors"
	"fmt"
	"sync"
)

type holder struct {
	n int
	s []int
}

type plain struct {
	n int
	s string
}

var (
	ErrA = errors.New("a")
	ErrB = fmt.Errorf("b: %w", ErrA)
	N    = 3
	W    = plain{}
	Mu   sync.Mutex
	Arr  = [2]int{}
	lower = []int{}

	S   = []string{}
	M   = map[string]int{}
	P   = &plain{}
	F   = func() {}
	C   = make(chan int)
	I   any = 1
	AS  = [2][]int{}
	H   = holder{}
)
`
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "p.go", src, 0)
	require.NoError(t, err)
	info := &types.Info{Defs: map[*ast.Ident]types.Object{}}
	_, err = (&types.Config{Importer: importer.Default()}).Check("p", fset, []*ast.File{f}, info)
	require.NoError(t, err)
	got := map[string]string{}
	for _, v := range exportedMutableVars(fset, []*ast.File{f}, info) {
		got[v.name] = v.why
	}
	assert.Equal(t, map[string]string{
		"S":  "a slice",
		"M":  "a map",
		"P":  "a pointer",
		"F":  "a func",
		"C":  "a channel",
		"I":  "an interface, which may hold a pointer",
		"AS": "an array of a slice",
		"H":  "a struct holding a slice (field s)",
	}, got)
}
