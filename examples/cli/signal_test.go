package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/internal/tofutest"
)

// slowModule puts the local module into a new working directory, with a
// resource created after the VMs that holds the apply until it is
// interrupted and marks, in the file it returns, that it started: the VMs
// exist then, and the apply runs on.
func slowModule(t *testing.T) (work, started string) {
	t.Helper()
	dir := t.TempDir()
	work, started = filepath.Join(dir, "work"), filepath.Join(dir, "started")
	require.NoError(t, terraform.Materialize("local", work))
	slow := fmt.Sprintf(`resource "terraform_data" "slow" {
  depends_on = [terraform_data.lablink_vm]
  provisioner "local-exec" {
    command = "touch '%s' && exec sleep 120"
  }
}
`, started)
	require.NoError(t, os.WriteFile(filepath.Join(work, "slow_test.tf"), []byte(slow), 0o644))
	return work, started
}

// interruptLaunch starts a launch of count VMs as a process, signals it
// once the slow resource runs, and returns what it did.
func interruptLaunch(t *testing.T, work, started string, sig syscall.Signal, count int, more ...string) result {
	t.Helper()
	require.NoError(t, os.RemoveAll(started))
	env := map[string]string{"ALLOCATOR_SG_ID": sg, "AWS_EC2_METADATA_DISABLED": "true"}
	for _, kv := range tofutest.Env(t) {
		if k, v, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "TF_") || k == "CHECKPOINT_DISABLE" {
			env[k] = v
		}
	}
	args := append([]string{"launch", "--count", fmt.Sprint(count), "--gpu", "catalog", "--allocator-ip", ip,
		"--workdir", work, "--terraform", tofutest.Binary(t)}, more...)
	p := startMain(t, env, args...)
	require.Eventually(t, func() bool {
		_, err := os.Stat(started)
		return err == nil
	}, 2*time.Minute, 20*time.Millisecond, "the slow resource never started")
	require.NoError(t, p.cmd.Process.Signal(sig))
	return p.wait(t)
}

// TestLaunchInterrupted: SIGTERM, or Ctrl-C's SIGINT, during the apply
// of a launch makes the CLI interrupt OpenTofu once and wait for it; it
// says that the launch was interrupted, how many VMs it created and what
// the state holds, exits 1, and the state lists those VMs.
func TestLaunchInterrupted(t *testing.T) {
	noAWS(t)
	tofuEnv(t)
	work, started := slowModule(t)

	r := interruptLaunch(t, work, started, syscall.SIGTERM, 2)
	require.Equal(t, exitFailure, r.code, "%v", r)
	assert.Contains(t, r.stderr, "launch: interrupted; waiting for OpenTofu, if it runs, to stop and save the state (it gets one interrupt and is never killed)\n")
	assert.Contains(t, r.stderr, "launch: interrupted: apply was interrupted after creating 2 of 2 VMs; the state holds 2 client VMs; "+
		"lablink status --workdir "+work+" lists the VMs the state holds, and the next launch adds to them\n")
	assert.Regexp(t, `launch: \S+ did not succeed; audit record: `, r.stderr)
	assert.NotContains(t, r.stderr, "launch: launch:", "a doubled prefix")
	assert.Empty(t, r.stdout)

	status := runCLI(t, nil, "status", "--workdir", work, "--json")
	require.Equal(t, exitOK, status.code, "%v", status)
	assert.Len(t, parseDoc[statusDoc](t, status.stdout).VMs, 2, "the VMs of the interrupted apply")

	// With --json, SIGINT as Ctrl-C sends it: the error document counts
	// what the apply did.
	r = interruptLaunch(t, work, started, syscall.SIGINT, 1, "--json")
	require.Equal(t, exitFailure, r.code, "%v", r)
	doc := parseDoc[launchDoc](t, r.stdout)
	require.NotNil(t, doc.Error, "%v", r)
	assert.True(t, doc.Error.Interrupted)
	one, three := 1, 3
	assert.Equal(t, []*int{&one, &one, &three}, []*int{doc.Error.Created, doc.Error.Planned, doc.Error.StateVMs}, "created, planned, state_vms")
	assert.Equal(t, 2, doc.Existing)
	golden(t, "launch-interrupted", r.stdout, strings.NewReplacer(work, "<workdir>"))
}
