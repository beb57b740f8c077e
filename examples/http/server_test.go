package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/plancheck"
)

const (
	testUser     = "admin"
	testPassword = "correct-horse-battery-staple"
)

// fakeLauncher is a hand fake of launcherAPI. A nil XxxFn fails the test
// when called, but for Watch, which without WatchFn answers the operation
// succeeded (so that launcher.Wait does).
type fakeLauncher struct {
	t              *testing.T
	LaunchFn       func(ctx context.Context, req launcher.Request) (launcher.Result, error)
	DestroyFn      func(ctx context.Context, actor string) (launcher.Result, error)
	StatusFn       func(ctx context.Context) (launcher.Status, error)
	StartFn        func(ctx context.Context, req launcher.Request) (audit.Op, error)
	StartDestroyFn func(ctx context.Context, actor string) (audit.Op, error)
	OpFn           func(ctx context.Context, id int64) (audit.Op, error)
	OpsFn          func(ctx context.Context, q audit.OpQuery) ([]audit.Op, int64, error)
	WatchFn        func(ctx context.Context, id int64) (<-chan audit.Op, func(), error)
	// TFVars is TFVarsPath's answer; "" names a file that does not exist.
	TFVars string

	mu       sync.Mutex
	launches []launcher.Request
}

func (f *fakeLauncher) Launch(ctx context.Context, req launcher.Request) (launcher.Result, error) {
	f.record(req)
	if f.LaunchFn == nil {
		f.t.Errorf("unexpected Launch(%+v)", req)
		return launcher.Result{}, errors.New("unexpected Launch")
	}
	return f.LaunchFn(ctx, req)
}

func (f *fakeLauncher) record(req launcher.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.launches = append(f.launches, req)
}

func (f *fakeLauncher) Start(ctx context.Context, req launcher.Request) (audit.Op, error) {
	if req.Destroy {
		return f.StartDestroy(ctx, req.Actor)
	}
	f.record(req)
	if f.StartFn == nil {
		f.t.Errorf("unexpected Start(%+v)", req)
		return audit.Op{}, errors.New("unexpected Start")
	}
	return f.StartFn(ctx, req)
}

func (f *fakeLauncher) StartDestroy(ctx context.Context, actor string) (audit.Op, error) {
	if f.StartDestroyFn == nil {
		f.t.Errorf("unexpected StartDestroy(%q)", actor)
		return audit.Op{}, errors.New("unexpected StartDestroy")
	}
	return f.StartDestroyFn(ctx, actor)
}

func (f *fakeLauncher) Op(ctx context.Context, id int64) (audit.Op, error) {
	if f.OpFn == nil {
		f.t.Errorf("unexpected Operation(%d)", id)
		return audit.Op{}, errors.New("unexpected Operation")
	}
	return f.OpFn(ctx, id)
}

func (f *fakeLauncher) Ops(ctx context.Context, q audit.OpQuery) ([]audit.Op, int64, error) {
	if f.OpsFn == nil {
		f.t.Errorf("unexpected Ops(%+v)", q)
		return nil, 0, errors.New("unexpected Ops")
	}
	return f.OpsFn(ctx, q)
}

func (f *fakeLauncher) Watch(ctx context.Context, id int64) (<-chan audit.Op, func(), error) {
	if f.WatchFn == nil {
		c := make(chan audit.Op, 1)
		c <- audit.Op{ID: id, Status: audit.StatusSucceeded}
		close(c)
		return c, func() {}, nil
	}
	return f.WatchFn(ctx, id)
}

func (f *fakeLauncher) TFVarsPath() string {
	if f.TFVars == "" {
		return filepath.Join(f.t.TempDir(), "terraform.runtime.tfvars")
	}
	return f.TFVars
}

// queueStart answers every Start with a new queued operation, numbered
// from 1.
func queueStart(f *fakeLauncher) func(context.Context, launcher.Request) (audit.Op, error) {
	return func(_ context.Context, req launcher.Request) (audit.Op, error) {
		return audit.Op{ID: int64(len(f.requests())), Action: audit.Launch, Status: audit.StatusQueued,
			Params: map[string]any{"num_vms": req.Count}, CreatedBy: req.Actor}, nil
	}
}

func (f *fakeLauncher) Destroy(ctx context.Context, req launcher.Request) (launcher.Result, error) {
	if f.DestroyFn == nil {
		f.t.Errorf("unexpected Destroy(%q)", req.Actor)
		return launcher.Result{}, errors.New("unexpected Destroy")
	}
	return f.DestroyFn(ctx, req.Actor)
}

