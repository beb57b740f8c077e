package terraform

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
	"testing/fstest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFS(t *testing.T) {
	for _, name := range Names() {
		fsys, err := FS(name)
		require.NoError(t, err, "FS(%q)", name)
		for _, f := range []string{"main.tf", "variables.tf", "outputs.tf", "user_data.tf", "user_data.sh.tftpl"} {
			_, err := fs.Stat(fsys, f)
			assert.NoError(t, err, "FS(%q): %s", name, f)
		}
	}
	for _, name := range []string{"", "gcp", ".", "aws/..", "../local"} {
		_, err := FS(name)
		assert.ErrorIs(t, err, ErrUnknownModule, "FS(%q)", name)
	}
}

// TestEmbeddedModulesFlat: every embedded file is a module file at the top
// of its module, which is what Materialize and Install copy.
func TestEmbeddedModulesFlat(t *testing.T) {
	for _, name := range Names() {
		fsys, err := FS(name)
		require.NoError(t, err)
		err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || p == "." {
				return err
			}
			assert.False(t, d.IsDir(), "%s: directory %s would not be copied", name, p)
			assert.True(t, moduleFile(d.Name()), "%s: %s would not be copied", name, p)
			return nil
		})
		require.NoError(t, err)
	}
}

// assertHolds checks that dir holds every file of the embedded module name
// byte for byte, with mode 0644.
func assertHolds(t *testing.T, dir, name string) {
	t.Helper()
	fsys, err := FS(name)
	require.NoError(t, err)
	names, err := moduleFiles(fsys)
	require.NoError(t, err)
	require.NotEmpty(t, names)
	for _, f := range names {
		want, err := fs.ReadFile(fsys, f)
		require.NoError(t, err)
		p := filepath.Join(dir, f)
		got, err := os.ReadFile(p)
		if !assert.NoError(t, err) {
			continue
		}
		assert.Equal(t, string(want), string(got), "%s differs from the embedded file", p)
		fi, err := os.Stat(p)
		require.NoError(t, err)
		assert.Equal(t, fs.FileMode(0o644), fi.Mode().Perm(), "mode of %s", p)
	}
}

func TestMaterialize(t *testing.T) {
	for _, name := range Names() {
		t.Run(name, func(t *testing.T) {
			// Missing dir, and existing empty dir.
			for _, dir := range []string{filepath.Join(t.TempDir(), "a", "b"), t.TempDir()} {
				require.NoError(t, Materialize(name, dir), "Materialize(%q, %q)", name, dir)
				assertHolds(t, dir, name)
			}
		})
	}
}

func TestMaterializeRefuses(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "main.tf")
	require.NoError(t, os.WriteFile(keep, []byte("# mine\n"), 0o644))
	assert.Error(t, Materialize("local", dir), "Materialize into a non-empty dir")
	data, _ := os.ReadFile(keep)
	assert.Equal(t, "# mine\n", string(data), "existing file overwritten")
	entries, _ := os.ReadDir(dir)
	assert.Len(t, entries, 1, "entries after a refused Materialize")

	file := filepath.Join(t.TempDir(), "f")
	require.NoError(t, os.WriteFile(file, nil, 0o644))
	assert.Error(t, Materialize("local", file), "Materialize onto a file")
	assert.ErrorIs(t, Materialize("nope", t.TempDir()), ErrUnknownModule)
}

// writeFiles writes files (name to content) into dir, creating dir and the
// directories the names hold.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(data), 0o644))
	}
}

// entries lists the names at the top of dir.
func entries(t *testing.T, dir string) []string {
	t.Helper()
	list, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range list {
		names = append(names, e.Name())
	}
	return names
}

func TestOpen(t *testing.T) {
	operator := t.TempDir()
	writeFiles(t, operator, map[string]string{"main.tf": "# mine\n"})
	noModule := t.TempDir()
	writeFiles(t, noModule, map[string]string{"README.md": "not a module"})
	local := filepath.Join(t.TempDir(), "local")
	writeFiles(t, local, map[string]string{"main.tf": "# not the embedded one\n"})

	tests := []struct {
		spec string
		want string // String of the module; "" for an error matching ErrUnknownModule
	}{
		{"local", "the embedded local module"},
		{"aws", "the embedded aws module"},
		{operator, "the module in " + operator},
		{local, "the module in " + local},
		{noModule, ""},
		{filepath.Join(operator, "missing"), ""},
		{"gcp", ""},
		{"", ""},
	}
	for _, tc := range tests {
		m, err := Open(tc.spec)
		if tc.want == "" {
			assert.ErrorIs(t, err, ErrUnknownModule, "Open(%q)", tc.spec)
			continue
		}
		if assert.NoError(t, err, "Open(%q)", tc.spec) {
			assert.Equal(t, tc.want, m.String(), "Open(%q)", tc.spec)
		}
	}
	_, err := Open(filepath.Join(operator, "main.tf"))
	assert.Error(t, err, "Open of a file")
}

