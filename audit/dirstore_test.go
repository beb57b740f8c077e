package audit_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/lablink-go/lablink/audit"
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
	if err != nil {
		t.Fatal(err)
	}
	return got
}

func TestDirStorePermissions(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "audit")
	s := audit.NewDirStore(dir)
	ctx := t.Context()
	if err := s.Create(ctx, "dev/client/history/1/attempt.json", []byte("{}"), audit.ContentTypeJSON); err != nil {
		t.Fatal(err)
	}
	if err := s.Put(ctx, "dev/client/terraform.runtime.tfvars", []byte("x"), audit.ContentTypeTFVars); err != nil {
		t.Fatal(err)
	}
	got := map[string]fs.FileMode{}
	for _, rel := range files(t, dir) {
		fi, err := os.Stat(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
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
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("modes mismatch (-want +got):\n%s", diff)
	}
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
			if err := s.Put(t.Context(), key, []byte("body"), audit.ContentTypeTFVars); err == nil {
				t.Error("Put succeeded")
			}
			// Create on an existing directory name fails too (as ErrExists).
			if err := s.Create(t.Context(), key, []byte("body"), audit.ContentTypeTFVars); err == nil {
				t.Error("Create succeeded")
			}
			if diff := cmp.Diff(before, files(t, root)); diff != "" {
				t.Errorf("failed writes left files behind (-before +after):\n%s", diff)
			}
		})
	}
}

func TestDirStoreReadOnly(t *testing.T) {
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o500); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o700) })
	if f, err := os.CreateTemp(dir, "probe"); err == nil {
		f.Close()
		os.Remove(f.Name())
		t.Skip("the directory is still writable (running as root?); covered by TestDirStoreWriteFailures")
	}
	s := audit.NewDirStore(dir)
	for name, write := range map[string]func() error{
		"Put":          func() error { return s.Put(t.Context(), "k", []byte("x"), audit.ContentTypeJSON) },
		"Create":       func() error { return s.Create(t.Context(), "k", []byte("x"), audit.ContentTypeJSON) },
		"Create/child": func() error { return s.Create(t.Context(), "a/k", []byte("x"), audit.ContentTypeJSON) },
	} {
		if err := write(); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("%s: got %v, want a permission error", name, err)
		}
	}
	if diff := cmp.Diff([]string{"."}, files(t, dir)); diff != "" {
		t.Errorf("files left behind (-want +got):\n%s", diff)
	}
}

func TestDirStoreKeysCannotEscape(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "store")
	s := audit.NewDirStore(dir)
	for _, key := range []string{
		"../outside", "a/../../outside", "/tmp/outside", `..\outside`, `a\..\..\outside`,
		".audit-tmp-x", "a/.audit-tmp-x",
	} {
		if err := s.Put(t.Context(), key, []byte("x"), audit.ContentTypeJSON); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Put(%q): got %v, want ErrInvalid", key, err)
		}
		if err := s.Create(t.Context(), key, []byte("x"), audit.ContentTypeJSON); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Create(%q): got %v, want ErrInvalid", key, err)
		}
	}
	if diff := cmp.Diff([]string{"."}, files(t, root)); diff != "" {
		t.Errorf("files written (-want +got):\n%s", diff)
	}
}

func TestDirStoreListSkipsTempFiles(t *testing.T) {
	dir := t.TempDir()
	s := audit.NewDirStore(dir)
	if err := s.Put(t.Context(), "dev/k", []byte("x"), audit.ContentTypeJSON); err != nil {
		t.Fatal(err)
	}
	// What a crash between CreateTemp and the rename leaves behind.
	writeFile(t, filepath.Join(dir, "dev", ".audit-tmp-123"), "partial")
	got, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"dev/k"}, got); diff != "" {
		t.Errorf("List mismatch (-want +got):\n%s", diff)
	}
}

func TestDirStoreMissingDir(t *testing.T) {
	s := audit.NewDirStore(filepath.Join(t.TempDir(), "not", "yet"))
	got, err := s.List(t.Context(), "dev/client/history/")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("List = %q, want empty", got)
	}
	if _, err := s.Get(t.Context(), "dev/k"); !errors.Is(err, audit.ErrNotFound) {
		t.Errorf("Get: got %v, want ErrNotFound", err)
	}
	if !strings.HasSuffix(s.Location("dev/k"), filepath.Join("not", "yet", "dev", "k")) {
		t.Errorf("Location = %q", s.Location("dev/k"))
	}
}

func writeFile(t *testing.T, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
}
