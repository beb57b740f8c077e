package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/launcher"
)

// TestLaunchQueued: who gets 202 and who a redirect, and the errors of a
// launch that is queued rather than waited for.
func TestLaunchQueued(t *testing.T) {
	const queued = `{"job_id": 1, "status": "queued"}`
	jsonBody := []byte(`{"num_vms": 2}`)
	tests := []struct {
		name         string
		contentType  string
		body         []byte
		accept       string
		query        string
		startErr     error
		wantStatus   int
		wantBody     string // JSON; "" for a redirect
		wantLocation string
	}{
		{name: "form", contentType: formCT, body: form("num_vms", "2"),
			wantStatus: http.StatusSeeOther, wantLocation: "/operations/1"},
		{name: "form from a browser", contentType: formCT, body: form("num_vms", "2"),
			accept:     "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
			wantStatus: http.StatusSeeOther, wantLocation: "/operations/1"},
		{name: "form from curl", contentType: formCT, body: form("num_vms", "2"), accept: "*/*",
			wantStatus: http.StatusSeeOther, wantLocation: "/operations/1"},
		{name: "form refusing JSON", contentType: formCT, body: form("num_vms", "2"), accept: "application/json;q=0",
			wantStatus: http.StatusSeeOther, wantLocation: "/operations/1"},
		{name: "form accepting JSON", contentType: formCT, body: form("num_vms", "2"), accept: "application/json",
			wantStatus: http.StatusAccepted, wantBody: queued, wantLocation: "/api/operations/1"},
		{name: "form preferring JSON", contentType: formCT, body: form("num_vms", "2"),
			accept:     "text/html;q=0.5, application/json",
			wantStatus: http.StatusAccepted, wantBody: queued, wantLocation: "/api/operations/1"},
		{name: "JSON body", contentType: "application/json", body: jsonBody,
			wantStatus: http.StatusAccepted, wantBody: queued, wantLocation: "/api/operations/1"},
		{name: "wait=0", contentType: "application/json", body: jsonBody, query: "?wait=0",
			wantStatus: http.StatusAccepted, wantBody: queued, wantLocation: "/api/operations/1"},
		{name: "bad wait", contentType: formCT, body: form("num_vms", "2"), query: "?wait=soon",
			wantStatus: http.StatusBadRequest, wantBody: `{"error": "` + msgBadWait + `"}`},
		{name: "too many", contentType: "application/json", body: []byte(`{"num_vms": 501}`),
			wantStatus: http.StatusBadRequest, wantBody: `{"error": "invalid number of VMs: 501; want 1 to 500"}`},
		{name: "store failure", contentType: "application/json", body: jsonBody,
			startErr:   errors.New("launcher: audit: record operation: access denied to s3://b/k"),
			wantStatus: http.StatusInternalServerError,
			wantBody:   `{"error": "launch failed; see the server log"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d := newDouble(t)
			if tc.startErr != nil {
				d.start = func(context.Context, launcher.Request) (audit.Op, error) { return audit.Op{}, tc.startErr }
			}
			w := serveOne(t, newTestHandler(t, d), http.MethodPost, "/api/launch"+tc.query, tc.contentType, tc.accept, tc.body)
			assert.Equal(t, tc.wantStatus, w.Code, "status; body %s", w.Body)
			assert.Equal(t, tc.wantLocation, w.Header().Get("Location"), "Location")
			if tc.wantBody != "" {
				assert.JSONEq(t, tc.wantBody, w.Body.String(), "body")
			}
		})
	}
}

// serveOne sends one authenticated request to h.
func serveOne(t *testing.T, h http.Handler, method, target, contentType, accept string, body []byte) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		r.Header.Set("Accept", accept)
	}
	r.SetBasicAuth(testUser, testPassword)
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// TestDestroyQueued: a destroy is queued like a launch; without the
// runtime tfvars it is upstream's 404 at once, and nothing is queued.
func TestDestroyQueued(t *testing.T) {
	t.Run("nothing launched", func(t *testing.T) {
		w := serveOne(t, newTestHandler(t, newFake(t)), http.MethodPost, "/api/destroy", "", "application/json", nil)
		assert.Equal(t, http.StatusNotFound, w.Code, "status")
		assert.JSONEq(t, `{"error":"no client VMs were launched"}`, w.Body.String())
	})
	for _, tc := range []struct {
		name, accept, wantLocation string
		wantStatus                 int
	}{
		{"JSON client", "application/json", "/api/operations/2", http.StatusAccepted},
		{"form", "", "/operations/2", http.StatusSeeOther},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := launched(t, 1)
			w := serveOne(t, newTestHandler(t, f), http.MethodPost, "/api/destroy", formCT, tc.accept, nil)
			assert.Equal(t, tc.wantStatus, w.Code, "status; body %s", w.Body)
			assert.Equal(t, tc.wantLocation, w.Header().Get("Location"))
			if tc.wantStatus == http.StatusAccepted {
				assert.JSONEq(t, `{"job_id": 2, "status": "queued"}`, w.Body.String())
			}
			reqs := f.Requests()
			require.Len(t, reqs, 2)
			assert.Equal(t, launcher.Request{Destroy: true, Actor: testUser}, reqs[1])
		})
	}
}

var (
	opCreated  = time.Date(2026, 8, 20, 10, 0, 0, 0, time.UTC)
	opStarted  = opCreated.Add(time.Second)
	opFinished = opCreated.Add(time.Minute)
)

// failedOp is an operation whose stored error holds OpenTofu's stderr.
func failedOp() audit.Op {
	return audit.Op{ID: 3, Action: audit.Launch, Status: audit.StatusFailed, Params: map[string]any{"num_vms": 2.0},
		CreatedBy: "admin", CreatedAt: opCreated, StartedAt: &opStarted, FinishedAt: &opFinished,
		Output: "terraform_data.lablink_vm[0]: Creating...", Error: "launch: apply: exit status 1\nError: token=s3cr3t",
		ResourcesTotal: 3, ResourcesCompleted: 1, Environment: "prod", LaunchID: "L3",
		Owner: json.RawMessage(`{"host":"allocator","pid":42}`), UpdatedAt: opFinished, Nonce: "abcdef"}
}

// TestOperationView: upstream's fields and ours, without the owner, the
// nonce, OpenTofu's output or its stderr.
func TestOperationView(t *testing.T) {
	got, err := json.Marshal(opView(failedOp()))
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"id": 3, "op_type": "apply", "status": "failed", "params": {"num_vms": 2}, "created_by": "admin",
		"created_at": "2026-08-20T10:00:00Z", "started_at": "2026-08-20T10:00:01Z", "finished_at": "2026-08-20T10:01:00Z",
		"output": null, "error": "launch failed; see the server log and the audit record of L3",
		"resources_total": 3, "resources_completed": 1,
		"environment": "prod", "launch_id": "L3", "updated_at": "2026-08-20T10:01:00Z"
	}`, string(got))

	queued, err := json.Marshal(opView(audit.Op{ID: 4, Action: audit.Destroy, Status: audit.StatusQueued,
		CreatedBy: "admin", CreatedAt: opCreated, Environment: "prod", UpdatedAt: opCreated}))
	require.NoError(t, err)
	assert.JSONEq(t, `{
		"id": 4, "op_type": "destroy", "status": "queued", "params": {}, "created_by": "admin",
		"created_at": "2026-08-20T10:00:00Z", "started_at": null, "finished_at": null,
		"output": null, "error": null, "resources_total": 0, "resources_completed": 0,
		"environment": "prod", "updated_at": "2026-08-20T10:00:00Z"
	}`, string(queued))
}

func TestPublicError(t *testing.T) {
	const refused = "plan refused: terraform_data.lablink_vm[0]: delete of a running client VM"
	tests := []struct {
		name   string
		action audit.Action
		status audit.OpStatus
		err    string
		id     string
		want   string
	}{
		{"succeeded", audit.Launch, audit.StatusSucceeded, "", "L1", ""},
		{"running", audit.Launch, audit.StatusRunning, "", "L1", ""},
		{"OpenTofu failed", audit.Launch, audit.StatusFailed, "launch: apply: exit status 1\n\nError: secret", "L1",
			"launch failed; see the server log and the audit record of L1"},
		{"failed before an audit record", audit.Launch, audit.StatusFailed, "launch: resolve: gpu: throttled", "",
			"launch failed; see the server log"},
		{"destroy failed", audit.Destroy, audit.StatusFailed, "destroy: apply: exit status 1", "D1",
			"destroy failed; see the server log and the audit record of D1"},
		{"refused", audit.Launch, audit.StatusFailed, refused, "L2", refused},
		{"refused, and the tfvars not restored", audit.Launch, audit.StatusFailed,
			refused + "\nlaunch: restore the previous runtime tfvars: open /srv/x: permission denied", "L2", refused},
		{"refused text inside OpenTofu's stderr", audit.Launch, audit.StatusFailed,
			"launch: plan: exit status 1\nplan refused: secret", "L2", "launch failed; see the server log and the audit record of L2"},
		{"nothing launched", audit.Destroy, audit.StatusFailed, "no client VMs were launched", "",
			"no client VMs were launched"},
		{"closed", audit.Launch, audit.StatusFailed, "launcher closed", "", "the server shut down before the launch ran"},
		{"interrupted by shutdown", audit.Launch, audit.StatusInterrupted, "launch: apply: context canceled\nstderr", "L4",
			"interrupted: the allocator stopped before the launch finished; see the server log and the audit record of L4"},
		{"interrupted by a crash", audit.Destroy, audit.StatusInterrupted,
			"the allocator stopped before the operation finished", "",
			"interrupted: the allocator stopped before the destroy finished; see the server log"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := publicError(audit.Op{Action: tc.action, Status: tc.status, Error: tc.err, LaunchID: tc.id})
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestOperationsList(t *testing.T) {
	tests := []struct {
		query        string
		wantStatus   int
		wantLimit    int
		wantStatuses []audit.OpStatus
		wantError    string
	}{
		{"", http.StatusOK, 50, nil, ""},
		{"?status=in_progress", http.StatusOK, 50, []audit.OpStatus{audit.StatusQueued, audit.StatusRunning}, ""},
		{"?status=failed&limit=200", http.StatusOK, 200, []audit.OpStatus{audit.StatusFailed}, ""},
		{"?status=interrupted&limit=1", http.StatusOK, 1, []audit.OpStatus{audit.StatusInterrupted}, ""},
		{"?limit=0", http.StatusBadRequest, 0, nil, msgBadLimit},
		{"?limit=201", http.StatusBadRequest, 0, nil, msgBadLimit},
		{"?limit=ten", http.StatusBadRequest, 0, nil, msgBadLimit},
		{"?status=done", http.StatusBadRequest, 0, nil, msgBadStatus},
	}
	for _, tc := range tests {
		t.Run(tc.query, func(t *testing.T) {
			var gotLimit int
			var gotStatuses []audit.OpStatus
			d := newDouble(t)
			d.ops = func(_ context.Context, q audit.OpQuery) ([]audit.Op, int64, error) {
				gotLimit, gotStatuses = q.Limit, q.Statuses
				return []audit.Op{failedOp()}, 0, nil
			}
			w := serveOne(t, newTestHandler(t, d), http.MethodGet, "/api/operations"+tc.query, "", "", nil)
			require.Equal(t, tc.wantStatus, w.Code, "status; body %s", w.Body)
			if tc.wantError != "" {
				assert.Equal(t, tc.wantError, errorOf(t, w))
				return
			}
			assert.Equal(t, tc.wantLimit, gotLimit, "limit")
			assert.Equal(t, tc.wantStatuses, gotStatuses, "statuses")
			var got []opJSON
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			assert.Equal(t, []opJSON{opView(failedOp())}, got)
		})
	}
	t.Run("none", func(t *testing.T) {
		w := serveOne(t, newTestHandler(t, newFake(t)), http.MethodGet, "/api/operations?status=in_progress", "", "", nil)
		assert.Equal(t, http.StatusOK, w.Code)
		assert.JSONEq(t, `[]`, w.Body.String(), "an empty list, not null")
	})
	t.Run("store failure", func(t *testing.T) {
		d := newDouble(t)
		d.ops = func(context.Context, audit.OpQuery) ([]audit.Op, int64, error) {
			return nil, 0, errors.New("audit: list operations: AccessDenied")
		}
		w := serveOne(t, newTestHandler(t, d), http.MethodGet, "/api/operations", "", "", nil)
		assert.Equal(t, http.StatusInternalServerError, w.Code)
		assert.Equal(t, msgOpsFailure, errorOf(t, w))
	})
}

func TestOperationGet(t *testing.T) {
	tests := []struct {
		path       string
		wantStatus int
		wantError  string
	}{
		{"/api/operations/3", http.StatusOK, ""},
		{"/api/operations/4", http.StatusNotFound, msgNoSuchOp},
		{"/api/operations/5", http.StatusInternalServerError, msgOpsFailure},
		{"/api/operations/abc", http.StatusBadRequest, msgBadOpID},
		{"/api/operations/0", http.StatusBadRequest, msgBadOpID},
		{"/api/operations/-1", http.StatusBadRequest, msgBadOpID},
		{"/api/operations/1.5", http.StatusBadRequest, msgBadOpID},
		{"/api/operations/99999999999999999999", http.StatusBadRequest, msgBadOpID},
		{"/api/operations/abc/events", http.StatusBadRequest, msgBadOpID},
		{"/api/operations/4/events", http.StatusNotFound, msgNoSuchOp},
	}
	for _, tc := range tests {
		t.Run(tc.path, func(t *testing.T) {
			lookup := func(id int64) error {
				switch id {
				case 3:
					return nil
				case 4:
					return fmt.Errorf("%w: %d", audit.ErrNoOperation, id)
				}
				return errors.New("audit: read operation: SlowDown")
			}
			d := newDouble(t)
			d.op = func(_ context.Context, id int64) (audit.Op, error) { return failedOp(), lookup(id) }
			d.watch = func(_ context.Context, id int64) (<-chan audit.Op, func(), error) {
				return nil, func() {}, lookup(id)
			}
			w := serveOne(t, newTestHandler(t, d), http.MethodGet, tc.path, "", "", nil)
			require.Equal(t, tc.wantStatus, w.Code, "status; body %s", w.Body)
			if tc.wantError != "" {
				assert.Equal(t, tc.wantError, errorOf(t, w))
				return
			}
			var got opJSON
			require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
			assert.Equal(t, opView(failedOp()), got)
		})
	}
}

// sseEvent is one event of a stream; a comment has only Comment set.
type sseEvent struct {
	Event, Data, Comment string
}

// readEvents reads a Server-Sent Events stream until it ends, or until
// stop returns true for the last event read.
func readEvents(t *testing.T, r io.Reader, stop func(sseEvent) bool) []sseEvent {
	t.Helper()
	var out []sseEvent
	var cur sseEvent
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			if cur != (sseEvent{}) {
				out = append(out, cur)
				if stop != nil && stop(cur) {
					return out
				}
			}
			cur = sseEvent{}
		case strings.HasPrefix(line, ":"):
			cur.Comment = strings.TrimSpace(line[1:])
		case strings.HasPrefix(line, "event: "):
			cur.Event = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			cur.Data += strings.TrimPrefix(line, "data: ")
		default:
			t.Errorf("unexpected line in the event stream: %q", line)
		}
	}
	return out
}

// opsOf decodes the operation events of events, skipping comments.
func opsOf(t *testing.T, events []sseEvent) []opJSON {
	t.Helper()
	var out []opJSON
	for _, e := range events {
		if e.Comment != "" {
			continue
		}
		assert.Equal(t, "operation", e.Event, "event name")
		var op opJSON
		require.NoError(t, json.Unmarshal([]byte(e.Data), &op), "event data %q", e.Data)
		out = append(out, op)
	}
	return out
}

// stepsOf is op 1 going queued, running with progress, then succeeded.
func stepsOf() []audit.Op {
	base := audit.Op{ID: 1, Action: audit.Launch, Params: map[string]any{"num_vms": 2.0}, CreatedBy: "admin",
		CreatedAt: opCreated, Environment: "prod"}
	var steps []audit.Op
	for i, st := range []audit.OpStatus{audit.StatusQueued, audit.StatusRunning, audit.StatusRunning, audit.StatusSucceeded} {
		op := base
		op.Status, op.UpdatedAt = st, opCreated.Add(time.Duration(i)*time.Second)
		if st != audit.StatusQueued {
			op.StartedAt, op.ResourcesTotal, op.ResourcesCompleted = &opStarted, 2, i-1
		}
		if st == audit.StatusSucceeded {
			op.FinishedAt, op.ResourcesCompleted, op.LaunchID = &opFinished, 2, "L1"
		}
		steps = append(steps, op)
	}
	return steps
}

// TestEvents: one event per change, in order, and the end of the stream
// after the final state.
func TestEvents(t *testing.T) {
	steps := stepsOf()
	var cancelled atomic.Bool
	d := newDouble(t)
	d.watch = func(_ context.Context, id int64) (<-chan audit.Op, func(), error) {
		c := make(chan audit.Op, len(steps))
		for _, op := range steps {
			c <- op
		}
		close(c)
		return c, func() { cancelled.Store(true) }, nil
	}
	w := serveOne(t, newTestHandler(t, d), http.MethodGet, "/api/operations/1/events", "", "", nil)
	assert.Equal(t, http.StatusOK, w.Code)
	assert.Equal(t, "text/event-stream", w.Header().Get("Content-Type"))
	assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
	var want []opJSON
	for _, op := range steps {
		want = append(want, opView(op))
	}
	assert.Equal(t, want, opsOf(t, readEvents(t, w.Body, nil)), "events")
	assert.True(t, cancelled.Load(), "the watch was not cancelled")
}

// streamServer serves h over a real connection, with a server lifetime
// as serve gives it, and the server's timeouts (newHTTPServer); end ends
// the lifetime (shutdown's step 2).
// A positive writeTimeout replaces the server's WriteTimeout.
func streamServer(t *testing.T, h http.Handler, writeTimeout time.Duration) (url string, end context.CancelFunc) {
	t.Helper()
	base, end := withLifetime(context.Background())
	ts := httptest.NewUnstartedServer(h)
	ts.Config = newHTTPServer(h, testLogger(t))
	if writeTimeout > 0 {
		ts.Config.WriteTimeout = writeTimeout
	}
	ts.Config.BaseContext = func(net.Listener) context.Context { return base }
	ts.Start()
	t.Cleanup(func() {
		end()
		ts.Close()
	})
	return ts.URL, end
}

func getStream(t *testing.T, ctx context.Context, url string) *http.Response {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	require.NoError(t, err)
	req.SetBasicAuth(testUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return resp
}

// TestEventsHeartbeatAndDisconnect: a stream with nothing to say sends
// ": ping" comments, outliving the server's WriteTimeout, and ends,
// cancelling its watch, when the client goes away.
func TestEventsHeartbeatAndDisconnect(t *testing.T) {
	cancelled := make(chan struct{})
	d := newDouble(t)
	d.watch = func(_ context.Context, id int64) (<-chan audit.Op, func(), error) {
		c := make(chan audit.Op, 1)
		c <- stepsOf()[1] // running, and nothing more
		return c, func() { close(cancelled) }, nil
	}
	h := newTestServer(t, d, serverOptions{Heartbeat: 10 * time.Millisecond})
	// More heartbeats than fit in the server's WriteTimeout: the stream
	// moves its write deadline forward.
	url, _ := streamServer(t, h, 50*time.Millisecond)
	const want = 20
	pings := 0
	ctx, disconnect := context.WithCancel(t.Context())
	resp := getStream(t, ctx, url+"/api/operations/1/events")
	events := readEvents(t, resp.Body, func(e sseEvent) bool {
		if e.Comment == "ping" {
			pings++
		}
		return pings == want
	})
	require.Len(t, events, want+1, "an operation event, then the pings")
	assert.Equal(t, "operation", events[0].Event)
	disconnect()
	resp.Body.Close()
	select {
	case <-cancelled:
	case <-time.After(10 * time.Second): // a bound on a hang, not a timing check
		t.Fatal("the handler did not end when the client went away")
	}
}

// TestEventsAtShutdown: shutdown cancels every request, but a stream goes
// on until its operation's final state, which the interrupt brings.
func TestEventsAtShutdown(t *testing.T) {
	c := make(chan audit.Op, 1)
	d := newDouble(t)
	d.watch = func(_ context.Context, id int64) (<-chan audit.Op, func(), error) {
		c <- stepsOf()[1]
		return c, func() {}, nil
	}
	h := newTestServer(t, d)
	url, end := streamServer(t, h, 0)
	resp := getStream(t, t.Context(), url+"/api/operations/1/events")
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	first := readEvents(t, br, func(sseEvent) bool { return true })
	require.Len(t, first, 1)
	end()
	interrupted := stepsOf()[1]
	interrupted.Status, interrupted.FinishedAt = audit.StatusInterrupted, &opFinished
	c <- interrupted
	close(c)
	rest := opsOf(t, readEvents(t, br, nil))
	require.Len(t, rest, 1, "events after shutdown began")
	assert.Equal(t, audit.StatusInterrupted, rest[0].Status)
}

// TestEventsFollowStore: an operation another allocator runs (Watch
// hands over the stored record and closes) is followed through the store
// to its final state.
func TestEventsFollowStore(t *testing.T) {
	steps := stepsOf()
	var reads atomic.Int32
	d := newDouble(t)
	d.watch = func(_ context.Context, id int64) (<-chan audit.Op, func(), error) {
		c := make(chan audit.Op, 1)
		c <- steps[1]
		close(c)
		return c, func() {}, nil
	}
	d.op = func(_ context.Context, id int64) (audit.Op, error) {
		// Unchanged once, then done.
		if reads.Add(1) == 1 {
			return steps[1], nil
		}
		return steps[3], nil
	}
	w := serveOne(t, newTestHandler(t, d), http.MethodGet, "/api/operations/1/events", "", "", nil)
	got := opsOf(t, readEvents(t, w.Body, nil))
	assert.Equal(t, []opJSON{opView(steps[1]), opView(steps[3])}, got, "events")
	assert.EqualValues(t, 2, reads.Load(), "store reads")
}

// TestShutdownWaitsForOperations: a launch answered 202 runs on after its
// request; shutdown interrupts it (its context is the server's lifetime)
// and waits for its final state before closing the launcher.
func TestShutdownWaitsForOperations(t *testing.T) {
	interrupted := make(chan struct{})
	release := make(chan struct{})
	var opDone atomic.Bool
	d := newDouble(t)
	op := newSteppedOp(audit.Op{ID: 1, Action: audit.Launch, Status: audit.StatusQueued})
	op.use(d, func(ctx context.Context) {
		<-ctx.Done()
		close(interrupted)
		<-release
		opDone.Store(true)
		op.set(audit.Op{ID: 1, Action: audit.Launch, Status: audit.StatusInterrupted})
	})
	closer := &fakeCloser{launchDone: &opDone}
	log := testLogger(t)
	srv := newHTTPServer(newTestServer(t, d, serverOptions{Logger: log}), log)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	sig, sendSignal := context.WithCancel(context.Background())
	defer sendSignal()
	served := make(chan error, 1)
	go func() { served <- serve(sig, srv, ln, closer, time.Minute, log) }()

	req, err := http.NewRequest(http.MethodPost, "http://"+ln.Addr().String()+"/api/launch", strings.NewReader(`{"num_vms": 1}`))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(testUser, testPassword)
	client := &http.Client{Transport: &http.Transport{}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusAccepted, resp.StatusCode)

	sendSignal()
	<-interrupted
	select {
	case err := <-served:
		t.Fatalf("serve returned (%v) while an interrupted operation was still running", err)
	default:
	}
	close(release)
	require.NoError(t, <-served)
	assert.EqualValues(t, 1, closer.closed.Load(), "launcher closed")
	assert.True(t, closer.before.Load(), "launcher closed before the operation's final state")
}
