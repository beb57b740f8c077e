package tofutest

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeExe writes an executable file named name in dir and returns its path.
func fakeExe(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), 0o755))
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
		require.NoError(t, err, "%s: Path", tc.name)
		assert.Equal(t, tc.want, got, "%s: Path", tc.name)
	}

	got, err := Pinned(t.Context())
	require.NoError(t, err, "Pinned")
	assert.Equal(t, cached, got, "Pinned: want the cached build")
}

func TestPathBadTOFUPATH(t *testing.T) {
	dir := t.TempDir()
	notExec := filepath.Join(dir, "tofu")
	require.NoError(t, os.WriteFile(notExec, nil, 0o644))
	for _, p := range []string{filepath.Join(dir, "missing"), notExec, dir} {
		t.Setenv("TOFU_PATH", p)
		got, err := Path(t.Context())
		assert.Error(t, err, "TOFU_PATH=%s: Path = %q", p, got)
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
		assert.NotContains(t, got, k, "Env has %s twice", k)
		got[k] = v
	}
	var tf []string
	for k := range got {
		if strings.HasPrefix(k, "TF_") {
			tf = append(tf, k)
		}
	}
	slices.Sort(tf)
	assert.Equal(t, []string{"TF_CLI_CONFIG_FILE", "TF_IN_AUTOMATION"}, tf, "TF_ variables in Env")
	assert.Equal(t, "1", got["TF_IN_AUTOMATION"], "Env TF_IN_AUTOMATION")
	assert.Equal(t, "1", got["CHECKPOINT_DISABLE"], "Env CHECKPOINT_DISABLE")
	assert.Equal(t, "kept", got["LABLINK_ENV_TEST"], "Env LABLINK_ENV_TEST")
	data, err := os.ReadFile(got["TF_CLI_CONFIG_FILE"])
	if assert.NoError(t, err, "CLI config file") {
		assert.Empty(t, data, "CLI config file")
	}

	exec := ExecEnv(t)
	assert.NotContains(t, exec, "TF_IN_AUTOMATION", "ExecEnv has TF_IN_AUTOMATION, which tfexec.SetEnv refuses")
	assert.Equal(t, "1", exec["CHECKPOINT_DISABLE"], "ExecEnv CHECKPOINT_DISABLE")
	assert.NotEmpty(t, exec["TF_CLI_CONFIG_FILE"], "ExecEnv TF_CLI_CONFIG_FILE")
}

func TestCopyTreeWritable(t *testing.T) {
	src := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(src, "a", "b"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(src, "a", "b", "f.go"), []byte("package b\n"), 0o444))
	dst := filepath.Join(t.TempDir(), "copy")
	require.NoError(t, copyTree(src, dst), "copyTree")
	p := filepath.Join(dst, "a", "b", "f.go")
	data, err := os.ReadFile(p)
	require.NoError(t, err, "copied file")
	require.Equal(t, "package b\n", string(data), "copied file")
	fi, err := os.Stat(p)
	require.NoError(t, err)
	assert.NotZero(t, fi.Mode().Perm()&0o200, "copied file mode %v, want owner-writable", fi.Mode())
}
