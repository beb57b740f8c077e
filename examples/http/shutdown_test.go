package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/examples/terraform"
)

type fakeCloser struct {
	closed atomic.Int32
	// before reports, at Close, whether the launch had already returned.
	launchDone *atomic.Bool
	before     atomic.Bool
}

func (c *fakeCloser) Shutdown(context.Context) error {
	c.closed.Add(1)
	c.before.Store(c.launchDone.Load())
	return nil
}

// TestShutdownInterruptsLaunch: on the shutdown signal the server stops
// accepting, cancels the in-flight launch that a request waits for
// (?wait=1; the launcher turns the cancellation into SIGINT for
// OpenTofu), answers it 503, and only then closes the launcher and
// returns.
func TestShutdownInterruptsLaunch(t *testing.T) {
	entered := make(chan struct{})
	var launchDone atomic.Bool
	// A launch that runs until its context (the server's lifetime) ends,
	// and is then interrupted, as the launcher's is.
	d := newDouble(t)
	op := newSteppedOp(audit.Op{ID: 1, Action: audit.Launch, Status: audit.StatusRunning, LaunchID: "L1"})
	op.use(d, func(ctx context.Context) {
		close(entered)
		<-ctx.Done()
		launchDone.Store(true)
		op.set(audit.Op{ID: 1, Action: audit.Launch, Status: audit.StatusInterrupted, LaunchID: "L1"})
	})
	closer := &fakeCloser{launchDone: &launchDone}
	log := testLogger(t)
	srv := newHTTPServer(newTestServer(t, d, serverOptions{Logger: log}), log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()

	sig, sendSignal := context.WithCancel(context.Background())
	defer sendSignal()
	served := make(chan error, 1)
	go func() { served <- serve(sig, srv, ln, closer, time.Minute, log) }()

	type answer struct {
		status int
		body   string
		err    error
	}
	answers := make(chan answer, 1)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	go func() {
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/launch?wait=1", strings.NewReader("num_vms=1"))
		if err != nil {
			answers <- answer{err: err}
			return
		}
		req.Header.Set("Content-Type", formCT)
		req.SetBasicAuth(testUser, testPassword)
		resp, err := client.Do(req)
		if err != nil {
			answers <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		answers <- answer{resp.StatusCode, string(b), err}
	}()

	<-entered
	sendSignal()
	if err := <-served; err != nil {
		t.Fatalf("serve returned %v, want nil", err)
	}
	// The handler has answered before serve returned: read the answer.
	a := <-answers
	if a.err != nil {
		t.Fatalf("launch request: %v", a.err)
	}
	if a.status != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503; body %s", a.status, a.body)
	}
	var body struct{ Error string }
	if err := json.Unmarshal([]byte(a.body), &body); err != nil || body.Error != "server is shutting down; launch interrupted" {
		t.Errorf("body = %s (%v)", a.body, err)
	}
	if n := closer.closed.Load(); n != 1 {
		t.Errorf("launcher closed %d times, want 1", n)
	}
	if !closer.before.Load() {
		t.Error("launcher closed while a launch was still running")
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Error("server still accepts connections after shutdown")
	}
}

// TestServeReturnsServeError: a listener that fails ends serve with its
// error, and the launcher is closed all the same.
func TestServeReturnsServeError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	var done atomic.Bool
	done.Store(true)
	closer := &fakeCloser{launchDone: &done}
	log := testLogger(t)
	srv := newHTTPServer(newTestServer(t, newFake(t), serverOptions{Logger: log}), log)
	if err := serve(context.Background(), srv, ln, closer, time.Minute, log); err == nil {
		t.Error("serve on a closed listener returned nil")
	}
	if n := closer.closed.Load(); n != 1 {
		t.Errorf("launcher closed %d times, want 1", n)
	}
}