func TestInstall(t *testing.T) {
	local, err := Open("local")
	require.NoError(t, err)

	t.Run("missing or empty dir", func(t *testing.T) {
		for _, dir := range []string{filepath.Join(t.TempDir(), "a", "b"), t.TempDir()} {
			inst, err := local.Install(dir)
			require.NoError(t, err)
			names, err := moduleFiles(local.fsys)
			require.NoError(t, err)
			assert.Equal(t, names, inst.Wrote, "files written")
			assert.Empty(t, inst.Diff)
			assertHolds(t, dir, "local")
		}
	})

	t.Run("dir with what lablink and OpenTofu keep", func(t *testing.T) {
		dir := t.TempDir()
		kept := map[string]string{
			".lablink/tokens.json":     "{}",
			".terraform/x":             "x",
			"terraform.tfstate":        "{}",
			"terraform.tfstate.backup": "{}",
			"terraform.runtime.tfvars": "instance_count = 1\n",
		}
		writeFiles(t, dir, kept)
		inst, err := local.Install(dir)
		require.NoError(t, err)
		assert.NotEmpty(t, inst.Wrote)
		assertHolds(t, dir, "local")
		for name, want := range kept {
			got, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
			require.NoError(t, err)
			assert.Equal(t, want, string(got), "%s was changed", name)
		}
	})

	t.Run("dir with other files", func(t *testing.T) {
		dir := t.TempDir()
		writeFiles(t, dir, map[string]string{"notes.txt": "mine", ".lablink/tokens.json": "{}"})
		inst, err := local.Install(dir)
		require.ErrorIs(t, err, ErrNotModuleDir)
		assert.Contains(t, err.Error(), "is neither empty nor an OpenTofu module directory: it holds notes.txt")
		assert.Empty(t, inst.Wrote)
		assert.Equal(t, []string{".lablink", "notes.txt"}, entries(t, dir), "nothing written")
	})

	t.Run("dir holding the module", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, Materialize("local", dir))
		// The launcher's backend file and OpenTofu's other files are no
		// difference.
		writeFiles(t, dir, map[string]string{"lablink_backend_override.tf": "terraform {}\n",
			".terraform.lock.hcl": "# lock\n", "terraform.tfstate": "{}"})
		inst, err := local.Install(dir)
		require.NoError(t, err)
		assert.Empty(t, inst.Wrote)
		assert.Empty(t, inst.Diff)
	})

	t.Run("dir holding another module", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, Materialize("local", dir))
		edited := filepath.Join(dir, "outputs.tf")
		data, err := os.ReadFile(edited)
		require.NoError(t, err)
		data = append(data, "# edited by an operator\n"...)
		require.NoError(t, os.WriteFile(edited, data, 0o644))
		require.NoError(t, os.Remove(filepath.Join(dir, "user_data.tf")))
		writeFiles(t, dir, map[string]string{"extra.tf": "# mine\n", "override.tf": "# an override\n"})

		inst, err := local.Install(dir)
		require.NoError(t, err)
		assert.Empty(t, inst.Wrote, "written over an existing module")
		assert.Equal(t, []string{"extra.tf", "outputs.tf", "user_data.tf"}, inst.Diff)
		got, err := os.ReadFile(edited)
		require.NoError(t, err)
		assert.Equal(t, string(data), string(got), "the operator's edit was overwritten")
		assert.NoFileExists(t, filepath.Join(dir, "user_data.tf"), "a missing file was written")

		aws, err := Open("aws")
		require.NoError(t, err)
		diff, err := aws.Diff(dir)
		require.NoError(t, err)
		assert.Contains(t, diff, "versions.tf", "the aws module's own file")
	})

	t.Run("from a directory", func(t *testing.T) {
		src := t.TempDir()
		writeFiles(t, src, map[string]string{
			"main.tf": "# main\n", "vars.tf.json": "{}", "boot.sh.tftpl": "#!/bin/sh\n", "helper.sh": "true\n",
			// Not module files, or not at the top: they stay behind.
			"terraform.tfvars": "x = 1\n", "terraform.tfstate": "{}", "README.md": "# readme\n",
			".terraform/providers/p": "binary", ".hidden.tf": "# hidden\n", "modules/sub/main.tf": "# sub\n",
		})
		m, err := Open(src)
		require.NoError(t, err)
		dir := filepath.Join(t.TempDir(), "work")
		inst, err := m.Install(dir)
		require.NoError(t, err)
		want := []string{"boot.sh.tftpl", "helper.sh", "main.tf", "vars.tf.json"}
		assert.Equal(t, want, inst.Wrote)
		assert.Equal(t, want, entries(t, dir))
		diff, err := m.Diff(dir)
		require.NoError(t, err)
		assert.Empty(t, diff, "the copy differs from its source")
	})

	t.Run("failed write", func(t *testing.T) {
		// The second file cannot be read: the first, written already, is
		// removed, so that the directory is not left with half a module.
		m := &Module{fsys: failingFS{fstest.MapFS{
			"a.tf": {Data: []byte("# a\n")},
			"b.tf": {Data: []byte("# b\n")},
		}, "b.tf"}, name: "test"}
		dir := t.TempDir()
		inst, err := m.Install(dir)
		require.ErrorIs(t, err, errRead)
		assert.Empty(t, inst.Wrote)
		assert.Empty(t, entries(t, dir), "files left behind")
	})
}

var errRead = errors.New("read failed")

// failingFS is fsys whose file bad cannot be opened.
type failingFS struct {
	fstest.MapFS
	bad string
}

func (f failingFS) Open(name string) (fs.File, error) {
	if name == f.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errRead}
	}
	return f.MapFS.Open(name)
}

func (f failingFS) ReadFile(name string) ([]byte, error) {
	if name == f.bad {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errRead}
	}
	return f.MapFS.ReadFile(name)
}
