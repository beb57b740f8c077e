package tfvars

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// dirNames lists the names in dir, to catch leftover temporary files.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
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
		if err := WriteFile(path, []byte(content)); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Errorf("content = %q, want %q", got, content)
		}
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode(); mode != 0o600 {
			t.Errorf("mode = %v, want -rw-------", mode)
		}
	}
	if diff := cmp.Diff([]string{"terraform.runtime.tfvars"}, dirNames(t, dir)); diff != "" {
		t.Errorf("directory entries (-want +got):\n%s", diff)
	}
}

func TestWriteFileExistingModeIsReplaced(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.tfvars")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode() != 0o600 {
		t.Errorf("mode = %v, want -rw-------", fi.Mode())
	}
}

func TestWriteFileRenameFails(t *testing.T) {
	// A directory at path makes the final rename fail for any user,
	// including root.
	dir := t.TempDir()
	path := filepath.Join(dir, "target")
	if err := os.Mkdir(path, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(path, "keep"), []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("new")); err == nil {
		t.Fatal("WriteFile over a directory succeeded")
	}
	if diff := cmp.Diff([]string{"target"}, dirNames(t, dir)); diff != "" {
		t.Errorf("temporary file left behind (-want +got):\n%s", diff)
	}
	if got, err := os.ReadFile(filepath.Join(path, "keep")); err != nil || string(got) != "old" {
		t.Errorf("old content disturbed: %q, %v", got, err)
	}
}

func TestWriteFileReadOnlyDir(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores directory permissions; TestWriteFileRenameFails covers the failure path")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "x.tfvars")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.Chmod(dir, 0o700) })
	if err := WriteFile(path, []byte("new")); err == nil {
		t.Fatal("WriteFile into a read-only directory succeeded")
	}
	if got, err := os.ReadFile(path); err != nil || string(got) != "old" {
		t.Errorf("old file disturbed: %q, %v", got, err)
	}
	if diff := cmp.Diff([]string{"x.tfvars"}, dirNames(t, dir)); diff != "" {
		t.Errorf("temporary file left behind (-want +got):\n%s", diff)
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	if err := WriteFile(filepath.Join(t.TempDir(), "no", "such", "x.tfvars"), []byte("x")); err == nil {
		t.Fatal("WriteFile into a missing directory succeeded")
	}
}
