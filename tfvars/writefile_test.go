package tfvars

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/testkit/unpriv"
)

// dirNames lists the names in dir, to catch leftover temporary files.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "terraform.runtime.tfvars")

	for _, content := range []string{"a = 1\n", "a = 2\nb = 3\n"} { // create, then replace
		require.NoError(t, WriteFile(path, []byte(content)), "WriteFile(%q)", content)
		got, err := os.ReadFile(path)
		require.NoError(t, err)
		assert.Equal(t, content, string(got), "content")
		fi, err := os.Stat(path)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode(), "mode after writing %q", content)
	}
	assert.Equal(t, []string{"terraform.runtime.tfvars"}, dirNames(t, dir), "directory entries")
}

func TestWriteFileExistingModeIsReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.tfvars")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o644))
	require.NoError(t, WriteFile(path, []byte("new")), "WriteFile")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode(), "mode of the replaced file")
}

func TestWriteFileRenameFails(t *testing.T) {
	// A directory at path makes the final rename fail for any user,
	// including root.
	dir := t.TempDir()
	path := filepath.Join(dir, "target")
	require.NoError(t, os.Mkdir(path, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(path, "keep"), []byte("old"), 0o600))
	require.Error(t, WriteFile(path, []byte("new")), "WriteFile over a directory")
	assert.Equal(t, []string{"target"}, dirNames(t, dir), "directory entries: temporary file left behind")
	got, err := os.ReadFile(filepath.Join(path, "keep"))
	if assert.NoError(t, err, "old content disturbed") {
		assert.Equal(t, "old", string(got), "old content disturbed")
	}
}

// A directory the writer may not write into: WriteFile fails with a
// permission error naming the file, and leaves the old file and the
// directory as they were. Root ignores directory modes, so the write runs
// in a child process as an unprivileged user (see unpriv); the directory
// is read-only for that user whoever runs the test.
func TestWriteFileReadOnlyDir(t *testing.T) {
	if unpriv.Child(t) {
		unpriv.Reply(t, unpriv.ErrorOf(WriteFile(unpriv.Arg(), []byte("new"))))
		return
	}
	dir := filepath.Join(unpriv.Dir(t), "ro")
	require.NoError(t, os.Mkdir(dir, 0o700))
	path := filepath.Join(dir, "x.tfvars")
	require.NoError(t, os.WriteFile(path, []byte("old"), 0o600))
	require.NoError(t, os.Chmod(dir, 0o555))
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	var got unpriv.Error
	unpriv.Run(t, path, &got)
	require.NotEmpty(t, got.Err, "WriteFile into a read-only directory succeeded")
	assert.True(t, got.Permission, "WriteFile into a read-only directory: %s; want an error matching fs.ErrPermission", got.Err)
	assert.Contains(t, got.Err, path, "the error names the file")
	data, err := os.ReadFile(path)
	if assert.NoError(t, err, "old file disturbed") {
		assert.Equal(t, "old", string(data), "old file disturbed")
	}
	assert.Equal(t, []string{"x.tfvars"}, dirNames(t, dir), "directory entries: temporary file left behind")
}

func TestWriteFileMissingDir(t *testing.T) {
	err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "x.tfvars"), []byte("x"))
	require.Error(t, err, "WriteFile into a missing directory")
}
