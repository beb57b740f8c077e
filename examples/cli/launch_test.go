package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
)

// failingTofu returns an executable that fails when it is run, as the
// launcher first runs OpenTofu (its version check): a launch gets past
// every check of its own and the module's installation, and stops there.
func failingTofu(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "tofu")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\necho 'not OpenTofu' >&2\nexit 3\n"), 0o755))
	return p
}

// TestLaunchModule covers how launch puts the module into its working
// directory, up to the point where it runs OpenTofu (--terraform names a
// binary that fails, so every run that gets there exits 1 with the module
// in place).
func TestLaunchModule(t *testing.T) {
	noAWS(t)
	local, err := terraform.Open("local")
	require.NoError(t, err)
	tofu := failingTofu(t)
	launch := func(t *testing.T, work string, more ...string) result {
		t.Helper()
		args := append([]string{"launch", "--count", "1", "--gpu", "catalog", "--allocator-ip", ip,
			"--allocator-sg-id", sg, "--workdir", work, "--terraform", tofu}, more...)
		return runCLI(t, nil, args...)
	}
	// noTofu requires r to have stopped when it ran OpenTofu.
	noTofu := func(t *testing.T, r result) {
		t.Helper()
		require.Equal(t, exitFailure, r.code, "%v", r)
		assert.Contains(t, r.stderr, "launch: open launcher: "+tofu)
	}

	t.Run("missing workdir", func(t *testing.T) {
		work := filepath.Join(t.TempDir(), "work")
		r := launch(t, work)
		noTofu(t, r)
		assert.Contains(t, r.stderr, "launch: wrote the embedded local module into "+work+"\n")
		diff, err := local.Diff(work)
		require.NoError(t, err)
		assert.Empty(t, diff, "the workdir holds the embedded module")
	})

	t.Run("workdir with kept tokens", func(t *testing.T) {
		// render --workdir keeps the tokens there before any launch.
		work := t.TempDir()
		tokens, err := clientvars.WorkdirTokens(work)
		require.NoError(t, err)
		noTofu(t, launch(t, work, "--module", "aws"))
		aws, err := terraform.Open("aws")
		require.NoError(t, err)
		diff, err := aws.Diff(work)
		require.NoError(t, err)
		assert.Empty(t, diff, "the workdir holds the embedded aws module")
		kept, err := clientvars.WorkdirTokens(work)
		require.NoError(t, err)
		assert.Equal(t, tokens, kept, "the kept tokens")
	})

	t.Run("module directory", func(t *testing.T) {
		src := upstreamModule(t)
		require.NoError(t, os.WriteFile(filepath.Join(src, "terraform.tfvars"), []byte("x = 1\n"), 0o644))
		work := filepath.Join(t.TempDir(), "work")
		r := launch(t, work, "--module", src)
		noTofu(t, r)
		assert.Contains(t, r.stderr, "launch: wrote the module in "+src+" into "+work+"\n")
		assert.Equal(t, []string{"main.tf", "variables.tf"}, glob(t, work), "copied")
	})

	t.Run("workdir with an edited module", func(t *testing.T) {
		work := t.TempDir()
		require.NoError(t, terraform.Materialize("local", work))
		edited := filepath.Join(work, "outputs.tf")
		data, err := os.ReadFile(edited)
		require.NoError(t, err)
		data = append(data, "# edited by an operator\n"...)
		require.NoError(t, os.WriteFile(edited, data, 0o644))

		r := launch(t, work)
		noTofu(t, r)
		assert.Contains(t, r.stderr, "launch: the module in "+work+" differs from the embedded local module in outputs.tf; using the workdir's files\n")
		assert.NotContains(t, r.stderr, "wrote")
		got, err := os.ReadFile(edited)
		require.NoError(t, err)
		assert.Equal(t, string(data), string(got), "the operator's edit was overwritten")
	})

	t.Run("workdir holding other files", func(t *testing.T) {
		work := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(work, "notes.txt"), []byte("mine"), 0o644))
		r := launch(t, work)
		require.Equal(t, exitInvalid, r.code, "%v", r)
		assert.Contains(t, r.stderr, "is neither empty nor an OpenTofu module directory: it holds notes.txt")
		assert.Equal(t, []string{"notes.txt"}, glob(t, work), "nothing written")
		assert.NoDirExists(t, filepath.Join(work, ".lablink"), "nothing written")
	})

	t.Run("unknown module", func(t *testing.T) {
		work := filepath.Join(t.TempDir(), "work")
		r := launch(t, work, "--module", "gcp")
		require.Equal(t, exitInvalid, r.code, "%v", r)
		assert.Contains(t, r.stderr, `launch: --module: terraform module "gcp": want aws, local or a directory holding *.tf files`)
		assert.NoDirExists(t, work)
	})

	t.Run("invalid input leaves no trace", func(t *testing.T) {
		work := filepath.Join(t.TempDir(), "work")
		r := runCLI(t, nil, "launch", "--count", "1", "--gpu", "catalog", "--allocator-ip", "allocator.example.com",
			"--workdir", work)
		require.Equal(t, exitInvalid, r.code, "%v", r)
		assert.Equal(t, "launch: --allocator-ip: \"allocator.example.com\" is not an IP address\n", r.stderr,
			"the flag the user gave, not the variable")
		assert.NoDirExists(t, work)
	})
}

// TestGPUFlag: a --gpu value no mode has is invalid input, and auto
// without credentials a failure that names the way to work offline.
func TestGPUFlag(t *testing.T) {
	noAWS(t)
	base := []string{"render", "--allocator-ip", ip, "--allocator-sg-id", sg}
	r := runCLI(t, nil, append(base, "--gpu", "yes")...)
	assert.Equal(t, exitInvalid, r.code, "%v", r)
	assert.Contains(t, r.stderr, `render: --gpu "yes": want auto, catalog, true or false`)

	r = runCLI(t, nil, append(base, "--gpu", "auto")...)
	assert.Equal(t, exitFailure, r.code, "%v", r)
	assert.Contains(t, r.stderr, "render: --gpu auto needs AWS credentials")
	assert.Contains(t, r.stderr, "use --gpu catalog to work offline")
	assert.Empty(t, r.stdout)
}

// glob returns the names of the files in dir, sorted, but the hidden
// ones (.lablink, .terraform).
func glob(t *testing.T, dir string) []string {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "[^.]*"))
	require.NoError(t, err)
	for i, p := range paths {
		paths[i] = filepath.Base(p)
	}
	return paths
}
