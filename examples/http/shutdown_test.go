package main

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

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
