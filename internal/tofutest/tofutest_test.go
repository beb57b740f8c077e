package tofutest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeExe writes an executable file named name in dir and returns its path.
func fakeExe(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestPathOrder(t *testing.T) {
	bin := t.TempDir()
	cache := t.TempDir()
	explicit := fakeExe(t, t.TempDir(), "mytofu")
	cached := fakeExe(t, cache, cacheName)
	t.Setenv("LABLINK_CACHE_DIR", cache)
	t.Setenv("PATH", bin)
	t.Setenv("TOFU_PATH", "") // CI exports it; "" means unset to Path

	tests := []struct {
		name  string
		setup func()
		want  string
	}{
		// Run in order: each case adds to the previous state.
		{"cache when nothing else", func() {}, cached},
		{"terraform on PATH", func() { fakeExe(t, bin, "terraform") }, filepath.Join(bin, "terraform")},
		{"tofu before terraform", func() { fakeExe(t, bin, "tofu") }, filepath.Join(bin, "tofu")},
		{"TOFU_PATH first", func() { t.Setenv("TOFU_PATH", explicit) }, explicit},
	}
	for _, tc := range tests {
		tc.setup()
		got, err := Path(t.Context())
		if err != nil {
			t.Fatalf("%s: Path: %v", tc.name, err)
		}
		if got != tc.want {
			t.Errorf("%s: Path = %q, want %q", tc.name, got, tc.want)
		}
	}

	got, err := Pinned(t.Context())
	if err != nil {
		t.Fatalf("Pinned: %v", err)
	}
	if got != cached {
		t.Errorf("Pinned = %q, want the cached build %q", got, cached)
	}
}

func TestPathBadTOFUPATH(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "tofu")
	if err := os.WriteFile(notExec, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(dir, "missing"), notExec, dir} {
		t.Setenv("TOFU_PATH", p)
		if got, err := Path(t.Context()); err == nil {
			t.Errorf("TOFU_PATH=%s: Path = %q, want an error", p, got)
		}
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("TF_VAR_gpu_support", "true")
	t.Setenv("TF_PLUGIN_CACHE_DIR", "/somewhere")
	t.Setenv("TF_LOG", "trace")
	t.Setenv("CHECKPOINT_DISABLE", "")
	t.Setenv("LABLINK_ENV_TEST", "kept")

	env := Env(t)
	got := make(map[string]string)
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		if _, dup := got[k]; dup {
			t.Errorf("Env has %s twice", k)
		}
		got[k] = v
	}
	var tf []string
	for k := range got {
		if strings.HasPrefix(k, "TF_") {
			tf = append(tf, k)
		}
	}
	slices.Sort(tf)
	if diff := cmp.Diff([]string{"TF_CLI_CONFIG_FILE", "TF_IN_AUTOMATION"}, tf); diff != "" {
		t.Errorf("TF_ variables in Env (-want +got):\n%s", diff)
	}
	if got["TF_IN_AUTOMATION"] != "1" || got["CHECKPOINT_DISABLE"] != "1" || got["LABLINK_ENV_TEST"] != "kept" {
		t.Errorf("Env = %q", env)
	}
	data, err := os.ReadFile(got["TF_CLI_CONFIG_FILE"])
	if err != nil || len(data) != 0 {
		t.Errorf("CLI config file: %q, %v; want an empty file", data, err)
	}

	exec := ExecEnv(t)
	if _, ok := exec["TF_IN_AUTOMATION"]; ok {
		t.Error("ExecEnv has TF_IN_AUTOMATION, which tfexec.SetEnv refuses")
	}
	if exec["CHECKPOINT_DISABLE"] != "1" || exec["TF_CLI_CONFIG_FILE"] == "" {
		t.Errorf("ExecEnv = %v", exec)
	}
}

func TestCopyTreeWritable(t *testing.T) {
	src := t.TempDir()
	if err := os.MkdirAll(filepath.Join(src, "a", "b"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src, "a", "b", "f.go"), []byte("package b\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := copyTree(src, dst); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dst, "a", "b", "f.go")
	data, err := os.ReadFile(p)
	if err != nil || string(data) != "package b\n" {
		t.Fatalf("copied file: %q, %v", data, err)
	}
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm()&0o200 == 0 {
		t.Errorf("copied file mode %v, want owner-writable", fi.Mode())
	}
}
