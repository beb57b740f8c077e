package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/tfstate"
)

// runTerminal runs the CLI in-process as on a terminal, answer on its
// stdin, at the fixed time now.
func runTerminal(t *testing.T, env map[string]string, answer string, now time.Time, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	c := &cli{stdin: strings.NewReader(answer), stdout: &out, stderr: &errb, getenv: func(k string) string { return env[k] },
		now: func() time.Time { return now }, terminal: true}
	code := c.run(t.Context(), args)
	return result{code: code, stdout: out.String(), stderr: errb.String()}
}

// truncateState cuts the local state of work to n bytes, as a process
// killed while writing it would leave it, and returns what it held.
func truncateState(t *testing.T, work string, n int) []byte {
	t.Helper()
	p := filepath.Join(work, tfstate.LocalFile)
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, data[:n], 0o600))
	return data
}

// TestRestoreState: with a real OpenTofu, a launch after the state was
// truncated is refused, naming the file, its good copy and restore-state;
// restore-state shows what differs, asks, restores the copy and keeps
// the truncated file; the next launch adds to the VMs of the copy.
func TestRestoreState(t *testing.T) {
	noAWS(t)
	tofuEnv(t)
	work := filepath.Join(t.TempDir(), "work")
	common := []string{"--workdir", work, "--terraform", tofutest.Binary(t)}
	sgEnv := map[string]string{"ALLOCATOR_SG_ID": sg}
	launch := func(n string) result {
		t.Helper()
		return runCLI(t, sgEnv, append([]string{"launch", "--count", n, "--gpu", "catalog", "--allocator-ip", ip}, common...)...)
	}
	for _, n := range []string{"2", "1"} {
		r := launch(n)
		require.Equal(t, exitOK, r.code, "launch %s: %v", n, r)
	}
	copies, err := tfstate.Copies(work)
	require.NoError(t, err)
	require.NotEmpty(t, copies, "the launch of 1 kept a copy of the state of 2")
	good := copies[0]
	state := filepath.Join(work, tfstate.LocalFile)
	truncateState(t, work, 100)

	r := launch("1")
	require.Equal(t, exitFailure, r.code, "launch from a truncated state: %v", r)
	assert.Contains(t, r.stderr, "launch: "+state+": the state file is not a whole OpenTofu state")
	assert.Contains(t, r.stderr, "its last good copy "+good.Path+" holds serial ")
	assert.Contains(t, r.stderr, "restore it (cli: restore-state) after checking what differs; run lablink restore-state --workdir "+work+"\n")

	r = runCLI(t, nil, append([]string{"status"}, common...)...)
	require.Equal(t, exitOK, r.code, "status: %v", r)
	assert.Contains(t, r.stdout, "state refused:  "+state+": ")
	assert.Contains(t, r.stdout, "client VMs:     unknown (the state is refused; see below)\n", "a refused state is not a state without VMs")
	assert.Contains(t, r.stdout, "see what differs and restore it: lablink restore-state --workdir "+work+"\n")

	restore := []string{"restore-state", "--workdir", work}
	r = runCLI(t, nil, restore...)
	require.Equal(t, exitInvalid, r.code, "off a terminal without --yes: %v", r)
	for _, want := range []string{
		"state file: " + state + "\n",
		"current:    100 bytes: the state file is not a whole OpenTofu state",
		fmt.Sprintf("good copy:  %s (taken %s): serial %d, lineage %s, 2 resources\n", good.Path,
			good.Taken.UTC().Format(time.RFC3339), good.Info.Serial, good.Info.Lineage),
		"restoring adds 2:    terraform_data.lablink_vm[0], terraform_data.lablink_vm[1]\n",
		"restoring removes 0: -\n",
	} {
		assert.Contains(t, r.stdout, want, "what differs")
	}
	assert.Equal(t, "restore-state: no terminal to confirm on (stdin is not one): "+
		"check what differs (shown with this message) and pass --yes to restore\n", r.stderr)
	assert.Equal(t, int64(100), fileSize(t, state), "restored without confirmation")

	now := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	r = runTerminal(t, nil, "no\n", now, restore...)
	require.Equal(t, exitFailure, r.code, "answered no: %v", r)
	assert.Contains(t, r.stderr, "restore-state: type yes to restore the copy: ")
	assert.Contains(t, r.stderr, `restore-state: not confirmed (the answer was "no", not yes); nothing was restored`)
	assert.Equal(t, int64(100), fileSize(t, state), "restored without confirmation")

	r = runTerminal(t, nil, "yes\n", now, restore...)
	require.Equal(t, exitOK, r.code, "answered yes: %v", r)
	replaced := state + ".replaced-" + strconv.FormatInt(now.Unix(), 10)
	assert.Contains(t, r.stdout, "restored:  "+state+" is now "+good.Path+"\n")
	assert.Contains(t, r.stdout, "kept:      the replaced file as "+replaced+"\n")
	assert.NoError(t, tfstate.Check(work), "the restored state")
	assert.Equal(t, int64(100), fileSize(t, replaced), "the truncated file is kept")

	r = runCLI(t, nil, restore...)
	require.Equal(t, exitOK, r.code, "restore-state of a sound state: %v", r)
	assert.Equal(t, "the state "+state+" is sound: nothing to restore\n", r.stdout)

	r = launch("1")
	require.Equal(t, exitOK, r.code, "launch after the restore: %v", r)
	assert.Contains(t, r.stdout, "client VMs: 2 existing + 1 requested = 3 total")
}

