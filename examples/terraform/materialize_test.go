package terraform

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestFS(t *testing.T) {
	for _, name := range Names {
		fsys, err := FS(name)
		if err != nil {
			t.Fatalf("FS(%q): %v", name, err)
		}
		for _, f := range []string{"main.tf", "variables.tf", "outputs.tf", "user_data.tf", "user_data.sh.tftpl"} {
			if _, err := fs.Stat(fsys, f); err != nil {
				t.Errorf("FS(%q): %v", name, err)
			}
		}
	}
	for _, name := range []string{"", "gcp", ".", "aws/..", "../local"} {
		if _, err := FS(name); !errors.Is(err, ErrUnknownModule) {
			t.Errorf("FS(%q) error = %v, want ErrUnknownModule", name, err)
		}
	}
}

func TestMaterialize(t *testing.T) {
	for _, name := range Names {
		t.Run(name, func(t *testing.T) {
			fsys, err := FS(name)
			if err != nil {
				t.Fatal(err)
			}
			// Missing dir, and existing empty dir.
			for _, dir := range []string{filepath.Join(t.TempDir(), "a", "b"), t.TempDir()} {
				if err := Materialize(name, dir); err != nil {
					t.Fatalf("Materialize(%q, %q): %v", name, dir, err)
				}
				err := fs.WalkDir(fsys, ".", func(path string, d fs.DirEntry, err error) error {
					if err != nil || d.IsDir() {
						return err
					}
					want, err := fs.ReadFile(fsys, path)
					if err != nil {
						return err
					}
					p := filepath.Join(dir, filepath.FromSlash(path))
					got, err := os.ReadFile(p)
					if err != nil {
						return err
					}
					if string(got) != string(want) {
						t.Errorf("%s differs from the embedded file", p)
					}
					fi, err := os.Stat(p)
					if err != nil {
						return err
					}
					if fi.Mode().Perm() != 0o644 {
						t.Errorf("%s has mode %v, want 0644", p, fi.Mode().Perm())
					}
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
			}
		})
	}
}

func TestMaterializeRefuses(t *testing.T) {
	dir := t.TempDir()
	keep := filepath.Join(dir, "main.tf")
	if err := os.WriteFile(keep, []byte("# mine\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Materialize("local", dir); err == nil {
		t.Fatal("Materialize into a non-empty dir succeeded")
	}
	if data, _ := os.ReadFile(keep); string(data) != "# mine\n" {
		t.Errorf("existing file overwritten: %q", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("dir has %d entries after a refused Materialize, want 1", len(entries))
	}

	file := filepath.Join(t.TempDir(), "f")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := Materialize("local", file); err == nil {
		t.Error("Materialize onto a file succeeded")
	}
	if err := Materialize("nope", t.TempDir()); !errors.Is(err, ErrUnknownModule) {
		t.Errorf("Materialize(nope) error = %v, want ErrUnknownModule", err)
	}
}
