package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/launcher"
)

type fakeCloser struct {
	closed atomic.Int32
	// before reports, at Close, whether the launch had already returned.
	launchDone *atomic.Bool
	before     atomic.Bool
}

func (c *fakeCloser) Close() error {
	c.closed.Add(1)
	c.before.Store(c.launchDone.Load())
	return nil
}

// TestShutdownInterruptsLaunch: on the shutdown signal the server stops
// accepting, cancels the in-flight launch (which the launcher turns into
// SIGINT for OpenTofu), answers it 503, and only then closes the launcher
// and returns.
func TestShutdownInterruptsLaunch(t *testing.T) {
	entered := make(chan struct{})
	var launchDone atomic.Bool
	f := &fakeLauncher{LaunchFn: func(ctx context.Context, req launcher.Request) (launcher.Result, error) {
		defer launchDone.Store(true)
		close(entered)
		<-ctx.Done()
		return launcher.Result{LaunchID: "L1"}, ctx.Err()
	}}
	f.t = t
	closer := &fakeCloser{launchDone: &launchDone}
	log := testLogger(t)
	srv := newHTTPServer(newServer(f, testConfig(), serverOptions{Logger: log}), log)
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
		req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/api/launch", strings.NewReader("num_vms=1"))
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
	srv := newHTTPServer(newServer(&fakeLauncher{t: t}, testConfig(), serverOptions{Logger: log}), log)
	if err := serve(context.Background(), srv, ln, closer, time.Minute, log); err == nil {
		t.Error("serve on a closed listener returned nil")
	}
	if n := closer.closed.Load(); n != 1 {
		t.Errorf("launcher closed %d times, want 1", n)
	}
}

// TestShutdownMidApply shuts the real server down while a real OpenTofu
// applies: the launch is answered 503, run returns, OpenTofu has released
// the state lock and recorded what it created, the attempt is audited as
// canceled, and a new server on the same workdir launches on top of it.
func TestShutdownMidApply(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu")
	dir := t.TempDir()
	workdir := filepath.Join(dir, "client")
	if err := terraform.Materialize("local", workdir); err != nil {
		t.Fatal(err)
	}
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
	type answer struct {
		status int
		body   []byte
	}
	answers := make(chan answer, 1)
	c := s.client()
	go func() {
		status, body := c.do(http.MethodPost, "/api/launch", "num_vms=2")
		answers <- answer{status, body}
	}()
	// Wait for the slow resource: the VMs exist, OpenTofu holds the lock.
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		select {
		case a := <-answers:
			t.Fatalf("launch answered %d before the slow resource started: %s", a.status, a.body)
		case <-time.After(50 * time.Millisecond):
		}
	}
	lock := filepath.Join(workdir, ".terraform.tfstate.lock.info")
	if _, err := os.Stat(lock); err != nil {
		t.Errorf("no state lock while OpenTofu applies: %v", err)
	}

	if code := s.shutdown(); code != exitOK {
		t.Errorf("exit code %d after shutdown, want %d", code, exitOK)
	}
	// run has returned, so the handler has answered.
	a := <-answers
	var body struct{ Error string }
	if a.status != http.StatusServiceUnavailable || json.Unmarshal(a.body, &body) != nil ||
		body.Error != "server is shutting down; launch interrupted" {
		t.Errorf("launch interrupted by shutdown: status %d, body %s; want 503", a.status, a.body)
	}
	if _, err := os.Stat(lock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state lock after shutdown: %v; want it released", err)
	}
	log := s.log.String()
	for _, w := range []string{"shutting down", "launch interrupted by shutdown", "server stopped"} {
		if !strings.Contains(log, w) {
			t.Errorf("log does not say %q:\n%s", w, log)
		}
	}
	if strings.Contains(log, "did not finish in time") {
		t.Errorf("shutdown did not wait for OpenTofu:\n%s", log)
	}
	manifests, _ := filepath.Glob(filepath.Join(workdir, ".lablink", "audit", "prod", "client", "history", "*", audit.ManifestName))
	if len(manifests) != 1 {
		t.Fatalf("audit holds %d manifests, want 1: %v", len(manifests), manifests)
	}
	var m audit.Manifest
	if data, err := os.ReadFile(manifests[0]); err != nil || json.Unmarshal(data, &m) != nil || m.Outcome != audit.OutcomeCanceled {
		t.Errorf("audit of the interrupted launch: %+v, %v; want outcome %q", m, err, audit.OutcomeCanceled)
	}

	// A new server, without the slow resource, launches on top of the
	// VMs the interrupted apply created.
	if err := os.Remove(slow); err != nil {
		t.Fatal(err)
	}
	s = startRun(t, testEnv(), args...)
	c = s.client()
	before := c.vms()
	if before > 2 {
		t.Errorf("state holds %d VMs after the interrupted launch of 2", before)
	}
	r := c.launch(1)
	if r.Existing != before || r.Total != before+1 || r.Plan.Create != 1 {
		t.Errorf("launch after the interrupted one: %+v; want %d existing", r, before)
	}
	if got := c.vms(); got != before+1 {
		t.Errorf("state holds %d VMs, want %d", got, before+1)
	}
	if code := s.shutdown(); code != exitOK {
		t.Errorf("second server: exit code %d", code)
	}
	if _, err := os.Stat(lock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("state lock after the second server: %v", err)
	}
}

func writeTestFile(t *testing.T, name, content string) {
	t.Helper()
	if err := os.WriteFile(name, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
