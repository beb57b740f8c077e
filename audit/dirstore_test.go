package audit_test

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/testkit/unpriv"
)

// files returns every file and directory under root, relative, slash-separated.
func files(t *testing.T, root string) []string {
	t.Helper()
	var got []string
	err := filepath.WalkDir(root, func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		got = append(got, filepath.ToSlash(rel))
		return nil
	})
	require.NoError(t, err)
	return got
}

func TestDirStorePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	s := audit.NewDirStore(dir)
	ctx := t.Context()
	require.NoError(t, s.Create(ctx, "dev/client/history/1/attempt.json", []byte("{}"), audit.ContentTypeJSON))
	require.NoError(t, s.Put(ctx, "dev/client/terraform.runtime.tfvars", []byte("x"), audit.ContentTypeTFVars))
	got := map[string]fs.FileMode{}
	for _, rel := range files(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, rel))
		require.NoError(t, err)
		got[rel] = fi.Mode()
	}
	want := map[string]fs.FileMode{
		".":                                   fs.ModeDir | 0o700,
		"dev":                                 fs.ModeDir | 0o700,
		"dev/client":                          fs.ModeDir | 0o700,
		"dev/client/history":                  fs.ModeDir | 0o700,
		"dev/client/history/1":                fs.ModeDir | 0o700,
		"dev/client/history/1/attempt.json":   0o600,
		"dev/client/terraform.runtime.tfvars": 0o600,
	}
	assert.Equal(t, want, got, "modes")
}

func TestDirStoreWriteFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, root string) (storeDir, key string)
	}{
		{"store dir is a file", func(t *testing.T, root string) (string, string) {
			p := filepath.Join(root, "file")
			writeFile(t, p, "not a dir")
			return p, "dev/k"
		}},
		{"key parent is a file", func(t *testing.T, root string) (string, string) {
			writeFile(t, filepath.Join(root, "dev"), "not a dir")
			return root, "dev/k"
		}},
		{"key is a non-empty directory", func(t *testing.T, root string) (string, string) {
			writeFile(t, filepath.Join(root, "dev", "k", "inner"), "x")
			return root, "dev/k"
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := t.TempDir()
			dir, key := tt.setup(t, root)
			before := files(t, root)
			s := audit.NewDirStore(dir)
			assert.Error(t, s.Put(t.Context(), key, []byte("body"), audit.ContentTypeTFVars), "Put")
			// Create on an existing directory name fails too (as ErrExists).
			assert.Error(t, s.Create(t.Context(), key, []byte("body"), audit.ContentTypeTFVars), "Create")
			assert.Equal(t, before, files(t, root), "failed writes left files behind")
		})
	}
}

// A store directory the writer may not write into: Put, Create, and a
// Create that needs a new subdirectory fail with a permission error and
// leave nothing behind. Root ignores directory modes, so the writes run in
// a child process as an unprivileged user (see unpriv); the directory is
// read-only for that user whoever runs the test.
func TestDirStoreReadOnly(t *testing.T) {
	writes := []struct {
		name, key string
		write     func(s *audit.DirStore, key string) error
	}{
		{"Put", "k", func(s *audit.DirStore, key string) error {
			return s.Put(t.Context(), key, []byte("x"), audit.ContentTypeJSON)
		}},
		{"Create", "k", func(s *audit.DirStore, key string) error {
			return s.Create(t.Context(), key, []byte("x"), audit.ContentTypeJSON)
		}},
		{"Create in a new directory", "a/k", func(s *audit.DirStore, key string) error {
			return s.Create(t.Context(), key, []byte("x"), audit.ContentTypeJSON)
		}},
	}
	if unpriv.Child(t) {
		s := audit.NewDirStore(unpriv.Arg())
		var got []unpriv.Error
		for _, w := range writes {
			got = append(got, unpriv.ErrorOf(w.write(s, w.key)))
		}
		unpriv.Reply(t, got)
		return
	}
	dir := filepath.Join(unpriv.Dir(t), "audit")
	require.NoError(t, os.Mkdir(dir, 0o555))
	t.Cleanup(func() { assert.NoError(t, os.Chmod(dir, 0o700)) })
	var got []unpriv.Error
	unpriv.Run(t, dir, &got)
	require.Len(t, got, len(writes), "results %v", got)
	for i, w := range writes {
		e := got[i]
		require.NotEmpty(t, e.Err, "%s into a read-only store succeeded", w.name)
		assert.True(t, e.Permission, "%s: %s; want an error matching fs.ErrPermission", w.name, e.Err)
		assert.Contains(t, e.Err, audit.NewDirStore(dir).Location(w.key), "%s: the error names the object", w.name)
	}
	assert.Equal(t, []string{"."}, files(t, dir), "files left behind")
}