func fileSize(t *testing.T, p string) int64 {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	return fi.Size()
}

// TestRestoreStateRefusals: restore-state without a copy, of a state in
// S3, and while a process runs in the working directory.
func TestRestoreStateRefusals(t *testing.T) {
	t.Run("no copy", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		state := filepath.Join(work, tfstate.LocalFile)
		require.NoError(t, os.WriteFile(state, []byte(`{"version": 4,`), 0o600))
		r := runCLI(t, nil, "restore-state", "--workdir", work, "--yes")
		require.Equal(t, exitFailure, r.code, "%v", r)
		assert.Equal(t, "restore-state: "+state+": the state file is not a whole OpenTofu state: unexpected end of JSON input; "+
			"there is no good copy in "+filepath.Join(work, ".lablink", "state-copies")+" to restore: OpenTofu's "+state+
			".backup, or a backup of your own, may hold the state\n", r.stderr)
	})
	t.Run("S3 state", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(work, tfstate.FileName), []byte("terraform {\n  backend \"s3\" {}\n}\n"), 0o600))
		r := runCLI(t, nil, "restore-state", "--workdir", work, "--yes")
		require.Equal(t, exitInvalid, r.code, "%v", r)
		assert.Contains(t, r.stderr, "restore-state: --workdir "+work+" keeps its state in S3 (lablink_backend_override.tf): "+
			"restore-state restores a local state only")
	})
	t.Run("interrupted at the prompt", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		state := filepath.Join(work, tfstate.LocalFile)
		whole := `{"version": 4, "terraform_version": "1.12.6", "serial": 3, "lineage": "4f0c2b7e-1111-2222-3333-444455556666",
 "outputs": {}, "resources": [{"mode": "managed", "type": "terraform_data", "name": "lablink_vm",
 "provider": "provider[\"terraform.io/builtin/terraform\"]", "instances": [{"index_key": 0, "attributes": {"id": "a"}}]}]}`
		require.NoError(t, os.WriteFile(state, []byte(whole), 0o600))
		_, err := tfstate.Keep(work, time.Now())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(state, nil, 0o600))
		ctx, cancel := context.WithCancel(t.Context())
		stdin, _ := io.Pipe() // nobody answers
		var out bytes.Buffer
		var errb lockedBuffer
		c := &cli{stdin: stdin, stdout: &out, stderr: &errb, getenv: func(string) string { return "" }, now: time.Now, terminal: true}
		go func() {
			for !strings.Contains(errb.String(), "type yes") {
				time.Sleep(time.Millisecond)
			}
			cancel()
		}()
		code := c.run(ctx, []string{"restore-state", "--workdir", work})
		assert.Equal(t, exitFailure, code, "stdout:\n%s\nstderr:\n%s", out.String(), errb.String())
		assert.Contains(t, errb.String(), "restore-state: not confirmed: context canceled; nothing was restored\n")
		assert.Equal(t, int64(0), fileSize(t, state), "restored without confirmation")
	})
	t.Run("busy", func(t *testing.T) {
		t.Parallel()
		work := t.TempDir()
		truncated := []byte(`{"version": 4,`)
		require.NoError(t, os.WriteFile(filepath.Join(work, tfstate.LocalFile), truncated, 0o600))
		// A process whose working directory is work, as an OpenTofu that
		// outlived its allocator is.
		sleep := exec.Command("sleep", "60")
		sleep.Dir = work
		require.NoError(t, sleep.Start())
		t.Cleanup(func() {
			_ = sleep.Process.Kill()
			_ = sleep.Wait()
		})
		r := runCLI(t, nil, "restore-state", "--workdir", work, "--yes")
		require.Equal(t, exitFailure, r.code, "%v", r)
		assert.Equal(t, "restore-state: an OpenTofu (or another process) runs in "+work+
			": wait until it ends, then run restore-state again\n", r.stderr)
		data, err := os.ReadFile(filepath.Join(work, tfstate.LocalFile))
		require.NoError(t, err)
		assert.Equal(t, truncated, data, "the state was touched")
	})
}

// lockedBuffer is a bytes.Buffer that one goroutine may read while
// another writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