func (f *fakeLauncher) Status(ctx context.Context) (launcher.Status, error) {
	if f.StatusFn == nil {
		f.t.Errorf("unexpected Status")
		return launcher.Status{}, errors.New("unexpected Status")
	}
	return f.StatusFn(ctx)
}

func (f *fakeLauncher) requests() []launcher.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]launcher.Request(nil), f.launches...)
}

// testConfig is a config today's rules accept (plain HTTP on the
// allocator's IP) with the test's admin credentials.
func testConfig() lablink.Config {
	cfg := testkit.Config()
	cfg.App.AdminUser = testUser
	cfg.App.AdminPassword = testPassword
	return cfg
}

// testLogger writes through t.Log, so logs show up only for failed tests.
func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// newTestHandler serves f with the test's credentials. Its requests carry
// a server lifetime, as serve gives them; when the test ends, it waits
// for the background work they left and then ends the lifetime.
func newTestHandler(t *testing.T, f *fakeLauncher) http.Handler {
	f.t = t
	h := newServer(f, testConfig(), serverOptions{Logger: testLogger(t)})
	base := testLifetime(t)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r.WithContext(base))
	})
}

// testLifetime is a server lifetime that ends with the test, once the
// background work of its requests is done.
func testLifetime(t *testing.T) context.Context {
	base, end := withLifetime(context.Background())
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, waitBackground(ctx, base), "background work left by the test's requests")
		end()
	})
	return base
}

// echoLaunch answers every launch as if it ran alone on an empty state.
func echoLaunch(_ context.Context, req launcher.Request) (launcher.Result, error) {
	return launcher.Result{
		LaunchID: "launch-1", Existing: 0, Requested: req.Count, Total: req.Count, Merged: 1,
		AllocatorURL: "https://203.0.113.10",
		GPU: gpu.Info{InstanceType: "g4dn.xlarge", Source: gpu.SourceCatalog, CatalogDate: "2025-11-01",
			GPUs: []gpu.GPU{{Manufacturer: "NVIDIA", Name: "T4", Count: 1, MemoryMiB: 16384}}},
		TFVarsSHA256: "abc123",
		Plan:         launcher.PlanSummary{Add: req.Count},
		Audit:        "dir:/audit/launch-1",
		Duration:     1500 * time.Millisecond,
	}, nil
}

type request struct {
	method, path, contentType string
	body                      []byte
	noAuth                    bool
	user, password            string
}