func TestDirStoreKeysCannotEscape(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "store")
	s := audit.NewDirStore(dir)
	for _, key := range []string{
		"../outside", "a/../../outside", "/tmp/outside", `..\outside`, `a\..\..\outside`,
		".audit-tmp-x", "a/.audit-tmp-x",
	} {
		assert.ErrorIs(t, s.Put(t.Context(), key, []byte("x"), audit.ContentTypeJSON), audit.ErrInvalid, "Put(%q)", key)
		assert.ErrorIs(t, s.Create(t.Context(), key, []byte("x"), audit.ContentTypeJSON), audit.ErrInvalid, "Create(%q)", key)
	}
	assert.Equal(t, []string{"."}, files(t, root), "files written")
}

func TestDirStoreListSkipsTempFiles(t *testing.T) {
	dir := t.TempDir()
	s := audit.NewDirStore(dir)
	require.NoError(t, s.Put(t.Context(), "dev/k", []byte("x"), audit.ContentTypeJSON))
	// What a crash between CreateTemp and the rename leaves behind.
	writeFile(t, filepath.Join(dir, "dev", ".audit-tmp-123"), "partial")
	checkKeys(t, s, []string{"dev/k"})
}

func TestDirStoreMissingDir(t *testing.T) {
	s := audit.NewDirStore(filepath.Join(t.TempDir(), "not", "yet"))
	got, err := s.List(t.Context(), "dev/client/history/", audit.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, got, "List")
	_, err = s.Get(t.Context(), "dev/k")
	assert.ErrorIs(t, err, audit.ErrNotFound, "Get")
	assert.True(t, strings.HasSuffix(s.Location("dev/k"), filepath.Join("not", "yet", "dev", "k")), "Location = %q", s.Location("dev/k"))
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o700))
	require.NoError(t, os.WriteFile(p, []byte(body), 0o600))
}

// Delete removes the directories it leaves empty, so that deleted index
// entries leave nothing for List to walk; the store's own directory and
// directories that still hold something stay.
func TestDirStoreDeleteRemovesEmptyDirs(t *testing.T) {
	root := t.TempDir()
	s := audit.NewDirStore(root)
	ctx := t.Context()
	require.NoError(t, s.Create(ctx, "a/b/c/d", []byte("x"), audit.ContentTypeJSON))
	require.NoError(t, s.Create(ctx, "a/e", []byte("y"), audit.ContentTypeJSON))
	require.NoError(t, s.Delete(ctx, "a/b/c/d"))
	assert.Equal(t, []string{".", "a", "a/e"}, files(t, root), "after deleting a/b/c/d")
	require.NoError(t, s.Delete(ctx, "a/e"))
	assert.Equal(t, []string{"."}, files(t, root), "after deleting a/e")
}

// A write and a Delete that removes the write's parent directories race:
// the write tries again when a directory it needs vanishes, whether it
// was creating its temporary file or the directory itself.
func TestDirStoreWriteRacesDelete(t *testing.T) {
	s := audit.NewDirStore(t.TempDir())
	ctx := t.Context()
	const rounds = 500
	var wg sync.WaitGroup
	errs := make(chan error, 4*rounds)
	wg.Go(func() {
		for range rounds {
			errs <- s.Put(ctx, "a/b/c/d", []byte("x"), audit.ContentTypeJSON)
			errs <- s.Delete(ctx, "a/b/c/d")
		}
	})
	wg.Go(func() {
		for i := range rounds {
			key := fmt.Sprintf("a/b/e%d/f", i)
			errs <- s.Put(ctx, key, []byte("y"), audit.ContentTypeJSON)
			errs <- s.Delete(ctx, key)
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
}
