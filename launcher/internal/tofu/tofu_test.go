package tofu

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// script writes an executable shell script standing in for OpenTofu.
func script(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fake-tofu")
	require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"+body), 0o755))
	return p
}

// waitFile waits until path exists, failing the test after a generous
// bound (a safety net for a broken test, not a timing assertion).
func waitFile(t *testing.T, path string) {
	t.Helper()
	for range 3000 {
		if _, err := os.Stat(path); err == nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never appeared", path)
}

// Run hands the output over as it is written: the fake writes its second
// line only after the reader has seen the first.
func TestRunStreamsOutput(t *testing.T) {
	dir := t.TempDir()
	seen := filepath.Join(dir, "seen")
	r := &Runner{Path: script(t, `echo "one"; while [ ! -e "`+seen+`" ]; do sleep 0.01; done; echo "two"`), Dir: dir}
	// Run reads on another goroutine, where the test must not fail: an
	// error is kept for after Run, and stops the script, which would
	// otherwise wait for the file forever.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var lines []string
	var writeErr error
	err := r.Run(ctx, "t", []string{"plan"}, func(rd io.Reader) error {
		sc := bufio.NewScanner(rd)
		for sc.Scan() {
			lines = append(lines, sc.Text())
			if sc.Text() == "one" {
				if writeErr = os.WriteFile(seen, nil, 0o600); writeErr != nil {
					cancel()
				}
			}
		}
		return sc.Err()
	})
	require.NoError(t, writeErr, "the file the script waits for")
	require.NoError(t, err)
	assert.Equal(t, []string{"one", "two"}, lines)
	entries, err := os.ReadDir(filepath.Join(dir, ".lablink", "run"))
	require.NoError(t, err)
	assert.Empty(t, entries, "output files and the process record are removed once read")
}

// A failing process is an *Error holding its stderr.
func TestRunFailure(t *testing.T) {
	r := &Runner{Path: script(t, `echo "Error: no module" >&2; exit 3`), Dir: t.TempDir()}
	err := r.Run(t.Context(), "", []string{"init"}, nil)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.Equal(t, "init", e.Command)
	assert.Equal(t, "Error: no module", e.Stderr)
	assert.False(t, e.Interrupted)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit)
	assert.Equal(t, 3, exit.ExitCode())
}

// Cancelling sends one interrupt and waits for the process, however long
// it takes to stop: here it stops only when the test lets it, after the
// test has seen Run still waiting.
func TestRunInterruptsOnceAndWaits(t *testing.T) {
	dir := t.TempDir()
	ready, got, release, done := filepath.Join(dir, "ready"), filepath.Join(dir, "got"), filepath.Join(dir, "release"), filepath.Join(dir, "done")
	r := &Runner{Path: script(t, `
trap 'echo INT >> "`+got+`"' INT
: > "`+ready+`"
while [ ! -e "`+release+`" ]; do sleep 0.01; done
: > "`+done+`"
exit 1
`), Dir: dir}
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- r.Run(ctx, "", []string{"apply"}, nil) }()
	waitFile(t, ready)
	cancel()
	waitFile(t, got)
	select {
	case err := <-errc:
		t.Fatalf("Run returned before the process exited: %v", err)
	default:
	}
	require.NoError(t, os.WriteFile(release, nil, 0o600))
	err := <-errc
	assert.ErrorIs(t, err, context.Canceled)
	var e *Error
	require.ErrorAs(t, err, &e)
	assert.True(t, e.Interrupted)
	assert.FileExists(t, done, "the process ran to its end")
	b, err := os.ReadFile(got)
	require.NoError(t, err)
	assert.Equal(t, "INT\n", string(b), "exactly one interrupt")
}

// The process runs in a process group of its own.
func TestRunOwnProcessGroup(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "pgid")
	r := &Runner{Path: script(t, `ps -o pgid= -p $$ | tr -d ' ' > "`+out+`"; echo $$ >> "`+out+`"`), Dir: dir}
	require.NoError(t, r.Run(t.Context(), "", []string{"plan"}, nil))
	b, err := os.ReadFile(out)
	require.NoError(t, err)
	f := strings.Fields(string(b))
	require.Len(t, f, 2)
	assert.Equal(t, f[1], f[0], "its pgid is its own pid")
	assert.NotEqual(t, strconv.Itoa(syscall.Getpgrp()), f[0])
}

// helperEnv makes the test binary run Runner.Run as a parent process that
// the test then kills (see TestMain).
const helperEnv = "TOFU_TEST_PARENT"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		bin, dir, _ := strings.Cut(spec, "|")
		r := &Runner{Path: bin, Dir: dir}
		_ = r.Run(context.Background(), "launch-1", []string{"apply"}, nil)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// OpenTofu outlives an allocator killed with SIGKILL: it is not killed
// with its parent, and it keeps writing its output (no SIGPIPE, since it
// writes to a file). A later runner finds its record and its output.
func TestProcessOutlivesParent(t *testing.T) {
	dir := t.TempDir()
	release, done := filepath.Join(dir, "release"), filepath.Join(dir, "done")
	bin := script(t, `
echo "started"
while [ ! -e "`+release+`" ]; do sleep 0.01; done
echo "after the parent died"
: > "`+done+`"
`)
	parent := exec.Command(os.Args[0], "-test.run=^$")
	parent.Env = append(os.Environ(), helperEnv+"="+bin+"|"+dir)
	require.NoError(t, parent.Start())
	r := &Runner{Path: bin, Dir: dir}
	waitFile(t, filepath.Join(dir, ".lablink", "run"))
	for range 3000 {
		names, _ := filepath.Glob(filepath.Join(dir, ".lablink", "run", "*.json"))
		if len(names) > 0 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	left, err := r.Leftovers()
	require.NoError(t, err)
	assert.Empty(t, left, "the process of a live parent is not a leftover")
	require.NoError(t, parent.Process.Kill())
	_ = parent.Wait()
	left, err = r.Leftovers()
	require.NoError(t, err)
	require.Len(t, left, 1, "the running process is recorded")
	p := &left[0]
	assert.Equal(t, "launch-1", p.Label)
	assert.False(t, p.Owner.Gone(), "OpenTofu still runs after its parent was killed")
	require.NoError(t, os.WriteFile(release, nil, 0o600))
	waitFile(t, done)
	for range 3000 {
		if p.Owner.Gone() {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	assert.True(t, p.Owner.Gone())
	f, err := r.OpenStdout(p)
	require.NoError(t, err)
	b, err := io.ReadAll(f)
	f.Close()
	require.NoError(t, err)
	assert.Equal(t, "started\nafter the parent died\n", string(b))
	r.Forget(p)
	left, err = r.Leftovers()
	require.NoError(t, err)
	assert.Empty(t, left)
}

func TestErrorMessage(t *testing.T) {
	e := &Error{Command: "apply", Err: errors.New("exit status 1"), Stderr: "Error: boom", Interrupted: true}
	assert.Equal(t, "apply: interrupted: exit status 1\nError: boom", e.Error())
}