// TestShutdownMidApply shuts the real server down while a real OpenTofu
// applies a launch that was queued (202): run returns only once the
// operation is interrupted, OpenTofu has released the state lock and
// recorded what it created, and the attempt is audited as canceled; a new
// server on the same workdir shows the operation interrupted and
// launches on top of it.
func TestShutdownMidApply(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu")
	dir := t.TempDir()
	workdir := filepath.Join(dir, "client")
	require.NoError(t, terraform.Materialize("local", workdir))
	// A slow resource created after the VMs holds the apply, and so the
	// state lock, until the interrupt; it marks that it started so that
	// the test shuts down mid-apply, not before. OpenTofu stops
	// local-exec on SIGINT, as it does when interrupted on a terminal.
	started := filepath.Join(dir, "slow-started")
	slow := filepath.Join(workdir, "slow_test.tf")
	writeTestFile(t, slow, fmt.Sprintf(`
resource "terraform_data" "slow" {
  depends_on = [terraform_data.lablink_vm]
  provisioner "local-exec" {
    command = "touch %s && exec sleep 120"
  }
}
`, started))
	args := []string{"--config", writeConfig(t, testConfig()), "--workdir", workdir,
		"--addr", "127.0.0.1:0", "--terraform", tofu, "--gpu", "catalog"}

	s := startRun(t, testEnv(), args...)
	c := s.client()
	id := c.startLaunch(2)
	// Wait for the slow resource: the VMs exist, OpenTofu holds the lock.
	require.Eventually(t, func() bool {
		_, err := os.Stat(started)
		return err == nil
	}, 2*time.Minute, 50*time.Millisecond, "the slow resource never started")
	assert.Equal(t, audit.StatusRunning, c.operation(id).Status, "operation mid-apply")
	lock := filepath.Join(workdir, ".terraform.tfstate.lock.info")
	assert.FileExists(t, lock, "state lock while OpenTofu applies")

	assert.Equal(t, exitOK, s.shutdown(), "exit code after shutdown")
	assert.NoFileExists(t, lock, "state lock after shutdown")
	log := s.log.String()
	for _, w := range []string{"shutting down", "launch interrupted by shutdown", "server stopped"} {
		assert.Contains(t, log, w)
	}
	assert.NotContains(t, log, "did not finish in time", "shutdown did not wait for OpenTofu")
	manifests, _ := filepath.Glob(filepath.Join(workdir, ".lablink", "audit", "prod", "client", "history", "*", audit.ManifestName))
	require.Len(t, manifests, 1, "audit manifests")
	var m audit.Manifest
	data, err := os.ReadFile(manifests[0])
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &m))
	assert.Equal(t, audit.OutcomeCanceled, m.Outcome, "audit of the interrupted launch")

	// A new server, without the slow resource, shows the operation
	// interrupted and launches on top of the VMs the interrupted apply
	// created.
	require.NoError(t, os.Remove(slow))
	s = startRun(t, testEnv(), args...)
	c = s.client()
	op := c.operation(id)
	assert.Equal(t, audit.StatusInterrupted, op.Status, "operation after the shutdown")
	assert.Equal(t, m.LaunchID, op.LaunchID, "operation's audit record")
	if assert.NotNil(t, op.Error) {
		assert.Equal(t, "interrupted: the allocator stopped before the launch finished; "+
			"see the server log and the audit record of "+m.LaunchID, *op.Error)
	}
	assert.NotNil(t, op.FinishedAt, "finished_at of the interrupted operation")
	before := c.vms()
	assert.LessOrEqual(t, before, 2, "VMs after the interrupted launch of 2")
	r := c.launch(1)
	assert.Equal(t, before, r.Existing, "launch after the interrupted one: %+v", r)
	assert.Equal(t, before+1, r.Total, "launch after the interrupted one: %+v", r)
	assert.Equal(t, 1, r.Plan.Create, "launch after the interrupted one: %+v", r)
	assert.Equal(t, before+1, c.vms(), "VMs")
	assert.Equal(t, exitOK, s.shutdown(), "second server: exit code")
	assert.NoFileExists(t, lock, "state lock after the second server")
}

func writeTestFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