func do(t *testing.T, h http.Handler, rq request) *httptest.ResponseRecorder {
	t.Helper()
	if rq.method == "" {
		rq.method = http.MethodPost
	}
	r := httptest.NewRequest(rq.method, rq.path, bytes.NewReader(rq.body))
	if rq.contentType != "" {
		r.Header.Set("Content-Type", rq.contentType)
	}
	if !rq.noAuth {
		user, pass := testUser, testPassword
		if rq.user != "" || rq.password != "" {
			user, pass = rq.user, rq.password
		}
		r.SetBasicAuth(user, pass)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func form(kv ...string) []byte {
	v := url.Values{}
	for i := 0; i < len(kv); i += 2 {
		v.Add(kv[i], kv[i+1])
	}
	return []byte(v.Encode())
}

func multipartBody(t *testing.T, kv ...string) (string, []byte) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for i := 0; i < len(kv); i += 2 {
		if err := mw.WriteField(kv[i], kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := mw.Close(); err != nil {
		t.Fatal(err)
	}
	return mw.FormDataContentType(), buf.Bytes()
}

func errorOf(t *testing.T, w *httptest.ResponseRecorder) string {
	t.Helper()
	if ct := w.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type = %q, want application/json", ct)
	}
	var body struct {
		Error string `json:"error"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil {
		t.Fatalf("body %q: %v", w.Body, err)
	}
	return body.Error
}

const formCT = "application/x-www-form-urlencoded"

func TestLaunchNumVMs(t *testing.T) {
	mpCT, mpBody := multipartBody(t, "num_vms", "5")
	mpEmptyCT, mpEmpty := multipartBody(t, "other", "1")
	mpBadCT, mpBad := multipartBody(t, "num_vms", "five")
	tests := []struct {
		name        string
		contentType string
		body        []byte
		// wantCount > 0: the launcher is asked for that many VMs.
		wantCount int
		wantError string
	}{
		{"form missing", formCT, form("other", "1"), 0, msgRequired},
		{"form empty value", formCT, form("num_vms", ""), 0, msgRequired},
		{"form blank value", formCT, form("num_vms", "  "), 0, msgRequired},
		{"empty body, no content type", "", nil, 0, msgRequired},
		{"form not an integer", formCT, form("num_vms", "abc"), 0, msgNotInteger},
		{"form decimal", formCT, form("num_vms", "1.5"), 0, msgNotInteger},
		{"form hex", formCT, form("num_vms", "0x10"), 0, msgNotInteger},
		{"form zero", formCT, form("num_vms", "0"), 0, msgNotPositive},
		{"form negative", formCT, form("num_vms", "-3"), 0, msgNotPositive},
		{"form huge negative", formCT, form("num_vms", "-99999999999999999999999"), 0, msgNotPositive},
		{"form ok", formCT, form("num_vms", "2"), 2, ""},
		{"form ok with spaces and sign", formCT, form("num_vms", " +3 "), 3, ""},
		{"form content type with charset", formCT + "; charset=UTF-8", form("num_vms", "4"), 4, ""},
		{"multipart ok", mpCT, mpBody, 5, ""},
		{"multipart missing", mpEmptyCT, mpEmpty, 0, msgRequired},
		{"multipart not an integer", mpBadCT, mpBad, 0, msgNotInteger},
		{"json ok", "application/json", []byte(`{"num_vms": 6}`), 6, ""},
		{"json string ok", "application/json", []byte(`{"num_vms": "7"}`), 7, ""},
		{"json missing", "application/json", []byte(`{}`), 0, msgRequired},
		{"json null", "application/json", []byte(`{"num_vms": null}`), 0, msgRequired},
		{"json empty string", "application/json", []byte(`{"num_vms": ""}`), 0, msgRequired},
		{"json not an integer", "application/json", []byte(`{"num_vms": "x"}`), 0, msgNotInteger},
		{"json fraction", "application/json", []byte(`{"num_vms": 2.5}`), 0, msgNotInteger},
		{"json exponent", "application/json", []byte(`{"num_vms": 1e2}`), 0, msgNotInteger},
		{"json bool", "application/json", []byte(`{"num_vms": true}`), 0, msgNotInteger},
		{"json array", "application/json", []byte(`{"num_vms": [1]}`), 0, msgNotInteger},
		{"json zero", "application/json", []byte(`{"num_vms": 0}`), 0, msgNotPositive},
		{"json negative", "application/json", []byte(`{"num_vms": -1}`), 0, msgNotPositive},
		{"json malformed", "application/json", []byte(`{"num_vms": `), 0, "invalid JSON body"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLauncher{}
			f.StartFn = queueStart(f)
			w := do(t, newTestHandler(t, f), request{path: "/api/launch", contentType: tc.contentType, body: tc.body})
			if tc.wantError != "" {
				assert.Equal(t, http.StatusBadRequest, w.Code, "status")
				assert.Equal(t, tc.wantError, errorOf(t, w), "error")
				assert.Empty(t, f.requests(), "launcher calls")
				return
			}
			// Queued: JSON clients get the job id, others a redirect.
			if tc.contentType == "application/json" {
				require.Equal(t, http.StatusAccepted, w.Code, "status; body %s", w.Body)
				assert.JSONEq(t, `{"job_id": 1, "status": "queued"}`, w.Body.String())
			} else {
				require.Equal(t, http.StatusSeeOther, w.Code, "status; body %s", w.Body)
				assert.Equal(t, "/api/operations/1", w.Header().Get("Location"))
			}
			want := []launcher.Request{{Count: tc.wantCount, Actor: testUser}}
			assert.Equal(t, want, f.requests(), "launch requests")
		})
	}
}

func TestLaunchResponse(t *testing.T) {
	f := &fakeLauncher{LaunchFn: echoLaunch}
	w := do(t, newTestHandler(t, f), request{path: "/api/launch?wait=1", contentType: formCT, body: form("num_vms", "2")})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	var got map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"launch_id": "launch-1", "num_vms": 2.0, "existing": 0.0, "requested": 2.0, "total": 2.0, "merged": 1.0,
		"allocator_url": "https://203.0.113.10",
		"gpu": map[string]any{
			"instance_type": "g4dn.xlarge", "nvidia": true, "source": "catalog", "catalog_date": "2025-11-01",
			"gpus": []any{map[string]any{"manufacturer": "NVIDIA", "name": "T4", "count": 1.0, "memory_mib": 16384.0}},
		},
		"tfvars_sha256": "abc123",
		"plan":          map[string]any{"create": 2.0, "update": 0.0, "delete": 0.0, "replace": 0.0},
		"audit":         "dir:/audit/launch-1",
		"duration":      "1.5s",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}

func TestLaunchErrors(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantBody   map[string]any
	}{
		{
			name:       "too many",
			err:        fmt.Errorf("%w: 500; want 1 to 100", launcher.ErrInvalidCount),
			wantStatus: http.StatusBadRequest,
			wantBody:   map[string]any{"error": "invalid number of VMs: 500; want 1 to 100"},
		},
		{
			name: "plan refused",
			err: fmt.Errorf("launch: %w", &plancheck.RefusedError{Violations: []plancheck.Violation{
				{Address: "terraform_data.lablink_vm[0]"}, {Address: "terraform_data.lablink_vm[1]"}}}),
			wantStatus: http.StatusConflict,
			wantBody: map[string]any{
				"error":     "plan refused",
				"addresses": []any{"terraform_data.lablink_vm[0]", "terraform_data.lablink_vm[1]"},
				"launch_id": "L1", "audit": "dir:/a/L1",
			},
		},
		{
			name:       "launcher closed",
			err:        launcher.ErrClosed,
			wantStatus: http.StatusServiceUnavailable,
			wantBody:   map[string]any{"error": "server is shutting down; launch interrupted"},
		},
		{
			// OpenTofu's stderr may hold anything; the client sees none of it.
			name:       "apply failed",
			err:        errors.New("launch: apply: exit status 1\nError: secret-token-xyz"),
			wantStatus: http.StatusInternalServerError,
			wantBody: map[string]any{
				"error":     "launch failed; see the server log and the audit record of L1",
				"launch_id": "L1", "audit": "dir:/a/L1",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLauncher{LaunchFn: func(context.Context, launcher.Request) (launcher.Result, error) {
				if errors.Is(tc.err, launcher.ErrInvalidCount) || errors.Is(tc.err, launcher.ErrClosed) {
					return launcher.Result{}, tc.err
				}
				return launcher.Result{LaunchID: "L1", Audit: "dir:/a/L1"}, tc.err
			}}
			w := do(t, newTestHandler(t, f), request{path: "/api/launch?wait=1", contentType: formCT, body: form("num_vms", "500")})
			if w.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d", w.Code, tc.wantStatus)
			}
			var got map[string]any
			if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.wantBody, got); diff != "" {
				t.Errorf("body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestAuth(t *testing.T) {
	tests := []struct {
		name string
		rq   request
	}{
		{"no credentials", request{noAuth: true}},
		{"wrong password", request{user: testUser, password: testPassword + "x"}},
		{"wrong user", request{user: "root", password: testPassword}},
		{"both wrong", request{user: "root", password: "hunter2"}},
	}
	for _, path := range []string{"/api/launch", "/api/destroy", "/api/status", "/api/nope",
		"/api/operations", "/api/operations/1", "/api/operations/1/events", "/api/operations/x"} {
		for _, tc := range tests {
			t.Run(path+"/"+tc.name, func(t *testing.T) {
				rq := tc.rq
				rq.path, rq.contentType, rq.body = path, formCT, form("num_vms", "1")
				w := do(t, newTestHandler(t, &fakeLauncher{}), rq)
				if w.Code != http.StatusUnauthorized {
					t.Errorf("status = %d, want 401", w.Code)
				}
				if got, want := w.Header().Get("WWW-Authenticate"), `Basic realm="lablink", charset="UTF-8"`; got != want {
					t.Errorf("WWW-Authenticate = %q, want %q", got, want)
				}
			})
		}
	}
	t.Run("empty credentials header", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodGet, "/api/status", nil)
		r.SetBasicAuth("", "")
		w := httptest.NewRecorder()
		newTestHandler(t, &fakeLauncher{}).ServeHTTP(w, r)
		if w.Code != http.StatusUnauthorized {
			t.Errorf("status = %d, want 401", w.Code)
		}
	})
}

func TestMethodNotAllowed(t *testing.T) {
	tests := []struct {
		method, path, wantAllow string
	}{
		{http.MethodGet, "/api/launch", "POST"},
		{http.MethodPut, "/api/launch", "POST"},
		{http.MethodGet, "/api/destroy", "POST"},
		{http.MethodDelete, "/api/status", "GET, HEAD"},
		{http.MethodPost, "/api/status", "GET, HEAD"},
		{http.MethodPost, "/healthz", "GET, HEAD"},
		{http.MethodPost, "/api/operations", "GET, HEAD"},
		{http.MethodDelete, "/api/operations/1", "GET, HEAD"},
		{http.MethodPost, "/api/operations/1/events", "GET"},
	}
	for _, tc := range tests {
		t.Run(tc.method+" "+tc.path, func(t *testing.T) {
			w := do(t, newTestHandler(t, &fakeLauncher{}), request{method: tc.method, path: tc.path})
			if w.Code != http.StatusMethodNotAllowed {
				t.Errorf("status = %d, want 405", w.Code)
			}
			if got := w.Header().Get("Allow"); got != tc.wantAllow {
				t.Errorf("Allow = %q, want %q", got, tc.wantAllow)
			}
		})
	}
	// Authentication comes first: an anonymous client learns nothing.
	w := do(t, newTestHandler(t, &fakeLauncher{}), request{method: http.MethodGet, path: "/api/launch", noAuth: true})
	if w.Code != http.StatusUnauthorized {
		t.Errorf("anonymous GET /api/launch: status = %d, want 401", w.Code)
	}
}

func TestBodyTooLarge(t *testing.T) {
	big := strings.Repeat("x", defaultMaxBodyBytes+1)
	mpCT, mpBody := multipartBody(t, "num_vms", "1", "padding", big)
	tests := []struct {
		name, contentType string
		body              []byte
	}{
		{"form", formCT, form("num_vms", "1", "padding", big)},
		{"json", "application/json", []byte(`{"num_vms": 1, "padding": "` + big + `"}`)},
		{"multipart", mpCT, mpBody},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := &fakeLauncher{}
			w := do(t, newTestHandler(t, f), request{path: "/api/launch", contentType: tc.contentType, body: tc.body})
			if w.Code != http.StatusRequestEntityTooLarge {
				t.Errorf("status = %d, want 413; body %s", w.Code, w.Body)
			}
			if got, want := errorOf(t, w), tooLargeMsg(defaultMaxBodyBytes); got != want {
				t.Errorf("error = %q, want %q", got, want)
			}
		})
	}
}

func TestUnsupportedContentType(t *testing.T) {
	w := do(t, newTestHandler(t, &fakeLauncher{}), request{path: "/api/launch", contentType: "text/plain", body: []byte("3")})
	if w.Code != http.StatusUnsupportedMediaType {
		t.Errorf("status = %d, want 415", w.Code)
	}
}

func TestDestroy(t *testing.T) {
	t.Run("nothing launched", func(t *testing.T) {
		f := &fakeLauncher{DestroyFn: func(context.Context, string) (launcher.Result, error) {
			return launcher.Result{}, launcher.ErrNothingLaunched
		}}
		w := do(t, newTestHandler(t, f), request{path: "/api/destroy?wait=1"})
		if w.Code != http.StatusNotFound {
			t.Errorf("status = %d, want 404", w.Code)
		}
		if got, want := strings.TrimSpace(w.Body.String()), `{"error":"no client VMs were launched"}`; got != want {
			t.Errorf("body = %s, want %s", got, want)
		}
	})
	t.Run("ok", func(t *testing.T) {
		var actor string
		f := &fakeLauncher{DestroyFn: func(_ context.Context, a string) (launcher.Result, error) {
			actor = a
			return launcher.Result{LaunchID: "D1", Destroyed: 3, Audit: "dir:/a/D1", Duration: time.Second}, nil
		}}
		w := do(t, newTestHandler(t, f), request{path: "/api/destroy?wait=1"})
		if w.Code != http.StatusOK {
			t.Fatalf("status = %d; body %s", w.Code, w.Body)
		}
		if actor != testUser {
			t.Errorf("actor = %q, want %q", actor, testUser)
		}
		var got destroyResponse
		if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(destroyResponse{"D1", 3, "dir:/a/D1", "1s"}, got); diff != "" {
			t.Errorf("response (-want +got):\n%s", diff)
		}
	})
}

func TestStatus(t *testing.T) {
	f := &fakeLauncher{StatusFn: func(context.Context) (launcher.Status, error) {
		return launcher.Status{VMs: make([]launcher.VM, 4), TFVars: true, Busy: true, Last: &audit.Manifest{
			LaunchID: "L9", Action: "launch", Actor: "admin", Outcome: "succeeded",
			Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Duration: "2s",
			Requested: 1, Existing: 3, Total: 4, TFVarsSHA256: "ff", Error: "must not show",
		}}, nil
	}}
	w := do(t, newTestHandler(t, f), request{method: http.MethodGet, path: "/api/status"})
	if w.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", w.Code, w.Body)
	}
	var got statusResponse
	if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
		t.Fatal(err)
	}
	want := statusResponse{VMs: 4, TFVars: true, Busy: true, Orphans: []orphanJSON{}, Last: &lastJSON{"L9", "launch", "admin",
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2s", "succeeded", 1, 3, 4, "ff"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("response (-want +got):\n%s", diff)
	}
}

func TestHealthzNeedsNoAuth(t *testing.T) {
	for _, method := range []string{http.MethodGet, http.MethodHead} {
		w := do(t, newTestHandler(t, &fakeLauncher{}), request{method: method, path: "/healthz", noAuth: true})
		if w.Code != http.StatusOK {
			t.Errorf("%s /healthz: status = %d, want 200", method, w.Code)
		}
		if method == http.MethodGet && w.Body.String() != "ok" {
			t.Errorf("GET /healthz: body = %q, want ok", w.Body)
		}
	}
}

func TestCheckAdminPassword(t *testing.T) {
	tests := []struct {
		name, user, password string
		ok                   bool
	}{
		{"empty", "admin", "", false},
		{"unfilled upstream default", "admin", lablink.MissingSecret, false},
		{"template placeholder", "admin", "PLACEHOLDER_ADMIN_PASSWORD_LONG", false},
		{"old upstream default", "admin", "admin_password", false},
		{"short", "admin", "Xk9#mQ2!vL", false},
		{"eleven characters", "admin", "Xk9#mQ2!vLp", false},
		{"twelve characters", "admin", "Xk9#mQ2!vLpz", true},
		{"eleven runes, more bytes", "admin", "ĸ9#mQ2!vLpé", false},
		{"long passphrase", "admin", "correct-horse-battery-staple", true},
		{"changeme", "admin", "changeme", false},
		{"CHANGE_ME padded", "admin", "CHANGE_ME_PLEASE_NOW", false},
		{"change-me", "admin", "please-change-me-42", false},
		{"password", "admin", "password", false},
		{"password with digits", "admin", "Password123456", false},
		{"placeholder", "admin", "<placeholder-value>", false},
		{"your password here", "admin", "<your password here>", false},
		{"template", "admin", "${ADMIN_PASSWORD}xyz", false},
		{"go template", "admin", "{{ .AdminPassword }}", false},
		{"replace me", "admin", "REPLACE-ME-before-deploy", false},
		{"example", "admin", "example-admin-pass", false},
		{"repeated", "admin", "aaaaaaaaaaaaaaaa", false},
		{"user name", "administrator", "Administrator", false},
		{"leading space", "admin", " Xk9#mQ2!vLpz", false},
		{"random", "admin", "v7Gq-2LpX-9wZr-Tn4K", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := checkAdminPassword(lablink.App{AdminUser: tc.user, AdminPassword: lablink.Secret(tc.password)})
			if tc.ok {
				assert.NoError(t, err, "checkAdminPassword(%q)", tc.password)
				return
			}
			assert.ErrorIs(t, err, errWeakPassword, "checkAdminPassword(%q)", tc.password)
		})
	}
}

// TestLaunchContext: a client that goes away does not cancel the launch;
// the server's shutdown does.
func TestLaunchContext(t *testing.T) {
	life, shutdown := withLifetime(context.Background())
	defer shutdown()
	reqCtx, disconnect := context.WithCancel(life)
	r := httptest.NewRequest(http.MethodPost, "/api/launch", nil).WithContext(reqCtx)

	ctx, stop := launchContext(r)
	defer stop()
	disconnect()
	if err := ctx.Err(); err != nil {
		t.Fatalf("launch context done after the client left: %v", err)
	}
	if shuttingDown(r) {
		t.Fatal("shuttingDown before shutdown")
	}
	shutdown()
	<-ctx.Done()
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Errorf("ctx.Err() = %v, want context.Canceled", ctx.Err())
	}
	if !shuttingDown(r) {
		t.Error("shuttingDown = false after shutdown")
	}
}

var _ io.Closer = (*launcher.Launcher)(nil)

func (f *fakeLauncher) Preview(context.Context, int) (launcher.Preview, error) {
	f.t.Errorf("unexpected Preview")
	return launcher.Preview{}, errors.New("unexpected Preview")
}

func (f *fakeLauncher) Record(context.Context, string) (audit.Manifest, []byte, error) {
	f.t.Errorf("unexpected Record")
	return audit.Manifest{}, nil, errors.New("unexpected Record")
}
